#ifndef KLUIS_CRYPTO_RANDOM_H_
#define KLUIS_CRYPTO_RANDOM_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {

// Initialises libsodium. Call once at the start of every binary and test; safe to call again.
absl::Status Initialize();

// Bytes from libsodium's CSPRNG (getrandom on Linux).
std::string RandomBytes(size_t size);
SecretBytes RandomSecret(size_t size);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_RANDOM_H_
