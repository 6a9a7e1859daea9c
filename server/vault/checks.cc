#include "server/vault/checks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/storage/tx.h"
#include "server/vault/internal.h"
#include "server/vault/refusal.h"

namespace kluis::server {

namespace {

// The code point of well-formed UTF-8 at `at` (advanced past it), or nothing when the bytes there
// are not UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
std::optional<char32_t> NextCodePoint(absl::string_view text, size_t& at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) {
    ++at;
    return lead;
  }
  int length = 0;
  char32_t c = 0, min = 0;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, c = lead & 0x1f, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, c = lead & 0x0f, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, c = lead & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (text.size() - at < static_cast<size_t>(length)) return std::nullopt;
  for (int i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xc0) != 0x80) return std::nullopt;
    c = (c << 6) | (byte(at + i) & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return std::nullopt;
  at += length;
  return c;
}

// C1 controls, the Unicode bidi embeddings, overrides and isolates, and the zero-width and other
// invisible format characters (Unicode category Cf as far as it hides or reorders text).
bool IsInvisibleOrBidi(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0xad || c == 0x61c || c == 0x180e ||
         (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x2064) ||
         (c >= 0x2066 && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

}  // namespace

std::string Quoted(absl::string_view input) {
  constexpr size_t kShown = 64;
  if (input.size() <= kShown) return absl::StrCat("\"", absl::CHexEscape(input), "\"");
  return absl::StrCat("\"", absl::CHexEscape(input.substr(0, kShown)), "…\" (", input.size(), " bytes)");
}

absl::Status CheckName(absl::string_view what, absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name must be 1 to 64 characters"));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat(what, " name may not be \".\" or \"..\""));
  }
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '-' || c == '_')) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " name may contain only a-z, 0-9, '.', '-' and '_': ", Quoted(name),
          ""));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view what, absl::string_view text, size_t max, bool required) {
  if (required && text.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is required"));
  if (text.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is too long: ", text.size(), " bytes, at most ", max));
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(what, " contains a control character"));
    }
  }
  // Text a reader trusts must show what it says: no invalid UTF-8, and none of the characters that
  // reverse or hide what follows them (a reason that reads "ziek" but sorts or prints otherwise).
  size_t at = 0;
  while (at < text.size()) {
    const std::optional<char32_t> c = NextCodePoint(text, at);
    if (!c.has_value()) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
    if (IsInvisibleOrBidi(*c)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s contains an invisible or direction-changing character (U+%04X)", what, static_cast<uint32_t>(*c)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMeaningfulReason(absl::string_view reason, const policies::Policy& policy,
                                   absl::string_view what) {
  if (static_cast<int>(absl::StripAsciiWhitespace(reason).size()) < policy.min_reason_length) {
    return Refused(Refusal::kReasonRequired,
                   absl::InvalidArgumentError(absl::StrCat(what, " needs a reason of at least ",
                                                           policy.min_reason_length, " characters")));
  }
  return absl::OkStatus();
}

absl::Status CheckPlatform(absl::string_view platform) {
  for (absl::string_view known : kPlatforms) {
    if (platform == known) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown platform ", Quoted(platform),
      ": use x, instagram, facebook, linkedin, threads, tiktok or youtube"));
}

absl::Status CheckHandle(absl::string_view handle) {
  if (handle.empty() || handle.size() > 64) {
    return absl::InvalidArgumentError("account handle must be 1 to 64 characters");
  }
  if (handle == "." || handle == "..") return absl::InvalidArgumentError("account handle may not be \".\" or \"..\"");
  for (char c : handle) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-')) {
      return absl::InvalidArgumentError(
          absl::StrCat("account handle may contain only letters, digits, '_', '.' and '-': ",
                       Quoted(handle)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEmail(absl::string_view email) {
  if (absl::Status s = CheckText("linked e-mail address", email, 254, true); !s.ok()) return s;
  const size_t at = email.find('@');
  if (at == absl::string_view::npos || at == 0 || at + 1 >= email.size() ||
      email.find('@', at + 1) != absl::string_view::npos || email.find(' ') != absl::string_view::npos) {
    return absl::InvalidArgumentError("linked e-mail address must look like name@domain");
  }
  return absl::OkStatus();
}

}  // namespace kluis::server
