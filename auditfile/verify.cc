#include "auditfile/verify.h"

#include <array>
#include <istream>
#include <cstring>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "auditfile/export.h"
#include "auditfile/format.h"
#include "crypto/hash.h"
#include "crypto/signing.h"

namespace kluis::auditfile {
namespace {

// Hex of public data (hashes, canonical bytes, signatures) by table: libsodium's decoder is
// constant-time, which secrets need and a million audit lines pay for dearly.
bool DecodeHex(absl::string_view hex, std::string* out) {
  static const auto* table = [] {
    auto* t = new std::array<int8_t, 256>;
    t->fill(-1);
    for (int c = 0; c < 10; ++c) (*t)['0' + c] = static_cast<int8_t>(c);
    for (int c = 0; c < 6; ++c) (*t)['a' + c] = static_cast<int8_t>(10 + c);  // lowercase only: one syntax
    return t;
  }();
  if (hex.size() % 2 != 0) return false;
  out->resize(hex.size() / 2);
  for (size_t i = 0; i < out->size(); ++i) {
    const int8_t high = (*table)[static_cast<unsigned char>(hex[2 * i])];
    const int8_t low = (*table)[static_cast<unsigned char>(hex[2 * i + 1])];
    if (high < 0 || low < 0) return false;
    (*out)[i] = static_cast<char>((high << 4) | low);
  }
  return true;
}

// Reads the fields a line must have; every problem names the line.
class Fields {
 public:
  Fields(const JsonObject& object, int64_t line) : object_(object), line_(line) {}

  absl::StatusOr<std::string> Text(absl::string_view key) const {
    const JsonValue* v = object_.Find(key);
    if (v == nullptr || !v->is_string) return Missing(key);
    return v->text;
  }
  absl::StatusOr<std::string> Bytes(absl::string_view key) const {
    const JsonValue* v = object_.Find(key);
    if (v == nullptr || !v->is_string) return Missing(key);
    std::string bytes;
    if (!DecodeHex(v->text, &bytes)) {
      return absl::DataLossError(absl::StrCat("line ", line_, ": \"", key, "\" is not hex"));
    }
    return bytes;
  }
  absl::StatusOr<int64_t> Number(absl::string_view key) const {
    const JsonValue* v = object_.Find(key);
    if (v == nullptr || v->is_string) return Missing(key);
    return v->number;
  }

 private:
  absl::Status Missing(absl::string_view key) const {
    return absl::DataLossError(absl::StrCat("line ", line_, ": \"", key, "\" is missing"));
  }
  const JsonObject& object_;
  int64_t line_;
};

absl::StatusOr<Record> ReadRecord(const Fields& f) {
  Record r;
  absl::StatusOr<int64_t> seq = f.Number("seq");
  if (!seq.ok()) return seq.status();
  absl::StatusOr<int64_t> time = f.Number("time_us");
  if (!time.ok()) return time.status();
  r.seq = *seq;
  r.time_us = *time;
  const std::pair<const char*, std::string*> texts[] = {
      {"actor", &r.actor},           {"role", &r.role},     {"action", &r.action}, {"account", &r.account},
      {"decision", &r.decision},     {"rule", &r.rule},     {"reason", &r.reason},
      {"request_id", &r.request_id}, {"peer", &r.peer},     {"outcome", &r.outcome}};
  for (auto [key, field] : texts) {
    absl::StatusOr<std::string> value = f.Text(key);
    if (!value.ok()) return value.status();
    *field = *std::move(value);
  }
  // A version 2 record names the certificate; a version 1 record's line has no such key.
  absl::StatusOr<std::string> certificate = f.Text("certificate");
  r.version = certificate.ok() ? 2 : 1;
  if (certificate.ok()) r.certificate = *std::move(certificate);
  return r;
}

// A record line exactly as RecordLine writes it — the members in its order, no escapes, no spaces —
// read in one pass without building an object: most of a verification's time went into the
// general parser. Whatever it accepts, ParseJsonObject would read the same way; anything else
// (escaped text, another order, a hand-edited line) returns false and takes the general path.
struct ScannedRecord {
  Record record;
  absl::string_view canonical, previous, hash;  // hex, into the line
};

class RecordScanner {
 public:
  explicit RecordScanner(absl::string_view line) : rest_(line) {}

