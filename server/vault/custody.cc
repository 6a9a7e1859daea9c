// The custody report (R4): is every account's custody in order?
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/audit/audit_log.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/obligations.h"
#include "server/vault/paging.h"
#include "server/vault/vault.h"
#include "server/vault/views.h"

namespace kluis::server {

namespace {

// What a page of the report needs besides the accounts' summaries, each read in one statement.
struct PageFacts {
  std::vector<storage::HolderRow> beheerders;        // by account id, then name
  std::vector<int64_t> teams_with_teamchef;          // team ids
  std::vector<storage::RequestRow> unused_requests;  // of the page's accounts
};

absl::StatusOr<PageFacts> ReadPageFacts(Tx& tx, const SummaryPage& page, absl::Time now) {
  PageFacts facts;
  if (page.rows.empty()) return facts;
  absl::StatusOr<std::vector<storage::HolderRow>> holders =
      tx.HoldersOf(page.first_id, page.last_id, policies::Role::kBeheerder, Micros(now));
  if (!holders.ok()) return holders.status();
  facts.beheerders = *std::move(holders);
  // A teamchef holds the team (policies/roles.cc: AllowedScopes).
  absl::StatusOr<std::vector<int64_t>> teams =
      tx.ScopesHeld(policies::ScopeKind::kTeam, policies::Role::kTeamchef, Micros(now));
  if (!teams.ok()) return teams.status();
  facts.teams_with_teamchef = *std::move(teams);
  absl::StatusOr<std::vector<storage::RequestRow>> requests =
      tx.UnusedRequestsOf(page.first_id, page.last_id);
  if (!requests.ok()) return requests.status();
  facts.unused_requests = *std::move(requests);
  return facts;
}

// The facts of one account's custody, as they stand at `now`.
CustodyLine FactsOf(const storage::AccountSummary& summary, const PageFacts& facts,
                    const policies::Policy& policy, absl::Time now) {
  const AccountRow& account = summary.account;
  CustodyLine line;
  std::vector<std::string> active_names;
  for (const storage::HolderRow& h : facts.beheerders) {
    if (h.account_id != account.id) continue;
    const bool active = h.user_active && h.binding_valid && h.enrolled;
    line.beheerders.emplace_back(h.user, active);
    if (h.user_active && h.binding_valid &&
        (active_names.empty() || active_names.back() != h.user)) {
      active_names.push_back(h.user);
    }
    if (!active) {
      line.problems.push_back(absl::StrCat("beheerder ", h.user, " is not active (",
                                           !h.user_active     ? "disabled"
                                           : !h.binding_valid ? "binding not valid now"
                                                              : "not enrolled",
                                           ")"));
    }
  }
  line.view = ViewOfSummary(summary, std::move(active_names));
  line.teamchef_covered =
      std::find(facts.teams_with_teamchef.begin(), facts.teams_with_teamchef.end(),
                account.team_id) != facts.teams_with_teamchef.end();
  line.open_flags = summary.open_flags;
  for (const storage::RequestRow& row : facts.unused_requests) {
    if (row.account_id != account.id) continue;
    const policies::RequestState state = policies::DeriveStatus(RequestOf(row), policy, now).state;
    line.pending_requests += state == policies::RequestState::kPending || state == policies::RequestState::kEscalated;
  }
  if (summary.last_release_us) line.last_release = absl::FromUnixMicros(*summary.last_release_us);
  line.pending_rotation = summary.pending_rotation;
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

absl::StatusOr<CustodyReport> Vault::Custody(const Caller& caller, absl::string_view unit,
                                             const PageRequest& page) {
  absl::StatusOr<Cursor> cursor = OpenPage(page, "custody");
  if (!cursor.ok()) return cursor.status();
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  CustodyReport report;
  report.as_of = now;
  audit::AuditEvent event = ManagementEvent(caller, "custody-report", unit);
  // Computed on a read snapshot, so that the writer (and every release) does not wait for it; the
  // report holds no secret. It is recorded after, in a short write of its own.
  const absl::Status computed = db_->ReadAside([&](Tx& tx) -> absl::Status {
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
    storage::AccountPage query;
    query.unit_id = unit_id;
    query.with_last_release = true;
    const auto in_scope = [&](const AccountRow& account) {
      return policies::DecideAdmin(caller.policy_bindings, ResourceOf(account),
                                   AdminAction::kCustodyReport, now)
          .allows();
    };
    absl::StatusOr<SummaryPage> rows = KeptSummaries(tx, query, *cursor, "custody", in_scope);
    if (!rows.ok()) return rows.status();
    absl::StatusOr<PageFacts> facts = ReadPageFacts(tx, *rows, now);
    if (!facts.ok()) return facts.status();
    for (const storage::AccountSummary& summary : rows->rows) {
      CustodyLine line = FactsOf(summary, *facts, *policy, now);
      Judge(line, summary.account, *policy, now);
      const std::string team =
          absl::StrCat(summary.account.unit_name, "/", summary.account.team_name);
      auto totals = std::find_if(report.teams.begin(), report.teams.end(),
                                 [&](const TeamTotals& t) { return t.team == team; });
      if (totals == report.teams.end())
        totals = report.teams.insert(report.teams.end(), {team, 0, 0});
      ++totals->accounts;
      totals->in_order += line.problems.empty();
      report.lines.push_back(std::move(line));
    }
    report.next_page_token = std::move(rows->next_page_token);
    // Nothing in scope on the first page is nothing in scope at all; an empty later page is only
    // the end of a walk.
    if (unit.empty() && report.lines.empty() && cursor->position == 0) {
      event.decision = "deny";
      event.rule = "deny-by-default";
      return absl::PermissionDeniedError("you may not see a custody report: it is for regisseurs and auditors");
    }
    event.reason = absl::StrCat(unit.empty() ? "all units in scope" : std::string(unit), ": ",
                                report.lines.size(), " accounts",
                                cursor->position > 0 ? " (a later page)" : "");
    return absl::OkStatus();
  });
  // Recorded while the caller is still who they were (StillCurrent); a refusal is recorded too.
  absl::Status done = RunAudited(caller, event, now, [&](Tx&) { return computed; });
  if (!done.ok()) return done;
  return report;
}

}  // namespace kluis::server
