// The Audit service: listing and streaming the log, its key, the custody report.
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
      query.page_token = request->page_token();
      absl::StatusOr<AuditList> list = vault_.ListAudit(caller, query);
      if (!list.ok()) return list.status();
      for (const storage::AuditRow& row : list->records)
        AuditRowToProto(row, response->add_records());
      response->set_next_page_token(list->next_page_token);
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
      absl::StatusOr<server::CustodyReport> report =
          vault_.Custody(caller, request->unit(), {request->limit(), request->page_token()});
      if (!report.ok()) return report.status();
      response->set_next_page_token(report->next_page_token);
      const absl::Time now = report->as_of;
      for (const CustodyLine& line : report->lines) {
        const storage::AccountRow& a = line.view.account;
        pb::CustodyAccount* out = response->add_accounts();
        out->set_account(a.name());
        out->set_kind(std::string(a.kind_name()));
        out->set_platform(a.platform);
        out->set_handle(a.handle);
        out->set_team(absl::StrCat(a.unit_name, "/", a.team_name));
        out->set_status(std::string(a.state_name()));
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

std::unique_ptr<grpc::Service> MakeAuditService(Vault& vault) { return std::make_unique<AuditService>(vault); }

}  // namespace kluis::server
