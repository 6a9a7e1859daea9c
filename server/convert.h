// The gRPC adapter's conversions: proto messages to the core's types and back, the caller's
// certificate to a Presented, and absl::Status to grpc::Status (the one place for each). Used by
// the services (service.cc, vault_service.cc, audit_service.cc) only.
#ifndef KLUIS_SERVER_CONVERT_H_
#define KLUIS_SERVER_CONVERT_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kluis/v1/audit.pb.h"
#include "kluis/v1/organisation.pb.h"
#include "kluis/v1/vault.pb.h"
#include "policies/roles.h"
#include "server/vault/vault.h"

namespace kluis::server {

namespace pb = ::kluis::v1;

// The one conversion from the vault's error vocabulary to gRPC's (a refusal's reason goes into
// the error details, proto/kluis/v1/common.proto).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The API's roles and kinds are the policy's words (kluis/wire/words.h): one table, both ends.
absl::StatusOr<policies::Role> RoleFromProto(pb::Role role);

pb::Role RoleToProto(absl::string_view name);

absl::StatusOr<std::string> KindFromProto(pb::AccountKind kind);

pb::AccountKind KindToProto(absl::string_view kind);

struct ScopeArg {
  policies::ScopeKind kind;
  std::string name;
};

absl::StatusOr<ScopeArg> ScopeFromProto(const pb::Scope& scope);

void BindingToProto(const storage::BindingRow& row, pb::RoleBinding* out);

void CertificateToProto(const storage::CertificateRow& row, absl::string_view user, absl::string_view current,
                        pb::Certificate* out);

void AccountToProto(const AccountView& view, pb::Account* out);

std::vector<std::pair<std::string, std::string>> ChoicesFromProto(
    const google::protobuf::RepeatedPtrField<pb::AccountChoice>& choices);

void PlanToProto(const KabinetswisselPlan& plan, pb::KabinetswisselPlan* out);

std::optional<absl::Time> OptionalUnix(int64_t seconds);

void RequestToProto(const RequestView& view, pb::AccessRequest* out);

void TotpToProto(const TotpCode& code, pb::TotpCode* out);

ReleaseOptions OptionsOf(const std::string& reason, int64_t request_id, bool break_glass);

void AuditRowToProto(const storage::AuditRow& row, pb::AuditRecord* out);

AuditQuery QueryOf(int64_t since_unix, int64_t until_unix, const std::string& account, const std::string& actor);

// The verified client certificate of this call. TLS has already checked it against the vault CA;
// the vault then checks that it is one it issued, not revoked, and that its user is active.
absl::StatusOr<Presented> PresentedBy(const grpc::ServerContext* context);

// Runs `body` for an authenticated caller and converts its outcome.
template <typename Body>
grpc::Status WithCaller(Vault& vault, grpc::ServerContext* context, Body body) {
  absl::StatusOr<Presented> presented = PresentedBy(context);
  if (!presented.ok()) return ToGrpcStatus(presented.status());
  absl::StatusOr<Caller> caller = vault.Authenticate(*presented);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return ToGrpcStatus(body(*caller));
}

// Runs a release `body` with the certificate the call presented: the vault identifies the caller
// in the release's own transaction.
template <typename Body>
grpc::Status WithPresented(grpc::ServerContext* context, Body body) {
  absl::StatusOr<Presented> presented = PresentedBy(context);
  if (!presented.ok()) return ToGrpcStatus(presented.status());
  return ToGrpcStatus(body(*presented));
}

// The services, each over the vault (which must outlive them).
std::unique_ptr<grpc::Service> MakeEnrollmentService(Vault& vault);
std::unique_ptr<grpc::Service> MakeOrganisationService(Vault& vault);
std::unique_ptr<grpc::Service> MakeVaultService(Vault& vault);
std::unique_ptr<grpc::Service> MakeAuditService(Vault& vault);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_CONVERT_H_
