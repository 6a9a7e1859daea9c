#ifndef KLUIS_AUDITFILE_EXPORT_H_
#define KLUIS_AUDITFILE_EXPORT_H_

#include <cstdint>
#include <utility>
#include <vector>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "auditfile/format.h"

namespace kluis::auditfile {

// The JSON Lines export (docs/AUDIT_FORMAT.md): one flat JSON object per line, of three types.
// Strings hold the record's bytes; '"', '\' and control characters are escaped, nothing else.
// Binary values (canonical bytes, hashes, signatures, the public key) are lowercase hex.

// Version 2 (issue 16): every export, full or filtered, ends with its own audit record and the
// signed checkpoint on it, and the verifier holds the unsigned header to them. Version 1 exports
// are refused: their header could be relabelled (docs/AUDIT_FORMAT.md §4).
inline constexpr char kExportFormat[] = "kluis-audit-export/2";
// The action of the export's own record, and its reason: what the export holds, signed with it.
inline constexpr char kExportAction[] = "audit-export";
std::string ExportRecordReason(int64_t head_seq, absl::string_view filter);
// The longest line a verifier reads; a longer one is refused without being held in memory.
inline constexpr size_t kMaxLineBytes = 64 * 1024;

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
// The members of one flat object, in the order read. A handful of keys: a vector searched in
// order is faster than a map here, and a million lines are read in a verification.
class JsonObject {
 public:
  const JsonValue* Find(absl::string_view key) const {
    for (const auto& [k, v] : members_) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  // The value of `key`, or an empty one when it is missing.
  const JsonValue& at(absl::string_view key) const {
    static const JsonValue kMissing;
    const JsonValue* v = Find(key);
    return v != nullptr ? *v : kMissing;
  }
  JsonValue& operator[](absl::string_view key) {
    for (auto& [k, v] : members_) {
      if (k == key) return v;
    }
    return members_.emplace_back(std::string(key), JsonValue()).second;
  }
  // False when the key is there already.
  bool Add(std::string key, JsonValue value) {
    if (Find(key) != nullptr) return false;
    members_.emplace_back(std::move(key), std::move(value));
    return true;
  }
  size_t size() const { return members_.size(); }

 private:
  std::vector<std::pair<std::string, JsonValue>> members_;
};

// Parses one flat JSON object of string and integer values (what the lines above are). The error
// names the column.
absl::StatusOr<JsonObject> ParseJsonObject(absl::string_view line);

}  // namespace kluis::auditfile

#endif  // KLUIS_AUDITFILE_EXPORT_H_