  bool Scan(ScannedRecord* out) {
    Record& r = out->record;
    return Literal("{\"type\":\"record\",\"seq\":") && Number(&r.seq) && Literal(",\"time_us\":") &&
           Number(&r.time_us) && Text(",\"actor\":\"", &r.actor) && Text(",\"role\":\"", &r.role) &&
           Text(",\"action\":\"", &r.action) && Text(",\"account\":\"", &r.account) &&
           Text(",\"decision\":\"", &r.decision) && Text(",\"rule\":\"", &r.rule) &&
           Text(",\"reason\":\"", &r.reason) && Text(",\"request_id\":\"", &r.request_id) &&
           Text(",\"peer\":\"", &r.peer) && Text(",\"outcome\":\"", &r.outcome) && Certificate(&r) &&
           View(",\"canonical\":\"", &out->canonical) && View(",\"prev_hash\":\"", &out->previous) &&
           View(",\"hash\":\"", &out->hash) && Literal("}") && rest_.empty();
  }

 private:
  bool Literal(absl::string_view text) { return absl::ConsumePrefix(&rest_, text); }
  bool Number(int64_t* out) {
    size_t n = 0;
    while (n < rest_.size() && rest_[n] >= '0' && rest_[n] <= '9') ++n;
    if (n == 0 || (n > 1 && rest_[0] == '0') || !absl::SimpleAtoi(rest_.substr(0, n), out)) return false;
    rest_.remove_prefix(n);
    return true;
  }
  // Version 2 has the certificate after the outcome; version 1 goes on to the canonical bytes.
  bool Certificate(Record* r) {
    r->version = absl::StartsWith(rest_, ",\"certificate\":\"") ? 2 : 1;
    r->certificate.clear();
    return r->version == 1 || Text(",\"certificate\":\"", &r->certificate);
  }
  // The text up to the closing quote, which must come before any backslash.
  bool View(absl::string_view key, absl::string_view* out) {
    if (!Literal(key)) return false;
    const void* quote = std::memchr(rest_.data(), '"', rest_.size());
    if (quote == nullptr) return false;
    const size_t n = static_cast<size_t>(static_cast<const char*>(quote) - rest_.data());
    if (std::memchr(rest_.data(), '\\', n) != nullptr) return false;
    *out = rest_.substr(0, n);
    rest_.remove_prefix(n + 1);
    return true;
  }
  bool Text(absl::string_view key, std::string* out) {
    absl::string_view text;
    if (!View(key, &text)) return false;
    out->assign(text.data(), text.size());
    return true;
  }

  absl::string_view rest_;
};

// Reads one line at a time, at most kMaxLineBytes of it: a longer line is refused without being
// held, so memory stays flat whatever the file holds.
class LineReader {
 public:
  explicit LineReader(std::istream& in) : in_(in), buffer_(kMaxLineBytes + 2, '\0') {}

