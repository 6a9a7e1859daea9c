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
    std::optional<policies::Role> role = policies::ParseRole(row.role);
    std::optional<policies::ScopeKind> scope = policies::ParseScopeKind(row.scope_kind);
    if (!role || !scope) continue;  // an unknown word grants nothing
    policies::Binding binding{*role, *scope, row.scope_id, absl::FromUnixMicros(row.valid_from_us)};
    if (row.valid_until_us) binding.valid_until = absl::FromUnixMicros(*row.valid_until_us);
    bindings.push_back(binding);
  }
  return bindings;
}

policies::Resource ResourceOf(const AccountRow& account) {
  return policies::Resource{account.id, account.team_id, account.unit_id,
                            policies::ParseAccountKind(account.kind),
                            // An unknown state is treated as archived: it releases nothing.
                            policies::ParseAccountState(account.status).value_or(policies::AccountState::kArchived)};
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

std::string OutcomeName(const absl::Status& status) {
  std::string code = absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
  std::replace(code.begin(), code.end(), '_', '-');
  return code;
}

void NoteFailure(audit::AuditEvent& event, const absl::Status& why) {
  if (event.decision.empty()) event.decision = "deny";
  if (event.rule.empty()) event.rule = "input";
  event.outcome = OutcomeName(why);
}

void NoteChangedDuringCall(audit::AuditEvent& event, const absl::Status& why) {
  if (absl::IsAborted(why)) {  // otherwise a storage error, recorded as such
    event.decision = "deny";
    event.rule = "auth.changed-during-call";
  }
  NoteFailure(event, why);
}

std::optional<policies::RequestDecision> DecisionOf(const std::optional<std::string>& decision,
                                                    const std::string& by,
                                                    std::optional<int64_t> at_us,
                                                    const std::string& reason,
                                                    std::optional<int64_t> ttl_us) {
  if (!decision.has_value() || !at_us.has_value()) return std::nullopt;
  policies::RequestDecision d;
  d.approve = *decision == "approve";
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

absl::Status Vault::RunAudited(const Caller& caller, audit::AuditEvent& event, absl::Time now,
                               absl::FunctionRef<absl::Status(Tx&)> body) {
  absl::Status outcome;
  absl::Status stored = db_->Write([&](Tx& tx) -> absl::Status {
    outcome = StillCurrent(tx, caller, now);
    if (!outcome.ok()) {
      NoteChangedDuringCall(event, outcome);
      return outcome;
    }
    outcome = body(tx);
    if (!outcome.ok()) return outcome;  // roll back whatever the body changed
    return Record(tx, event, now);
  });
  if (outcome.ok()) return stored;  // committed with its record, or failed closed
  NoteFailure(event, outcome);
  absl::Status recorded = db_->Write([&](Tx& tx) { return Record(tx, event, now); });
  if (!recorded.ok()) return recorded;
  return outcome;
}

absl::Status Vault::RefuseInput(const Caller& caller, absl::string_view action, const absl::Status& error) {
  // The message, not the input: it names the field and quotes at most a bounded, escaped part.
  audit::AuditEvent event = ManagementEvent(caller, action, error.message());
  event.decision = "deny";
  event.rule = "input.invalid";
  event.outcome = OutcomeName(error);
  if (absl::Status recorded = db_->Write([&](Tx& tx) { return Record(tx, event, clock_.Now()); }); !recorded.ok()) {
    return recorded;
  }
  return error;
}

}  // namespace kluis::server
