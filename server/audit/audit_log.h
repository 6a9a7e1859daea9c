#ifndef KLUIS_SERVER_AUDIT_AUDIT_LOG_H_
#define KLUIS_SERVER_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/storage/tx.h"

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
};

// The canonical bytes of record `seq` (docs/SECURITY.md, "Audit chain"):
//   0x01 (format version) ‖ seq (u64, big-endian) ‖ time (i64 µs since epoch, big-endian)
//   ‖ for actor, role, action, account, decision, rule, reason, request_id, peer, outcome:
//       length (u32, big-endian) ‖ UTF-8 bytes
std::string CanonicalBytes(int64_t seq, int64_t time_us, const AuditEvent& event);

// h_i = BLAKE2b-256("kluis/audit/v1" ‖ h_{i-1} ‖ canonical_i), with h_0 = 32 zero bytes.
std::string ChainHash(const std::string& previous_hash, const std::string& canonical);
std::string GenesisHash();

// Appends `event` as the next record of the chain, inside the caller's write transaction: the
// record commits (durably: synchronous=FULL) together with the change it describes, or neither
// does. Returns the record's sequence number. Any failure must fail the caller's operation.
absl::StatusOr<int64_t> Append(storage::Tx& tx, const AuditEvent& event, absl::Time now);

// Recomputes the chain from the first record. Returns the number of records checked, or
// kDataLoss naming the first record whose bytes or hash do not match.
absl::StatusOr<int64_t> VerifyChain(storage::Tx& tx);

}  // namespace kluis::audit

#endif  // KLUIS_SERVER_AUDIT_AUDIT_LOG_H_
