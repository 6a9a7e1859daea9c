#include "server/service.h"

#include "absl/strings/str_cat.h"
#include "crypto/signing.h"
#include "kluis/wire/error_details.h"
#include "kluis/wire/words.h"
#include "server/vault/refusal.h"
#include "kluis/v1/audit.grpc.pb.h"
#include "kluis/v1/enrollment.grpc.pb.h"
#include "kluis/v1/organisation.grpc.pb.h"
#include "kluis/v1/vault.grpc.pb.h"

namespace kluis::server {
namespace {

namespace pb = ::kluis::v1;
using grpc::ServerContext;

// ---- conversions ----

// The API's roles and kinds are the policy's words (kluis/wire/words.h): one table, both ends.
absl::StatusOr<policies::Role> RoleFromProto(pb::Role role) {
  if (std::optional<policies::Role> parsed = policies::ParseRole(wire::WordOf(role))) return *parsed;
  return absl::InvalidArgumentError(absl::StrCat("unknown role ", static_cast<int>(role)));
}

pb::Role RoleToProto(absl::string_view name) { return wire::RoleOfWord(name).value_or(pb::ROLE_UNSPECIFIED); }

absl::StatusOr<std::string> KindFromProto(pb::AccountKind kind) {
  const absl::string_view word = wire::WordOf(kind);  // "prive" too: the vault refuses it, with R7
  if (word.empty()) return absl::InvalidArgumentError(absl::StrCat("unknown account kind ", static_cast<int>(kind)));
  return std::string(word);
}

pb::AccountKind KindToProto(absl::string_view kind) {
  return wire::KindOfWord(kind).value_or(pb::ACCOUNT_KIND_UNSPECIFIED);
}

struct ScopeArg {
  policies::ScopeKind kind;
  std::string name;
};

absl::StatusOr<ScopeArg> ScopeFromProto(const pb::Scope& scope) {
  switch (scope.target_case()) {
    case pb::Scope::kAccount: return ScopeArg{policies::ScopeKind::kAccount, scope.account()};
    case pb::Scope::kTeam: return ScopeArg{policies::ScopeKind::kTeam, scope.team()};
    case pb::Scope::kUnit: return ScopeArg{policies::ScopeKind::kUnit, scope.unit()};
    case pb::Scope::kGlobal:
      if (scope.global()) return ScopeArg{policies::ScopeKind::kGlobal, "global"};
      break;
    default:
      break;
  }
  return absl::InvalidArgumentError("a scope is required: account, team, unit or global");
}

void BindingToProto(const storage::BindingRow& row, pb::RoleBinding* out) {
  out->set_id(row.id);
  out->set_user(row.user_name);
  out->set_role(RoleToProto(row.role));
  if (row.scope_kind == "account") out->mutable_scope()->set_account(row.scope_name);
  if (row.scope_kind == "team") out->mutable_scope()->set_team(row.scope_name);
  if (row.scope_kind == "unit") out->mutable_scope()->set_unit(row.scope_name);
  if (row.scope_kind == "global") out->mutable_scope()->set_global(true);
  out->set_granted_by(row.granted_by);
  out->set_valid_from_unix(row.valid_from_us / 1000000);
  out->set_valid_until_unix(row.valid_until_us.value_or(0) / 1000000);
  out->set_active(!row.ended_us.has_value());
}

void CertificateToProto(const storage::CertificateRow& row, absl::string_view user, absl::string_view current,
                        pb::Certificate* out) {
  out->set_fingerprint(row.fingerprint);
  out->set_user(std::string(user));
  out->set_issued_unix(row.issued_us / 1000000);
  out->set_expires_unix(row.not_after_us / 1000000);
  out->set_revoked_unix(row.revoked_us.value_or(0) / 1000000);
  out->set_revoke_reason(row.revoke_reason);
  out->set_current(!current.empty() && row.fingerprint == current);
}

void AccountToProto(const AccountView& view, pb::Account* out) {
  out->set_name(view.account.name());
  out->set_platform(view.account.platform);
  out->set_handle(view.account.handle);
  out->set_unit(view.account.unit_name);
  out->set_team(view.account.team_name);
  out->set_kind(KindToProto(view.account.kind));
  out->set_status(view.account.status);
  out->set_has_password(view.has_password);
  out->set_has_linked_email(view.has_linked_email);
  for (const std::string& b : view.beheerders) out->add_beheerders(b);
  if (view.password_set_at) out->set_password_set_unix(absl::ToUnixSeconds(*view.password_set_at));
  out->set_has_totp(view.has_totp);
  out->set_recovery_codes_left(view.recovery_codes_left);
  out->set_mandatory(view.account.mandatory);
  if (view.account.stopped_us) out->set_stopped_unix(*view.account.stopped_us / 1000000);
  out->set_stop_reason(view.account.stop_reason);
  out->set_archive_ref(view.account.archive_ref);
}

std::vector<std::pair<std::string, std::string>> ChoicesFromProto(
    const google::protobuf::RepeatedPtrField<pb::AccountChoice>& choices) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const pb::AccountChoice& c : choices) out.emplace_back(c.account(), c.value());
  return out;
}

