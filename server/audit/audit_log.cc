#include "server/audit/audit_log.h"

#include "server/storage/tx.h"

#include "absl/strings/str_cat.h"

namespace kluis::audit {
namespace {

auditfile::Record RecordOfEvent(int64_t seq, int64_t time_us, const AuditEvent& e) {
  return auditfile::Record{seq,    time_us,      e.actor,  e.role,    e.action,
                           e.account, e.decision, e.rule, e.reason, e.request_id,
                           e.peer,   e.outcome,   e.certificate, auditfile::kRecordVersion};
}

// Recomputes records after `after_seq`, whose chain hash is `previous`, to the end.
absl::StatusOr<int64_t> VerifyFrom(storage::Tx& tx, int64_t after_seq, std::string previous) {
  int64_t expected_seq = after_seq + 1;
  storage::AuditFilter page_filter;
  page_filter.limit = 10000;
  for (;;) {
    page_filter.after_seq = expected_seq - 1;
    absl::StatusOr<std::vector<storage::AuditRow>> page = tx.ListAuditRecords(page_filter);
    if (!page.ok()) return page.status();
    if (page->empty()) return expected_seq - 1 - after_seq;
    for (const storage::AuditRow& row : *page) {
      if (row.seq != expected_seq) {
        return absl::DataLossError(absl::StrCat("audit record ", expected_seq, " is missing"));
      }
      if (row.canonical != auditfile::CanonicalBytes(audit::RecordOf(row)) ||
          row.chain_hash != auditfile::ChainHash(previous, row.canonical)) {
        return absl::DataLossError(absl::StrCat("audit record ", row.seq, " does not match the chain"));
      }
      previous = row.chain_hash;
      ++expected_seq;
    }
  }
}

}  // namespace

auditfile::Record RecordOf(const storage::AuditRow& row) {
  // The version the record was written in is its first canonical byte (older logs hold version 1).
  const int version = row.canonical.empty() ? auditfile::kRecordVersion : static_cast<unsigned char>(row.canonical[0]);
  return auditfile::Record{row.seq,      row.time_us, row.actor,  row.role,       row.action,
                           row.account,  row.decision, row.rule,  row.reason,     row.request_id,
                           row.peer,     row.outcome,  row.certificate, version};
}

absl::Status Checkpointer::AfterAppend(storage::Tx& tx, const storage::AuditRow& row, bool force) const {
  if (!force) {
    absl::StatusOr<std::optional<storage::CheckpointRow>> last = tx.LastCheckpoint();
    if (!last.ok()) return last.status();
    const int64_t since_seq = last->has_value() ? (*last)->seq : 0;
    const int64_t since_us = last->has_value() ? (*last)->time_us : 0;
    const bool due = row.seq - since_seq >= every_records_ ||
                     absl::Microseconds(row.time_us - since_us) >= every_;
    if (!due) return absl::OkStatus();
  }
  return tx.InsertCheckpoint({row.seq, row.time_us, row.chain_hash,
                              signer_.Sign(auditfile::CheckpointMessage(row.seq, row.chain_hash, row.time_us))});
}

absl::StatusOr<int64_t> Append(storage::Tx& tx, const AuditEvent& event, absl::Time now,
                               const Checkpointer* checkpointer, bool force_checkpoint) {
  // The previous record is read inside this transaction, so concurrent appends cannot fork the
  // chain: the write transaction holds the database's only writer lock.
  absl::StatusOr<std::optional<storage::AuditRow>> last = tx.LastAuditRecord();
  if (!last.ok()) return last.status();
  storage::AuditRow row;
  row.seq = last->has_value() ? (*last)->seq + 1 : 1;
  row.time_us = absl::ToUnixMicros(now);
  // Time never runs backwards in the log, even if the wall clock does.
  if (last->has_value() && row.time_us < (*last)->time_us) row.time_us = (*last)->time_us;
  row.unit_id = event.unit_id;
  row.actor = event.actor;
  row.role = event.role;
  row.action = event.action;
  row.account = event.account;
  row.decision = event.decision;
  row.rule = event.rule;
  row.reason = event.reason;
  row.request_id = event.request_id;
  row.peer = event.peer;
  row.outcome = event.outcome;
  row.certificate = event.certificate;
  row.canonical = auditfile::CanonicalBytes(RecordOfEvent(row.seq, row.time_us, event));
  row.chain_hash = auditfile::ChainHash(last->has_value() ? (*last)->chain_hash : auditfile::GenesisHash(),
                                        row.canonical);
  if (absl::Status s = tx.InsertAuditRecord(row); !s.ok()) {
    return absl::InternalError(absl::StrCat("audit record ", row.seq, " not written: ", s.message()));
  }
  if (checkpointer != nullptr) {
    if (absl::Status s = checkpointer->AfterAppend(tx, row, force_checkpoint); !s.ok()) {
      return absl::InternalError(absl::StrCat("audit checkpoint at ", row.seq, " not written: ", s.message()));
    }
  }
  return row.seq;
}

absl::StatusOr<int64_t> VerifyChain(storage::Tx& tx) { return VerifyFrom(tx, 0, auditfile::GenesisHash()); }

absl::StatusOr<int64_t> VerifyFromLastCheckpoint(storage::Tx& tx, absl::string_view public_key) {
  absl::StatusOr<std::optional<storage::CheckpointRow>> last = tx.LastCheckpoint();
  if (!last.ok()) return last.status();
  if (!last->has_value()) return VerifyChain(tx);
  const storage::CheckpointRow& checkpoint = **last;
  if (!crypto::Ed25519Verify(public_key,
                             auditfile::CheckpointMessage(checkpoint.seq, checkpoint.chain_hash, checkpoint.time_us),
                             checkpoint.signature)) {
    return absl::DataLossError(absl::StrCat("audit checkpoint at record ", checkpoint.seq,
                                            " does not carry this vault's signature"));
  }
  absl::StatusOr<std::optional<std::string>> hash = tx.AuditHashAt(checkpoint.seq);
  if (!hash.ok()) return hash.status();
  if (!hash->has_value() || **hash != checkpoint.chain_hash) {
    return absl::DataLossError(absl::StrCat("audit record ", checkpoint.seq, " no longer has the hash its checkpoint signed"));
  }
  // From the signed record itself on: its bytes must still give the hash that was signed.
  absl::StatusOr<std::optional<std::string>> before = tx.AuditHashAt(checkpoint.seq - 1);
  if (!before.ok()) return before.status();
  return VerifyFrom(tx, checkpoint.seq - 1, before->value_or(auditfile::GenesisHash()));
}

}  // namespace kluis::audit
