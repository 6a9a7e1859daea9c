// Reading the audit log: listing and exporting it with its proofs.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "auditfile/export.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/paging.h"
#include "server/vault/vault.h"

namespace kluis::server {

namespace {

// The store's filter for `query` within what `scope` may read, and the words naming it in the
// export's header and record (`words`: since=…, until=…, account=…, actor=…; units come later).
storage::AuditFilter ExportFilter(const AuditQuery& query, const policies::AuditReadScope& scope,
                                  std::vector<std::string>& words) {
  storage::AuditFilter filter;
  if (query.since) {
    filter.since_us = Micros(*query.since);
    words.push_back(absl::StrCat("since=", absl::FormatTime(absl::RFC3339_full, *query.since, absl::UTCTimeZone())));
  }
  if (query.until) {
    filter.until_us = Micros(*query.until);
    words.push_back(absl::StrCat("until=", absl::FormatTime(absl::RFC3339_full, *query.until, absl::UTCTimeZone())));
  }
  if (query.account) words.push_back(absl::StrCat("account=", *query.account));
  if (query.actor) words.push_back(absl::StrCat("actor=", *query.actor));
  filter.account = query.account;
  filter.actor = query.actor;
  if (!scope.everything) filter.units = scope.units;
  filter.limit = 1000;
  return filter;
}

// Streams the records below the export's own record (and the checkpoints on them) to `sink`.
absl::Status StreamPages(storage::Database& db, const AuditExport& head, storage::AuditFilter filter,
                         AuditSink& sink) {
  filter.up_to_seq = head.head_seq - 1;
  // Page by page, each page its own read transaction: the log below the head only grows at its
  // end, so pages stay consistent with each other. The export's own record comes last, always.
  std::string previous = auditfile::GenesisHash();
  int64_t last_seq = 0;
  for (;;) {
    filter.after_seq = last_seq;
    std::vector<storage::AuditRow> page;
    std::vector<storage::CheckpointRow> checkpoints;
    std::vector<std::string> previous_hashes;
    absl::Status read = db.ReadAside([&](Tx& tx) -> absl::Status {
      absl::StatusOr<std::vector<storage::AuditRow>> rows = tx.ListAuditRecords(filter);
      if (!rows.ok()) return rows.status();
      page = *std::move(rows);
      if (page.empty()) return absl::OkStatus();
      absl::StatusOr<std::vector<storage::CheckpointRow>> signed_rows = tx.ListCheckpoints(last_seq, page.back().seq);
      if (!signed_rows.ok()) return signed_rows.status();
      checkpoints = *std::move(signed_rows);
      // A filtered export gives each record the hash before it, which it cannot carry over.
      if (head.filtered) {
        for (const storage::AuditRow& row : page) {
          absl::StatusOr<std::optional<std::string>> before = tx.AuditHashAt(row.seq - 1);
          if (!before.ok()) return before.status();
          previous_hashes.push_back(before->value_or(auditfile::GenesisHash()));
        }
      }
      return absl::OkStatus();
    });
    if (!read.ok()) return read;
    if (page.empty()) break;
    size_t next_checkpoint = 0;
    for (size_t i = 0; i < page.size(); ++i) {
      const storage::AuditRow& row = page[i];
      if (!sink.Record(row, head.filtered ? previous_hashes[i] : previous)) {
        return absl::CancelledError("export stopped by the client");
      }
      previous = row.chain_hash;
      // The checkpoints that fall on this record follow it; in a filtered export only those.
      while (next_checkpoint < checkpoints.size() && checkpoints[next_checkpoint].seq <= row.seq) {
        if (checkpoints[next_checkpoint].seq == row.seq && !sink.Checkpoint(checkpoints[next_checkpoint])) {
          return absl::CancelledError("export stopped by the client");
        }
        ++next_checkpoint;
      }
    }
    last_seq = page.back().seq;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AuditList> Vault::ListAudit(const Caller& caller, const AuditQuery& query) {
  // The audit listing keeps its own larger page (10,000) and pages by sequence number.
  absl::StatusOr<Cursor> cursor = OpenPage(PageRequest{0, query.page_token}, "audit");
  if (!cursor.ok()) return cursor.status();
  const absl::Time now = clock_.Now();
  const policies::AuditReadScope scope = policies::ReadableAudit(caller.policy_bindings, now);
  storage::AuditFilter filter;
  if (query.since) filter.since_us = Micros(*query.since);
  if (query.until) filter.until_us = Micros(*query.until);
  filter.account = query.account;
  filter.actor = query.actor;
  filter.releases_only = query.releases_only;
  const int64_t limit = std::clamp<int64_t>(query.limit <= 0 ? 1000 : query.limit, 1, 10000);
  filter.limit = limit + 1;  // one more than a page: whether there is a next page shows
  if (cursor->position > 0) filter.after_seq = cursor->position;
  if (!scope.everything) filter.units = scope.units;

  AuditList list;
  audit::AuditEvent event = ManagementEvent(caller, "audit-list", "");
  const Decision decision = scope.any() ? Decision{policies::Verdict::kAllow, "sod.auditor-reads",
                                                   policies::Role::kAuditor}
                                        : DeniedBy("deny-by-default");
  NoteDecision(event, decision);
  // Decided first; read on a snapshot so that the writer (and every release) does not wait; the
  // records go out only after the reading is recorded, in a short write of its own.
  absl::Status read = absl::OkStatus();
  if (!decision.allows()) {
    read = DeniedError(decision, "read the audit log (auditors only)");
  } else {
    read = db_->ReadAside([&](Tx& tx) -> absl::Status {
      absl::StatusOr<std::vector<storage::AuditRow>> found = tx.ListAuditRecords(filter);
      if (!found.ok()) return found.status();
      list.records = *std::move(found);
      return absl::OkStatus();
    });
    if (static_cast<int64_t>(list.records.size()) > limit) {
      list.records.pop_back();
      list.next_page_token = PageToken("audit", list.records.back().seq);
    }
  }
  absl::Status done = RunAudited(caller, event, now, [&](Tx&) { return read; });
  if (!done.ok()) return done;
  return list;
}

absl::Status Vault::ExportAudit(const Caller& caller, const AuditQuery& query, AuditSink& sink) {
  const absl::Time now = clock_.Now();
  const policies::AuditReadScope scope = policies::ReadableAudit(caller.policy_bindings, now);
  std::vector<std::string> filters;
  storage::AuditFilter filter = ExportFilter(query, scope, filters);

  AuditExport head;
  const std::shared_ptr<const audit::Checkpointer> checkpointer = this->checkpointer();
  head.public_key = checkpointer->public_key();
  head.exported = now;

  // The export is itself an audit record, and a checkpoint is signed on it. Every export, full or
  // filtered, ends with that record and its checkpoint: the record names the head (its own seq)
  // and the filter, so the unsigned header can be checked against what is signed, and nothing can
  // be cut off the end or relabelled unnoticed (docs/AUDIT_FORMAT.md §4).
  Attempt attempt(ManagementEvent(caller, auditfile::kExportAction, ""), now);
  auto step = [&](Tx& tx, Attempt& self) -> absl::Status {
    // An auditor of some units reads only theirs: the filter names them as people know them.
    std::vector<std::string> named = filters;
    if (!scope.everything) {
      std::vector<std::string> names;
      for (int64_t id : scope.units) {
        absl::StatusOr<std::optional<storage::UnitRow>> unit = tx.FindUnitById(id);
        if (!unit.ok()) return unit.status();
        names.push_back(unit->has_value() ? (*unit)->name : absl::StrCat("#", id));
      }
      named.push_back(absl::StrCat("units=", absl::StrJoin(names, ",")));
    }
    head.filtered = !named.empty();
    head.filter = head.filtered ? absl::StrJoin(named, " ") : "none";
    absl::StatusOr<std::optional<storage::AuditRow>> last = tx.LastAuditRecord();
    if (!last.ok()) return last.status();
    self.event().reason =
        auditfile::ExportRecordReason(last->has_value() ? (*last)->seq + 1 : 1, head.filter);
    const Decision decision = scope.any() ? Decision{policies::Verdict::kAllow, "sod.auditor-reads",
                                                     policies::Role::kAuditor}
                                          : DeniedBy("deny-by-default");
    if (!self.Decide(decision))
      return self.Refuse(DeniedError(decision, "export the audit log (auditors only)"));
    self.CheckpointTheRecord();
    return absl::OkStatus();
  };
  if (absl::Status s = Run(attempt, caller, step); !s.ok()) return s;
  head.head_seq = attempt.recorded_seq();
  if (!sink.Header(head)) return absl::CancelledError("export stopped by the client");

  if (absl::Status s = StreamPages(*db_, head, filter, sink); !s.ok()) return s;
  return ExportClosing(head.head_seq, sink);
}

absl::Status Vault::ExportClosing(int64_t head_seq, AuditSink& sink) {
  storage::AuditFilter own;
  own.after_seq = head_seq - 1;
  own.up_to_seq = head_seq;
  own.limit = 1;
  std::vector<storage::AuditRow> rows;
  std::vector<storage::CheckpointRow> checkpoints;
  std::optional<std::string> before;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::vector<storage::AuditRow>> found = tx.ListAuditRecords(own);
    if (!found.ok()) return found.status();
    rows = *std::move(found);
    absl::StatusOr<std::vector<storage::CheckpointRow>> signed_rows = tx.ListCheckpoints(head_seq - 1, head_seq);
    if (!signed_rows.ok()) return signed_rows.status();
    checkpoints = *std::move(signed_rows);
    absl::StatusOr<std::optional<std::string>> hash = tx.AuditHashAt(head_seq - 1);
    if (!hash.ok()) return hash.status();
    before = *hash;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (rows.size() != 1 || checkpoints.empty() || checkpoints.back().seq != head_seq) {
    return absl::DataLossError(absl::StrCat("the export's own audit record ", head_seq, " or its checkpoint is missing"));
  }
  if (!sink.Record(rows[0], before.value_or(auditfile::GenesisHash())) || !sink.Checkpoint(checkpoints.back())) {
    return absl::CancelledError("export stopped by the client");
  }
  return absl::OkStatus();
}

}  // namespace kluis::server
