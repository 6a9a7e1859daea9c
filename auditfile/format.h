#ifndef KLUIS_AUDITFILE_FORMAT_H_
#define KLUIS_AUDITFILE_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace kluis::auditfile {

// The byte layout of the audit log, shared by the vault that writes it (server/audit) and by
// everyone who checks it (kluis audit verify). docs/AUDIT_FORMAT.md is the same text for people
// who write their own verifier; the two must never differ.

// One audit record's fields, in canonical order after seq and time.
struct Record {
  int64_t seq = 0;
  int64_t time_us = 0;  // microseconds since the Unix epoch, UTC
  std::string actor, role, action, account, decision, rule, reason, request_id, peer, outcome;
};

// A signed statement that the chain up to record `seq` had hash `chain_hash` at `time_us`.
struct Checkpoint {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::string chain_hash;  // 32 raw bytes
  std::string signature;   // 64 raw bytes, Ed25519
};

// 0x01 ‖ seq (u64 BE) ‖ time_us (i64 BE, two's complement) ‖ for each of the ten text fields:
// length (u32 BE) ‖ bytes.
std::string CanonicalBytes(const Record& record);

// h_0 = 32 zero bytes; h_i = BLAKE2b-256("kluis/audit/v1" ‖ h_{i-1} ‖ canonical_i).
std::string GenesisHash();
std::string ChainHash(absl::string_view previous_hash, absl::string_view canonical);

// What a checkpoint signs: "kluis/audit-checkpoint/v1" ‖ seq (u64 BE) ‖ chain_hash (32 bytes)
// ‖ time_us (i64 BE).
std::string CheckpointMessage(int64_t seq, absl::string_view chain_hash, int64_t time_us);

}  // namespace kluis::auditfile

#endif  // KLUIS_AUDITFILE_FORMAT_H_
