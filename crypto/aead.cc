#include "crypto/aead.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "crypto/random.h"

namespace kluis::crypto {

absl::StatusOr<XChaCha20Poly1305> XChaCha20Poly1305::Create(SecretBytes key) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AEAD key must be ", kKeySize, " bytes, got ", key.size()));
  }
  return XChaCha20Poly1305(std::move(key));
}

std::string XChaCha20Poly1305::Seal(absl::string_view plaintext,
                                    absl::string_view associated_data) const {
  std::string sealed = RandomBytes(kNonceSize);
  sealed.resize(kNonceSize + plaintext.size() + kTagSize);
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out + kNonceSize, &written, reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(associated_data.data()),
      associated_data.size(), nullptr, out, key_.data());
  return sealed;
}

absl::StatusOr<SecretBytes> XChaCha20Poly1305::Open(absl::string_view sealed,
                                                    absl::string_view associated_data) const {
  if (sealed.size() < kNonceSize + kTagSize) {
    return absl::DataLossError(
        absl::StrCat("sealed value too short: ", sealed.size(), " bytes"));
  }
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  SecretBytes plaintext(sealed.size() - kNonceSize - kTagSize);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plaintext.MutableData(), &written, nullptr, in + kNonceSize, sealed.size() - kNonceSize,
          reinterpret_cast<const unsigned char*>(associated_data.data()), associated_data.size(),
          in, key_.data()) != 0) {
    return absl::DataLossError(absl::StrCat("sealed value of ", sealed.size(),
                                            " bytes does not open: altered, moved or wrong key"));
  }
  return plaintext;
}

}  // namespace kluis::crypto
