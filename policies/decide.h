#ifndef KLUIS_POLICIES_DECIDE_H_
#define KLUIS_POLICIES_DECIDE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "policies/roles.h"

namespace kluis::policies {

// What a caller wants to do.
enum class Action {
  kReleaseLogin,         // password and linked e-mail
  kStoreSecret,          // set a password
  kViewAccount,          // see that an account exists and its metadata (never a secret)
  kRegisterAccount,      // add an account to a team (rule R5: registered with the regisseur)
  kManageOrganisation,   // units, teams, users, role bindings
  kReadAudit,            // list the audit log
};

enum class Verdict { kAllow, kNeedsApproval, kDeny };

// The outcome of a decision: the verdict, the id of the rule that decided (recorded in the audit
// log), and the role the caller acted in (none when no binding applied).
struct Decision {
  Verdict verdict = Verdict::kDeny;
  std::string rule;
  std::optional<Role> role;

  bool allows() const { return verdict == Verdict::kAllow; }
};

// The release rules, as a pure function: the same inputs always give the same decision, and
// nothing is read or written. Deny by default: an action is allowed only by a rule that names
// it. Separation of duties: the auditor and operator roles allow no release and no secret write.
Decision Decide(const std::vector<Binding>& bindings, const Resource& resource, Action action,
                absl::Time now);

// Which part of the audit log a caller may read: everything (a global auditor), the records about
// some units (unit auditors), or nothing.
struct AuditReadScope {
  bool everything = false;
  std::vector<int64_t> units;
  bool any() const { return everything || !units.empty(); }
};
AuditReadScope ReadableAudit(const std::vector<Binding>& bindings, absl::Time now);

}  // namespace kluis::policies

#endif  // KLUIS_POLICIES_DECIDE_H_
