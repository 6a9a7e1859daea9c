#ifndef KLUIS_CRYPTO_SECRET_BYTES_H_
#define KLUIS_CRYPTO_SECRET_BYTES_H_

#include "absl/strings/string_view.h"
#include <cstddef>
#include <string>


namespace kluis::crypto {

// Holds key material or a secret (a password, a seed) in memory that libsodium guards: allocated
// with sodium_malloc (guard pages, mlock'ed so it never reaches swap, excluded from core dumps),
// wiped when freed. Move-only; a copy exists only through Clone(). There is deliberately no
// operator<<, no ToString and no implicit conversion: the one door to the bytes is Reveal(), easy
// to grep for. Compare only with Equals(), which runs in constant time.
//
// sodium_malloc maps whole pages per allocation: use this for keys and secrets, not bulk data.
// Secrets up to 4 KiB come in size classes whose freed blocks are wiped and reused (see the .cc).
// Not thread-safe for concurrent mutation; const access from several threads is fine.
class SecretBytes {
 public:
  SecretBytes() = default;
  // Allocates `size` zeroed bytes.
  explicit SecretBytes(size_t size);
  // Copies `bytes` into guarded memory. The caller should wipe its own copy if it can.
  static SecretBytes CopyFrom(absl::string_view bytes);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  SecretBytes Clone() const;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The raw bytes. Every call site is a place where a secret is handled: keep them few.
  absl::string_view Reveal() const;
  unsigned char* MutableData() { return data_; }
  const unsigned char* data() const { return data_; }

  // Constant-time comparison (sodium_memcmp); sizes are compared first, which reveals only sizes.
  bool Equals(const SecretBytes& other) const;

 private:
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

// Overwrites a std::string that held a secret (sodium_memzero: the compiler cannot drop it), for
// the copies outside SecretBytes that a library hands us (a protobuf field, a line read).
void WipeString(std::string& text);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_SECRET_BYTES_H_
