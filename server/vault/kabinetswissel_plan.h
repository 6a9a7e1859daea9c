// A kabinetswissel plan's stored form: JSON (nlohmann/json from Debian), versioned by its "format"
// member, so that a plan written by one kluisd is read the same by the next, and damage is named.
#ifndef KLUIS_SERVER_VAULT_KABINETSWISSEL_PLAN_H_
#define KLUIS_SERVER_VAULT_KABINETSWISSEL_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/vault/types.h"

namespace kluis::server {

inline constexpr absl::string_view kPlanFormat = "kluis-plan/2";

// The unit and the accounts of `plan` (not its steps: those follow from each account, StepsFor).
std::string EncodePlan(const KabinetswisselPlan& plan);

// The unit and the accounts (without steps) of the plan stored as `body`: the JSON form above, or
// the tab-separated form that kluisd wrote before it (format 1: plans made before an upgrade
// still apply). Anything else, or a field missing or of the wrong type, is kDataLoss naming the
// plan and what is wrong.
struct DecodedPlan {
  std::string unit;
  std::vector<KabinetswisselAccount> accounts;
};
absl::StatusOr<DecodedPlan> DecodePlan(absl::string_view plan_id, absl::string_view body);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_KABINETSWISSEL_PLAN_H_
