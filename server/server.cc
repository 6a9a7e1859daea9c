#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/auth_metadata_processor.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/service.h"

namespace kluis::server {
namespace {

// Refuses, before any handler runs, every call that has no verified client certificate, except
// enrollment (which is how a user gets one) and the standard health service.
class CertificateGate final : public grpc::AuthMetadataProcessor {
 public:
  bool IsBlocking() const override { return false; }  // cheap: no I/O, run inline

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata*, OutputMetadata*) override {
    if (!context->FindPropertyValues("x509_pem_cert").empty()) return grpc::Status::OK;
    const auto path = metadata.find(":path");
    if (path != metadata.end()) {
      const absl::string_view method(path->second.data(), path->second.size());
      if (method == "/kluis.v1.Enrollment/Enroll" ||
          absl::StartsWith(method, "/grpc.health.v1.Health/")) {
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "a client certificate is required: run kluis enroll first");
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<KluisServer>> KluisServer::Start(Vault& vault,
                                                                 const Options& options) {
  absl::StatusOr<ServerIdentity> identity = vault.Identity();
  if (!identity.ok()) return identity.status();

  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = identity->ca_certificate_pem;
  // gRPC keeps its own copy of the key for the server's lifetime; ours stays in guarded memory.
  tls.pem_key_cert_pairs.push_back(
      {std::string(identity->private_key_pem.Reveal()), identity->certificate_pem});
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(tls);
  credentials->SetAuthMetadataProcessor(std::make_shared<CertificateGate>());

  std::unique_ptr<KluisServer> server(new KluisServer());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &server->port_);
  // gRPC sets SO_REUSEPORT by default: a second kluisd on a port in use would start, and the kernel
  // would split the connections between two servers. Without it, the address in use is an error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(4 * 1024 * 1024);  // audit listings can be larger than requests
  UseThreading(builder);
  server->services_ = MakeServices(vault);
  for (const std::unique_ptr<grpc::Service>& service : server->services_) {
    builder.RegisterService(service.get());
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen,
        ": the address is in use (another kluisd?) or not an address of this machine"));
  }
  return server;
}

void KluisServer::UseThreading(grpc::ServerBuilder& builder) {
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kIdleThreads);
}

KluisServer::~KluisServer() {
  if (server_ != nullptr) Shutdown();
}

void KluisServer::Shutdown() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

void KluisServer::Wait() { server_->Wait(); }

}  // namespace kluis::server
