#ifndef KLUIS_CRYPTO_HASH_H_
#define KLUIS_CRYPTO_HASH_H_

#include "absl/strings/string_view.h"
#include <string>


namespace kluis::crypto {

// Incremental BLAKE2b with a 32-byte output (libsodium's crypto_generichash). Not thread-safe.
class Blake2b256 {
 public:
  static constexpr size_t kSize = 32;
  Blake2b256();
  Blake2b256& Update(absl::string_view bytes);
  std::string Finish();  // 32 raw bytes; the object is spent afterwards

 private:
  alignas(64) unsigned char state_[384];
};

// One-shot BLAKE2b-256 of `bytes`.
std::string Blake2b256Of(absl::string_view bytes);

// Lowercase hexadecimal.
std::string HexEncode(absl::string_view bytes);
// Decodes lowercase or uppercase hex; false on anything that is not even-length hex.
bool HexDecode(absl::string_view hex, std::string* out);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_HASH_H_
