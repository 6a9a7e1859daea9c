#include "server/vault/resolve.h"

#include <algorithm>
#include "absl/strings/str_cat.h"
#include "server/audit/audit_log.h"
#include "server/storage/tx.h"
#include "server/vault/internal.h"

namespace kluis::server {

absl::StatusOr<AccountRow> ResolveVisibleAccount(Tx& tx, const Caller& caller,
                                                 absl::string_view name, absl::Time now) {
  if (name.empty()) return absl::InvalidArgumentError("account is required (PLATFORM/HANDLE)");
  if (name.size() > 200) return absl::InvalidArgumentError("account name is too long");
  std::optional<absl::string_view> platform;
  absl::string_view handle = name;
  if (const size_t slash = name.find('/'); slash != absl::string_view::npos) {
    platform = name.substr(0, slash);
    handle = name.substr(slash + 1);
  }
  const absl::Status not_found = absl::NotFoundError(
      absl::StrCat("no account ", Quoted(name), " that you have a role on"));
  if (!CheckHandle(handle).ok() || (platform && !CheckPlatform(*platform).ok())) return not_found;
  absl::StatusOr<std::vector<AccountRow>> found = tx.FindAccounts(handle, platform);
  if (!found.ok()) return found.status();
  std::vector<AccountRow> visible;
  for (AccountRow& account : *found) {
    if (policies::DecideAdmin(caller.policy_bindings, ResourceOf(account), AdminAction::kViewAccount, now)
            .allows()) {
      visible.push_back(std::move(account));
    }
  }
  if (visible.empty()) return not_found;
  if (visible.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("handle \"", handle,
                                                   "\" is on several platforms: name it as "
                                                   "PLATFORM/",
                                                   handle));
  }
  return visible.front();
}

absl::StatusOr<Decided> ResolveAndDecide(Tx& tx, const Caller& caller, const policies::Policy& policy,
                                         absl::string_view account, Action action,
                                         const policies::ReleaseContext& context, absl::Time now,
                                         audit::AuditEvent& event, absl::string_view verb) {
  absl::StatusOr<AccountRow> found = ResolveVisibleAccount(tx, caller, account, now);
  if (!found.ok()) return found.status();
  event.account = found->name();
  event.unit_id = found->unit_id;
  Decision decision = policies::Decide(policy, caller.policy_bindings, ResourceOf(*found), action, context, now);
  NoteDecision(event, decision);
  if (!decision.allows()) return DeniedError(decision, absl::StrCat(verb, " ", found->name()));
  return Decided{*std::move(found), std::move(decision)};
}

absl::StatusOr<storage::UserRow> FindActiveUser(Tx& tx, absl::string_view name) {
  absl::StatusOr<storage::UserRow> user = FindKnownUser(tx, name);
  if (!user.ok()) return user.status();
  if (!user->active) return UserDisabled(name);
  return user;
}

absl::StatusOr<storage::UserRow> FindKnownUser(Tx& tx, absl::string_view name) {
  absl::StatusOr<std::optional<storage::UserRow>> user = tx.FindUser(name);
  if (!user.ok()) return user.status();
  if (!user->has_value()) return absl::NotFoundError(absl::StrCat("no user ", Quoted(name)));
  return **user;
}

absl::Status BindOnAccount(Tx& tx, int64_t user_id, policies::Role role, const AccountRow& account,
                           absl::Time now, absl::string_view by) {
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders =
      tx.UsersWithRole(policies::ScopeKind::kAccount, account.id, role, Micros(now));
  if (!holders.ok()) return holders.status();
  if (std::any_of(holders->begin(), holders->end(), [&](const auto& h) { return h.first == user_id; })) {
    return absl::OkStatus();
  }
  storage::BindingRow binding;
  binding.user_id = user_id;
  binding.role = role;
  binding.scope_kind = policies::ScopeKind::kAccount;
  binding.scope_id = account.id;
  binding.valid_from_us = Micros(now);
  binding.granted_by = std::string(by);
  return tx.InsertBinding(binding).status();
}

absl::StatusOr<ScopeTarget> ResolveScope(Tx& tx, const Caller& caller, policies::ScopeKind scope,
                                         absl::string_view name, absl::Time now) {
  switch (scope) {
    case policies::ScopeKind::kGlobal:
      return ScopeTarget{0, std::nullopt, "global"};
    case policies::ScopeKind::kUnit: {
      absl::StatusOr<std::optional<storage::UnitRow>> unit = tx.FindUnit(name);
      if (!unit.ok()) return unit.status();
      if (!unit->has_value()) return absl::NotFoundError(absl::StrCat("no unit ", Quoted(name)));
      return ScopeTarget{(*unit)->id, (*unit)->id, (*unit)->name};
    }
    case policies::ScopeKind::kTeam: {
      absl::string_view unit_name, team_name = name;
      if (const size_t slash = name.find('/'); slash != absl::string_view::npos) {
        unit_name = name.substr(0, slash);
        team_name = name.substr(slash + 1);
      }
      absl::StatusOr<std::vector<storage::TeamRow>> teams = tx.FindTeams(team_name);
      if (!teams.ok()) return teams.status();
      std::vector<storage::TeamRow> matching;
      for (storage::TeamRow& team : *teams) {
        if (unit_name.empty() || team.unit_name == unit_name) matching.push_back(std::move(team));
      }
      if (matching.empty()) return absl::NotFoundError(absl::StrCat("no team ", Quoted(name)));
      if (matching.size() > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("team \"", name, "\" exists in several units: name it as UNIT/", name));
      }
      return ScopeTarget{matching[0].id, matching[0].unit_id,
                         absl::StrCat(matching[0].unit_name, "/", matching[0].name)};
    }
    case policies::ScopeKind::kAccount: {
      absl::StatusOr<AccountRow> account = ResolveVisibleAccount(tx, caller, name, now);
      if (!account.ok()) return account.status();
      return ScopeTarget{account->id, account->unit_id, account->name()};
    }
  }
  return absl::InvalidArgumentError("unknown scope");
}

bool OrganisationFilter::Matches(const storage::AccountRow& account) const {
  return (!unit_id || account.unit_id == *unit_id) &&
         (team_ids.empty() ||
          std::find(team_ids.begin(), team_ids.end(), account.team_id) != team_ids.end());
}

absl::StatusOr<std::optional<OrganisationFilter>> FilterOf(Tx& tx, absl::string_view unit,
                                                           absl::string_view team) {
  OrganisationFilter filter;
  if (!unit.empty()) {
    absl::StatusOr<std::optional<storage::UnitRow>> found = tx.FindUnit(unit);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return std::nullopt;
    filter.unit_id = (*found)->id;
  }
  if (team.empty()) return filter;
  const size_t slash = team.find('/');
  const absl::string_view team_name =
      slash == absl::string_view::npos ? team : team.substr(slash + 1);
  absl::StatusOr<std::vector<storage::TeamRow>> teams = tx.FindTeams(team_name);
  if (!teams.ok()) return teams.status();
  for (const storage::TeamRow& t : *teams) {
    if (slash == absl::string_view::npos || t.unit_name == team.substr(0, slash))
      filter.team_ids.push_back(t.id);
  }
  if (filter.team_ids.empty()) return std::nullopt;
  if (filter.team_ids.size() == 1) filter.team_id = filter.team_ids.front();
  return filter;
}

}  // namespace kluis::server
