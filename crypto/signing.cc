#include "crypto/signing.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "crypto/hash.h"

namespace kluis::crypto {

absl::StatusOr<Ed25519Signer> Ed25519Signer::FromSeed(const SecretBytes& seed) {
  if (seed.size() != crypto_sign_SEEDBYTES) {
    return absl::InvalidArgumentError(absl::StrCat("Ed25519 seed must be ", crypto_sign_SEEDBYTES,
                                                   " bytes, got ", seed.size()));
  }
  SecretBytes secret_key(crypto_sign_SECRETKEYBYTES);
  std::string public_key(crypto_sign_PUBLICKEYBYTES, '\0');
  if (crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(public_key.data()), secret_key.MutableData(),
                               seed.data()) != 0) {
    return absl::InternalError("Ed25519 key derivation failed");
  }
  return Ed25519Signer(std::move(secret_key), std::move(public_key));
}

std::string Ed25519Signer::Sign(absl::string_view message) const {
  std::string signature(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_key_.data());
  return signature;
}

bool Ed25519Verify(absl::string_view public_key, absl::string_view message, absl::string_view signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

std::string Sha256Fingerprint(absl::string_view bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return absl::StrCat("SHA256:", HexEncode(absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest))));
}

}  // namespace kluis::crypto
