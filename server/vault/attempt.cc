#include "server/vault/attempt.h"

#include <algorithm>
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/internal.h"
#include "server/vault/refusal.h"

namespace kluis::server {

std::vector<policies::Binding> PolicyBindings(const std::vector<storage::BindingRow>& rows) {
  std::vector<policies::Binding> bindings;
  for (const storage::BindingRow& row : rows) {
    policies::Binding binding{row.role, row.scope_kind, row.scope_id,
                              absl::FromUnixMicros(row.valid_from_us)};
    if (row.valid_until_us) binding.valid_until = absl::FromUnixMicros(*row.valid_until_us);
    bindings.push_back(binding);
  }
  return bindings;
}

policies::Resource ResourceOf(const AccountRow& account) {
  return policies::Resource{account.id, account.team_id, account.unit_id, account.kind,
                            account.state};
}

std::string RoleOf(const Decision& decision) {
  return decision.role ? std::string(policies::RoleName(*decision.role)) : "";
}

void NoteDecision(audit::AuditEvent& event, const Decision& decision) {
  event.role = RoleOf(decision);
  event.rule = decision.rule;
  event.decision = decision.allows() ? "allow" : "deny";
  event.outcome = decision.allows() ? "ok" : "permission-denied";
}

audit::AuditEvent Event(const Caller& caller, absl::string_view action, absl::string_view account,
                        const Decision& decision, absl::string_view reason,
                        std::optional<int64_t> unit_id) {
  audit::AuditEvent event;
  event.actor = caller.user;
  event.certificate = caller.fingerprint;
  event.action = std::string(action);
  event.account = std::string(account);
  event.reason = std::string(reason);
  event.peer = caller.peer;
  event.unit_id = unit_id;
  NoteDecision(event, decision);
  return event;
}

absl::Status DeniedError(const Decision& decision, absl::string_view what) {
  // Exit codes by class (DESIGN.md §9): a missing reason is bad input (1), not a denial (2).
  if (decision.reason_too_short) {
    return Refused(Refusal::kReasonRequired, absl::InvalidArgumentError(decision.explanation));
  }
  if (!decision.explanation.empty()) {
    const std::string& text = decision.explanation;
    if (decision.verdict == policies::Verdict::kNeedsApproval) {
      return Refused(decision.grant_not_usable ? Refusal::kGrantNotUsable : Refusal::kNeedsApproval,
                     absl::FailedPreconditionError(absl::StrCat("needs approval: ", text)));
    }
    return absl::PermissionDeniedError(absl::StrCat("you may not ", what, ": ", text));
  }
  return absl::PermissionDeniedError(
      absl::StrCat(decision.role ? absl::StrCat("as ", policies::RoleName(*decision.role), ", you")
                                 : std::string("you"),
                   " may not ", what, " (rule ", decision.rule, ")"));
}

Decision DeniedBy(std::string rule) { return Decision{policies::Verdict::kDeny, std::move(rule), {}}; }

absl::Status UserDisabled(absl::string_view user) {
  return Refused(Refusal::kUserDisabled, absl::FailedPreconditionError(absl::StrCat("user ", user, " is disabled")));
}

namespace {

// How an attempt ended, as the audit record names it: "permission-denied", "not-found", …
std::string OutcomeName(const absl::Status& status) {
  std::string code = absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
  std::replace(code.begin(), code.end(), '_', '-');
  return code;
}

}  // namespace

void NoteFailure(audit::AuditEvent& event, const absl::Status& why) {
  if (event.decision.empty()) event.decision = "deny";
  if (event.rule.empty()) event.rule = "input";
  event.outcome = OutcomeName(why);
}


std::optional<policies::RequestDecision> DecisionOf(std::optional<storage::RequestAnswer> decision,
                                                    const std::string& by,
                                                    std::optional<int64_t> at_us,
                                                    const std::string& reason,
                                                    std::optional<int64_t> ttl_us) {
  if (!decision.has_value() || !at_us.has_value()) return std::nullopt;
  policies::RequestDecision d;
  d.approve = *decision == storage::RequestAnswer::kApprove;
  d.by = by;
  d.at = absl::FromUnixMicros(*at_us);
  d.reason = reason;
  if (ttl_us.has_value()) d.ttl = absl::Microseconds(*ttl_us);
  return d;
}

audit::AuditEvent ManagementEvent(const Caller& caller, absl::string_view action,
                                  absl::string_view subject) {
  audit::AuditEvent event;
  event.actor = caller.user;
  event.certificate = caller.fingerprint;
  event.action = std::string(action);
  event.reason = std::string(subject);
  event.peer = caller.peer;
  return event;
}

absl::Status DecideManagement(const Caller& caller, audit::AuditEvent& event, absl::Time now,
                              absl::string_view what) {
  const Decision decision =
      policies::DecideAdmin(caller.policy_bindings, policies::Resource{}, AdminAction::kManageOrganisation, now);
  NoteDecision(event, decision);
  if (!decision.allows()) return DeniedError(decision, what);
  return absl::OkStatus();
}

absl::Status Vault::Record(Tx& tx, const audit::AuditEvent& event, absl::Time now) {
  return audit::Append(tx, event, now, checkpointer().get()).status();
}

absl::Status Vault::StillCurrent(Tx& tx, const Caller& caller, absl::Time now) {
  absl::StatusOr<Identified> again = Identify(tx, caller.fingerprint, Presented{"", caller.peer}, now);
  if (!again.ok()) return again.status();
  // Both lists come from Tx::ActiveBindings, ordered by id.
  const auto same = [](const storage::BindingRow& a, const storage::BindingRow& b) { return a.id == b.id; };
  if (again->refused.ok() && again->caller.user_id == caller.user_id &&
      std::equal(again->caller.bindings.begin(), again->caller.bindings.end(), caller.bindings.begin(),
                 caller.bindings.end(), same)) {
    return absl::OkStatus();
  }
  return absl::AbortedError("your access changed while this call ran: run it again");
}

bool Attempt::Decide(const Decision& decision) {
  NoteDecision(event_, decision);
  return decision.allows();
}

absl::Status Attempt::Refuse(absl::Status why) {
  NoteFailure(event_, why);
  refusal_ = std::move(why);
  then_ = Then::kRecord;
  return absl::OkStatus();
}

absl::Status Attempt::RefuseAndUndo(absl::Status why) {
  refusal_ = why;
  then_ = Then::kUndoAndRecord;
  return why;
}

absl::Status Attempt::RefuseInput(absl::Status why) {
  refusal_ = std::move(why);
  then_ = Then::kNotRecord;
  return absl::OkStatus();
}

absl::Status Vault::Run(Attempt& attempt, const Presented& presented, absl::string_view fingerprint,
                        Step step) {
  return RunAttempt(attempt, &presented, fingerprint, nullptr, step);
}

absl::Status Vault::Run(Attempt& attempt, const Caller& caller, Step step) {
  return RunAttempt(attempt, nullptr, "", &caller, step);
}

absl::Status Vault::Run(Attempt& attempt, Step step) {
  return RunAttempt(attempt, nullptr, "", nullptr, step);
}

absl::Status Vault::RunAttempt(Attempt& attempt, const Presented* presented,
                               absl::string_view fingerprint, const Caller* caller, Step step) {
  const absl::Time now = attempt.now();
  audit::AuditEvent& event = attempt.event_;
  auto record = [&](Tx& tx, const audit::AuditEvent& what, bool checkpoint) -> absl::Status {
    absl::StatusOr<int64_t> seq = audit::Append(tx, what, now, checkpointer().get(), checkpoint);
    if (!seq.ok()) return seq.status();
    attempt.recorded_seq_ = *seq;
    return absl::OkStatus();
  };
  auto in_one_write = [&](Tx& tx) -> absl::Status {
    // 1. Who.
    if (presented != nullptr) {
      absl::StatusOr<Identified> who = Identify(tx, fingerprint, *presented, now);
      if (!who.ok()) return who.status();
      if (!who->refused.ok()) {
        attempt.unauthenticated_ = who->refused;
        return record(tx, who->refusal, false);
      }
      attempt.identified_ = std::move(who->caller);
      caller = &*attempt.identified_;
      event.actor = caller->user;
      event.certificate = caller->fingerprint;
      event.peer = caller->peer;
    } else if (caller != nullptr) {
      if (absl::Status current = StillCurrent(tx, *caller, now); !current.ok()) {
        if (!absl::IsAborted(current)) return current;  // a storage error
        event.decision = "deny";
        event.rule = "auth.changed-during-call";
        NoteFailure(event, current);
        attempt.refusal_ = current;
        return record(tx, event, false);
      }
    }
    attempt.caller_ = caller;
    // 2, 3. Decide and do.
    if (absl::Status s = step(tx, attempt); !s.ok()) return s;  // a storage error, or undone
    // 4. Record.
    if (attempt.then_ == Attempt::Then::kNotRecord) return absl::OkStatus();
    if (attempt.steps_record_themselves_) return absl::OkStatus();
    return record(tx, event, attempt.checkpoint_ && attempt.refusal_.ok());
  };
  // A release's step changes rows only after its last refusal: no savepoint needed.
  const storage::Database::Failure failure = presented != nullptr
                                                 ? storage::Database::Failure::kBeforeChanging
                                                 : storage::Database::Failure::kAnywhere;
  const absl::Status stored = db_->Write(in_one_write, failure);
  // 5. The status returned.
  if (attempt.then_ == Attempt::Then::kUndoAndRecord && !attempt.refusal_.ok()) {
    NoteFailure(event, attempt.refusal_);
    auto record_refusal = [&](Tx& tx) { return record(tx, event, false); };
    if (absl::Status s = db_->Write(record_refusal); !s.ok()) return s;
    return attempt.refusal_;
  }
  if (!stored.ok()) return stored;
  if (!attempt.unauthenticated_.ok()) return attempt.unauthenticated_;
  return attempt.refusal_;
}

absl::Status Vault::RunAudited(const Caller& caller, audit::AuditEvent& event, absl::Time now,
                               absl::FunctionRef<absl::Status(Tx&)> body) {
  Attempt attempt(event, now);
  auto step = [&](Tx& tx, Attempt& self) -> absl::Status {
    const absl::Status done = body(tx);
    self.event() = event;  // as the body filled it in
    if (!done.ok()) return self.RefuseAndUndo(done);
    return absl::OkStatus();
  };
  const absl::Status status = Run(attempt, caller, step);
  event = attempt.event();
  return status;
}

absl::Status Vault::RefuseInput(const Caller& caller, absl::string_view action, const absl::Status& error) {
  // The message, not the input: it names the field and quotes at most a bounded, escaped part.
  Attempt attempt(ManagementEvent(caller, action, error.message()), clock_.Now());
  auto step = [&](Tx&, Attempt& self) -> absl::Status {
    self.Decide(DeniedBy("input.invalid"));
    return self.Refuse(error);
  };
  return Run(attempt, step);
}

}  // namespace kluis::server
