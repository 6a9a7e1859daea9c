#include "crypto/kdf.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"

namespace kluis::crypto {
namespace {

const char* ContextFor(SubkeyPurpose purpose) {
  switch (purpose) {
    case SubkeyPurpose::kDatabase:
      return "kluisdb_";
    case SubkeyPurpose::kSecretSealing:
      return "kluissec";
    case SubkeyPurpose::kAuditSigning:
      return "kluisaud";
    case SubkeyPurpose::kPrivateKeySeal:
      return "kluispki";
  }
  return "kluis???";
}

}  // namespace

absl::StatusOr<SecretBytes> DeriveSubkey(const SecretBytes& root, SubkeyPurpose purpose,
                                         uint64_t subkey_id) {
  static_assert(crypto_kdf_CONTEXTBYTES == 8);
  if (root.size() != crypto_kdf_KEYBYTES) {
    return absl::InvalidArgumentError(
        absl::StrCat("root key must be ", crypto_kdf_KEYBYTES, " bytes, got ", root.size()));
  }
  SecretBytes subkey(32);
  crypto_kdf_derive_from_key(subkey.MutableData(), subkey.size(), subkey_id, ContextFor(purpose),
                             root.data());
  return subkey;
}

}  // namespace kluis::crypto
