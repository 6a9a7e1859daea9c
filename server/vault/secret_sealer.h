#ifndef KLUIS_SERVER_VAULT_SECRET_SEALER_H_
#define KLUIS_SERVER_VAULT_SECRET_SEALER_H_

#include "absl/strings/string_view.h"
#include <cstdint>
#include <string>


#include "absl/status/statusor.h"
#include "crypto/aead.h"
#include "crypto/secret_bytes.h"

#include "server/storage/rows.h"

namespace kluis::server {

// Seals account secrets (password, linked e-mail) with XChaCha20-Poly1305 under the secret-sealing
// subkey of the current key version. The associated data binds each sealed value to its place:
//   "kluis/secret/v1" ‖ 0x00 ‖ account id ‖ 0x00 ‖ kind ‖ 0x00 ‖ version  (decimal ASCII numbers;
//   the kind as storage::SecretKindName spells it)
// so a row copied to another account, kind or version does not open (kDataLoss).
// Thread-safe.
class SecretSealer {
 public:
  static absl::StatusOr<SecretSealer> Create(const crypto::SecretBytes& root, int64_t key_version);

  int64_t key_version() const { return key_version_; }
  std::string Seal(int64_t account_id, storage::SecretKind kind, int64_t version,
                   absl::string_view plaintext) const;
  absl::StatusOr<crypto::SecretBytes> Open(int64_t account_id, storage::SecretKind kind,
                                           int64_t version, absl::string_view sealed) const;

 private:
  SecretSealer(crypto::XChaCha20Poly1305 aead, int64_t key_version)
      : aead_(std::move(aead)), key_version_(key_version) {}
  crypto::XChaCha20Poly1305 aead_;
  int64_t key_version_;
};

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_SECRET_SEALER_H_
