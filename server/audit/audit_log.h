#ifndef KLUIS_SERVER_AUDIT_AUDIT_LOG_H_
#define KLUIS_SERVER_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auditfile/format.h"
#include "crypto/signing.h"
#include "server/storage/rows.h"

namespace kluis::storage {
class Tx;
}  // namespace kluis::storage

namespace kluis::audit {

// What happened, as the vault core describes it. Never a secret, nor a hash of one.
struct AuditEvent {
  std::string actor;       // user name from the verified certificate, or the claimed enrollee
  std::string role;        // the role the decision was taken under, or "" when none applied
  std::string action;      // e.g. "release", "set-password", "enroll", "grant-role"
  std::string account;     // PLATFORM/HANDLE as asked for, or ""
  std::string decision;    // "allow" or "deny"
  std::string rule;        // the id of the rule that decided
  std::string reason;      // the caller's stated reason, or the refusal's explanation
  std::string request_id;  // access request id, when one was used
  std::string peer;        // the caller's network address
  std::string outcome;     // "ok" or the error code name
  std::optional<int64_t> unit_id;  // the unit the account or object belongs to, for scoping reads
  std::string certificate;  // SHA-256 fingerprint (hex) of the certificate the call presented, or ""
};

// The record as the export format sees it (auditfile/format.h: the canonical bytes and chain).
auditfile::Record RecordOf(const storage::AuditRow& row);

// Signs checkpoints {seq, chain hash, time} with the vault's Ed25519 key (derived from the root
// key): on every `every_records`-th record since the last checkpoint, or on the first record
// after `every` has passed since it. Immutable once made; thread-safe.
class Checkpointer {
 public:
  Checkpointer(crypto::Ed25519Signer signer, int64_t every_records, absl::Duration every)
      : signer_(std::move(signer)), every_records_(every_records), every_(every) {}

  const std::string& public_key() const { return signer_.public_key(); }
  // Inside the transaction that appended `row`: signs a checkpoint on it when one is due, or
  // always with `force` (an export closes on a checkpoint).
  absl::Status AfterAppend(storage::Tx& tx, const storage::AuditRow& row, bool force) const;

 private:
  crypto::Ed25519Signer signer_;
  int64_t every_records_;
  absl::Duration every_;
};

// Appends `event` as the next record of the chain, inside the caller's write transaction: the
// record commits (durably: synchronous=FULL) together with the change it describes, or neither
// does; so does its checkpoint, when one is due. Returns the record's sequence number. Any failure
// must fail the caller's operation.
absl::StatusOr<int64_t> Append(storage::Tx& tx, const AuditEvent& event, absl::Time now,
                               const Checkpointer* checkpointer = nullptr, bool force_checkpoint = false);

// Recomputes the whole chain from the first record. Returns the number of records checked, or
// kDataLoss naming the first record whose bytes or hash do not match.
absl::StatusOr<int64_t> VerifyChain(storage::Tx& tx);

// What the server checks before it serves: the last checkpoint's signature under `public_key`,
// that the record it names still has the signed hash, and the chain from there to the end (from
// the first record when there is no checkpoint yet). kDataLoss names the break.
absl::StatusOr<int64_t> VerifyFromLastCheckpoint(storage::Tx& tx, absl::string_view public_key);

}  // namespace kluis::audit

#endif  // KLUIS_SERVER_AUDIT_AUDIT_LOG_H_
