#ifndef KLUIS_POLICIES_DECIDE_H_
#define KLUIS_POLICIES_DECIDE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "policies/policy.h"
#include "policies/requests.h"
#include "policies/roles.h"

namespace kluis::policies {

enum class Verdict { kAllow, kNeedsApproval, kDeny };

// What must happen when an allowed release goes ahead.
struct Obligations {
  bool break_glass = false;          // recorded as an emergency release
  std::vector<Notify> notify;        // who is told
  bool raise_rotation_flag = false;  // the password is due for rotation
  int64_t consume_request = 0;       // the request whose single use this release spends
};

// The outcome of a decision: the verdict, the id of the rule that decided (recorded in the audit
// log), the role the caller acted in, what must follow, and a sentence for the caller when the
// answer is not a plain yes.
struct Decision {
  Verdict verdict = Verdict::kDeny;
  std::string rule;
  std::optional<Role> role;
  Obligations obligations;
  std::string explanation;
  // Refused only because the rule's reason is missing or too short: bad input, not a denial.
  bool reason_too_short = false;
  // Needs approval because the named request's grant was used, denied or has expired.
  bool grant_not_usable = false;

  bool allows() const { return verdict == Verdict::kAllow; }
};

// The caller's side of a release: an emergency (`kluis emergency`), the stated reason, and the
// access request whose grant is being used, if any.
struct ReleaseContext {
  int64_t caller_id = 0;
  bool break_glass = false;
  std::string reason;
  const AccessRequest* request = nullptr;
  // "Could the rules release this to them?", asked for whoever could (rotation flags when a user
  // leaves): the reason checks are skipped, as any reason could be given. Never for a release.
  bool whatever_reason = false;
};

// The release rules, as a pure function of the policy, the caller's role bindings, the account,
// the action, the context and the time: the same inputs always give the same decision, and
// nothing is read or written. The first rule that matches decides; deny by default.
Decision Decide(const Policy& policy, const std::vector<Binding>& bindings,
                const Resource& account, Action action, const ReleaseContext& context,
                absl::Time now);

// May the caller open an access request for the account? Only where their rule for releasing it
// is ON_APPROVED_REQUEST; the decision names that rule.
Decision DecideNewRequest(const Policy& policy, const std::vector<Binding>& bindings,
                          const Resource& account, absl::Time now);

// May the caller approve or deny `request` (escalation = false: the rule's approvers, while it is
// pending), or decide its escalation (true: the rule's escalate_to role)? Nobody decides their own
// request. The request's state is checked by the caller of this function.
Decision DecideOnRequest(const Policy& policy, const std::vector<Binding>& bindings,
                         const Resource& account, const AccessRequest& request, int64_t caller_id,
                         bool escalation, absl::Time now);

// The vault's own structure, not an organisation's release rules: who may see an account, add
// one, manage the organisation or read the log. Separation of duties is fixed here.
enum class AdminAction { kViewAccount, kRegisterAccount, kManageOrganisation, kReadAudit, kCustodyReport };
Decision DecideAdmin(const std::vector<Binding>& bindings, const Resource& resource,
                     AdminAction action, absl::Time now);

// Which part of the audit log a caller may read: everything (a global auditor), the records about
// some units (unit auditors), or nothing.
struct AuditReadScope {
  bool everything = false;
  std::vector<int64_t> units;
  bool any() const { return everything || !units.empty(); }
};
AuditReadScope ReadableAudit(const std::vector<Binding>& bindings, absl::Time now);

// Whether the caller holds `role` on the resource now.
bool Holds(const std::vector<Binding>& bindings, Role role, const Resource& resource, absl::Time now);

}  // namespace kluis::policies

#endif  // KLUIS_POLICIES_DECIDE_H_
