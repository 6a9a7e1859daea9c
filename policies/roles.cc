#include "policies/roles.h"

#include <array>
#include <utility>

namespace kluis::policies {
namespace {

constexpr std::array<std::pair<Role, absl::string_view>, 9> kRoleNames = {{
    {Role::kBeheerder, "beheerder"},
    {Role::kTeamchef, "teamchef"},
    {Role::kRegisseur, "regisseur"},
    {Role::kLandelijkRegisseur, "landelijk-regisseur"},
    {Role::kCommunicatieadviseur, "communicatieadviseur"},
    {Role::kBewindspersoon, "bewindspersoon"},
    {Role::kPolitiekAssistent, "politiek-assistent"},
    {Role::kAuditor, "auditor"},
    {Role::kOperator, "operator"},
}};

constexpr std::array<std::pair<ScopeKind, absl::string_view>, 4> kScopeNames = {{
    {ScopeKind::kAccount, "account"},
    {ScopeKind::kTeam, "team"},
    {ScopeKind::kUnit, "unit"},
    {ScopeKind::kGlobal, "global"},
}};

constexpr std::array<std::pair<AccountKind, absl::string_view>, 5> kKindNames = {{
    {AccountKind::kPolitieAlleen, "politie-alleen"},
    {AccountKind::kPolitieSamen, "politie-samen"},
    {AccountKind::kCorporate, "corporate"},
    {AccountKind::kHybrid, "hybrid"},
    {AccountKind::kOrganisatie, "organisatie"},
}};

constexpr std::array<std::pair<AccountState, absl::string_view>, 3> kStateNames = {{
    {AccountState::kActive, "active"},
    {AccountState::kStopped, "stopped"},
    {AccountState::kArchived, "archived"},
}};

template <typename Enum, size_t N>
absl::string_view NameOf(const std::array<std::pair<Enum, absl::string_view>, N>& table, Enum value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "unknown";
}

template <typename Enum, size_t N>
std::optional<Enum> Parse(const std::array<std::pair<Enum, absl::string_view>, N>& table,
                          absl::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

}  // namespace

absl::string_view RoleName(Role role) { return NameOf(kRoleNames, role); }
std::optional<Role> ParseRole(absl::string_view name) { return Parse(kRoleNames, name); }
absl::string_view ScopeKindName(ScopeKind scope) { return NameOf(kScopeNames, scope); }
std::optional<ScopeKind> ParseScopeKind(absl::string_view name) { return Parse(kScopeNames, name); }
absl::string_view AccountKindName(AccountKind kind) { return NameOf(kKindNames, kind); }
std::optional<AccountKind> ParseAccountKind(absl::string_view name) {
  return Parse(kKindNames, name);
}

absl::string_view AccountStateName(AccountState state) { return NameOf(kStateNames, state); }
std::optional<AccountState> ParseAccountState(absl::string_view name) {
  return Parse(kStateNames, name);
}

std::vector<ScopeKind> AllowedScopes(Role role) {
  switch (role) {
    case Role::kBeheerder:
    case Role::kBewindspersoon:
    case Role::kPolitiekAssistent:
      return {ScopeKind::kAccount};
    case Role::kTeamchef:
      return {ScopeKind::kTeam};
    case Role::kRegisseur:
    case Role::kCommunicatieadviseur:
      return {ScopeKind::kUnit};
    case Role::kLandelijkRegisseur:
    case Role::kOperator:
      return {ScopeKind::kGlobal};
    case Role::kAuditor:
      return {ScopeKind::kUnit, ScopeKind::kGlobal};
  }
  return {};
}

bool Covers(const Binding& binding, const Resource& resource, absl::Time now) {
  if (now < binding.valid_from) return false;
  if (binding.valid_until.has_value() && now >= *binding.valid_until) return false;
  switch (binding.scope) {
    case ScopeKind::kAccount:
      return resource.account_id != 0 && binding.scope_id == resource.account_id;
    case ScopeKind::kTeam:
      return resource.team_id != 0 && binding.scope_id == resource.team_id;
    case ScopeKind::kUnit:
      return resource.unit_id != 0 && binding.scope_id == resource.unit_id;
    case ScopeKind::kGlobal:
      return true;
  }
  return false;
}

}  // namespace kluis::policies