void PlanToProto(const KabinetswisselPlan& plan, pb::KabinetswisselPlan* out) {
  out->set_id(plan.id);
  out->set_unit(plan.unit);
  out->set_created_unix(absl::ToUnixSeconds(plan.created));
  out->set_created_by(plan.created_by);
  for (const KabinetswisselAccount& a : plan.accounts) {
    pb::KabinetswisselAccount* account = out->add_accounts();
    account->set_account(a.account);
    account->set_kind(a.kind);
    account->set_successor(a.successor);
    account->set_hybrid(a.hybrid);
    account->set_archive_ref(a.archive_ref);
    for (const std::string& p : a.predecessors) account->add_predecessors(p);
    for (const std::string& d : a.departing) account->add_departing(d);
    for (const KabinetswisselStep& s : a.steps) {
      pb::KabinetswisselStep* step = account->add_steps();
      step->set_name(s.name);
      step->set_description(s.description);
      step->set_state(s.state);
      step->set_detail(s.detail);
    }
  }
}

std::optional<absl::Time> OptionalUnix(int64_t seconds) {
  if (seconds == 0) return std::nullopt;
  return absl::FromUnixSeconds(seconds);
}

void RequestToProto(const RequestView& view, pb::AccessRequest* out) {
  const policies::AccessRequest& r = view.request;
  out->set_id(r.id);
  out->set_account(view.account);
  out->set_requester(r.requester);
  out->set_purpose(r.purpose);
  out->set_reason(r.reason);
  out->set_state(std::string(policies::RequestStateName(view.status.state)));
  out->set_created_unix(absl::ToUnixSeconds(r.created));
  if (r.decision) {
    out->set_decided_by(r.decision->by);
    out->set_decision_reason(r.decision->reason);
  }
  if (r.escalation_decision) out->set_escalation_decided_by(r.escalation_decision->by);
  if (view.status.grant_expires) out->set_grant_expires_unix(absl::ToUnixSeconds(*view.status.grant_expires));
  out->set_rule(r.rule_id);
  for (const std::string& decider : view.deciders) out->add_deciders(decider);
}

void TotpToProto(const TotpCode& code, pb::TotpCode* out) {
  out->set_account(code.account);
  out->set_code(code.code);
  out->set_seconds_left(code.seconds_left);
  out->set_next_code(code.next_code);
  out->set_digits(code.digits);
  out->set_period(code.period);
  out->set_rule(code.rule);
  out->set_pending_code(code.pending_code);
}

ReleaseOptions OptionsOf(const std::string& reason, int64_t request_id, bool break_glass) {
  ReleaseOptions options;
  options.reason = reason;
  options.request_id = request_id;
  options.break_glass = break_glass;
  return options;
}

// ---- authentication ----

// The verified client certificate of this call. TLS has already checked it against the vault CA;
// the vault then checks that it is one it issued, not revoked, and that its user is active.
absl::StatusOr<Presented> PresentedBy(const ServerContext* context) {
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  std::vector<grpc::string_ref> pem;
  if (auth != nullptr && auth->IsPeerAuthenticated()) pem = auth->FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return absl::UnauthenticatedError("a client certificate is required: run kluis enroll first");
  return Presented{std::string(pem.front().data(), pem.front().size()), context->peer()};
}

