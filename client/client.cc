#include "client/client.h"

#include "absl/strings/str_cat.h"
#include "crypto/certificates.h"
#include "kluis/wire/error_details.h"

namespace kluis::client {
namespace {

// Where the server's reason (the error details' ErrorInfo.reason) rides on the absl::Status.
constexpr absl::string_view kRefusalPayload = "kluis/refusal";

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat("server unavailable: ", status.error_message()));
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError("server did not answer in time");
  }
  // absl::StatusCode and grpc::StatusCode share their numbering (both follow google.rpc.Code).
  absl::Status converted(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (std::optional<std::string> reason = wire::ErrorReason(status)) {
    converted.SetPayload(kRefusalPayload, absl::Cord(*reason));
  }
  return converted;
}

std::optional<std::string> RefusalOf(const absl::Status& status) {
  auto reason = status.GetPayload(kRefusalPayload);
  if (!reason) return std::nullopt;
  return std::string(*reason);
}

namespace {

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  // A fixed flow-control window: with gRPC's bandwidth-delay probing the window of a long audit
  // export grew with its pace, and so did the client's memory (16 to 39 MiB between runs of the
  // same export). Fixed, it is 17 MiB at 100,000 records and at 1,000,000; the export of a million
  // takes ~12 s instead of ~10 s.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return args;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const Profile& profile) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = profile.ca_certificate_pem;
  tls.pem_private_key = std::string(profile.private_key_pem.Reveal());
  tls.pem_cert_chain = profile.certificate_pem;
  std::unique_ptr<Client> client(new Client());
  client->channel_ =
      grpc::CreateCustomChannel(profile.server, grpc::SslCredentials(tls), ChannelArgs());
  client->organisation_ = kluis::v1::Organisation::NewStub(client->channel_);
  client->vault_ = kluis::v1::Vault::NewStub(client->channel_);
  client->audit_ = kluis::v1::Audit::NewStub(client->channel_);
  return client;
}

absl::StatusOr<Profile> Client::Enroll(const std::string& server, const std::string& ca_pem,
                                       const std::string& user, const std::string& code,
                                       const std::string& profile_dir, int* earlier_revoked) {
  absl::StatusOr<crypto::KeyAndRequest> key = crypto::GenerateKeyAndRequest(user);
  if (!key.ok()) return key.status();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ca_pem;
  auto channel = grpc::CreateCustomChannel(server, grpc::SslCredentials(tls), ChannelArgs());
  auto stub = kluis::v1::Enrollment::NewStub(channel);
  kluis::v1::EnrollRequest request;
  request.set_user(user);
  request.set_code(code);
  request.set_csr_pem(key->request_pem);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  kluis::v1::EnrollResponse response;
  if (grpc::Status status = stub->Enroll(&context, request, &response); !status.ok()) {
    return FromGrpcStatus(status);
  }
  Profile profile;
  profile.dir = profile_dir;
  profile.server = server;
  profile.private_key_pem = std::move(key->private_key_pem);
  profile.certificate_pem = response.certificate_pem();
  profile.ca_certificate_pem = response.ca_certificate_pem();
  if (earlier_revoked != nullptr) *earlier_revoked = response.earlier_revoked();
  return profile;
}

absl::Status Client::ExportAudit(const kluis::v1::ExportAuditRequest& request,
                                absl::FunctionRef<bool(const kluis::v1::AuditExportItem&)> on_item) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(1));
  std::unique_ptr<grpc::ClientReader<kluis::v1::AuditExportItem>> reader = audit_->ExportAudit(&context, request);
  kluis::v1::AuditExportItem item;
  bool stopped = false;
  while (reader->Read(&item)) {
    if (!on_item(item)) {
      stopped = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (stopped) return absl::AbortedError("export stopped");
  return status.ok() ? absl::OkStatus() : FromGrpcStatus(status);
}

}  // namespace kluis::client
