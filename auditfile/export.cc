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

absl::StatusOr<JsonObject> ParseJsonObject(absl::string_view line) {
  size_t i = 0;
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("column ", i + 1, ": ", what));
  };
  auto skip_space = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) ++i;
  };
  auto parse_string = [&](std::string* out) -> absl::Status {
    if (i >= line.size() || line[i] != '"') return error("expected a string");
    ++i;
    while (i < line.size() && line[i] != '"') {
      // Copy the run up to the next quote or escape at once.
      size_t run = i;
      while (run < line.size() && line[run] != '"' && line[run] != '\\') ++run;
      out->append(line.data() + i, run - i);
      i = run;
      if (i >= line.size() || line[i] == '"') break;
      ++i;  // the backslash
      if (i >= line.size()) return error("unfinished escape");
      const char e = line[i++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t code = 0;
          if (i + 4 > line.size() || !absl::SimpleHexAtoi(line.substr(i, 4), &code)) return error("bad \\u escape");
          i += 4;
          if (code >= 0xd800 && code <= 0xdbff && i + 6 <= line.size() && line[i] == '\\' && line[i + 1] == 'u') {
            uint32_t low = 0;
            if (absl::SimpleHexAtoi(line.substr(i + 2, 4), &low) && low >= 0xdc00 && low <= 0xdfff) {
              code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
              i += 6;
            }
          }
          // UTF-8 of the code point.
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
          break;
        }
        default:
          return error("unknown escape");
      }
    }
    if (i >= line.size()) return error("unterminated string");
    ++i;
    return absl::OkStatus();
  };

  JsonObject object;
  skip_space();
  if (i >= line.size() || line[i] != '{') return error("expected '{'");
  ++i;
  skip_space();
  if (i < line.size() && line[i] == '}') {
    ++i;
  } else {
    for (;;) {
      skip_space();
      std::string key;
      if (absl::Status s = parse_string(&key); !s.ok()) return s;
      skip_space();
      if (i >= line.size() || line[i] != ':') return error("expected ':'");
      ++i;
      skip_space();
      JsonValue value;
      if (i < line.size() && line[i] == '"') {
        value.is_string = true;
        if (absl::Status s = parse_string(&value.text); !s.ok()) return s;
      } else {
        const size_t start = i;
        if (i < line.size() && line[i] == '-') ++i;
        while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
        if (!absl::SimpleAtoi(line.substr(start, i - start), &value.number)) return error("expected a string or an integer");
      }
      if (!object.Add(std::move(key), std::move(value))) return error("duplicate key");
      skip_space();
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      return error("expected ',' or '}'");
    }
  }
  skip_space();
  if (i != line.size()) return error("text after the object");
  return object;
}

}  // namespace kluis::auditfile
