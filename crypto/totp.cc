#include "crypto/totp.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crypto/base32.h"

namespace kluis::crypto {
namespace {

EVP_MAC_CTX* NewHmac(const char* digest) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  EVP_MAC_free(mac);  // the context holds its own reference
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  if (ctx != nullptr && EVP_MAC_CTX_set_params(ctx, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

// An HMAC context for the algorithm with its digest chosen and no key, made once and only read
// after; every code starts from a copy. HMAC() looks the MAC and the digest up in OpenSSL 3's
// provider store on every call, under a lock all threads share (5 % of the vault's CPU at 32
// concurrent releases, measured with perf).
const EVP_MAC_CTX* HmacTemplate(OtpAlgorithm algorithm) {
  static EVP_MAC_CTX* const sha1 = NewHmac("SHA1");
  static EVP_MAC_CTX* const sha256 = NewHmac("SHA256");
  static EVP_MAC_CTX* const sha512 = NewHmac("SHA512");
  switch (algorithm) {
    case OtpAlgorithm::kSha1: return sha1;
    case OtpAlgorithm::kSha256: return sha256;
    case OtpAlgorithm::kSha512: return sha512;
  }
  return nullptr;
}

// Percent-decoding for URI parts (RFC 3986 §2.1). '+' is left alone: a label may contain it.
absl::StatusOr<std::string> PercentDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !absl::ascii_isxdigit(in[i + 1]) || !absl::ascii_isxdigit(in[i + 2])) {
      return absl::InvalidArgumentError("otpauth URI has a broken %-escape");
    }
    out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

std::string PercentEncode(absl::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::AsciiStrToUpper(absl::StrCat(absl::Hex(c, absl::kZeroPad2))));
    }
  }
  return out;
}

absl::StatusOr<SecretBytes> DecodeSeed(absl::string_view base32) {
  std::string cleaned;
  for (char c : base32) {
    if (c != ' ' && c != '-') cleaned.push_back(c);
  }
  if (cleaned.empty()) return absl::InvalidArgumentError("TOTP secret is empty");
  std::optional<std::string> bytes = Base32Decode(cleaned);
  WipeString(cleaned);
  if (!bytes.has_value()) {
    return absl::InvalidArgumentError("TOTP secret is not valid base32 (RFC 4648: A-Z and 2-7)");
  }
  SecretBytes secret = SecretBytes::CopyFrom(*bytes);
  WipeString(*bytes);
  if (secret.size() < 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("TOTP secret is too short: ", secret.size(), " bytes, at least 10 (80 bits)"));
  }
  if (secret.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat("TOTP secret is too long: ", secret.size(), " bytes"));
  }
  return secret;
}

