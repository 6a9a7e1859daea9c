// The typed queries of enrollment codes, certificates, access requests, notifications and rotation flags.
#include "server/storage/tx.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "server/storage/tx_internal.h"

namespace kluis::storage {

absl::Status Tx::InsertEnrollmentCode(int64_t user_id, absl::string_view code_hash, int64_t now_us,
                                      int64_t expires_us) {
  {
    KLUIS_PREPARE(revoke, "UPDATE enrollment_codes SET revoked_us = ? "
                          "WHERE user_id = ? AND used_us IS NULL AND revoked_us IS NULL");
    if (absl::Status r = revoke.Bind(1, now_us).Bind(2, user_id).Run(); !r.ok()) return r;
  }
  KLUIS_PREPARE(s, "INSERT INTO enrollment_codes (user_id, code_hash, created_us, expires_us) "
                   "VALUES (?, ?, ?, ?)");
  return s.Bind(1, user_id).BindBlob(2, code_hash).Bind(3, now_us).Bind(4, expires_us).Run();
}

absl::StatusOr<std::optional<EnrollmentCodeRow>> Tx::LatestEnrollmentCode(int64_t user_id) {
  KLUIS_PREPARE(s, "SELECT id, user_id, code_hash, created_us, expires_us, used_us, revoked_us, "
                   "attempts FROM enrollment_codes WHERE user_id = ? ORDER BY id DESC LIMIT 1");
  s.Bind(1, user_id);
  return First<EnrollmentCodeRow>(s, [](const Statement& s) {
    return EnrollmentCodeRow{s.Int(0),         s.Int(1),         s.Blob(2),
                             s.Int(3),         s.Int(4),         s.OptionalInt(5),
                             s.OptionalInt(6), s.Int(7)};
  });
}

absl::Status Tx::CountEnrollmentAttempt(int64_t code_id) {
  KLUIS_PREPARE(s, "UPDATE enrollment_codes SET attempts = attempts + 1 WHERE id = ?");
  return s.Bind(1, code_id).Run();
}

absl::Status Tx::MarkEnrollmentCodeUsed(int64_t code_id, int64_t now_us) {
  KLUIS_PREPARE(s, "UPDATE enrollment_codes SET used_us = ? WHERE id = ?");
  return s.Bind(1, now_us).Bind(2, code_id).Run();
}

namespace {

constexpr char kCertificateColumns[] =
    "SELECT fingerprint, user_id, issued_us, not_after_us, revoked_us, coalesce(revoke_reason, '') "
    "FROM certificates ";

CertificateRow ReadCertificate(const Statement& s) {
  return CertificateRow{s.Text(0), s.Int(1), s.Int(2), s.Int(3), s.OptionalInt(4), s.Text(5)};
}

}  // namespace

absl::Status Tx::InsertCertificate(const CertificateRow& c) {
  KLUIS_PREPARE(s, "INSERT INTO certificates (fingerprint, user_id, issued_us, not_after_us) "
                   "VALUES (?, ?, ?, ?)");
  return s.Bind(1, c.fingerprint).Bind(2, c.user_id).Bind(3, c.issued_us).Bind(4, c.not_after_us).Run();
}

absl::StatusOr<std::optional<CertificateRow>> Tx::FindCertificate(absl::string_view fingerprint) {
  KLUIS_PREPARE(s, absl::StrCat(kCertificateColumns, "WHERE fingerprint = ?"));
  s.Bind(1, fingerprint);
  return First<CertificateRow>(s, ReadCertificate);
}

absl::StatusOr<std::vector<CertificateRow>> Tx::ListCertificates(int64_t user_id) {
  KLUIS_PREPARE(s, absl::StrCat(kCertificateColumns, "WHERE user_id = ? ORDER BY issued_us, fingerprint"));
  s.Bind(1, user_id);
  return Collect<CertificateRow>(s, ReadCertificate);
}

absl::StatusOr<int> Tx::RevokeCertificates(int64_t user_id, int64_t now_us, absl::string_view reason) {
  KLUIS_PREPARE(s, "UPDATE certificates SET revoked_us = ?, revoke_reason = ? "
                   "WHERE user_id = ? AND revoked_us IS NULL");
  if (absl::Status r = s.Bind(1, now_us).Bind(2, reason).Bind(3, user_id).Run(); !r.ok()) return r;
  return sqlite3_changes(db_);
}

absl::StatusOr<bool> Tx::RevokeCertificate(absl::string_view fingerprint, int64_t now_us, absl::string_view reason) {
  KLUIS_PREPARE(s, "UPDATE certificates SET revoked_us = ?, revoke_reason = ? "
                   "WHERE fingerprint = ? AND revoked_us IS NULL");
  if (absl::Status r = s.Bind(1, now_us).Bind(2, reason).Bind(3, fingerprint).Run(); !r.ok()) return r;
  return sqlite3_changes(db_) == 1;
}

namespace {

// An answer as stored: "approve", or anything else (the schema allows only "deny") a denial.
std::optional<RequestAnswer> AnswerOf(const Statement& s, int column) {
  if (s.IsNull(column)) return std::nullopt;
  return s.Text(column) == "approve" ? RequestAnswer::kApprove : RequestAnswer::kDeny;
}

}  // namespace

RequestRow ReadRequest(const Statement& s) {
  RequestRow r;
  r.id = s.Int(0);
  r.account_id = s.Int(1);
  r.requester_id = s.Int(2);
  r.requester = s.Text(3);
  r.rule_id = s.Text(4);
  r.purpose = s.Text(5);
  r.reason = s.Text(6);
  r.created_us = s.Int(7);
  r.decision = AnswerOf(s, 8);
  r.decided_by = s.Text(9);
  r.decided_us = s.OptionalInt(10);
  r.decision_reason = s.Text(11);
  r.grant_ttl_us = s.OptionalInt(12);
  r.escalated_us = s.OptionalInt(13);
  r.escalation_decision = AnswerOf(s, 14);
  r.escalation_decided_by = s.Text(15);
  r.escalation_decided_us = s.OptionalInt(16);
  r.escalation_reason = s.Text(17);
  r.escalation_ttl_us = s.OptionalInt(18);
  r.used_us = s.OptionalInt(19);
  return r;
}

absl::StatusOr<int64_t> Tx::InsertRequest(const RequestRow& r) {
  KLUIS_PREPARE(s, "INSERT INTO access_requests (account_id, requester_id, rule_id, purpose, "
                   "reason, created_us) VALUES (?, ?, ?, ?, ?, ?)");
  if (absl::Status st = s.Bind(1, r.account_id)
                            .Bind(2, r.requester_id)
                            .Bind(3, r.rule_id)
                            .Bind(4, r.purpose)
                            .Bind(5, r.reason)
                            .Bind(6, r.created_us)
                            .Run();
      !st.ok()) {
    return st;
  }
  return sqlite3_last_insert_rowid(db_);
}

absl::StatusOr<std::optional<RequestRow>> Tx::FindRequest(int64_t id) {
  KLUIS_PREPARE(s, absl::StrCat(KLUIS_REQUEST_COLUMNS, "WHERE r.id = ?"));
  s.Bind(1, id);
  return First<RequestRow>(s, ReadRequest);
}

absl::StatusOr<std::vector<RequestRow>> Tx::ListRequests(std::optional<int64_t> requester_id,
                                                         int64_t limit, bool with_used) {
  KLUIS_PREPARE(
      s, absl::StrCat(KLUIS_REQUEST_COLUMNS,
                      "WHERE (?3 OR r.used_us IS NULL) AND (?1 IS NULL OR r.requester_id = ?1) "
                      "ORDER BY r.id DESC LIMIT ?2"));
  s.Bind(1, requester_id).Bind(2, limit).Bind(3, int64_t{with_used});
  return Collect<RequestRow>(s, ReadRequest);
}

absl::StatusOr<std::vector<RequestRow>> Tx::UnusedRequestsOf(int64_t first_account_id,
                                                             int64_t last_account_id) {
  KLUIS_PREPARE(s, kUnusedRequestsSql);
  s.Bind(1, first_account_id).Bind(2, last_account_id);
  return Collect<RequestRow>(s, ReadRequest);
}

absl::StatusOr<std::vector<RequestRow>> Tx::WaitingRequests(int64_t before_id,
                                                            int64_t waiting_since_us,
                                                            int64_t limit) {
  KLUIS_PREPARE(s, kWaitingRequestsSql);
  s.Bind(1, before_id).Bind(2, waiting_since_us).Bind(3, limit);
  return Collect<RequestRow>(s, ReadRequest);
}

absl::Status Tx::RecordRequestDecision(int64_t id, bool escalation, bool approve,
                                       absl::string_view by, int64_t at_us,
                                       absl::string_view reason, std::optional<int64_t> ttl_us) {
  KLUIS_PREPARE(s, escalation
                       ? "UPDATE access_requests SET escalation_decision = ?, escalation_decided_by = ?, "
                         "escalation_decided_us = ?, escalation_reason = ?, escalation_ttl_us = ? WHERE id = ?"
                       : "UPDATE access_requests SET decision = ?, decided_by = ?, decided_us = ?, "
                         "decision_reason = ?, grant_ttl_us = ? WHERE id = ?");
  return s.Bind(1, absl::string_view(approve ? "approve" : "deny"))
      .Bind(2, by)
      .Bind(3, at_us)
      .Bind(4, reason)
      .Bind(5, ttl_us)
      .Bind(6, id)
      .Run();
}

absl::Status Tx::RecordEscalation(int64_t id, int64_t at_us) {
  KLUIS_PREPARE(s, "UPDATE access_requests SET escalated_us = ? WHERE id = ?");
  return s.Bind(1, at_us).Bind(2, id).Run();
}

absl::Status Tx::MarkRequestUsed(int64_t id, int64_t at_us) {
  KLUIS_PREPARE(s, "UPDATE access_requests SET used_us = ? WHERE id = ? AND used_us IS NULL");
  if (absl::Status st = s.Bind(1, at_us).Bind(2, id).Run(); !st.ok()) return st;
  if (sqlite3_changes(db_) != 1) {
    return absl::FailedPreconditionError(absl::StrCat("request ", id, " has been used"));
  }
  return absl::OkStatus();
}

absl::Status Tx::InsertNotification(const NotificationRow& n) {
  KLUIS_PREPARE(s, "INSERT INTO notifications (user_id, kind, account, request_id, text, created_us) "
                   "VALUES (?, ?, ?, ?, ?, ?)");
  return s.Bind(1, n.user_id)
      .Bind(2, n.kind)
      .Bind(3, n.account)
      .Bind(4, n.request_id)
      .Bind(5, n.text)
      .Bind(6, n.created_us)
      .Run();
}

absl::StatusOr<std::vector<NotificationRow>> Tx::ListNotifications(int64_t user_id, int64_t limit) {
  KLUIS_PREPARE(s, "SELECT id, user_id, kind, account, request_id, text, created_us "
                   "FROM notifications WHERE user_id = ? ORDER BY id DESC LIMIT ?");
  s.Bind(1, user_id).Bind(2, limit);
  return Collect<NotificationRow>(s, [](const Statement& s) {
    return NotificationRow{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.OptionalInt(4), s.Text(5), s.Int(6)};
  });
}

absl::Status Tx::RaiseRotationFlag(int64_t account_id, absl::string_view cause,
                                   absl::string_view raised_by, int64_t now_us) {
  KLUIS_PREPARE(s, "INSERT INTO rotation_flags (account_id, cause, raised_by, raised_us) "
                   "VALUES (?, ?, ?, ?)");
  return s.Bind(1, account_id).Bind(2, cause).Bind(3, raised_by).Bind(4, now_us).Run();
}

absl::StatusOr<std::vector<RotationFlagRow>> Tx::OpenRotationFlags(std::optional<int64_t> account_id) {
  KLUIS_PREPARE(s, "SELECT id, account_id, cause, raised_by, raised_us FROM rotation_flags "
                   "WHERE cleared_us IS NULL AND (?1 IS NULL OR account_id = ?1) ORDER BY id");
  s.Bind(1, account_id);
  return Collect<RotationFlagRow>(s, [](const Statement& s) {
    return RotationFlagRow{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Int(4)};
  });
}

}  // namespace kluis::storage
