#include "kluis/wire/error_details.h"

#include <google/protobuf/any.pb.h>

#include "kluis/v1/common.pb.h"

namespace kluis::wire {
namespace {

// ErrorInfo is wire-identical to google.rpc.ErrorInfo and packed under its URL (common.proto).
constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
constexpr char kDomain[] = "kluis";

}  // namespace

std::string ErrorDetails(grpc::StatusCode code, const std::string& message, const std::string& reason,
                         const std::map<std::string, std::string>& metadata) {
  v1::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain(kDomain);
  for (const auto& [key, value] : metadata) (*info.mutable_metadata())[key] = value;
  v1::ErrorStatus status;
  status.set_code(static_cast<int>(code));
  status.set_message(message);
  google::protobuf::Any* any = status.add_details();
  any->set_type_url(kErrorInfoUrl);
  any->set_value(info.SerializeAsString());
  return status.SerializeAsString();
}

std::optional<std::string> ErrorReason(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  v1::ErrorStatus details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const google::protobuf::Any& any : details.details()) {
    v1::ErrorInfo info;
    if (any.type_url() != kErrorInfoUrl || !info.ParseFromString(any.value())) continue;
    if (info.domain() == kDomain) return info.reason();
  }
  return std::nullopt;
}

}  // namespace kluis::wire
