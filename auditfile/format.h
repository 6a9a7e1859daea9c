#ifndef KLUIS_AUDITFILE_FORMAT_H_
#define KLUIS_AUDITFILE_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace kluis::auditfile {

// The byte layout of the audit log, shared by the vault that writes it (server/audit) and by
// everyone who checks it (kluis audit verify). docs/AUDIT_FORMAT.md is the same text for people
// who write their own verifier; the two must never differ.

// The record layout the vault writes now. Version 1 (until issue 16) has the ten text fields;
// version 2 adds an eleventh, the fingerprint of the certificate the call presented. A log that
// was started before keeps its version 1 records: each record's first canonical byte says which.
inline constexpr int kRecordVersion = 2;

// One audit record's fields, in canonical order after seq and time.
struct Record {
  int64_t seq = 0;
  int64_t time_us = 0;  // microseconds since the Unix epoch, UTC
  std::string actor, role, action, account, decision, rule, reason, request_id, peer, outcome;
  std::string certificate;  // version 2: SHA-256 of the presented certificate (hex), or empty
  int version = kRecordVersion;
};

// A signed statement that the chain up to record `seq` had hash `chain_hash` at `time_us`.
struct Checkpoint {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::string chain_hash;  // 32 raw bytes
  std::string signature;   // 64 raw bytes, Ed25519
};

// version (1 byte) ‖ seq (u64 BE) ‖ time_us (i64 BE, two's complement) ‖ for each of the ten text
// fields, and in version 2 the certificate after them: length (u32 BE) ‖ bytes.
std::string CanonicalBytes(const Record& record);

// h_0 = 32 zero bytes; h_i = BLAKE2b-256("kluis/audit/v1" ‖ h_{i-1} ‖ canonical_i).
std::string GenesisHash();
std::string ChainHash(absl::string_view previous_hash, absl::string_view canonical);

// What a checkpoint signs: "kluis/audit-checkpoint/v1" ‖ seq (u64 BE) ‖ chain_hash (32 bytes)
// ‖ time_us (i64 BE).
std::string CheckpointMessage(int64_t seq, absl::string_view chain_hash, int64_t time_us);

}  // namespace kluis::auditfile

#endif  // KLUIS_AUDITFILE_FORMAT_H_
