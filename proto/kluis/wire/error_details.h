// The reason of a refused call, in the error's details: an ErrorStatus holding one ErrorInfo
// with domain "kluis" (proto/kluis/v1/common.proto lists the reasons). The server writes it, the
// client reads it; both ends of one wire format, in one place.
#ifndef KLUIS_WIRE_ERROR_DETAILS_H_
#define KLUIS_WIRE_ERROR_DETAILS_H_

#include <grpcpp/support/status.h>

#include <map>
#include <optional>
#include <string>

namespace kluis::wire {

// grpc::Status's binary details naming `reason`, with `metadata`.
std::string ErrorDetails(grpc::StatusCode code, const std::string& message, const std::string& reason,
                         const std::map<std::string, std::string>& metadata);

// The reason `status` carries in its details, if it carries a Kluis ErrorInfo.
std::optional<std::string> ErrorReason(const grpc::Status& status);

}  // namespace kluis::wire

#endif  // KLUIS_WIRE_ERROR_DETAILS_H_
