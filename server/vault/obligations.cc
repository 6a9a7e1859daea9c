#include "server/vault/obligations.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/storage/tx.h"
#include "server/vault/internal.h"

namespace kluis::server {

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> UsersHolding(Tx& tx, policies::Role role,
                                                                          const AccountRow& account,
                                                                          absl::Time now) {
  std::vector<std::pair<int64_t, std::string>> users;
  for (policies::ScopeKind scope : policies::AllowedScopes(role)) {
    const int64_t id = scope == policies::ScopeKind::kAccount ? account.id
                       : scope == policies::ScopeKind::kTeam  ? account.team_id
                       : scope == policies::ScopeKind::kUnit  ? account.unit_id
                                                              : 0;
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> found =
        tx.UsersWithRole(scope, id, role, Micros(now));
    if (!found.ok()) return found.status();
    for (auto& user : *found) {
      if (std::find(users.begin(), users.end(), user) == users.end()) users.push_back(std::move(user));
    }
  }
  return users;
}

absl::Status NotifyHolders(Tx& tx, const AccountRow& account, const std::vector<policies::Role>& roles,
                           absl::string_view kind, std::optional<int64_t> request_id,
                           const std::string& text, absl::Time now) {
  std::vector<int64_t> told;
  for (policies::Role role : roles) {
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> users = UsersHolding(tx, role, account, now);
    if (!users.ok()) return users.status();
    for (const auto& [id, name] : *users) {
      if (std::find(told.begin(), told.end(), id) != told.end()) continue;
      told.push_back(id);
      if (absl::Status s = tx.InsertNotification({0, id, std::string(kind), account.name(), request_id,
                                                  text, Micros(now)});
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyObligations(Tx& tx, const Caller& caller, const AccountRow& account,
                              const Decision& decision, absl::string_view reason, absl::Time now,
                              absl::string_view what) {
  const policies::Obligations& o = decision.obligations;
  if (o.consume_request != 0) {
    if (absl::Status s = tx.MarkRequestUsed(o.consume_request, Micros(now)); !s.ok()) return s;
  }
  const std::string act = !what.empty() ? std::string(what) : o.break_glass ? "break-glass release" : "release";
  std::vector<policies::Role> roles;
  for (policies::Notify notify : o.notify) {
    roles.push_back(notify == policies::Notify::kBeheerders ? policies::Role::kBeheerder
                    : notify == policies::Notify::kTeamchefs ? policies::Role::kTeamchef
                                                             : policies::Role::kRegisseur);
  }
  if (!roles.empty()) {
    if (absl::Status s = NotifyHolders(
            tx, account, roles, !what.empty() ? what : o.break_glass ? "break-glass" : "release",
            o.consume_request != 0 ? std::optional<int64_t>(o.consume_request) : std::nullopt,
            absl::StrCat(act, " of ", account.name(), " by ", caller.user, " (",
                         decision.role ? policies::RoleName(*decision.role) : "", ", rule ",
                         decision.rule, "): ", reason),
            now);
        !s.ok()) {
      return s;
    }
  }
  if (o.raise_rotation_flag) {
    return tx.RaiseRotationFlag(account.id, absl::StrCat(act, " by ", caller.user, " (", decision.rule, ")"),
                                caller.user, Micros(now));
  }
  return absl::OkStatus();
}

absl::Status FlagReleasable(Tx& tx, const policies::Policy& policy,
                            const std::vector<policies::Binding>& bindings, absl::string_view cause,
                            absl::string_view raised_by, absl::Time now) {
  if (bindings.empty()) return absl::OkStatus();
  // Only the accounts inside the bindings' scopes can be released by them: read those, one
  // statement a binding, instead of every account of the vault.
  std::vector<AccountRow> accounts;
  absl::flat_hash_set<int64_t> seen;
  for (const policies::Binding& binding : bindings) {
    absl::StatusOr<std::vector<AccountRow>> in_scope =
        tx.AccountsIn(binding.scope, binding.scope_id);
    if (!in_scope.ok()) return in_scope.status();
    for (AccountRow& account : *in_scope) {
      if (seen.insert(account.id).second) accounts.push_back(std::move(account));
    }
  }
  policies::ReleaseContext plain;
  plain.whatever_reason = true;
  policies::ReleaseContext emergency = plain;
  emergency.break_glass = true;
  for (const AccountRow& account : accounts) {
    const bool could = policies::Decide(policy, bindings, ResourceOf(account), Action::kReleaseLogin, plain, now).allows() ||
                       policies::Decide(policy, bindings, ResourceOf(account), Action::kReleaseLogin, emergency, now).allows();
    if (!could) continue;
    if (absl::Status s = tx.RaiseRotationFlag(account.id, cause, raised_by, Micros(now)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace kluis::server