  // False at the end of the file. A problem (too long, no final newline) is in `error`.
  bool Next(absl::string_view* line, int64_t line_no, absl::Status* error) {
    if (in_.peek() == std::char_traits<char>::eof()) return false;
    in_.getline(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    const std::streamsize got = in_.gcount();
    if (in_.fail() && !in_.eof()) {
      *error = absl::DataLossError(absl::StrCat("line ", line_no, " is longer than ", kMaxLineBytes, " bytes"));
      return true;
    }
    if (in_.eof()) {
      *error = absl::DataLossError(absl::StrCat("line ", line_no, " does not end in a newline (cut off?)"));
      return true;
    }
    const size_t size = static_cast<size_t>(got) - 1;  // the newline is counted, not kept
    if (size > kMaxLineBytes) {
      *error = absl::DataLossError(absl::StrCat("line ", line_no, " is longer than ", kMaxLineBytes, " bytes"));
      return true;
    }
    *line = absl::string_view(buffer_.data(), size);
    return true;
  }

 private:
  std::istream& in_;
  std::string buffer_;
};

template <typename... Parts>
absl::Status Bad(const Parts&... parts) {
  return absl::DataLossError(absl::StrCat(parts...));
}

absl::Status NotAnExport(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("not a Kluis audit export (", kExportFormat, "): ", why));
}

// The header (line 1). Unsigned: everything it says is held to the export's own signed record.
absl::StatusOr<ExportHeader> ReadHeader(absl::string_view line, absl::string_view public_key) {
  absl::StatusOr<JsonObject> object = ParseJsonObject(line);
  if (!object.ok()) return NotAnExport("the first line is no JSON object");
  const Fields f(*object, 1);
  absl::StatusOr<std::string> type = f.Text("type");
  absl::StatusOr<std::string> format = f.Text("format");
  if (!type.ok() || *type != "header" || !format.ok()) return NotAnExport("the first line is no header");
  if (*format == "kluis-audit-export/1") {
    return absl::InvalidArgumentError(
        "kluis-audit-export/1 is no longer accepted: its header is not bound to anything signed; export again");
  }
  if (*format != kExportFormat) return NotAnExport(absl::StrCat("unknown format \"", *format, "\""));
  absl::StatusOr<std::string> key = f.Bytes("public_key");
  absl::StatusOr<int64_t> exported = f.Number("exported_us");
  absl::StatusOr<int64_t> head_seq = f.Number("head_seq");
  absl::StatusOr<std::string> filter = f.Text("filter");
  for (const absl::Status& s : {key.status(), exported.status(), head_seq.status(), filter.status()}) {
    if (!s.ok()) return s;
  }
  ExportHeader header{*key, *exported, *head_seq, *filter};
  if (HeaderLine(header) != absl::StrCat(line, "\n")) return Bad("line 1 is not in the export's canonical form");
  if (header.public_key != public_key) {
    return Bad("the header names another public key than the one you trust: not an export of this vault, "
               "or the header was changed");
  }
  if (header.head_seq < 1) return Bad("the header's head_seq is ", header.head_seq, ": no export ends before record 1");
  return header;
}

// The chain as the lines after the header build it: every record against the one before it,
// every checkpoint against the key and the records, and at the end the export's own record and
// checkpoint against the header.
class ChainCheck {
 public:
  ChainCheck(absl::string_view public_key, const ExportHeader& header) : public_key_(public_key), header_(header) {
    v_.filtered = header.filter != "none";
    v_.filter = header.filter;
    v_.head_seq = header.head_seq;
  }

  // One line after the header (`line_no` for the messages).
  absl::Status Line(absl::string_view line, int64_t line_no) {
    line_no_ = line_no;
    if (line.empty()) return Bad("line ", line_no, " is blank");
    if (RecordScanner(line).Scan(&scanned_)) {
      return CheckRecord(scanned_.record, scanned_.canonical, scanned_.previous, scanned_.hash);
    }
    // Anything the one-pass reader does not take is parsed in full, checked, and must then read
    // back exactly as Kluis writes it: one syntax, no unknown keys, no other order or escapes.
    absl::StatusOr<JsonObject> object = ParseJsonObject(line);
    if (!object.ok()) return Bad("line ", line_no, " is not a JSON object (", object.status().message(), ")");
    const Fields f(*object, line_no);
    absl::StatusOr<std::string> type = f.Text("type");
    if (!type.ok()) return type.status();
    absl::StatusOr<std::string> rewritten;
    if (*type == "record") {
      rewritten = FullRecord(f);
    } else if (*type == "checkpoint") {
      rewritten = Checkpoint(f);
    } else if (*type == "header") {
      return Bad("line ", line_no, ": a second header");
    } else {
      return Bad("line ", line_no, ": unknown line type \"", *type, "\"");
    }
    if (!rewritten.ok()) return rewritten.status();
    if (*rewritten != absl::StrCat(line, "\n")) {
      return Bad("line ", line_no, " is not in the export's canonical form (keys, their order, escapes, lowercase "
                 "hex, integers: exactly as docs/AUDIT_FORMAT.md §3 writes them)");
    }
    return absl::OkStatus();
  }

