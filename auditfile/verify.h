#ifndef KLUIS_AUDITFILE_VERIFY_H_
#define KLUIS_AUDITFILE_VERIFY_H_

#include <cstdint>
#include <istream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kluis::auditfile {

struct Verification {
  int64_t records = 0;
  int64_t checkpoints = 0;
  int64_t first_seq = 0, last_seq = 0;
  bool filtered = false;  // each record checked on its own; completeness is not proven
  std::string filter;     // "none", or what the export left out (proven by its own signed record)
  int64_t head_seq = 0;   // the export's own record, where the log stood when it began
};

// Checks a JSON Lines export (format kluis-audit-export/2) offline against the vault's checkpoint
// public key (32 raw bytes), reading it once, line by line, each line at most kMaxLineBytes: memory
// stays flat in the size of the export. docs/AUDIT_FORMAT.md §4 lists every check.
//
// Every line must be exactly as Kluis writes it (no blank lines, no unknown keys, keys in order,
// lowercase hex, integers). The header's public key must be the trusted one. Every export, full
// or filtered, must end with its own record (seq = the header's head_seq, action audit-export,
// reason naming the head and the header's filter) and the checkpoint signed on it: so the unsigned
// header is bound to what is signed, and nothing can be cut off the end. A full export must also
// hold every record from 1 on, in order, each with the canonical bytes of its fields and the chain
// hash that follows from its predecessor's. A filtered export is checked record by record (fields,
// canonical bytes, hash from the given previous hash; neighbours that follow each other must
// link) and on the checkpoints it holds: it cannot prove that no matching record was left out.
//
// On the first problem: kDataLoss naming the line, record or checkpoint ("record 17 was
// modified: …"), or kInvalidArgument for a file that is not an export at all.
absl::StatusOr<Verification> VerifyExport(std::istream& in, absl::string_view public_key);

}  // namespace kluis::auditfile

#endif  // KLUIS_AUDITFILE_VERIFY_H_