// Runs `body` for an authenticated caller and converts its outcome.
template <typename Body>
grpc::Status WithCaller(Vault& vault, ServerContext* context, Body body) {
  absl::StatusOr<Presented> presented = PresentedBy(context);
  if (!presented.ok()) return ToGrpcStatus(presented.status());
  absl::StatusOr<Caller> caller = vault.Authenticate(*presented);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return ToGrpcStatus(body(*caller));
}

// Runs a release `body` with the certificate the call presented: the vault identifies the caller
// in the release's own transaction.
template <typename Body>
grpc::Status WithPresented(ServerContext* context, Body body) {
  absl::StatusOr<Presented> presented = PresentedBy(context);
  if (!presented.ok()) return ToGrpcStatus(presented.status());
  return ToGrpcStatus(body(*presented));
}

// ---- services ----

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
      absl::StatusOr<std::vector<storage::BindingRow>> bindings = vault_.ListRoles(caller, "");
      if (!bindings.ok()) return bindings.status();
      for (const storage::BindingRow& b : *bindings) {
        if (!b.ended_us) BindingToProto(b, response->add_bindings());
      }
      return absl::OkStatus();
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
      absl::StatusOr<std::vector<storage::BindingRow>> bindings = vault_.ListRoles(caller, request->user());
      if (!bindings.ok()) return bindings.status();
      for (const storage::BindingRow& b : *bindings) BindingToProto(b, response->add_bindings());
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
      absl::StatusOr<std::vector<AccountView>> views =
          vault_.ListAccounts(caller, request->unit(), request->team());
      if (!views.ok()) return views.status();
      for (const AccountView& view : *views) AccountToProto(view, response->add_accounts());
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

class VaultService final : public pb::Vault::Service {
 public:
  explicit VaultService(Vault& vault) : vault_(vault) {}

