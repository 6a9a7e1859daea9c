#ifndef KLUIS_CRYPTO_TOTP_H_
#define KLUIS_CRYPTO_TOTP_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {

enum class OtpAlgorithm { kSha1, kSha256, kSha512 };

absl::string_view OtpAlgorithmName(OtpAlgorithm algorithm);  // "SHA1", "SHA256", "SHA512"

// A TOTP key as authenticator apps know it (Google Authenticator key URI format): the shared
// secret and its parameters. The secret is a SecretBytes; the rest is not secret.
struct TotpKey {
  SecretBytes secret;
  OtpAlgorithm algorithm = OtpAlgorithm::kSha1;
  int digits = 6;       // 6 or 8
  int period = 30;      // seconds
  std::string issuer;   // e.g. "X"
  std::string account;  // the label's account part, e.g. "WA_Lombardijen1"

  TotpKey Clone() const;
};

// HOTP (RFC 4226 §5.3): HMAC over the big-endian counter, dynamic truncation, modulo 10^digits.
// HMAC comes from OpenSSL (libsodium 1.0.18 has no HMAC-SHA1). `digits` is 6 to 8.
absl::StatusOr<uint32_t> Hotp(const SecretBytes& secret, uint64_t counter, OtpAlgorithm algorithm,
                              int digits);

// TOTP (RFC 6238 §4): HOTP with counter floor((time - T0) / period), T0 = 0.
absl::StatusOr<uint32_t> Totp(const TotpKey& key, absl::Time time);

// The code as printed, zero-padded to `digits`.
std::string FormatOtp(uint32_t code, int digits);

// Reads an `otpauth://totp/LABEL?secret=…&issuer=…&algorithm=…&digits=…&period=…` URI, or a bare
// base32 seed (SHA1, 6 digits, 30 s). Refuses, with a one-line reason that never echoes the
// secret: HOTP URIs, bad base32, an empty or too short secret (< 10 bytes), unknown algorithms,
// digits other than 6 or 8, periods outside 10..300 s, and unknown or repeated parameters.
absl::StatusOr<TotpKey> ParseOtpauth(absl::string_view text);

// Writes the key as an otpauth URI (secret in unpadded base32, label "issuer:account").
std::string FormatOtpauth(const TotpKey& key);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_TOTP_H_
