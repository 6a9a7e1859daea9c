// One audited attempt: the event that records it, the decision noted in it, and the status a refusal returns.
#ifndef KLUIS_SERVER_VAULT_ATTEMPT_H_
#define KLUIS_SERVER_VAULT_ATTEMPT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/vault/checks.h"
#include "server/vault/vault.h"

namespace kluis::server {

// One audited attempt: what every use case that decides something runs through (Vault::Run).
//
//   in one write   1. who     the caller: identified in this write from the certificate it
//                             presented (a release), checked still current (a Caller identified
//                             when the call began), or nobody (an enrollment proves a code;
//                             kluisd itself). A caller not let in is recorded and ends it.
//                  2. decide  the use case's step decides and notes the decision (Decide);
//                  3. do      only if allowed, the step makes its change in the same write;
//                  4. record  the event with its outcome. The change and its record commit
//                             together, or neither does (fail closed: no record, no release).
//   after it       5. the status returned, picked in one place (Vault::Run): a storage error,
//                     else the caller not let in, else the refusal, else OK.
//
// A step refuses in one of three ways: Refuse (what it changed commits with the record: an
// enrollment's attempt counter must survive), RefuseAndUndo (the change rolls back and the refusal
// is recorded in a write of its own) or RefuseInput (malformed input after identifying the caller:
// unrecorded, as if refused before the call). A step returns a non-OK status itself only for a
// storage error (or what RefuseAndUndo returns): the write fails and nothing is recorded.
class Attempt {
 public:
  Attempt(audit::AuditEvent event, absl::Time now) : event_(std::move(event)), now_(now) {}
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  absl::Time now() const { return now_; }
  audit::AuditEvent& event() { return event_; }
  // Who is calling (step 1); null when nobody is (an enrollment, kluisd itself).
  const Caller* caller() const { return caller_; }

  // Notes `decision` in the event; true when it allows.
  bool Decide(const policies::Decision& decision);
  // Refuses with `why` (noted as the outcome); returns OK, for the step to return.
  absl::Status Refuse(absl::Status why);
  // Refuses with `why` and undoes the step's change; returns `why`, for the step to return.
  absl::Status RefuseAndUndo(absl::Status why);
  // Refuses malformed input, unrecorded; returns OK, for the step to return.
  absl::Status RefuseInput(absl::Status why);
  // The steps record themselves (a kabinetswissel's, one record each): the attempt's own event
  // is recorded only when the caller is refused in step 1.
  void StepsRecordThemselves() { steps_record_themselves_ = true; }
  // The record of this attempt carries a signed checkpoint (an audit export ends on one).
  void CheckpointTheRecord() { checkpoint_ = true; }
  // The sequence number of the attempt's record, once committed (0 if none was written).
  int64_t recorded_seq() const { return recorded_seq_; }
  // Why the attempt was refused: the caller (step 1) or the step; OK when it was not.
  const absl::Status& refusal() const { return refusal_; }

 private:
  friend class Vault;
  enum class Then { kRecord, kUndoAndRecord, kNotRecord };

  audit::AuditEvent event_;
  const absl::Time now_;
  const Caller* caller_ = nullptr;
  std::optional<Caller> identified_;  // step 1's caller, when identified in the write
  absl::Status unauthenticated_;      // the caller was not let in (recorded as who it was)
  absl::Status refusal_;
  Then then_ = Then::kRecord;
  bool steps_record_themselves_ = false;
  bool checkpoint_ = false;
  int64_t recorded_seq_ = 0;
};

std::vector<policies::Binding> PolicyBindings(const std::vector<storage::BindingRow>& rows);

policies::Resource ResourceOf(const storage::AccountRow& account);

std::string RoleOf(const policies::Decision& decision);

// Notes what the rules decided in the event that records the attempt.
void NoteDecision(audit::AuditEvent& event, const policies::Decision& decision);

audit::AuditEvent Event(const Caller& caller, absl::string_view action, absl::string_view account,
                        const policies::Decision& decision, absl::string_view reason,
                        std::optional<int64_t> unit_id);

absl::Status DeniedError(const policies::Decision& decision, absl::string_view what);

policies::Decision DeniedBy(std::string rule);

absl::Status UserDisabled(absl::string_view user);

// Notes in `event` that the attempt failed with `why`: denied unless a decision says otherwise,
// by the rule that refused it ("input" when no rule did), and how it ended.
void NoteFailure(audit::AuditEvent& event, const absl::Status& why);

std::optional<policies::RequestDecision> DecisionOf(std::optional<storage::RequestAnswer> decision,
                                                    const std::string& by,
                                                    std::optional<int64_t> at_us,
                                                    const std::string& reason,
                                                    std::optional<int64_t> ttl_us);

// The event for an operator action; the decision fills in role and rule.
audit::AuditEvent ManagementEvent(const Caller& caller, absl::string_view action,
                                  absl::string_view subject);

// Decides an operator action on the whole vault and notes it in the event.
absl::Status DecideManagement(const Caller& caller, audit::AuditEvent& event, absl::Time now,
                              absl::string_view what);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_ATTEMPT_H_
