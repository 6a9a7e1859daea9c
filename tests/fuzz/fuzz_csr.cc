// libFuzzer target: the CSR handler (crypto/certificates.h), which reads what an unenrolled client
// sends with its one-time code. Any input: a certificate or a clean error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/certificates.h"
#include "crypto/random.h"

namespace {
const kluis::crypto::CertificateAuthority& Ca() {
  static const kluis::crypto::CertificateAuthority* ca = [] {
    if (!kluis::crypto::Initialize().ok()) __builtin_trap();
    const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
    auto made = kluis::crypto::CertificateAuthority::CreateNew("Fuzz CA", now);
    if (!made.ok()) __builtin_trap();
    auto ca = kluis::crypto::CertificateAuthority::Create(std::move(made->private_key_pem), made->certificate_pem);
    if (!ca.ok()) __builtin_trap();
    return new kluis::crypto::CertificateAuthority(*std::move(ca));
  }();
  return *ca;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;  // kluisd refuses larger requests before parsing
  const std::string pem(reinterpret_cast<const char*>(data), size);
  (void)Ca().IssueClientCertificate(pem, "fuzz.user", absl::FromUnixSeconds(1'800'000'000), absl::Hours(1));
  return 0;
}
