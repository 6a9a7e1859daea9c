#include "server/vault/refusal.h"

namespace kluis::server {
namespace {

constexpr absl::string_view kPayloadUrl = "kluis/refusal";

}  // namespace

absl::string_view RefusalName(Refusal why) {
  switch (why) {
    case Refusal::kNeedsApproval: return "NEEDS_APPROVAL";
    case Refusal::kGrantNotUsable: return "GRANT_NOT_USABLE";
    case Refusal::kRequestState: return "REQUEST_STATE";
    case Refusal::kAccountState: return "ACCOUNT_STATE";
    case Refusal::kRotationState: return "ROTATION_STATE";
    case Refusal::kArchiveMissing: return "ARCHIVE_MISSING";
    case Refusal::kUserDisabled: return "USER_DISABLED";
    case Refusal::kCertificateState: return "CERTIFICATE_STATE";
    case Refusal::kReasonRequired: return "REASON_REQUIRED";
  }
  return "";
}

absl::Status Refused(Refusal why, absl::Status status) {
  status.SetPayload(kPayloadUrl, absl::Cord(RefusalName(why)));
  return status;
}

std::optional<std::string> RefusalOf(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

}  // namespace kluis::server
