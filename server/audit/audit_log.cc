#include "server/audit/audit_log.h"

#include "absl/strings/str_cat.h"
#include "crypto/hash.h"

namespace kluis::audit {
namespace {

constexpr char kChainTag[] = "kluis/audit/v1";
constexpr unsigned char kFormatVersion = 1;

void PutBigEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void PutField(std::string* out, const std::string& field) {
  PutBigEndian(out, field.size(), 4);
  out->append(field);
}

AuditEvent EventOf(const storage::AuditRow& row) {
  return AuditEvent{row.actor,  row.role,       row.action, row.account, row.decision, row.rule,
                    row.reason, row.request_id, row.peer,   row.outcome, row.unit_id};
}

}  // namespace

std::string CanonicalBytes(int64_t seq, int64_t time_us, const AuditEvent& e) {
  std::string out(1, static_cast<char>(kFormatVersion));
  PutBigEndian(&out, static_cast<uint64_t>(seq), 8);
  PutBigEndian(&out, static_cast<uint64_t>(time_us), 8);
  for (const std::string* field : {&e.actor, &e.role, &e.action, &e.account, &e.decision, &e.rule,
                                   &e.reason, &e.request_id, &e.peer, &e.outcome}) {
    PutField(&out, *field);
  }
  return out;
}

std::string GenesisHash() { return std::string(crypto::Blake2b256::kSize, '\0'); }

std::string ChainHash(const std::string& previous_hash, const std::string& canonical) {
  return crypto::Blake2b256().Update(kChainTag).Update(previous_hash).Update(canonical).Finish();
}

absl::StatusOr<int64_t> Append(storage::Tx& tx, const AuditEvent& event, absl::Time now) {
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
  row.canonical = CanonicalBytes(row.seq, row.time_us, event);
  row.chain_hash =
      ChainHash(last->has_value() ? (*last)->chain_hash : GenesisHash(), row.canonical);
  if (absl::Status s = tx.InsertAuditRecord(row); !s.ok()) {
    return absl::InternalError(absl::StrCat("audit record ", row.seq, " not written: ", s.message()));
  }
  return row.seq;
}

absl::StatusOr<int64_t> VerifyChain(storage::Tx& tx) {
  std::string previous = GenesisHash();
  int64_t expected_seq = 1;
  storage::AuditFilter page_filter;
  page_filter.limit = 10000;
  for (;;) {
    page_filter.after_seq = expected_seq - 1;
    absl::StatusOr<std::vector<storage::AuditRow>> page = tx.ListAuditRecords(page_filter);
    if (!page.ok()) return page.status();
    if (page->empty()) return expected_seq - 1;
    for (const storage::AuditRow& row : *page) {
      if (row.seq != expected_seq) {
        return absl::DataLossError(absl::StrCat("audit record ", expected_seq, " is missing"));
      }
      if (row.canonical != CanonicalBytes(row.seq, row.time_us, EventOf(row)) ||
          row.chain_hash != ChainHash(previous, row.canonical)) {
        return absl::DataLossError(
            absl::StrCat("audit record ", row.seq, " does not match the chain"));
      }
      previous = row.chain_hash;
      ++expected_seq;
    }
  }
}

}  // namespace kluis::audit
