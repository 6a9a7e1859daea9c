#ifndef KLUIS_POLICIES_REQUESTS_H_
#define KLUIS_POLICIES_REQUESTS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "policies/policy.h"

namespace kluis::policies {

// The purposes of rule R3 (000 §4.9): linking to a national tool; taking over or transferring the
// account at illness, leave, leaving service or death; stopping it; or something else the reason
// explains.
bool IsRequestPurpose(absl::string_view purpose);
constexpr absl::string_view kRequestPurposes =
    "koppelen, ziekte, verlof, uitdienst, overlijden, stopzetten, overig";

// A decision someone took on a request.
struct RequestDecision {
  bool approve = false;
  std::string by;
  absl::Time at;
  std::string reason;
  std::optional<absl::Duration> ttl;  // an approver's shorter grant; none: the policy's
};

// An access request as recorded: only facts with their times. Its state is derived.
struct AccessRequest {
  int64_t id = 0;
  int64_t account_id = 0;
  int64_t requester_id = 0;
  std::string requester;
  std::string rule_id;  // the ON_APPROVED_REQUEST rule the request was made under
  std::string purpose;
  std::string reason;
  absl::Time created;
  std::optional<RequestDecision> decision;
  std::optional<absl::Time> escalated;
  std::optional<RequestDecision> escalation_decision;
  std::optional<absl::Time> used;
};

enum class RequestState {
  kPending,             // waiting for a beheerder or teamchef
  kApproved,            // granted by an approver
  kAutoApproved,        // nobody decided within the waiting period (R3: never blocked for good)
  kDenied,              // refused; the requester may escalate
  kEscalated,           // refused, now waiting for the landelijk regisseur
  kEscalationApproved,  // granted by the landelijk regisseur (R9: the decision stands)
  kEscalationDenied,    // refused by the landelijk regisseur: final
  kUsed,                // the single use is spent
  kExpired,             // granted, but the grant ran out unused
};

absl::string_view RequestStateName(RequestState state);

struct RequestStatus {
  RequestState state = RequestState::kPending;
  std::optional<absl::Time> grant_expires;  // for granted states
  bool usable() const {
    return state == RequestState::kApproved || state == RequestState::kAutoApproved ||
           state == RequestState::kEscalationApproved;
  }
};

// Derives a request's state at `now` from its recorded facts and the policy's periods. Pure: the
// same facts and time always give the same state, so nothing needs a timer.
RequestStatus DeriveStatus(const AccessRequest& request, const Policy& policy, absl::Time now);

}  // namespace kluis::policies

#endif  // KLUIS_POLICIES_REQUESTS_H_
