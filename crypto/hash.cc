#include "crypto/hash.h"

#include <sodium.h>

namespace kluis::crypto {

static_assert(sizeof(crypto_generichash_state) <= 384, "state buffer too small");

Blake2b256::Blake2b256() {
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_), nullptr, 0, kSize);
}

Blake2b256& Blake2b256::Update(absl::string_view bytes) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_),
                            reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return *this;
}

std::string Blake2b256::Finish() {
  std::string out(kSize, '\0');
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_),
                           reinterpret_cast<unsigned char*>(out.data()), kSize);
  return out;
}

std::string Blake2b256Of(absl::string_view bytes) { return Blake2b256().Update(bytes).Finish(); }

std::string HexEncode(absl::string_view bytes) {
  std::string hex(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  hex.pop_back();
  return hex;
}

bool HexDecode(absl::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  std::string bin(hex.size() / 2, '\0');
  size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), hex.data(),
                     hex.size(), nullptr, &written, &end) != 0 ||
      written != bin.size() || end != hex.data() + hex.size()) {
    return false;
  }
  *out = std::move(bin);
  return true;
}

}  // namespace kluis::crypto
