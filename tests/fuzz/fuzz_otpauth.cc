// libFuzzer target: the otpauth:// URI and base32 seed parser (crypto/totp.h), which reads what a
// beheerder pastes from a platform. Any input: a key or a clean error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/totp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kluis::crypto::TotpKey> key = kluis::crypto::ParseOtpauth(text);
  if (key.ok()) {
    // A key that parsed must format and compute: the round trip the vault relies on.
    const std::string uri = kluis::crypto::FormatOtpauth(*key);
    absl::StatusOr<kluis::crypto::TotpKey> again = kluis::crypto::ParseOtpauth(uri);
    if (!again.ok()) __builtin_trap();
    (void)kluis::crypto::Totp(*key, absl::FromUnixSeconds(1'800'000'000));
  }
  return 0;
}
