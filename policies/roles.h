#ifndef KLUIS_POLICIES_ROLES_H_
#define KLUIS_POLICIES_ROLES_H_

#include "absl/strings/string_view.h"
#include <cstdint>
#include <optional>

#include <vector>

#include "absl/time/time.h"

namespace kluis::policies {

// The roles of DESIGN.md §1 and §6, named in the product's own (Dutch) words.
enum class Role {
  kBeheerder,
  kTeamchef,
  kRegisseur,
  kLandelijkRegisseur,
  kCommunicatieadviseur,
  kBewindspersoon,
  kPolitiekAssistent,
  kAuditor,
  kOperator,
};

enum class ScopeKind { kAccount, kTeam, kUnit, kGlobal };

// Account kinds (seed 000 §3, seed 004). Private accounts are not a kind Kluis stores (rule R7).
enum class AccountKind { kPolitieAlleen, kPolitieSamen, kCorporate, kHybrid, kOrganisatie };

// Where an account is in its life (DESIGN.md §5). An active account is in use; a stopped one
// (rule R8) waits to be deleted on the platform, its secrets kept for the retention period; an
// archived one has left the organisation's custody (a hybrid minister account after a
// kabinetswissel, R14) and stays only for the audit trail: no rule releases anything of it.
enum class AccountState { kActive, kStopped, kArchived };

absl::string_view RoleName(Role role);           // "beheerder", "landelijk-regisseur", …
std::optional<Role> ParseRole(absl::string_view name);
absl::string_view ScopeKindName(ScopeKind scope);  // "account", "team", "unit", "global"
std::optional<ScopeKind> ParseScopeKind(absl::string_view name);
absl::string_view AccountKindName(AccountKind kind);  // "politie-alleen", "corporate", …
std::optional<AccountKind> ParseAccountKind(absl::string_view name);
absl::string_view AccountStateName(AccountState state);  // "active", "stopped", "archived"
std::optional<AccountState> ParseAccountState(absl::string_view name);

// The scope kind a role is granted on. A binding on another scope kind is refused.
std::vector<ScopeKind> AllowedScopes(Role role);

// One role binding of the caller, as the policy sees it.
struct Binding {
  Role role;
  ScopeKind scope;
  int64_t scope_id = 0;  // account, team or unit id; 0 for global
  absl::Time valid_from = absl::InfinitePast();
  std::optional<absl::Time> valid_until;  // none: open-ended
};

// Where an action applies. Ids are 0 when the action is not about that level (a new unit has none).
struct Resource {
  int64_t account_id = 0;
  int64_t team_id = 0;
  int64_t unit_id = 0;
  std::optional<AccountKind> account_kind;
  AccountState account_state = AccountState::kActive;
};

// Whether `binding` reaches `resource` at `now` (validity window and scope).
bool Covers(const Binding& binding, const Resource& resource, absl::Time now);

}  // namespace kluis::policies

#endif  // KLUIS_POLICIES_ROLES_H_