  grpc::Status SetPassword(ServerContext* context, const pb::SetPasswordRequest* request,
                           pb::SetPasswordResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      // The request buffer belongs to gRPC; the vault works from a guarded copy.
      const crypto::SecretBytes password = crypto::SecretBytes::CopyFrom(request->password());
      absl::StatusOr<int64_t> version = vault_.SetPassword(caller, request->account(), password);
      if (!version.ok()) return version.status();
      response->set_version(static_cast<int32_t>(*version));
      return absl::OkStatus();
    });
  }

  grpc::Status ReleaseCredential(ServerContext* context,
                                 const pb::ReleaseCredentialRequest* request,
                                 pb::ReleaseCredentialResponse* response) override {
    return WithPresented(context, [&](const Presented& presented) -> absl::Status {
      absl::StatusOr<Login> login =
          request->previous_version() != 0
              ? vault_.ReleasePrevious(presented, request->account(), request->previous_version(), request->reason())
              : vault_.ReleaseCredential(presented, request->account(),
                                         OptionsOf(request->reason(), request->request_id(), request->break_glass()));
      if (!login.ok()) return login.status();
      response->set_account(login->account);
      response->set_handle(login->handle);
      response->set_password(std::string(login->password.Reveal()));
      response->set_linked_email(std::string(login->linked_email.Reveal()));
      response->set_version(static_cast<int32_t>(login->version));
      response->set_set_unix(absl::ToUnixSeconds(login->set_at));
      response->set_rule(login->rule);
      if (login->totp) TotpToProto(*login->totp, response->mutable_totp());
      if (login->pending_password) {
        response->set_pending_password(std::string(login->pending_password->Reveal()));
        response->set_pending_version(static_cast<int32_t>(login->pending_version));
      }
      return absl::OkStatus();
    });
  }

  grpc::Status Rotate(ServerContext* context, const pb::RotateRequest* request,
                      pb::RotateResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      if (request->step() == pb::RotateRequest::START) {
        absl::StatusOr<Rotation> started = vault_.StartRotation(caller, request->account());
        if (!started.ok()) return started.status();
        response->set_account(started->account);
        response->set_new_password(std::string(started->password.Reveal()));
        response->set_version(static_cast<int32_t>(started->version));
        return absl::OkStatus();
      }
      if (request->step() != pb::RotateRequest::CONFIRM && request->step() != pb::RotateRequest::ABORT) {
        return absl::InvalidArgumentError("rotate step must be START, CONFIRM or ABORT");
      }
      absl::StatusOr<RotationOutcome> outcome = request->step() == pb::RotateRequest::CONFIRM
                                                    ? vault_.ConfirmRotation(caller, request->account())
                                                    : vault_.AbortRotation(caller, request->account());
      if (!outcome.ok()) return outcome.status();
      response->set_account(outcome->account);
      response->set_password(outcome->password);
      response->set_totp(outcome->totp);
      response->set_flags_cleared(outcome->flags_cleared);
      return absl::OkStatus();
    });
  }

  grpc::Status Handover(ServerContext* context, const pb::HandoverRequest* request,
                        pb::HandoverResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<HandoverResult> result =
          vault_.Handover(caller, request->account(), request->to(), request->reason(), request->from());
      if (!result.ok()) return result.status();
      response->set_account(result->account);
      for (const std::string& from : result->from) response->add_from(from);
      response->set_to(result->to);
      return absl::OkStatus();
    });
  }

  grpc::Status PlanKabinetswissel(ServerContext* context, const pb::PlanKabinetswisselRequest* request,
                                  pb::KabinetswisselPlan* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      KabinetswisselInput input;
      input.unit = request->unit();
      input.successors = ChoicesFromProto(request->successors());
      input.hybrid = ChoicesFromProto(request->hybrid());
      input.archives = ChoicesFromProto(request->archives());
      absl::StatusOr<KabinetswisselPlan> plan = vault_.PlanKabinetswissel(caller, input);
      if (!plan.ok()) return plan.status();
      PlanToProto(*plan, response);
      return absl::OkStatus();
    });
  }

  grpc::Status ApplyKabinetswissel(ServerContext* context, const pb::ApplyKabinetswisselRequest* request,
                                   pb::ApplyKabinetswisselResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<KabinetswisselOutcome> outcome = vault_.ApplyKabinetswissel(caller, request->plan_id());
      if (!outcome.ok()) return outcome.status();
      PlanToProto(outcome->plan, response->mutable_plan());
      for (const KabinetswisselHandback& h : outcome->handed_back) {
        pb::HandedBackAuthenticator* out = response->add_handed_back();
        out->set_account(h.account);
        out->set_to(h.to);
        out->set_otpauth_uri(std::string(h.otpauth_uri.Reveal()));  // copied out at the edge
      }
      response->set_complete(outcome->complete);
      return absl::OkStatus();
    });
  }

  grpc::Status RecordArchiveReference(ServerContext* context, const pb::RecordArchiveReferenceRequest* request,
                                      pb::RecordArchiveReferenceResponse*) override {
    return WithCaller(vault_, context, [&](const Caller& caller) {
      return vault_.RecordArchiveReference(caller, request->account(), request->reference());
    });
  }

  grpc::Status GeneratePassword(ServerContext* context, const pb::GeneratePasswordRequest* request,
                                pb::GeneratePasswordResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller&) -> absl::Status {
      absl::StatusOr<crypto::SecretBytes> password = vault_.GeneratePassword(request->platform());
      if (!password.ok()) return password.status();
      response->set_password(std::string(password->Reveal()));
      return absl::OkStatus();
    });
  }

  grpc::Status SetTotp(ServerContext* context, const pb::SetTotpRequest* request,
                       pb::SetTotpResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      const crypto::SecretBytes otpauth = crypto::SecretBytes::CopyFrom(request->otpauth());
      absl::StatusOr<int64_t> version = vault_.SetTotp(caller, request->account(), otpauth, request->pending());
      if (!version.ok()) return version.status();
      response->set_version(static_cast<int32_t>(*version));
      return absl::OkStatus();
    });
  }

  grpc::Status GetTotpCode(ServerContext* context, const pb::GetTotpCodeRequest* request,
                           pb::TotpCode* response) override {
    return WithPresented(context, [&](const Presented& presented) -> absl::Status {
      absl::StatusOr<TotpCode> code = vault_.ReleaseTotpCode(
          presented, request->account(), OptionsOf(request->reason(), request->request_id(), request->break_glass()));
      if (!code.ok()) return code.status();
      TotpToProto(*code, response);
      return absl::OkStatus();
    });
  }

  grpc::Status ExportTotp(ServerContext* context, const pb::ExportTotpRequest* request,
                          pb::ExportTotpResponse* response) override {
    return WithPresented(context, [&](const Presented& presented) -> absl::Status {
      absl::StatusOr<crypto::SecretBytes> uri = vault_.ExportTotp(presented, request->account(), request->reason());
      if (!uri.ok()) return uri.status();
      response->set_account(request->account());
      response->set_otpauth_uri(std::string(uri->Reveal()));
      return absl::OkStatus();
    });
  }

  grpc::Status SetRecoveryCodes(ServerContext* context, const pb::SetRecoveryCodesRequest* request,
                                pb::SetRecoveryCodesResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      std::vector<crypto::SecretBytes> codes;
      for (const std::string& code : request->codes()) codes.push_back(crypto::SecretBytes::CopyFrom(code));
      absl::StatusOr<int> count = vault_.SetRecoveryCodes(caller, request->account(), codes);
      if (!count.ok()) return count.status();
      response->set_count(*count);
      return absl::OkStatus();
    });
  }

  grpc::Status ReleaseRecoveryCode(ServerContext* context, const pb::ReleaseRecoveryCodeRequest* request,
                                   pb::RecoveryCode* response) override {
    return WithPresented(context, [&](const Presented& presented) -> absl::Status {
      absl::StatusOr<RecoveryCode> code = vault_.ReleaseRecoveryCode(
          presented, request->account(), OptionsOf(request->reason(), request->request_id(), request->break_glass()));
      if (!code.ok()) return code.status();
      response->set_account(code->account);
      response->set_code(std::string(code->code.Reveal()));
      response->set_remaining(code->remaining);
      response->set_rule(code->rule);
      return absl::OkStatus();
    });
  }

  grpc::Status RequestAccess(ServerContext* context, const pb::RequestAccessRequest* request,
                             pb::AccessRequest* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<RequestView> view =
          vault_.RequestAccess(caller, request->account(), request->purpose(), request->reason());
      if (!view.ok()) return view.status();
      RequestToProto(*view, response);
      return absl::OkStatus();
    });
  }

  grpc::Status ListRequests(ServerContext* context, const pb::ListRequestsRequest*,
                            pb::ListRequestsResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<RequestLists> lists = vault_.ListRequests(caller);
      if (!lists.ok()) return lists.status();
      for (const RequestView& view : lists->mine) RequestToProto(view, response->add_mine());
      for (const RequestView& view : lists->to_decide) RequestToProto(view, response->add_to_decide());
      return absl::OkStatus();
    });
  }

  grpc::Status DecideRequest(ServerContext* context, const pb::DecideRequestRequest* request,
                             pb::AccessRequest* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      std::optional<absl::Duration> ttl;
      if (request->ttl_seconds() != 0) ttl = absl::Seconds(request->ttl_seconds());
      absl::StatusOr<RequestView> view =
          vault_.DecideRequest(caller, request->id(), request->approve(), request->reason(), ttl);
      if (!view.ok()) return view.status();
      RequestToProto(*view, response);
      return absl::OkStatus();
    });
  }

  grpc::Status EscalateRequest(ServerContext* context, const pb::EscalateRequestRequest* request,
                               pb::AccessRequest* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<RequestView> view = vault_.EscalateRequest(caller, request->id(), request->reason());
      if (!view.ok()) return view.status();
      RequestToProto(*view, response);
      return absl::OkStatus();
    });
  }

  grpc::Status GetInbox(ServerContext* context, const pb::GetInboxRequest*,
                        pb::Inbox* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<Inbox> inbox = vault_.GetInbox(caller);
      if (!inbox.ok()) return inbox.status();
      for (const RequestView& view : inbox->to_decide) RequestToProto(view, response->add_to_decide());
      for (const RequestView& view : inbox->grants) RequestToProto(view, response->add_grants());
      for (const storage::NotificationRow& n : inbox->notices) {
        pb::Notice* notice = response->add_notices();
        notice->set_kind(n.kind);
        notice->set_account(n.account);
        notice->set_request_id(n.request_id.value_or(0));
        notice->set_text(n.text);
        notice->set_created_unix(n.created_us / 1000000);
      }
      return absl::OkStatus();
    });
  }

  grpc::Status ListDue(ServerContext* context, const pb::ListDueRequest*,
                       pb::ListDueResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<std::vector<DueFlag>> due = vault_.ListDue(caller);
      if (!due.ok()) return due.status();
      for (const DueFlag& d : *due) {
        pb::RotationFlag* flag = response->add_flags();
        flag->set_account(d.account);
        flag->set_cause(d.flag.cause);
        flag->set_raised_by(d.flag.raised_by);
        flag->set_raised_unix(d.flag.raised_us / 1000000);
      }
      return absl::OkStatus();
    });
  }

 private:
  Vault& vault_;
};

