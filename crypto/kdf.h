#ifndef KLUIS_CRYPTO_KDF_H_
#define KLUIS_CRYPTO_KDF_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {

// The purposes a subkey is derived for. Each has a fixed 8-byte libsodium KDF context; changing
// one makes every existing vault unreadable, so they are part of the on-disk format.
enum class SubkeyPurpose {
  kDatabase,        // SQLCipher raw key
  kSecretSealing,   // XChaCha20-Poly1305 key for account secrets; subkey id = key version
  kAuditSigning,    // Ed25519 seed for audit checkpoints
  kPrivateKeySeal,  // seals the CA and server TLS private keys in the database
};

// Derives a 32-byte subkey with crypto_kdf_derive_from_key (BLAKE2b). `root` must be 32 bytes.
absl::StatusOr<SecretBytes> DeriveSubkey(const SecretBytes& root, SubkeyPurpose purpose,
                                         uint64_t subkey_id = 1);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_KDF_H_
