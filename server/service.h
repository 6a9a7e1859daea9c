#ifndef KLUIS_SERVER_SERVICE_H_
#define KLUIS_SERVER_SERVICE_H_

#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "absl/status/status.h"
#include "server/vault/vault.h"

namespace kluis::server {

// The gRPC services over a Vault: the only code that converts protobuf messages and grpc::Status.
// Every method but Enrollment/Enroll first maps the verified client certificate to a Caller; a
// call without one is refused with UNAUTHENTICATED. The services hold a reference to the vault,
// which must outlive them. Thread-safe, as the vault is.
std::vector<std::unique_ptr<grpc::Service>> MakeServices(Vault& vault);

// The one conversion from the vault's error vocabulary to gRPC's.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_SERVICE_H_
