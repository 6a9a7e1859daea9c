#ifndef KLUIS_AUDITFILE_EXPORT_H_
#define KLUIS_AUDITFILE_EXPORT_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "auditfile/format.h"

namespace kluis::auditfile {

// The JSON Lines export (docs/AUDIT_FORMAT.md): one flat JSON object per line, of three types.
// Strings hold the record's bytes; '"', '\' and control characters are escaped, nothing else.
// Binary values (canonical bytes, hashes, signatures, the public key) are lowercase hex.

inline constexpr char kExportFormat[] = "kluis-audit-export/1";

struct ExportHeader {
  std::string public_key;  // 32 raw bytes: the key the vault signs checkpoints with
  int64_t exported_us = 0;
  int64_t head_seq = 0;    // the last record in the log when the export began
  std::string filter;      // "none", or what was filtered ("account=x/A since_us=…")
};

std::string HeaderLine(const ExportHeader& header);
// A record with its canonical bytes, the chain hash before it and its own.
std::string RecordLine(const Record& record, absl::string_view previous_hash, absl::string_view hash);
std::string CheckpointLine(const Checkpoint& checkpoint);

// A value of a flat JSON object: a string or an integer.
struct JsonValue {
  bool is_string = false;
  std::string text;
  int64_t number = 0;
};
using JsonObject = std::map<std::string, JsonValue, std::less<>>;

// Parses one flat JSON object of string and integer values (what the lines above are). The error
// names the column.
absl::StatusOr<JsonObject> ParseJsonObject(absl::string_view line);

}  // namespace kluis::auditfile

#endif  // KLUIS_AUDITFILE_EXPORT_H_
