#include "server/service.h"

#include "server/convert.h"

namespace kluis::server {

std::vector<std::unique_ptr<grpc::Service>> MakeServices(Vault& vault) {
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(MakeEnrollmentService(vault));
  services.push_back(MakeOrganisationService(vault));
  services.push_back(MakeVaultService(vault));
  services.push_back(MakeAuditService(vault));
  return services;
}

}  // namespace kluis::server

