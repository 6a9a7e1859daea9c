#ifndef KLUIS_SERVER_SERVICE_H_
#define KLUIS_SERVER_SERVICE_H_

#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "absl/status/status.h"
#include "server/vault/vault.h"

namespace kluis::server {

// The gRPC services over a Vault (organisation_service.cc, vault_service.cc, audit_service.cc); only
// they and convert.cc convert protobuf messages and grpc::Status.
// Every method but Enrollment/Enroll first maps the verified client certificate to a Caller; a
// call without one is refused with UNAUTHENTICATED. The services hold a reference to the vault,
// which must outlive them. Thread-safe, as the vault is.
std::vector<std::unique_ptr<grpc::Service>> MakeServices(Vault& vault);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_SERVICE_H_
