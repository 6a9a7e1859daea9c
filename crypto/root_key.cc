#include "crypto/root_key.h"

#include <sodium.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "crypto/aead.h"
#include "crypto/random.h"

namespace kluis::crypto {
namespace {

constexpr absl::string_view kMagic("KLUIS-ROOT\x01", 11);
constexpr size_t kSaltSize = crypto_pwhash_SALTBYTES;
constexpr size_t kHeaderSize = kMagic.size() + 8 + 8 + kSaltSize;
constexpr size_t kRootSize = 32;

void PutU64(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetU64(absl::string_view in) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

absl::StatusOr<SecretBytes> StretchPassphrase(const SecretBytes& passphrase, absl::string_view salt,
                                              const Argon2Params& params) {
  if (passphrase.empty()) return absl::InvalidArgumentError("passphrase is empty");
  SecretBytes key(XChaCha20Poly1305::kKeySize);
  if (crypto_pwhash(key.MutableData(), key.size(),
                    reinterpret_cast<const char*>(passphrase.data()), passphrase.size(),
                    reinterpret_cast<const unsigned char*>(salt.data()), params.opslimit,
                    params.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Argon2id could not allocate ", params.memlimit, " bytes"));
  }
  return key;
}

}  // namespace

Argon2Params Argon2Params::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
Argon2Params Argon2Params::Moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}
Argon2Params Argon2Params::Sensitive() {
  return {crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
}

absl::StatusOr<std::string> RootKey::Reseal(const SecretBytes& root, const SecretBytes& passphrase,
                                            const Argon2Params& params) {
  if (root.size() != kRootSize) return absl::InvalidArgumentError("root key must be 32 bytes");
  std::string file(kMagic);
  PutU64(&file, params.opslimit);
  PutU64(&file, params.memlimit);
  const std::string salt = RandomBytes(kSaltSize);
  file += salt;
  absl::StatusOr<SecretBytes> key = StretchPassphrase(passphrase, salt, params);
  if (!key.ok()) return key.status();
  absl::StatusOr<XChaCha20Poly1305> aead = XChaCha20Poly1305::Create(*std::move(key));
  if (!aead.ok()) return aead.status();
  const std::string header = file;
  file += aead->Seal(root.Reveal(), header);
  return file;
}

absl::StatusOr<std::string> RootKey::CreateSealed(const SecretBytes& passphrase,
                                                  const Argon2Params& params, SecretBytes* root) {
  *root = RandomSecret(kRootSize);
  return Reseal(*root, passphrase, params);
}

absl::StatusOr<SecretBytes> RootKey::Open(absl::string_view sealed_file,
                                          const SecretBytes& passphrase) {
  constexpr size_t kExpected = kHeaderSize + XChaCha20Poly1305::kNonceSize + kRootSize +
                               XChaCha20Poly1305::kTagSize;
  if (sealed_file.size() != kExpected || sealed_file.substr(0, kMagic.size()) != kMagic) {
    return absl::DataLossError(absl::StrCat("not a Kluis root key file (", sealed_file.size(),
                                            " bytes, expected ", kExpected, ")"));
  }
  const Argon2Params params{GetU64(sealed_file.substr(kMagic.size())),
                            GetU64(sealed_file.substr(kMagic.size() + 8))};
  if (params.opslimit < crypto_pwhash_OPSLIMIT_MIN || params.opslimit > crypto_pwhash_OPSLIMIT_MAX ||
      params.memlimit < crypto_pwhash_MEMLIMIT_MIN || params.memlimit > (uint64_t{4} << 30)) {
    return absl::DataLossError("root key file has implausible Argon2id parameters");
  }
  const absl::string_view header = sealed_file.substr(0, kHeaderSize);
  absl::StatusOr<SecretBytes> key =
      StretchPassphrase(passphrase, header.substr(kMagic.size() + 16), params);
  if (!key.ok()) return key.status();
  absl::StatusOr<XChaCha20Poly1305> aead = XChaCha20Poly1305::Create(*std::move(key));
  if (!aead.ok()) return aead.status();
  absl::StatusOr<SecretBytes> root = aead->Open(sealed_file.substr(kHeaderSize), header);
  if (!root.ok()) {
    return absl::PermissionDeniedError("wrong passphrase: the root key does not open");
  }
  return root;
}

}  // namespace kluis::crypto
