#include "policies/decide.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kluis::policies {
namespace {

Decision Make(Verdict verdict, const std::string& rule, std::optional<Role> role,
              std::string explanation = "") {
  Decision decision;
  decision.verdict = verdict;
  decision.rule = rule;
  decision.role = role;
  decision.explanation = std::move(explanation);
  return decision;
}

// Allowed by `rule`, with what it obliges.
Decision AllowedBy(const Rule& rule) {
  Decision allowed = Make(Verdict::kAllow, rule.id, rule.role);
  allowed.obligations.break_glass = rule.mode == Mode::kBreakGlass;
  allowed.obligations.notify = rule.notify;
  allowed.obligations.raise_rotation_flag = rule.raise_rotation_flag;
  return allowed;
}

// Needs a new approval: the request named for this release can no longer be used.
Decision Unusable(const Rule& rule, std::string explanation) {
  Decision decision = Make(Verdict::kNeedsApproval, rule.id, rule.role, std::move(explanation));
  decision.grant_not_usable = true;
  return decision;
}

// The role a caller holds on the resource, so that a refusal names who was refused.
std::optional<Role> AnyCoveringRole(const std::vector<Binding>& bindings, const Resource& resource,
                                    absl::Time now) {
  for (const Binding& binding : bindings) {
    if (Covers(binding, resource, now)) return binding.role;
  }
  return std::nullopt;
}

// The first rule, in policy order, that applies to this caller, account and action.
const Rule* FirstMatch(const Policy& policy, const std::vector<Binding>& bindings,
                       const Resource& account, Action action, absl::Time now) {
  for (const Rule& rule : policy.rules) {
    if (rule.Matches(action, account.account_kind, account.account_state) && Holds(bindings, rule.role, account, now)) {
      return &rule;
    }
  }
  return nullptr;
}

std::string RequestHint(const Rule& rule) {
  return absl::StrCat("as ", RoleName(rule.role),
                      " you need an approved request: kluis request ACCOUNT --purpose P --reason R "
                      "(rule ", rule.id, ")");
}

Decision OnRequest(const Policy& policy, const Rule& rule, const Resource& account,
                   const ReleaseContext& context, absl::Time now) {
  if (context.break_glass) {
    return Make(Verdict::kDeny, rule.id, rule.role,
                absl::StrCat("as ", RoleName(rule.role), " you have no break-glass; ", RequestHint(rule)));
  }
  const AccessRequest* request = context.request;
  if (request == nullptr) return Make(Verdict::kNeedsApproval, rule.id, rule.role, RequestHint(rule));
  if (request->requester_id != context.caller_id || request->account_id != account.account_id) {
    return Make(Verdict::kDeny, rule.id, rule.role,
                absl::StrCat("request ", request->id, " is not yours for this account"));
  }
  const RequestStatus status = DeriveStatus(*request, policy, now);
  const std::string id = absl::StrCat("request ", request->id);
  switch (status.state) {
    case RequestState::kApproved:
    case RequestState::kAutoApproved:
    case RequestState::kEscalationApproved: {
      Decision allowed = Make(Verdict::kAllow, rule.id, rule.role);
      allowed.obligations.consume_request = request->id;  // single use
      allowed.obligations.notify = rule.notify;
      allowed.obligations.raise_rotation_flag = rule.raise_rotation_flag;
      return allowed;
    }
    case RequestState::kPending:
      return Make(Verdict::kNeedsApproval, rule.id, rule.role,
                  absl::StrCat(id, " is waiting for a beheerder or teamchef"));
    case RequestState::kEscalated:
      return Make(Verdict::kNeedsApproval, rule.id, rule.role,
                  absl::StrCat(id, " is waiting for the landelijk regisseur"));
    // A grant that cannot be used (any more) needs a new approval: the remedy is a new request,
    // and the CLI says so with the exit code of "needs approval" (4).
    case RequestState::kDenied:
      return Unusable(rule, absl::StrCat(id, " was denied",
                                         rule.escalate_to ? "; kluis escalate can take it further" : ""));
    case RequestState::kEscalationDenied:
      return Unusable(rule, absl::StrCat(id, " was denied by the landelijk regisseur; that decision stands"));
    case RequestState::kUsed:
      return Unusable(rule, absl::StrCat(id, " has been used; a grant works once: make a new request"));
    case RequestState::kExpired:
      return Unusable(rule, absl::StrCat(id, " expired unused: make a new request"));
  }
  return Make(Verdict::kDeny, rule.id, rule.role, "unknown request state");
}

}  // namespace

bool Holds(const std::vector<Binding>& bindings, Role role, const Resource& resource, absl::Time now) {
  for (const Binding& binding : bindings) {
    if (binding.role == role && Covers(binding, resource, now)) return true;
  }
  return false;
}

