#ifndef KLUIS_CLIENT_CLIENT_H_
#define KLUIS_CLIENT_CLIENT_H_

#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "client/profile.h"
#include "kluis/v1/audit.grpc.pb.h"
#include "kluis/v1/enrollment.grpc.pb.h"
#include "kluis/v1/organisation.grpc.pb.h"
#include "kluis/v1/vault.grpc.pb.h"

namespace kluis::client {

// The one conversion from gRPC's status to the client's error vocabulary. A transport failure
// (server down, TLS refused) becomes kUnavailable with a message that says so.
// The server's reason travels along (common.proto's ErrorInfo): RefusalOf reads it back.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The reason the server gave for refusing ("NEEDS_APPROVAL", ...), if it gave one.
std::optional<std::string> RefusalOf(const absl::Status& status);

// A connection to kluisd over mutual TLS with the profile's key and certificate. Thread-safe.
class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const Profile& profile);

  // Enrollment runs before a profile exists: TLS verifies the server against `ca_pem`, and no
  // client certificate is sent. Makes the key pair here, sends only the request, and returns the
  // complete profile (not yet saved). `earlier_revoked`, when given, is set to how many of the
  // user's earlier certificates this enrollment revoked.
  static absl::StatusOr<Profile> Enroll(const std::string& server, const std::string& ca_pem,
                                        const std::string& user, const std::string& code,
                                        const std::string& profile_dir, int* earlier_revoked = nullptr);

  // One call: `method` is a stub member function pointer; the deadline is ten seconds.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(Stub& stub,
                                grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
                                const Request& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Response response;
    grpc::Status status = (stub.*method)(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  // The audit export, item by item as the server streams it; `on_item` returning false stops it.
  // An export of a large log takes long: the deadline is an hour.
  absl::Status ExportAudit(const kluis::v1::ExportAuditRequest& request,
                           absl::FunctionRef<bool(const kluis::v1::AuditExportItem&)> on_item);

  kluis::v1::Organisation::Stub& organisation() { return *organisation_; }
  kluis::v1::Vault::Stub& vault() { return *vault_; }
  kluis::v1::Audit::Stub& audit() { return *audit_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

 private:
  Client() = default;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<kluis::v1::Organisation::Stub> organisation_;
  std::unique_ptr<kluis::v1::Vault::Stub> vault_;
  std::unique_ptr<kluis::v1::Audit::Stub> audit_;
};

}  // namespace kluis::client

#endif  // KLUIS_CLIENT_CLIENT_H_
