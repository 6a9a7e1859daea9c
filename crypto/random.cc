#include "crypto/random.h"

#include <sodium.h>

namespace kluis::crypto {

absl::Status Initialize() {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  return absl::OkStatus();
}

std::string RandomBytes(size_t size) {
  std::string bytes(size, '\0');
  randombytes_buf(bytes.data(), size);
  return bytes;
}

SecretBytes RandomSecret(size_t size) {
  SecretBytes secret(size);
  randombytes_buf(secret.MutableData(), size);
  return secret;
}

}  // namespace kluis::crypto