absl::StatusOr<int> SmallNumber(absl::string_view name, absl::string_view text) {
  int value = 0;
  if (text.empty() || text.size() > 4) {
    return absl::InvalidArgumentError(absl::StrCat("otpauth ", name, " is not a number"));
  }
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return absl::InvalidArgumentError(absl::StrCat("otpauth ", name, " is not a number"));
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

absl::string_view OtpAlgorithmName(OtpAlgorithm algorithm) {
  switch (algorithm) {
    case OtpAlgorithm::kSha1: return "SHA1";
    case OtpAlgorithm::kSha256: return "SHA256";
    case OtpAlgorithm::kSha512: return "SHA512";
  }
  return "?";
}

TotpKey TotpKey::Clone() const {
  TotpKey copy;
  copy.secret = secret.Clone();
  copy.algorithm = algorithm;
  copy.digits = digits;
  copy.period = period;
  copy.issuer = issuer;
  copy.account = account;
  return copy;
}

absl::StatusOr<uint32_t> Hotp(const SecretBytes& secret, uint64_t counter, OtpAlgorithm algorithm,
                              int digits) {
  if (digits < 6 || digits > 8) return absl::InvalidArgumentError("HOTP digits must be 6 to 8");
  if (secret.empty()) return absl::InvalidArgumentError("HOTP secret is empty");
  unsigned char message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_length = 0;
  const EVP_MAC_CTX* hmac_template = HmacTemplate(algorithm);
  EVP_MAC_CTX* hmac = hmac_template != nullptr ? EVP_MAC_CTX_dup(hmac_template) : nullptr;
  const bool computed = hmac != nullptr &&
                        EVP_MAC_init(hmac, secret.data(), secret.size(), nullptr) == 1 &&
                        EVP_MAC_update(hmac, message, sizeof(message)) == 1 &&
                        EVP_MAC_final(hmac, mac, &mac_length, sizeof(mac)) == 1 && mac_length >= 20;
  EVP_MAC_CTX_free(hmac);  // wipes the key it was given
  if (!computed) return absl::InternalError("HMAC failed");
  // Dynamic truncation (RFC 4226 §5.3): the low nibble of the last byte picks four bytes.
  const unsigned offset = mac[mac_length - 1] & 0x0f;
  const uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                          (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                          (static_cast<uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  OPENSSL_cleanse(mac, sizeof(mac));
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  return binary % modulus;
}

absl::StatusOr<uint32_t> Totp(const TotpKey& key, absl::Time time) {
  if (key.period <= 0) return absl::InvalidArgumentError("TOTP period must be positive");
  const int64_t seconds = absl::ToUnixSeconds(time);
  if (seconds < 0) return absl::InvalidArgumentError("TOTP time is before 1970");
  return Hotp(key.secret, static_cast<uint64_t>(seconds) / static_cast<uint64_t>(key.period),
              key.algorithm, key.digits);
}

std::string FormatOtp(uint32_t code, int digits) {
  std::string text = std::to_string(code);
  if (static_cast<int>(text.size()) < digits) text.insert(0, digits - text.size(), '0');
  return text;
}

namespace {

// Applies one otpauth parameter `name`=`value` to `key`; the secret's text is wiped once read.
absl::Status ApplyParameter(const std::string& name, std::string& value, TotpKey& key) {
  if (name == "secret") {
    absl::StatusOr<SecretBytes> secret = DecodeSeed(value);
    WipeString(value);
    if (!secret.ok()) return secret.status();
    key.secret = *std::move(secret);
  } else if (name == "algorithm") {
    const std::string upper = absl::AsciiStrToUpper(value);
    if (upper == "SHA1")
      key.algorithm = OtpAlgorithm::kSha1;
    else if (upper == "SHA256")
      key.algorithm = OtpAlgorithm::kSha256;
    else if (upper == "SHA512")
      key.algorithm = OtpAlgorithm::kSha512;
    else
      return absl::InvalidArgumentError("otpauth algorithm must be SHA1, SHA256 or SHA512");
  } else if (name == "digits") {
    absl::StatusOr<int> digits = SmallNumber("digits", value);
    if (!digits.ok()) return digits.status();
    if (*digits != 6 && *digits != 8)
      return absl::InvalidArgumentError("otpauth digits must be 6 or 8");
    key.digits = *digits;
  } else if (name == "period") {
    absl::StatusOr<int> period = SmallNumber("period", value);
    if (!period.ok()) return period.status();
    if (*period < 10 || *period > 300)
      return absl::InvalidArgumentError("otpauth period must be 10 to 300 seconds");
    key.period = *period;
  } else if (name == "issuer") {
    const std::string issuer(absl::StripAsciiWhitespace(value));
    if (!key.issuer.empty() && key.issuer != issuer) {
      return absl::InvalidArgumentError("otpauth issuer parameter differs from the label's issuer");
    }
    key.issuer = issuer;
  } else if (name == "image" || name == "color") {
    // Cosmetic parameters some platforms add; ignored.
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown otpauth parameter \"", absl::CHexEscape(name.substr(0, 32)), "\""));
  }
  return absl::OkStatus();
}

// The label's issuer and account: bounded, printable, and the issuer without a colon.
absl::Status CheckLabel(const TotpKey& key) {
  for (const std::string* field : {&key.issuer, &key.account}) {
    if (field->size() > 200) return absl::InvalidArgumentError("otpauth label is too long");
    for (unsigned char c : *field) {
      if (c < 0x20 || c == 0x7f)
        return absl::InvalidArgumentError("otpauth label contains a control character");
    }
  }
  // The Key URI format separates issuer and account with a colon, so neither may hold one: a key
  // that did would not read back the same from its stored form (found by tests/fuzz).
  if (key.issuer.find(':') != std::string::npos) {
    return absl::InvalidArgumentError("otpauth issuer contains a colon");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TotpKey> ParseOtpauth(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.size() > 2048) return absl::InvalidArgumentError("TOTP input is too long");
  TotpKey key;
  if (!absl::StartsWithIgnoreCase(text, "otpauth://")) {
    // A bare base32 seed, as platforms show it under "can't scan the code?".
    absl::StatusOr<SecretBytes> secret = DecodeSeed(text);
    if (!secret.ok()) return secret.status();
    key.secret = *std::move(secret);
    return key;
  }
  absl::string_view rest = text.substr(10);
  if (absl::StartsWithIgnoreCase(rest, "hotp/")) {
    return absl::InvalidArgumentError("otpauth://hotp (counter-based) keys are not supported: use TOTP");
  }
  if (!absl::StartsWithIgnoreCase(rest, "totp/")) {
    return absl::InvalidArgumentError("otpauth URI must start with otpauth://totp/");
  }
  rest.remove_prefix(5);
  const size_t question = rest.find('?');
  if (question == absl::string_view::npos) return absl::InvalidArgumentError("otpauth URI has no parameters");
  absl::StatusOr<std::string> label = PercentDecode(rest.substr(0, question));
  if (!label.ok()) return label.status();
  if (const size_t colon = label->find(':'); colon != std::string::npos) {
    key.issuer = std::string(absl::StripAsciiWhitespace(label->substr(0, colon)));
    key.account = std::string(absl::StripAsciiWhitespace(label->substr(colon + 1)));
  } else {
    key.account = *label;
  }
  std::vector<std::string> seen;  // each parameter may appear once
  for (absl::string_view pair : absl::StrSplit(rest.substr(question + 1), '&', absl::SkipEmpty())) {
    const size_t equals = pair.find('=');
    const std::string name = absl::AsciiStrToLower(pair.substr(0, equals));
    absl::StatusOr<std::string> value =
        PercentDecode(equals == absl::string_view::npos ? "" : pair.substr(equals + 1));
    if (!value.ok()) return value.status();
    if (name != "image" && name != "color") {  // the cosmetic ones may repeat
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        WipeString(*value);
        return absl::InvalidArgumentError(absl::StrCat("otpauth parameter ", name, " is repeated"));
      }
      seen.push_back(name);
    }
    if (absl::Status s = ApplyParameter(name, *value, key); !s.ok()) return s;
  }
  if (std::find(seen.begin(), seen.end(), "secret") == seen.end()) {
    return absl::InvalidArgumentError("otpauth URI has no secret");
  }
  if (absl::Status s = CheckLabel(key); !s.ok()) return s;
  return key;
}

std::string FormatOtpauth(const TotpKey& key) {
  const std::string label =
      key.issuer.empty() ? PercentEncode(key.account)
                         : absl::StrCat(PercentEncode(key.issuer), ":", PercentEncode(key.account));
  std::string uri = absl::StrCat("otpauth://totp/", label, "?secret=", Base32Encode(key.secret.Reveal()));
  if (!key.issuer.empty()) absl::StrAppend(&uri, "&issuer=", PercentEncode(key.issuer));
  absl::StrAppend(&uri, "&algorithm=", OtpAlgorithmName(key.algorithm), "&digits=", key.digits,
                  "&period=", key.period);
  return uri;
}

}  // namespace kluis::crypto
