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
};

// Checks a JSON Lines export offline against the vault's checkpoint public key (32 raw bytes),
// reading it once, line by line: memory stays flat in the size of the export.
//
// A full export must hold every record from 1 on, in order, each with the canonical bytes of its
// fields and the chain hash that follows from its predecessor's, and must end with a checkpoint
// on its last record; every checkpoint's signature must verify. A filtered export is checked
// record by record (fields, canonical bytes, hash from the given previous hash; neighbours that
// follow each other must link) and on the checkpoints it holds.
//
// On the first problem: kDataLoss naming the record or checkpoint ("record 17 was modified: …"),
// or kInvalidArgument for a file that is not an export at all.
absl::StatusOr<Verification> VerifyExport(std::istream& in, absl::string_view public_key);

}  // namespace kluis::auditfile

#endif  // KLUIS_AUDITFILE_VERIFY_H_