  // Every export ends with its own record and the checkpoint on it; the header must agree with them.
  absl::StatusOr<Verification> Closing() {
    if (v_.records == 0) {
      return Bad("the export holds no records: it must end with its own record ", header_.head_seq,
                 " and the checkpoint signed on it");
    }
    if (last_seq_ != header_.head_seq) {
      return Bad("the export ends at record ", last_seq_, ", not at its own record ", header_.head_seq,
                 ": records were cut off (or the header's head_seq was changed)");
    }
    if (protected_seq_ != header_.head_seq) {
      return Bad("records ", protected_seq_ + 1, " to ", last_seq_, " come after the last checkpoint (record ",
                 protected_seq_, "): an unprotected tail; the export's closing checkpoint is missing");
    }
    if (last_.action != kExportAction || last_.decision != "allow" || last_.outcome != "ok" ||
        last_.reason != ExportRecordReason(header_.head_seq, header_.filter)) {
      return Bad("the export's own record ", header_.head_seq, " (signed) says \"", last_.action, ": ", last_.reason,
                 "\", which does not match the header (filter \"", header_.filter,
                 "\"): the header was changed, or this is not how the export ended");
    }
    v_.last_seq = last_seq_;
    return v_;
  }

 private:
  // Checks one record against the one before it and moves on to it.
  absl::Status CheckRecord(const Record& record, absl::string_view canonical_hex, absl::string_view previous_hex,
                           absl::string_view hash_hex) {
    const int64_t seq = record.seq;
    if (protected_seq_ == header_.head_seq) return Bad("line ", line_no_, " follows the export's closing checkpoint");
    if (seq > header_.head_seq) {
      return Bad("record ", seq, " is past the export's head (record ", header_.head_seq, ")");
    }
    // A full export has every record in turn; a filtered one only some, in order.
    if (!v_.filtered && seq > last_seq_ + 1) {
      return Bad("record ", last_seq_ + 1, " is missing (deleted): the next is ", seq);
    }
    if (v_.filtered ? seq <= last_seq_ : seq != last_seq_ + 1) {
      return Bad("record ", seq, " is out of place after record ", last_seq_, " (reordered or inserted)");
    }
    for (auto [key, hex, bytes] : {std::tuple{"canonical", canonical_hex, &canonical_},
                                   std::tuple{"prev_hash", previous_hex, &previous_},
                                   std::tuple{"hash", hash_hex, &own_hash_}}) {
      if (!DecodeHex(hex, bytes)) return Bad("line ", line_no_, ": \"", key, "\" is not lowercase hex");
    }
    if (canonical_ != CanonicalBytes(record)) {
      return Bad("record ", seq, " was modified: its fields do not match its canonical bytes");
    }
    const bool follows = v_.records > 0 ? seq == last_seq_ + 1 : !v_.filtered;
    if (follows && previous_ != last_hash_) {
      return Bad("record ", seq, " does not follow record ", last_seq_,
                 ": the chain is broken (a record was inserted, reordered or altered)");
    }
    if (own_hash_ != ChainHash(previous_, canonical_)) {
      return Bad("record ", seq, " was modified: its chain hash does not match its bytes");
    }
    if (v_.records == 0) v_.first_seq = seq;
    ++v_.records;
    last_seq_ = seq;
    last_hash_ = own_hash_;
    last_ = record;
    return absl::OkStatus();
  }

