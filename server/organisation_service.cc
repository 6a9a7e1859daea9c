// The Enrollment and Organisation services: enrolling, and who is who.
#include "absl/strings/str_cat.h"
#include "crypto/signing.h"
#include "kluis/v1/audit.grpc.pb.h"
#include "kluis/v1/enrollment.grpc.pb.h"
#include "kluis/v1/organisation.grpc.pb.h"
#include "kluis/v1/vault.grpc.pb.h"
#include "server/convert.h"

namespace kluis::server {
namespace {

using grpc::ServerContext;

class EnrollmentService final : public pb::Enrollment::Service {
 public:
  explicit EnrollmentService(Vault& vault) : vault_(vault) {}

  grpc::Status Enroll(ServerContext* context, const pb::EnrollRequest* request,
                      pb::EnrollResponse* response) override {
    absl::StatusOr<Enrolled> enrolled =
        vault_.Enroll(request->user(), request->code(), request->csr_pem(), context->peer());
    if (!enrolled.ok()) return ToGrpcStatus(enrolled.status());
    response->set_user(enrolled->user);
    response->set_certificate_pem(enrolled->certificate_pem);
    response->set_ca_certificate_pem(enrolled->ca_certificate_pem);
    response->set_fingerprint(enrolled->fingerprint);
    response->set_earlier_revoked(enrolled->earlier_revoked);
    return grpc::Status::OK;
  }

 private:
  Vault& vault_;
};

class OrganisationService final : public pb::Organisation::Service {
 public:
  explicit OrganisationService(Vault& vault) : vault_(vault) {}

  grpc::Status WhoAmI(ServerContext* context, const pb::WhoAmIRequest*,
                      pb::WhoAmIResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      response->set_user(caller.user);
      // The caller's own bindings, page by page (an operator may list everyone's: not here).
      for (PageRequest page;;) {
        absl::StatusOr<RoleList> own = vault_.ListRoles(caller, caller.user, page);
        if (!own.ok()) return own.status();
        for (const storage::BindingRow& b : own->bindings) {
          if (!b.ended_us) BindingToProto(b, response->add_bindings());
        }
        if (own->next_page_token.empty()) return absl::OkStatus();
        page.token = own->next_page_token;
      }
    });
  }

  grpc::Status AddUnit(ServerContext* context, const pb::AddUnitRequest* request,
                       pb::AddUnitResponse*) override {
    return WithCaller(vault_, context, [&](const Caller& caller) {
      return vault_.AddUnit(caller, request->unit(), request->display_name());
    });
  }

  grpc::Status AddTeam(ServerContext* context, const pb::AddTeamRequest* request,
                       pb::AddTeamResponse*) override {
    return WithCaller(vault_, context, [&](const Caller& caller) {
      return vault_.AddTeam(caller, request->unit(), request->team(), request->display_name());
    });
  }

