#include "crypto/secret_bytes.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace kluis::crypto {
namespace {

// sodium_malloc maps guard pages around every allocation and sodium_free unmaps them again: three
// system calls and a TLB shootdown on every core each time, a tenth of a release's CPU
// (docs/BENCHMARKS.md). So small secrets come in size classes, and a freed block is wiped and kept
// for the next secret of its class. Every block is still a sodium_malloc allocation of its class
// size: locked, out of core dumps, a canary before it and a guard page right after it. What a
// kept block gives up is only that an overrun past the secret but inside the class goes unnoticed.
constexpr size_t kClasses[] = {64, 256, 1024, 4096};
constexpr size_t kClassCount = sizeof(kClasses) / sizeof(kClasses[0]);
constexpr size_t kKeptPerClass = 16;  // at most 64 blocks of 4–5 locked pages each are kept

struct Pool {
  std::mutex mu;
  std::vector<unsigned char*> kept[kClassCount];
};

Pool& ThePool() {
  static Pool* pool = new Pool;  // never destroyed: secrets in statics may be freed after it
  return *pool;
}

// The class a secret of `size` bytes is kept in, or kClassCount when it is too large to keep.
size_t ClassOf(size_t size) {
  size_t c = 0;
  while (c < kClassCount && kClasses[c] < size) ++c;
  return c;
}

unsigned char* Allocate(size_t size) {
  // sodium_malloc needs libsodium initialised; sodium_init is idempotent and thread-safe, so a
  // SecretBytes made before main's Initialize() (a static, a test fixture member) still works.
  static const bool initialised = sodium_init() >= 0;
  if (!initialised) std::abort();
  const size_t c = ClassOf(size);
  if (c < kClassCount) {
    Pool& pool = ThePool();
    std::lock_guard<std::mutex> lock(pool.mu);
    if (!pool.kept[c].empty()) {
      unsigned char* block = pool.kept[c].back();  // wiped when it was kept
      pool.kept[c].pop_back();
      return block;
    }
  }
  const size_t length = c < kClassCount ? kClasses[c] : size;
  auto* block = static_cast<unsigned char*>(sodium_malloc(length));
  // Out of locked memory is not recoverable for a vault: refuse to carry on with unguarded secrets.
  if (block == nullptr) std::abort();
  sodium_memzero(block, length);
  return block;
}

void Free(unsigned char* block, size_t size) {
  const size_t c = ClassOf(size);
  if (c < kClassCount) {
    sodium_memzero(block, kClasses[c]);
    Pool& pool = ThePool();
    std::lock_guard<std::mutex> lock(pool.mu);
    if (pool.kept[c].size() < kKeptPerClass) {
      pool.kept[c].push_back(block);
      return;
    }
  }
  sodium_free(block);  // sodium_free wipes before unmapping
}

}  // namespace

SecretBytes::SecretBytes(size_t size) : size_(size) {
  if (size == 0) return;
  data_ = Allocate(size);
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
    if (data_ != nullptr) Free(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) Free(data_, size_);
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

void WipeString(std::string& text) {
  if (!text.empty()) sodium_memzero(text.data(), text.size());
}

}  // namespace kluis::crypto