void AuditRowToProto(const storage::AuditRow& row, pb::AuditRecord* out) {
  out->set_seq(row.seq);
  out->set_time_unix_micros(row.time_us);
  out->set_actor(row.actor);
  out->set_role(row.role);
  out->set_action(row.action);
  out->set_account(row.account);
  out->set_decision(row.decision);
  out->set_rule(row.rule);
  out->set_reason(row.reason);
  out->set_request_id(row.request_id);
  out->set_peer(row.peer);
  out->set_outcome(row.outcome);
  out->set_certificate(row.certificate);
  out->set_chain_hash(row.chain_hash);
}

AuditQuery QueryOf(int64_t since_unix, int64_t until_unix, const std::string& account, const std::string& actor) {
  AuditQuery query;
  query.since = OptionalUnix(since_unix);
  query.until = OptionalUnix(until_unix);
  if (!account.empty()) query.account = account;
  if (!actor.empty()) query.actor = actor;
  return query;
}

// Writes an export to the gRPC stream as the vault reads it; a failed write means the client left.
class StreamSink final : public AuditSink {
 public:
  explicit StreamSink(grpc::ServerWriter<pb::AuditExportItem>* writer) : writer_(writer) {}
  bool Header(const AuditExport& head) override {
    pb::AuditExportItem item;
    pb::AuditExportHeader* out = item.mutable_header();
    out->set_public_key(head.public_key);
    out->set_exported_unix_micros(absl::ToUnixMicros(head.exported));
    out->set_head_seq(head.head_seq);
    out->set_filter(head.filter);
    return writer_->Write(item);
  }
  bool Record(const storage::AuditRow& row, const std::string& previous_hash) override {
    item_.Clear();
    pb::AuditRecord* out = item_.mutable_record();
    AuditRowToProto(row, out);
    out->set_canonical(row.canonical);
    out->set_prev_hash(previous_hash);
    return writer_->Write(item_);
  }
  bool Checkpoint(const storage::CheckpointRow& checkpoint) override {
    pb::AuditExportItem item;
    pb::AuditCheckpoint* out = item.mutable_checkpoint();
    out->set_seq(checkpoint.seq);
    out->set_time_unix_micros(checkpoint.time_us);
    out->set_chain_hash(checkpoint.chain_hash);
    out->set_signature(checkpoint.signature);
    return writer_->Write(item);
  }

