#ifndef KLUIS_CRYPTO_SIGNING_H_
#define KLUIS_CRYPTO_SIGNING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {

// Ed25519 signatures (libsodium crypto_sign, RFC 8032), for audit checkpoints. The private key
// stays in guarded memory. Thread-safe once created (signing reads the key only).
class Ed25519Signer {
 public:
  static constexpr size_t kPublicKeySize = 32;
  static constexpr size_t kSignatureSize = 64;

  // Derives the key pair from a 32-byte seed (crypto_sign_seed_keypair).
  static absl::StatusOr<Ed25519Signer> FromSeed(const SecretBytes& seed);

  std::string Sign(absl::string_view message) const;  // 64 raw bytes, detached
  const std::string& public_key() const { return public_key_; }  // 32 raw bytes

 private:
  Ed25519Signer(SecretBytes secret_key, std::string public_key)
      : secret_key_(std::move(secret_key)), public_key_(std::move(public_key)) {}
  SecretBytes secret_key_;
  std::string public_key_;
};

// Whether `signature` (64 bytes) is `public_key`'s (32 bytes) signature over `message`. Wrong sizes
// are simply not valid.
[[nodiscard]] bool Ed25519Verify(absl::string_view public_key, absl::string_view message,
                                 absl::string_view signature);

// "SHA256:" and the lowercase hex SHA-256 of `bytes`: how a public key is named for people.
std::string Sha256Fingerprint(absl::string_view bytes);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_SIGNING_H_
