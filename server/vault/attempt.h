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

std::string OutcomeName(const absl::Status& status);

// Notes in `event` that the attempt failed with `why`: denied unless a decision says otherwise,
// by the rule that refused it ("input" when no rule did), and how it ended.
void NoteFailure(audit::AuditEvent& event, const absl::Status& why);

// Notes in `event` that the call was refused by Vault::StillCurrent with `why`.
void NoteChangedDuringCall(audit::AuditEvent& event, const absl::Status& why);

std::optional<policies::RequestDecision> DecisionOf(const std::optional<std::string>& decision,
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