  // A record line the one-pass reader did not take: checked, and written back as Kluis writes it.
  absl::StatusOr<std::string> FullRecord(const Fields& f) {
    absl::StatusOr<Record> record = ReadRecord(f);
    if (!record.ok()) return record.status();
    std::string hex[3];
    for (int i = 0; const char* key : {"canonical", "prev_hash", "hash"}) {
      absl::StatusOr<std::string> text = f.Text(key);
      if (!text.ok()) return text.status();
      hex[i++] = *std::move(text);
    }
    if (absl::Status s = CheckRecord(*record, hex[0], hex[1], hex[2]); !s.ok()) return s;
    return RecordLine(*record, previous_, own_hash_);
  }

  // A checkpoint line: signed by the trusted key, on the record just read, with its chain hash.
  absl::StatusOr<std::string> Checkpoint(const Fields& f) {
    absl::StatusOr<int64_t> seq = f.Number("seq");
    if (!seq.ok()) return seq.status();
    absl::StatusOr<int64_t> time = f.Number("time_us");
    if (!time.ok()) return time.status();
    absl::StatusOr<std::string> hash = f.Bytes("hash");
    if (!hash.ok()) return hash.status();
    absl::StatusOr<std::string> signature = f.Bytes("signature");
    if (!signature.ok() || signature->empty()) return Bad("checkpoint at record ", *seq, " has no signature");
    if (protected_seq_ == header_.head_seq) return Bad("line ", line_no_, " follows the export's closing checkpoint");
    if (*seq > last_seq_) {
      return Bad("checkpoint at record ", *seq, " names a record that is not in the export: records ",
                 last_seq_ + 1, " to ", *seq, " were cut off");
    }
    if (*seq != last_seq_) return Bad("checkpoint at record ", *seq, " is out of place after record ", last_seq_);
    if (!crypto::Ed25519Verify(public_key_, CheckpointMessage(*seq, *hash, *time), *signature)) {
      return Bad("checkpoint at record ", *seq,
                 ": the signature does not verify with the given public key (forged checkpoint or wrong key)");
    }
    if (*hash != last_hash_) {
      return Bad("checkpoint at record ", *seq,
                 ": the signed chain hash differs from the records' (records up to ", *seq, " were altered)");
    }
    ++v_.checkpoints;
    protected_seq_ = *seq;
    return CheckpointLine({*seq, *time, *hash, *signature});
  }

  const std::string public_key_;
  const ExportHeader header_;
  Verification v_;
  int64_t line_no_ = 1;
  // The last record read: its sequence number, chain hash and what the closing checks need.
  int64_t last_seq_ = 0;
  std::string last_hash_ = GenesisHash();
  Record last_;
  int64_t protected_seq_ = 0;  // the last record a verified checkpoint covers
  std::string canonical_, previous_, own_hash_;  // decoded, reused from line to line
  ScannedRecord scanned_;
};

}  // namespace

absl::StatusOr<Verification> VerifyExport(std::istream& in, absl::string_view public_key) {
  if (public_key.size() != crypto::Ed25519Signer::kPublicKeySize) {
    return absl::InvalidArgumentError(absl::StrCat("the public key must be ", crypto::Ed25519Signer::kPublicKeySize,
                                                   " bytes (64 hex characters), got ", public_key.size()));
  }
  LineReader reader(in);
  absl::string_view line;
  absl::Status line_error;
  int64_t line_no = 1;
  if (!reader.Next(&line, line_no, &line_error)) return NotAnExport("empty");
  if (!line_error.ok()) return NotAnExport(line_error.message());
  absl::StatusOr<ExportHeader> header = ReadHeader(line, public_key);
  if (!header.ok()) return header.status();
  ChainCheck chain(public_key, *header);
  while (reader.Next(&line, ++line_no, &line_error)) {
    if (!line_error.ok()) return line_error;
    if (absl::Status s = chain.Line(line, line_no); !s.ok()) return s;
  }
  if (!line_error.ok()) return line_error;
  return chain.Closing();
}

}  // namespace kluis::auditfile
