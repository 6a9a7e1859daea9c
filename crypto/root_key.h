#ifndef KLUIS_CRYPTO_ROOT_KEY_H_
#define KLUIS_CRYPTO_ROOT_KEY_H_

#include "absl/strings/string_view.h"
#include <cstdint>
#include <string>


#include "absl/status/statusor.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {

// Argon2id cost. The values are stored in the sealed file, so a vault always opens with the cost
// it was created with.
struct Argon2Params {
  uint64_t opslimit;
  uint64_t memlimit;

  static Argon2Params Interactive();  // 64 MiB: tests only
  static Argon2Params Moderate();     // 256 MiB: the default
  static Argon2Params Sensitive();    // 1 GiB
};

// The vault's root key: 32 random bytes, kept on disk only sealed under a key stretched from the
// operator's passphrase.
//
// File layout (all integers little-endian), see docs/SECURITY.md:
//   "KLUIS-ROOT\x01" (11 bytes) ‖ opslimit u64 ‖ memlimit u64 ‖ salt (16) ‖ nonce (24)
//   ‖ XChaCha20-Poly1305(key = Argon2id(passphrase, salt, opslimit, memlimit), root key,
//                         associated data = every byte before the ciphertext)
// so the parameters cannot be swapped without the seal failing.
struct RootKey {
  // Makes a new root key and its sealed file bytes.
  static absl::StatusOr<std::string> CreateSealed(const SecretBytes& passphrase,
                                                  const Argon2Params& params, SecretBytes* root);
  // Opens the sealed file bytes. kPermissionDenied "wrong passphrase" when the seal does not open;
  // kDataLoss when the file is not a Kluis root key file at all.
  static absl::StatusOr<SecretBytes> Open(absl::string_view sealed_file,
                                          const SecretBytes& passphrase);
  // Reseals an open root key under a new passphrase.
  static absl::StatusOr<std::string> Reseal(const SecretBytes& root, const SecretBytes& passphrase,
                                            const Argon2Params& params);
};

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_ROOT_KEY_H_
