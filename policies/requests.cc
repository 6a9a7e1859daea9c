#include "policies/requests.h"

namespace kluis::policies {

bool IsRequestPurpose(absl::string_view purpose) {
  for (absl::string_view known :
       {"koppelen", "ziekte", "verlof", "uitdienst", "overlijden", "stopzetten", "overig"}) {
    if (purpose == known) return true;
  }
  return false;
}

absl::string_view RequestStateName(RequestState state) {
  switch (state) {
    case RequestState::kPending: return "pending";
    case RequestState::kApproved: return "approved";
    case RequestState::kAutoApproved: return "auto-approved";
    case RequestState::kDenied: return "denied";
    case RequestState::kEscalated: return "escalated";
    case RequestState::kEscalationApproved: return "escalation-approved";
    case RequestState::kEscalationDenied: return "escalation-denied";
    case RequestState::kUsed: return "used";
    case RequestState::kExpired: return "expired";
  }
  return "unknown";
}

namespace {

// A grant that started at `from`: usable in `state` until it expires.
RequestStatus Granted(RequestState state, absl::Time from, std::optional<absl::Duration> ttl,
                      const Policy& policy, absl::Time now) {
  const absl::Time expires = from + std::min(ttl.value_or(policy.grant_ttl), policy.max_grant_ttl);
  return RequestStatus{now < expires ? state : RequestState::kExpired, expires};
}

}  // namespace

RequestStatus DeriveStatus(const AccessRequest& request, const Policy& policy, absl::Time now) {
  if (request.used.has_value()) return RequestStatus{RequestState::kUsed, std::nullopt};
  if (request.escalation_decision.has_value()) {
    const RequestDecision& d = *request.escalation_decision;
    if (!d.approve) return RequestStatus{RequestState::kEscalationDenied, std::nullopt};
    return Granted(RequestState::kEscalationApproved, d.at, d.ttl, policy, now);
  }
  if (request.escalated.has_value()) {
    // An escalation nobody decides does not block the request for good either (R3).
    const absl::Time deadline = *request.escalated + policy.waiting_period;
    if (now < deadline) return RequestStatus{RequestState::kEscalated, std::nullopt};
    return Granted(RequestState::kAutoApproved, deadline, std::nullopt, policy, now);
  }
  if (request.decision.has_value()) {
    const RequestDecision& d = *request.decision;
    if (!d.approve) return RequestStatus{RequestState::kDenied, std::nullopt};
    return Granted(RequestState::kApproved, d.at, d.ttl, policy, now);
  }
  const absl::Time deadline = request.created + policy.waiting_period;
  if (now < deadline) return RequestStatus{RequestState::kPending, std::nullopt};
  return Granted(RequestState::kAutoApproved, deadline, std::nullopt, policy, now);
}

}  // namespace kluis::policies
