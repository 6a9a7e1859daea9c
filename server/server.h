#ifndef KLUIS_SERVER_SERVER_H_
#define KLUIS_SERVER_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "absl/status/statusor.h"
#include "server/vault/vault.h"

namespace kluis::server {

// kluisd's gRPC server over mutual TLS with the vault's own CA.
//
// TLS: the server certificate issued at init; client certificates are requested and, when sent,
// verified against the vault CA (GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY), so that
// enrollment can run before a user has one. Every call but enrollment and the standard health
// service must carry a verified certificate: CertificateGate refuses the rest before any handler
// runs, and every handler checks again (service.cc). gRPC's TLS floor is 1.2.
//
// Also serves grpc.health.v1 and server reflection. Messages are tiny: the receive limit is small.
class KluisServer {
 public:
  struct Options {
    std::string listen;  // host:port; port 0 picks a free one
    // Calls are small; the largest is a kabinetswissel plan of a thousand accounts (~70 KiB).
    int max_message_bytes = 256 * 1024;
  };

  static absl::StatusOr<std::unique_ptr<KluisServer>> Start(Vault& vault, const Options& options);
  ~KluisServer();

  // The threading kluisd serves with (the bench's echo service uses it too). gRPC's sync server
  // keeps at most MAX_POLLERS idle threads (default 2) and starts a thread whenever none is idle;
  // releases block on the shared audit commit, so under concurrent releases it started and ended a
  // thread for most calls. Up to kIdleThreads stay, waiting for the next call.
  static constexpr int kIdleThreads = 64;
  static void UseThreading(grpc::ServerBuilder& builder);

  int port() const { return port_; }
  // Stops accepting calls, lets running calls finish (up to a deadline), then returns.
  void Shutdown();
  void Wait();

 private:
  KluisServer() = default;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace kluis::server

#endif  // KLUIS_SERVER_SERVER_H_
