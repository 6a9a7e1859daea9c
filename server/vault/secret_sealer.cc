#include "server/vault/secret_sealer.h"

#include "absl/strings/str_cat.h"
#include "crypto/kdf.h"

namespace kluis::server {
namespace {

std::string AssociatedData(int64_t account_id, absl::string_view kind, int64_t version) {
  return absl::StrCat("kluis/secret/v1", absl::string_view("\0", 1), account_id,
                      absl::string_view("\0", 1), kind, absl::string_view("\0", 1), version);
}

}  // namespace

absl::StatusOr<SecretSealer> SecretSealer::Create(const crypto::SecretBytes& root,
                                                  int64_t key_version) {
  absl::StatusOr<crypto::SecretBytes> key =
      crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kSecretSealing, key_version);
  if (!key.ok()) return key.status();
  absl::StatusOr<crypto::XChaCha20Poly1305> aead = crypto::XChaCha20Poly1305::Create(*std::move(key));
  if (!aead.ok()) return aead.status();
  return SecretSealer(*std::move(aead), key_version);
}

std::string SecretSealer::Seal(int64_t account_id, storage::SecretKind kind, int64_t version,
                               absl::string_view plaintext) const {
  return aead_.Seal(plaintext, AssociatedData(account_id, storage::SecretKindName(kind), version));
}

absl::StatusOr<crypto::SecretBytes> SecretSealer::Open(int64_t account_id, storage::SecretKind kind,
                                                       int64_t version,
                                                       absl::string_view sealed) const {
  absl::StatusOr<crypto::SecretBytes> opened =
      aead_.Open(sealed, AssociatedData(account_id, storage::SecretKindName(kind), version));
  if (!opened.ok()) {
    return absl::DataLossError(absl::StrCat("the sealed ", storage::SecretKindName(kind), " (version ", version,
                                            ") of account ", account_id,
                                            " does not open: it was altered or moved"));
  }
  return opened;
}

}  // namespace kluis::server
