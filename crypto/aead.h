#ifndef KLUIS_CRYPTO_AEAD_H_
#define KLUIS_CRYPTO_AEAD_H_

#include "absl/strings/string_view.h"
#include <string>


#include "absl/status/statusor.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {

// XChaCha20-Poly1305 (IETF) authenticated encryption with associated data.
//
// Contract: Seal() output is nonce(24) ‖ ciphertext ‖ tag(16), with a fresh random nonce per call
// (192-bit nonces make random choice safe for any number of messages under one key). Open()
// returns the plaintext only if the ciphertext, tag and associated data are exactly those sealed;
// otherwise kDataLoss, whose message names sizes only. The associated data is authenticated, not
// encrypted: bind every sealed value to where it belongs (account, kind, version) so that a value
// copied elsewhere does not open.
//
// Thread-safe: the key is immutable after construction.
class XChaCha20Poly1305 {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 24;
  static constexpr size_t kTagSize = 16;

  static absl::StatusOr<XChaCha20Poly1305> Create(SecretBytes key);

  std::string Seal(absl::string_view plaintext, absl::string_view associated_data) const;
  absl::StatusOr<SecretBytes> Open(absl::string_view sealed, absl::string_view associated_data) const;

 private:
  explicit XChaCha20Poly1305(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_AEAD_H_
