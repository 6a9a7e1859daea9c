#include "policies/decide.h"

namespace kluis::policies {
namespace {

Decision Allow(std::string rule, Role role) { return Decision{Verdict::kAllow, std::move(rule), role}; }

// The first binding of `role` that reaches the resource, if any.
const Binding* Find(const std::vector<Binding>& bindings, const Resource& resource, Role role,
                    absl::Time now) {
  for (const Binding& binding : bindings) {
    if (binding.role == role && Covers(binding, resource, now)) return &binding;
  }
  return nullptr;
}

// The role a denied caller holds on the resource, so that the audit record says who was refused.
std::optional<Role> AnyCoveringRole(const std::vector<Binding>& bindings, const Resource& resource,
                                    absl::Time now) {
  for (const Binding& binding : bindings) {
    if (Covers(binding, resource, now)) return binding.role;
  }
  return std::nullopt;
}

}  // namespace

Decision Decide(const std::vector<Binding>& bindings, const Resource& resource, Action action,
                absl::Time now) {
  switch (action) {
    case Action::kReleaseLogin:
      // R1: the beheerder keeps the password and linked e-mail, and may always have them.
      if (Find(bindings, resource, Role::kBeheerder, now) != nullptr) {
        return Allow("R1.beheerder-release", Role::kBeheerder);
      }
      break;
    case Action::kStoreSecret:
      // R1: the beheerder stores the login in the vault.
      if (Find(bindings, resource, Role::kBeheerder, now) != nullptr) {
        return Allow("R1.beheerder-stores", Role::kBeheerder);
      }
      break;
    case Action::kViewAccount:
      // Anyone with a role on the account, its team, its unit, or globally may see that it
      // exists; nobody else learns even that.
      if (std::optional<Role> role = AnyCoveringRole(bindings, resource, now)) {
        return Allow("view.any-role-in-scope", *role);
      }
      break;
    case Action::kRegisterAccount:
      // R5: an account is registered with the unit's regisseur; the operator sets up vaults.
      if (Find(bindings, resource, Role::kRegisseur, now) != nullptr) {
        return Allow("R5.regisseur-registers", Role::kRegisseur);
      }
      if (Find(bindings, resource, Role::kOperator, now) != nullptr) {
        return Allow("sod.operator-registers", Role::kOperator);
      }
      break;
    case Action::kManageOrganisation:
      if (Find(bindings, resource, Role::kOperator, now) != nullptr) {
        return Allow("sod.operator-manages", Role::kOperator);
      }
      break;
    case Action::kReadAudit:
      if (Find(bindings, resource, Role::kAuditor, now) != nullptr) {
        return Allow("sod.auditor-reads", Role::kAuditor);
      }
      break;
  }
  return Decision{Verdict::kDeny, "deny-by-default", AnyCoveringRole(bindings, resource, now)};
}

AuditReadScope ReadableAudit(const std::vector<Binding>& bindings, absl::Time now) {
  AuditReadScope scope;
  for (const Binding& binding : bindings) {
    if (binding.role != Role::kAuditor || now < binding.valid_from ||
        (binding.valid_until.has_value() && now >= *binding.valid_until)) {
      continue;
    }
    if (binding.scope == ScopeKind::kGlobal) scope.everything = true;
    if (binding.scope == ScopeKind::kUnit) scope.units.push_back(binding.scope_id);
  }
  return scope;
}

}  // namespace kluis::policies
