#include "server/convert.h"

#include "absl/strings/str_cat.h"
#include "kluis/wire/error_details.h"
#include "kluis/wire/words.h"
#include "server/vault/refusal.h"

namespace kluis::server {

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

absl::StatusOr<policies::Role> RoleFromProto(pb::Role role) {
  if (std::optional<policies::Role> parsed = policies::ParseRole(wire::WordOf(role))) return *parsed;
  return absl::InvalidArgumentError(absl::StrCat("unknown role ", static_cast<int>(role)));
}

pb::Role RoleToProto(policies::Role role) {
  return wire::RoleOfWord(policies::RoleName(role)).value_or(pb::ROLE_UNSPECIFIED);
}

absl::StatusOr<std::string> KindFromProto(pb::AccountKind kind) {
  const absl::string_view word = wire::WordOf(kind);  // "prive" too: the vault refuses it, with R7
  if (word.empty()) return absl::InvalidArgumentError(absl::StrCat("unknown account kind ", static_cast<int>(kind)));
  return std::string(word);
}

pb::AccountKind KindToProto(std::optional<policies::AccountKind> kind) {
  if (!kind) return pb::ACCOUNT_KIND_UNSPECIFIED;
  return wire::KindOfWord(policies::AccountKindName(*kind)).value_or(pb::ACCOUNT_KIND_UNSPECIFIED);
}

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
  switch (row.scope_kind) {
    case policies::ScopeKind::kAccount:
      out->mutable_scope()->set_account(row.scope_name);
      break;
    case policies::ScopeKind::kTeam:
      out->mutable_scope()->set_team(row.scope_name);
      break;
    case policies::ScopeKind::kUnit:
      out->mutable_scope()->set_unit(row.scope_name);
      break;
    case policies::ScopeKind::kGlobal:
      out->mutable_scope()->set_global(true);
      break;
  }
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
  out->set_status(std::string(view.account.state_name()));
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
    account->set_kind(std::string(policies::AccountKindName(a.kind)));
    account->set_successor(a.successor);
    account->set_hybrid(a.hybrid);
    account->set_archive_ref(a.archive_ref);
    for (const std::string& p : a.predecessors) account->add_predecessors(p);
    for (const std::string& d : a.departing) account->add_departing(d);
    for (const KabinetswisselStep& s : a.steps) {
      pb::KabinetswisselStep* step = account->add_steps();
      step->set_name(s.name);
      step->set_description(s.description);
      step->set_state(std::string(StepStateName(s.state)));
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

absl::StatusOr<Presented> PresentedBy(const grpc::ServerContext* context) {
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  std::vector<grpc::string_ref> pem;
  if (auth != nullptr && auth->IsPeerAuthenticated()) pem = auth->FindPropertyValues("x509_pem_cert");
  if (pem.empty()) return absl::UnauthenticatedError("a client certificate is required: run kluis enroll first");
  return Presented{std::string(pem.front().data(), pem.front().size()), context->peer()};
}

}  // namespace kluis::server
