// The typed queries of the audit log and its checkpoints.
#include "server/storage/tx.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/storage/tx_internal.h"

namespace kluis::storage {

absl::StatusOr<std::optional<AuditRow>> Tx::LastAuditRecord() {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kAuditColumns, "ORDER BY seq DESC LIMIT 1"));
  return First<AuditRow>(s, ReadAudit);
}

absl::Status Tx::InsertAuditRecord(const AuditRow& r) {
  KLUIS_PREPARE(s,
                "INSERT INTO audit_records (seq, time_us, unit_id, actor, role, action, account, "
                "decision, rule, reason, request_id, peer, outcome, canonical, chain_hash, certificate) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Bind(1, r.seq)
      .Bind(2, r.time_us)
      .Bind(3, r.unit_id)
      .Bind(4, r.actor)
      .Bind(5, r.role)
      .Bind(6, r.action)
      .Bind(7, r.account)
      .Bind(8, r.decision)
      .Bind(9, r.rule)
      .Bind(10, r.reason)
      .Bind(11, r.request_id)
      .Bind(12, r.peer)
      .Bind(13, r.outcome)
      .BindBlob(14, r.canonical)
      .BindBlob(15, r.chain_hash)
      .Bind(16, r.certificate)
      .Run();
}

absl::StatusOr<std::vector<AuditRow>> Tx::ListAuditRecords(const AuditFilter& f) {
  std::string units_clause;
  if (!f.units.empty()) {
    units_clause = absl::StrCat(" AND unit_id IN (", absl::StrJoin(f.units, ","), ")");
  }
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kAuditColumns,
                                "WHERE (?1 IS NULL OR time_us >= ?1) AND (?2 IS NULL OR time_us < ?2) "
                                "AND (?3 IS NULL OR account = ?3) AND (?4 IS NULL OR actor = ?4) "
                                "AND seq > ?6 AND seq <= ?8 "
                                "AND (?7 = 0 OR (", kReleasedClause, "))",
                                units_clause, " ORDER BY seq LIMIT ?5"));
  s.Bind(1, f.since_us).Bind(2, f.until_us).Bind(5, f.limit).Bind(7, int64_t{f.releases_only ? 1 : 0});
  // Plain bounds (no "IS NULL OR"), so SQLite walks the rowid range: paging through a long log
  // stays linear (a page was a full scan before: O(n²) over an export of a million records).
  s.Bind(6, f.after_seq.value_or(0)).Bind(8, f.up_to_seq.value_or(std::numeric_limits<int64_t>::max()));
  if (f.account.has_value()) s.Bind(3, *f.account); else s.BindNull(3);
  if (f.actor.has_value()) s.Bind(4, *f.actor); else s.BindNull(4);
  return Collect<AuditRow>(s, ReadAudit);
}

absl::StatusOr<std::optional<std::string>> Tx::AuditHashAt(int64_t seq) {
  KLUIS_PREPARE(s, "SELECT chain_hash FROM audit_records WHERE seq = ?");
  s.Bind(1, seq);
  return First<std::string>(s, [](const Statement& s) { return s.Blob(0); });
}

absl::Status Tx::InsertCheckpoint(const CheckpointRow& c) {
  KLUIS_PREPARE(s, "INSERT INTO audit_checkpoints (seq, time_us, chain_hash, signature) VALUES (?, ?, ?, ?)");
  return s.Bind(1, c.seq).Bind(2, c.time_us).BindBlob(3, c.chain_hash).BindBlob(4, c.signature).Run();
}

absl::StatusOr<std::optional<CheckpointRow>> Tx::LastCheckpoint() {
  KLUIS_PREPARE(s, "SELECT seq, time_us, chain_hash, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1");
  return First<CheckpointRow>(s, [](const Statement& s) {
    return CheckpointRow{s.Int(0), s.Int(1), s.Blob(2), s.Blob(3)};
  });
}

absl::StatusOr<std::vector<CheckpointRow>> Tx::ListCheckpoints(int64_t after_seq, int64_t up_to_seq) {
  KLUIS_PREPARE(s, "SELECT seq, time_us, chain_hash, signature FROM audit_checkpoints "
                   "WHERE seq > ? AND seq <= ? ORDER BY seq");
  s.Bind(1, after_seq).Bind(2, up_to_seq);
  return Collect<CheckpointRow>(s, [](const Statement& s) {
    return CheckpointRow{s.Int(0), s.Int(1), s.Blob(2), s.Blob(3)};
  });
}

}  // namespace kluis::storage
