// Why a call was refused, where the status code alone does not say (FAILED_PRECONDITION above
// all). The reason rides on the absl::Status as a payload; the gRPC adapter (service.cc) puts it in
// the error's details as ErrorInfo.reason, the names listed in proto/kluis/v1/common.proto.
#ifndef KLUIS_SERVER_VAULT_REFUSAL_H_
#define KLUIS_SERVER_VAULT_REFUSAL_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kluis::server {

enum class Refusal {
  kNeedsApproval,     // a request and its approval come first
  kGrantNotUsable,    // the named request was used, denied or has expired
  kRequestState,      // the request is not in a state for this
  kAccountState,      // the account is not in a state for this
  kRotationState,     // a rotation is already pending, or nothing is pending
  kArchiveMissing,    // nothing is wiped before it is archived (R13)
  kUserDisabled,      // the user named in the call is disabled
  kCertificateState,  // the certificate was revoked already
  kReasonRequired,    // the rule needs a reason of some length
};

// ErrorInfo.reason for `why`: "NEEDS_APPROVAL", ...
absl::string_view RefusalName(Refusal why);

// `status` carrying `why`.
absl::Status Refused(Refusal why, absl::Status status);

// The reason name `status` carries, if any.
std::optional<std::string> RefusalOf(const absl::Status& status);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_REFUSAL_H_
