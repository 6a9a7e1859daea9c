#include "crypto/secret_bytes.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace kluis::crypto {

SecretBytes::SecretBytes(size_t size) : size_(size) {
  if (size == 0) return;
  // sodium_malloc needs libsodium initialised; sodium_init is idempotent and thread-safe, so a
  // SecretBytes made before main's Initialize() (a static, a test fixture member) still works.
  static const bool initialised = sodium_init() >= 0;
  if (!initialised) std::abort();
  data_ = static_cast<unsigned char*>(sodium_malloc(size));
  // Out of locked memory is not recoverable for a vault: refuse to carry on with unguarded secrets.
  if (data_ == nullptr) std::abort();
  sodium_memzero(data_, size);
}

SecretBytes SecretBytes::CopyFrom(absl::string_view bytes) {
  SecretBytes secret(bytes.size());
  if (!bytes.empty()) std::memcpy(secret.data_, bytes.data(), bytes.size());
  return secret;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before unmapping
}

SecretBytes SecretBytes::Clone() const { return CopyFrom(Reveal()); }

absl::string_view SecretBytes::Reveal() const {
  return absl::string_view(reinterpret_cast<const char*>(data_), size_);
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data_, size_) == 0;
}

}  // namespace kluis::crypto