Decision Decide(const Policy& policy, const std::vector<Binding>& bindings,
                const Resource& account, Action action, const ReleaseContext& context,
                absl::Time now) {
  const Rule* rule = FirstMatch(policy, bindings, account, action, now);
  if (rule == nullptr) {
    return Make(Verdict::kDeny, "deny-by-default", AnyCoveringRole(bindings, account, now));
  }
  switch (rule->mode) {
    case Mode::kNever:
      return Make(Verdict::kDeny, rule->id, rule->role);
    case Mode::kOnApprovedRequest:
      return OnRequest(policy, *rule, account, context, now);
    case Mode::kAllow:
      break;
    case Mode::kBreakGlass:
      // Break-glass: only on purpose.
      if (!context.break_glass) {
        return Make(Verdict::kDeny, rule->id, rule->role,
                    absl::StrCat("as ", RoleName(rule->role),
                                 " you take it only as break-glass: kluis emergency ACCOUNT --reason R"));
      }
      break;
  }
  // A reason that means something, where the rule asks for one.
  const std::string reason(absl::StripAsciiWhitespace(context.reason));
  if (context.whatever_reason) return AllowedBy(*rule);
  if (rule->reason_required && static_cast<int>(reason.size()) < policy.min_reason_length) {
    // A stopped account is released only to delete it (R8): say so, not only that a reason is missing.
    const std::string what = account.account_state == AccountState::kStopped
                                 ? "the account is stopped: it is released only to delete it on the platform, and that"
                             : rule->mode == Mode::kBreakGlass ? "break-glass"
                                                               : "this";
    Decision refused = Make(Verdict::kDeny, rule->id, rule->role,
                            absl::StrCat(what, " needs a reason of at least ", policy.min_reason_length,
                                         " characters (--reason)"));
    refused.reason_too_short = true;
    return refused;
  }
  if (!rule->required_reason_prefix.empty() &&
      !absl::StartsWithIgnoreCase(reason, rule->required_reason_prefix)) {
    return Make(Verdict::kDeny, rule->id, rule->role,
                absl::StrCat("as ", RoleName(rule->role), " the reason must begin with \"",
                             rule->required_reason_prefix, "\""));
  }
  return AllowedBy(*rule);
}

Decision DecideNewRequest(const Policy& policy, const std::vector<Binding>& bindings,
                          const Resource& account, absl::Time now) {
  const Rule* rule = FirstMatch(policy, bindings, account, Action::kReleaseLogin, now);
  if (rule == nullptr) {
    return Make(Verdict::kDeny, "deny-by-default", AnyCoveringRole(bindings, account, now));
  }
  if (rule->mode != Mode::kOnApprovedRequest) {
    return Make(Verdict::kDeny, rule->id, rule->role,
                rule->mode == Mode::kNever
                    ? std::string()
                    : absl::StrCat("as ", RoleName(rule->role), " you need no request (",
                                   rule->mode == Mode::kAllow ? "kluis get" : "kluis emergency", ")"));
  }
  return Make(Verdict::kAllow, rule->id, rule->role);
}

Decision DecideOnRequest(const Policy& policy, const std::vector<Binding>& bindings,
                         const Resource& account, const AccessRequest& request, int64_t caller_id,
                         bool escalation, absl::Time now) {
  const Rule* rule = policy.FindRule(request.rule_id);
  if (rule == nullptr) {
    return Make(Verdict::kDeny, "request.rule-gone", AnyCoveringRole(bindings, account, now),
                absl::StrCat("the rule ", request.rule_id, " is no longer in the policy"));
  }
  if (request.requester_id == caller_id) {
    return Make(Verdict::kDeny, "sod.no-self-approval", AnyCoveringRole(bindings, account, now),
                "nobody decides their own request");
  }
  if (escalation) {
    if (rule->escalate_to && Holds(bindings, *rule->escalate_to, account, now)) {
      return Make(Verdict::kAllow, absl::StrCat(rule->id, "/escalation"), *rule->escalate_to);
    }
  } else {
    for (Role approver : rule->approvers) {
      if (Holds(bindings, approver, account, now)) {
        return Make(Verdict::kAllow, absl::StrCat(rule->id, "/approver"), approver);
      }
    }
  }
  return Make(Verdict::kDeny, "deny-by-default", AnyCoveringRole(bindings, account, now));
}

Decision DecideAdmin(const std::vector<Binding>& bindings, const Resource& resource,
                     AdminAction action, absl::Time now) {
  switch (action) {
    case AdminAction::kViewAccount:
      // Anyone with a role on the account, its team, its unit, or globally may see that it
      // exists and its metadata (never a secret); nobody else learns even that.
      if (std::optional<Role> role = AnyCoveringRole(bindings, resource, now)) {
        return Make(Verdict::kAllow, "view.any-role-in-scope", *role);
      }
      break;
    case AdminAction::kRegisterAccount:
      // R5: an account is registered with the unit's regisseur; the operator sets up vaults.
      if (Holds(bindings, Role::kRegisseur, resource, now)) {
        return Make(Verdict::kAllow, "R5.regisseur-registers", Role::kRegisseur);
      }
      if (Holds(bindings, Role::kOperator, resource, now)) {
        return Make(Verdict::kAllow, "sod.operator-registers", Role::kOperator);
      }
      break;
    case AdminAction::kManageOrganisation:
      if (Holds(bindings, Role::kOperator, resource, now)) {
        return Make(Verdict::kAllow, "sod.operator-manages", Role::kOperator);
      }
      break;
    case AdminAction::kReadAudit:
      if (Holds(bindings, Role::kAuditor, resource, now)) {
        return Make(Verdict::kAllow, "sod.auditor-reads", Role::kAuditor);
      }
      break;
    case AdminAction::kCustodyReport:
      // R4: the regisseur checks that custody of the unit's passwords is in order; the landelijk
      // regisseur and auditors may read the same report (it holds no secret).
      for (Role role : {Role::kRegisseur, Role::kLandelijkRegisseur, Role::kAuditor}) {
        if (Holds(bindings, role, resource, now)) return Make(Verdict::kAllow, "R4.custody-report", role);
      }
      break;
  }
  return Make(Verdict::kDeny, "deny-by-default", AnyCoveringRole(bindings, resource, now));
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
