// The custody report (R4): is every account's custody in order?
#include "server/vault/vault.h"

#include "absl/strings/str_cat.h"
#include "server/audit/audit_log.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/obligations.h"
#include "server/vault/views.h"

namespace kluis::server {

namespace {

// The facts of one account's custody, as they stand at `now`.
absl::StatusOr<CustodyLine> FactsOf(Tx& tx, const AccountRow& account, const std::vector<storage::RequestRow>& requests,
                                    const policies::Policy& policy, absl::Time now) {
  CustodyLine line;
  absl::StatusOr<AccountView> view = ViewOf(tx, account, now);
  if (!view.ok()) return view.status();
  line.view = *std::move(view);
  absl::StatusOr<std::vector<Tx::Holder>> holders = tx.AccountHolders(account.id, "beheerder", Micros(now));
  if (!holders.ok()) return holders.status();
  for (const Tx::Holder& h : *holders) {
    const bool active = h.user_active && h.binding_valid && h.enrolled;
    line.beheerders.emplace_back(h.user, active);
    if (!active) {
      line.problems.push_back(absl::StrCat("beheerder ", h.user, " is not active (",
                                           !h.user_active     ? "disabled"
                                           : !h.binding_valid ? "binding not valid now"
                                                              : "not enrolled",
                                           ")"));
    }
  }
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> teamchefs =
      UsersHolding(tx, policies::Role::kTeamchef, account, now);
  if (!teamchefs.ok()) return teamchefs.status();
  line.teamchef_covered = !teamchefs->empty();
  absl::StatusOr<std::vector<storage::RotationFlagRow>> flags = tx.OpenRotationFlags(account.id);
  if (!flags.ok()) return flags.status();
  line.open_flags = static_cast<int>(flags->size());
  for (const storage::RequestRow& row : requests) {
    if (row.account_id != account.id) continue;
    const policies::RequestState state = policies::DeriveStatus(RequestOf(row), policy, now).state;
    line.pending_requests += state == policies::RequestState::kPending || state == policies::RequestState::kEscalated;
  }
  absl::StatusOr<std::optional<int64_t>> released = tx.LastRelease(account.name());
  if (!released.ok()) return released.status();
  if (released->has_value()) line.last_release = absl::FromUnixMicros(**released);
  for (storage::SecretKind kind : {kPassword, kTotp}) {
    absl::StatusOr<std::optional<storage::SecretRow>> pending = tx.SecretInState(account.id, kind, storage::SecretState::kPending);
    if (!pending.ok()) return pending.status();
    line.pending_rotation |= pending->has_value();
  }
  return line;
}

// The verdict (docs/POLICY.md, "Custody in order"). In order is the seed's minimum (000 §4.9, R1,
// R2): the password and linked e-mail kept in the vault, one known and live, a beheerder who can
// act, a teamchef who can take it, nothing left to rotate. The rest is advice: it shows, and does
// not make the account out of order.
void Judge(CustodyLine& line, const AccountRow& account, const policies::Policy& policy, absl::Time now) {
  std::vector<std::string>& p = line.problems;
  std::vector<std::string>& w = line.warnings;
  if (account.state != policies::AccountState::kActive) {
    p.insert(p.begin(), absl::StrCat("account is ", account.state_name()));
    return;
  }
  bool any_active = false;
  for (const auto& [user, active] : line.beheerders) any_active |= active;
  if (!line.view.has_password) p.push_back("no password in the vault");
  if (!line.view.has_linked_email) p.push_back("no linked e-mail address in the vault");
  if (line.pending_rotation) {
    p.push_back("a rotation is pending: the vault does not know which password or 2FA key is live "
                "(confirm or abort it)");
  }
  if (!any_active) p.push_back("no active beheerder");
  if (!line.teamchef_covered) p.push_back("no teamchef for the team");
  if (line.open_flags > 0) p.push_back(absl::StrCat(line.open_flags, " open rotation flag(s)"));
  if (policy.max_password_age && line.view.password_set_at &&
      now - *line.view.password_set_at >= *policy.max_password_age) {
    p.push_back(absl::StrCat("password older than ", *policy.max_password_age / absl::Hours(24), " days"));
  }
  if (!line.view.has_totp) w.push_back("no 2FA key in the vault");
  if (line.view.has_totp && line.view.recovery_codes_left == 0) w.push_back("no recovery codes left");
  if (line.pending_requests > 0) w.push_back(absl::StrCat(line.pending_requests, " pending request(s)"));
}

}  // namespace

absl::StatusOr<CustodyReport> Vault::Custody(const Caller& caller, absl::string_view unit) {
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  CustodyReport report;
  report.as_of = now;
  audit::AuditEvent event = ManagementEvent(caller, "custody-report", unit);
  // Computed on a read snapshot, so that the writer (and every release) does not wait for it; the
  // report holds no secret. It is recorded after, in a short write of its own.
  const absl::Status computed = db_->Read([&](Tx& tx) -> absl::Status {
    std::optional<int64_t> unit_id;
    if (!unit.empty()) {
      absl::StatusOr<std::optional<storage::UnitRow>> found = tx.FindUnit(unit);
      if (!found.ok()) return found.status();
      // A unit outside the caller's scope reads as one that does not exist.
      const absl::Status no_unit =
          absl::NotFoundError(absl::StrCat("no unit ", Quoted(unit), " whose custody report you may see"));
      if (!found->has_value()) return no_unit;
      unit_id = (*found)->id;
      event.unit_id = unit_id;
      const Decision decision = policies::DecideAdmin(caller.policy_bindings, policies::Resource{0, 0, *unit_id},
                                                      AdminAction::kCustodyReport, now);
      NoteDecision(event, decision);
      if (!decision.allows()) return no_unit;
    } else {
      event.decision = "allow";
      event.rule = "R4.custody-report";
      event.outcome = "ok";
    }
    absl::StatusOr<std::vector<AccountRow>> accounts = tx.ListAccounts();
    if (!accounts.ok()) return accounts.status();
    absl::StatusOr<std::vector<storage::RequestRow>> requests = tx.ListRequests(std::nullopt, 100000);
    if (!requests.ok()) return requests.status();
    for (const AccountRow& account : *accounts) {
      if (unit_id && account.unit_id != *unit_id) continue;
      if (!policies::DecideAdmin(caller.policy_bindings, ResourceOf(account), AdminAction::kCustodyReport, now)
               .allows()) {
        continue;
      }
      absl::StatusOr<CustodyLine> line = FactsOf(tx, account, *requests, *policy, now);
      if (!line.ok()) return line.status();
      Judge(*line, account, *policy, now);
      const std::string team = absl::StrCat(account.unit_name, "/", account.team_name);
      if (report.teams.empty() || report.teams.back().team != team)
        report.teams.push_back({team, 0, 0});
      ++report.teams.back().accounts;
      report.teams.back().in_order += line->problems.empty();
      report.lines.push_back(*std::move(line));
    }
    if (unit.empty() && report.lines.empty()) {
      event.decision = "deny";
      event.rule = "deny-by-default";
      return absl::PermissionDeniedError("you may not see a custody report: it is for regisseurs and auditors");
    }
    event.reason = absl::StrCat(unit.empty() ? "all units in scope" : std::string(unit), ": ", report.lines.size(),
                                " accounts");
    return absl::OkStatus();
  });
  // Recorded while the caller is still who they were (StillCurrent); a refusal is recorded too.
  absl::Status done = RunAudited(caller, event, now, [&](Tx&) { return computed; });
  if (!done.ok()) return done;
  return report;
}

}  // namespace kluis::server
