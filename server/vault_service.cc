// The Vault service: secrets, releases, rotation, handover, requests, kabinetswissel.
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

  grpc::Status ListRequests(ServerContext* context, const pb::ListRequestsRequest* request,
                            pb::ListRequestsResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<RequestLists> lists =
          vault_.ListRequests(caller, {request->limit(), request->page_token()});
      if (!lists.ok()) return lists.status();
      for (const RequestView& view : lists->mine) RequestToProto(view, response->add_mine());
      for (const RequestView& view : lists->to_decide)
        RequestToProto(view, response->add_to_decide());
      response->set_next_page_token(lists->next_page_token);
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

  grpc::Status GetInbox(ServerContext* context, const pb::GetInboxRequest* request,
                        pb::Inbox* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<Inbox> inbox =
          vault_.GetInbox(caller, {request->limit(), request->page_token()});
      if (!inbox.ok()) return inbox.status();
      response->set_next_page_token(inbox->next_page_token);
      for (const RequestView& view : inbox->to_decide)
        RequestToProto(view, response->add_to_decide());
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

  grpc::Status ListDue(ServerContext* context, const pb::ListDueRequest* request,
                       pb::ListDueResponse* response) override {
    return WithCaller(vault_, context, [&](const Caller& caller) -> absl::Status {
      absl::StatusOr<DueList> due =
          vault_.ListDue(caller, {request->limit(), request->page_token()});
      if (!due.ok()) return due.status();
      response->set_next_page_token(due->next_page_token);
      for (const DueFlag& d : due->flags) {
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

}  // namespace

std::unique_ptr<grpc::Service> MakeVaultService(Vault& vault) { return std::make_unique<VaultService>(vault); }

}  // namespace kluis::server
