#include "auditfile/export.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crypto/hash.h"

namespace kluis::auditfile {
namespace {

// Builds one flat object, keys in the order added.
class Writer {
 public:
  Writer& Text(absl::string_view key, absl::string_view value) {
    Key(key);
    out_.push_back('"');
    for (unsigned char c : value) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            static constexpr char kHex[] = "0123456789abcdef";
            out_ += "\\u00";
            out_.push_back(kHex[c >> 4]);
            out_.push_back(kHex[c & 0xf]);
          } else {
            out_.push_back(static_cast<char>(c));
          }
      }
    }
    out_.push_back('"');
    return *this;
  }
  Writer& Hex(absl::string_view key, absl::string_view bytes) { return Text(key, crypto::HexEncode(bytes)); }
  Writer& Number(absl::string_view key, int64_t value) {
    Key(key);
    absl::StrAppend(&out_, value);
    return *this;
  }
  std::string Finish() { return out_ + "}\n"; }

 private:
  void Key(absl::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    absl::StrAppend(&out_, "\"", key, "\":");
  }
  std::string out_ = "{";
  bool first_ = true;
};

}  // namespace

std::string ExportRecordReason(int64_t head_seq, absl::string_view filter) {
  return absl::StrCat(kExportFormat, " head=", head_seq, " filter=", filter);
}

std::string HeaderLine(const ExportHeader& h) {
  return Writer()
      .Text("type", "header")
      .Text("format", kExportFormat)
      .Hex("public_key", h.public_key)
      .Number("exported_us", h.exported_us)
      .Number("head_seq", h.head_seq)
      .Text("filter", h.filter)
      .Finish();
}

std::string RecordLine(const Record& r, absl::string_view previous_hash, absl::string_view hash) {
  Writer line;
  line.Text("type", "record")
      .Number("seq", r.seq)
      .Number("time_us", r.time_us)
      .Text("actor", r.actor)
      .Text("role", r.role)
      .Text("action", r.action)
      .Text("account", r.account)
      .Text("decision", r.decision)
      .Text("rule", r.rule)
      .Text("reason", r.reason)
      .Text("request_id", r.request_id)
      .Text("peer", r.peer)
      .Text("outcome", r.outcome);
  // A version 1 record has no certificate, and its line no such key.
  if (r.version >= 2) line.Text("certificate", r.certificate);
  return line.Hex("canonical", CanonicalBytes(r)).Hex("prev_hash", previous_hash).Hex("hash", hash).Finish();
}

std::string CheckpointLine(const Checkpoint& c) {
  return Writer()
      .Text("type", "checkpoint")
      .Number("seq", c.seq)
      .Number("time_us", c.time_us)
      .Hex("hash", c.chain_hash)
      .Hex("signature", c.signature)
      .Finish();
}

namespace {

// Appends the UTF-8 bytes of the code point `code`.
void AppendUtf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
  } else if (code < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (code >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
  }
}

// Reads one line of JSON from left to right; every error names the column it stopped at.
class JsonReader {
 public:
  explicit JsonReader(absl::string_view line) : line_(line) {}

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("column ", i_ + 1, ": ", what));
  }
  void SkipSpace() {
    while (i_ < line_.size() &&
           (line_[i_] == ' ' || line_[i_] == '\t' || line_[i_] == '\r' || line_[i_] == '\n'))
      ++i_;
  }
  // True (and past it) when the next character is `c`.
  bool Take(char c) {
    if (i_ >= line_.size() || line_[i_] != c) return false;
    ++i_;
    return true;
  }
  bool Peek(char c) const { return i_ < line_.size() && line_[i_] == c; }
  bool AtEnd() const { return i_ == line_.size(); }

  absl::Status String(std::string* out) {
    if (!Take('"')) return Error("expected a string");
    while (i_ < line_.size() && line_[i_] != '"') {
      // Copy the run up to the next quote or escape at once.
      size_t run = i_;
      while (run < line_.size() && line_[run] != '"' && line_[run] != '\\') ++run;
      out->append(line_.data() + i_, run - i_);
      i_ = run;
      if (i_ >= line_.size() || line_[i_] == '"') break;
      ++i_;  // the backslash
      if (absl::Status s = Escape(out); !s.ok()) return s;
    }
    if (!Take('"')) return Error("unterminated string");
    return absl::OkStatus();
  }

  absl::Status Integer(int64_t* out) {
    const size_t start = i_;
    if (i_ < line_.size() && line_[i_] == '-') ++i_;
    while (i_ < line_.size() && line_[i_] >= '0' && line_[i_] <= '9') ++i_;
    if (!absl::SimpleAtoi(line_.substr(start, i_ - start), out))
      return Error("expected a string or an integer");
    return absl::OkStatus();
  }

 private:
  // The escape after a backslash.
  absl::Status Escape(std::string* out) {
    if (i_ >= line_.size()) return Error("unfinished escape");
    const char e = line_[i_++];
    switch (e) {
      case '"':
        out->push_back('"');
        return absl::OkStatus();
      case '\\':
        out->push_back('\\');
        return absl::OkStatus();
      case '/':
        out->push_back('/');
        return absl::OkStatus();
      case 'b':
        out->push_back('\b');
        return absl::OkStatus();
      case 'f':
        out->push_back('\f');
        return absl::OkStatus();
      case 'n':
        out->push_back('\n');
        return absl::OkStatus();
      case 'r':
        out->push_back('\r');
        return absl::OkStatus();
      case 't':
        out->push_back('\t');
        return absl::OkStatus();
      case 'u':
        break;
      default:
        return Error("unknown escape");
    }
    uint32_t code = 0;
    if (i_ + 4 > line_.size() || !absl::SimpleHexAtoi(line_.substr(i_, 4), &code))
      return Error("bad \\u escape");
    i_ += 4;
    if (code >= 0xd800 && code <= 0xdbff && i_ + 6 <= line_.size() && line_[i_] == '\\' &&
        line_[i_ + 1] == 'u') {
      uint32_t low = 0;
      if (absl::SimpleHexAtoi(line_.substr(i_ + 2, 4), &low) && low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i_ += 6;
      }
    }
    AppendUtf8(code, out);
    return absl::OkStatus();
  }

  absl::string_view line_;
  size_t i_ = 0;
};

}  // namespace

absl::StatusOr<JsonObject> ParseJsonObject(absl::string_view line) {
  JsonReader in(line);
  JsonObject object;
  in.SkipSpace();
  if (!in.Take('{')) return in.Error("expected '{'");
  in.SkipSpace();
  if (!in.Take('}')) {
    for (;;) {
      in.SkipSpace();
      std::string key;
      if (absl::Status s = in.String(&key); !s.ok()) return s;
      in.SkipSpace();
      if (!in.Take(':')) return in.Error("expected ':'");
      in.SkipSpace();
      JsonValue value;
      value.is_string = in.Peek('"');
      if (absl::Status s = value.is_string ? in.String(&value.text) : in.Integer(&value.number);
          !s.ok())
        return s;
      if (!object.Add(std::move(key), std::move(value))) return in.Error("duplicate key");
      in.SkipSpace();
      if (in.Take(',')) continue;
      if (in.Take('}')) break;
      return in.Error("expected ',' or '}'");
    }
  }
  in.SkipSpace();
  if (!in.AtEnd()) return in.Error("text after the object");
  return object;
}

}  // namespace kluis::auditfile