 private:
  grpc::ServerWriter<pb::AuditExportItem>* writer_;
  pb::AuditExportItem item_;
};

class AuditService final : public pb::Audit::Service {
 public:
  explicit AuditService(Vault& vault) : vault_(vault) {}

  grpc::Status ListAudit(ServerContext* context, const pb::ListAuditRequest* request,
                         pb::ListAuditResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      AuditQuery query = QueryOf(request->since_unix(), request->until_unix(), request->account(), request->actor());
      query.limit = request->limit();
      query.releases_only = request->releases_only();
      absl::StatusOr<std::vector<storage::AuditRow>> rows = vault_.ListAudit(caller, query);
      if (!rows.ok()) return rows.status();
      for (const storage::AuditRow& row : *rows) AuditRowToProto(row, response->add_records());
      return absl::OkStatus();
    });
  }

  grpc::Status ExportAudit(ServerContext* context, const pb::ExportAuditRequest* request,
                           grpc::ServerWriter<pb::AuditExportItem>* writer) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      StreamSink sink(writer);
      return vault_.ExportAudit(
          caller, QueryOf(request->since_unix(), request->until_unix(), request->account(), request->actor()), sink);
    });
  }

  grpc::Status GetAuditPublicKey(ServerContext* context, const pb::GetAuditPublicKeyRequest*,
                                 pb::AuditPublicKey* response) override {
    // Public: anyone enrolled may fetch it; auditors keep a copy outside the vault.
    return WithCaller(vault_, context, [&](const Caller&) -> absl::Status {
      response->set_public_key(vault_.AuditPublicKey());
      response->set_fingerprint(crypto::Sha256Fingerprint(vault_.AuditPublicKey()));
      return absl::OkStatus();
    });
  }

  grpc::Status CustodyReport(ServerContext* context, const pb::CustodyReportRequest* request,
                             pb::CustodyReportResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<server::CustodyReport> report = vault_.Custody(caller, request->unit());
      if (!report.ok()) return report.status();
      const absl::Time now = report->as_of;
      for (const CustodyLine& line : report->lines) {
        const storage::AccountRow& a = line.view.account;
        pb::CustodyAccount* out = response->add_accounts();
        out->set_account(a.name());
        out->set_kind(a.kind);
        out->set_platform(a.platform);
        out->set_handle(a.handle);
        out->set_team(absl::StrCat(a.unit_name, "/", a.team_name));
        out->set_status(a.status);
        for (const auto& [user, active] : line.beheerders) {
          pb::CustodyBeheerder* b = out->add_beheerders();
          b->set_user(user);
          b->set_active(active);
        }
        out->set_teamchef_covered(line.teamchef_covered);
        out->set_has_password(line.view.has_password);
        out->set_has_linked_email(line.view.has_linked_email);
        out->set_has_totp(line.view.has_totp);
        out->set_recovery_codes_left(line.view.recovery_codes_left);
        if (line.view.password_set_at) {
          out->set_password_set_unix(absl::ToUnixSeconds(*line.view.password_set_at));
          out->set_password_age_days(static_cast<int32_t>((now - *line.view.password_set_at) / absl::Hours(24)));
        }
        out->set_open_rotation_flags(line.open_flags);
        out->set_pending_requests(line.pending_requests);
        if (line.last_release) out->set_last_release_unix(absl::ToUnixSeconds(*line.last_release));
        out->set_in_order(line.problems.empty());
        for (const std::string& p : line.problems) out->add_problems(p);
        for (const std::string& w : line.warnings) out->add_warnings(w);
        out->set_pending_rotation(line.pending_rotation);
      }
      for (const TeamTotals& t : report->teams) {
        pb::CustodyTeamTotals* out = response->add_teams();
        out->set_team(t.team);
        out->set_accounts(t.accounts);
        out->set_in_order(t.in_order);
      }
      return absl::OkStatus();
    });
  }

 private:
  Vault& vault_;
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numbering (both follow google.rpc.Code).
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  const std::optional<std::string> refusal = RefusalOf(status);
  if (!refusal) return grpc::Status(code, message);
  std::string details = wire::ErrorDetails(code, message, *refusal, {});
  return grpc::Status(code, std::move(message), std::move(details));
}

std::vector<std::unique_ptr<grpc::Service>> MakeServices(Vault& vault) {
  std::vector<std::unique_ptr<grpc::Service>> services;
  services.push_back(std::make_unique<EnrollmentService>(vault));
  services.push_back(std::make_unique<OrganisationService>(vault));
  services.push_back(std::make_unique<VaultService>(vault));
  services.push_back(std::make_unique<AuditService>(vault));
  return services;
}

}  // namespace kluis::server