  grpc::Status AddUser(ServerContext* context, const pb::AddUserRequest* request,
                       pb::AddUserResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<EnrollmentCode> code = vault_.AddUser(caller, request->user(), request->display_name());
      if (!code.ok()) return code.status();
      response->set_enrollment_code(code->code);
      response->set_code_expires_unix(absl::ToUnixSeconds(code->expires_at));
      return absl::OkStatus();
    });
  }

  grpc::Status NewEnrollmentCode(ServerContext* context, const pb::NewEnrollmentCodeRequest* request,
                                 pb::NewEnrollmentCodeResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<EnrollmentCode> code = vault_.NewEnrollmentCode(caller, request->user());
      if (!code.ok()) return code.status();
      response->set_enrollment_code(code->code);
      response->set_code_expires_unix(absl::ToUnixSeconds(code->expires_at));
      return absl::OkStatus();
    });
  }

  grpc::Status DisableUser(ServerContext* context, const pb::DisableUserRequest* request,
                           pb::DisableUserResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<Vault::Disabled> disabled = vault_.DisableUser(caller, request->user());
      if (!disabled.ok()) return disabled.status();
      response->set_bindings_ended(disabled->bindings_ended);
      response->set_certificates_revoked(disabled->certificates_revoked);
      return absl::OkStatus();
    });
  }

  grpc::Status GrantRole(ServerContext* context, const pb::GrantRoleRequest* request,
                         pb::GrantRoleResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<policies::Role> role = RoleFromProto(request->role());
      if (!role.ok()) return role.status();
      absl::StatusOr<ScopeArg> scope = ScopeFromProto(request->scope());
      if (!scope.ok()) return scope.status();
      absl::StatusOr<storage::BindingRow> binding =
          vault_.GrantRole(caller, request->user(), *role, scope->kind, scope->name,
                           OptionalUnix(request->valid_until_unix()));
      if (!binding.ok()) return binding.status();
      BindingToProto(*binding, response->mutable_binding());
      return absl::OkStatus();
    });
  }

  grpc::Status RevokeRole(ServerContext* context, const pb::RevokeRoleRequest* request,
                          pb::RevokeRoleResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<policies::Role> role = RoleFromProto(request->role());
      if (!role.ok()) return role.status();
      absl::StatusOr<ScopeArg> scope = ScopeFromProto(request->scope());
      if (!scope.ok()) return scope.status();
      absl::StatusOr<int> ended = vault_.RevokeRole(caller, request->user(), *role, scope->kind, scope->name);
      if (!ended.ok()) return ended.status();
      response->set_bindings_ended(*ended);
      return absl::OkStatus();
    });
  }

  grpc::Status ListCertificates(ServerContext* context, const pb::ListCertificatesRequest* request,
                                pb::ListCertificatesResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<CertificateList> list = vault_.ListCertificates(caller, request->user());
      if (!list.ok()) return list.status();
      for (const storage::CertificateRow& c : list->certificates) {
        CertificateToProto(c, list->user, list->current, response->add_certificates());
      }
      return absl::OkStatus();
    });
  }

  grpc::Status RevokeCertificate(ServerContext* context, const pb::RevokeCertificateRequest* request,
                                 pb::RevokeCertificateResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<storage::CertificateRow> revoked =
          vault_.RevokeCertificate(caller, request->fingerprint(), request->reason());
      if (!revoked.ok()) return revoked.status();
      CertificateToProto(*revoked, "", "", response->mutable_certificate());
      return absl::OkStatus();
    });
  }

  grpc::Status ListRoles(ServerContext* context, const pb::ListRolesRequest* request,
                         pb::ListRolesResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<RoleList> list =
          vault_.ListRoles(caller, request->user(), {request->limit(), request->page_token()});
      if (!list.ok()) return list.status();
      for (const storage::BindingRow& b : list->bindings)
        BindingToProto(b, response->add_bindings());
      response->set_next_page_token(list->next_page_token);
      return absl::OkStatus();
    });
  }

  grpc::Status AddAccount(ServerContext* context, const pb::AddAccountRequest* request,
                          pb::AddAccountResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<std::string> kind = KindFromProto(request->kind());
      if (!kind.ok()) return kind.status();
      absl::StatusOr<AccountView> view = vault_.AddAccount(
          caller, request->platform(), request->handle(), request->team(), *kind, request->linked_email(),
          request->mandatory());
      if (!view.ok()) return view.status();
      AccountToProto(*view, response->mutable_account());
      return absl::OkStatus();
    });
  }

  grpc::Status ListAccounts(ServerContext* context, const pb::ListAccountsRequest* request,
                            pb::ListAccountsResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<AccountList> list =
          vault_.ListAccounts(caller, request->unit(), request->team(),
                              PageRequest{request->limit(), request->page_token()});
      if (!list.ok()) return list.status();
      for (const AccountView& view : list->accounts) AccountToProto(view, response->add_accounts());
      response->set_next_page_token(list->next_page_token);
      return absl::OkStatus();
    });
  }

  grpc::Status ShowAccount(ServerContext* context, const pb::ShowAccountRequest* request,
                           pb::ShowAccountResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<AccountView> view = vault_.ShowAccount(caller, request->account());
      if (!view.ok()) return view.status();
      AccountToProto(*view, response->mutable_account());
      return absl::OkStatus();
    });
  }

  grpc::Status StopAccount(ServerContext* context, const pb::StopAccountRequest* request,
                           pb::StopAccountResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<AccountView> view = vault_.StopAccount(caller, request->account(), request->reason());
      if (!view.ok()) return view.status();
      AccountToProto(*view, response->mutable_account());
      if (view->account.stopped_us) {
        response->set_secrets_destroyed_after_unix(absl::ToUnixSeconds(
            absl::FromUnixMicros(*view->account.stopped_us) + vault_.policy()->stopped_retention));
      }
      return absl::OkStatus();
    });
  }

  grpc::Status RecordAccountDeleted(ServerContext* context, const pb::RecordAccountDeletedRequest* request,
                                    pb::RecordAccountDeletedResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<AccountView> view = vault_.RecordAccountDeleted(caller, request->account(), request->reference());
      if (!view.ok()) return view.status();
      AccountToProto(*view, response->mutable_account());
      return absl::OkStatus();
    });
  }

 private:
  Vault& vault_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeEnrollmentService(Vault& vault) { return std::make_unique<EnrollmentService>(vault); }

std::unique_ptr<grpc::Service> MakeOrganisationService(Vault& vault) { return std::make_unique<OrganisationService>(vault); }

}  // namespace kluis::server
