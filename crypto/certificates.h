#ifndef KLUIS_CRYPTO_CERTIFICATES_H_
#define KLUIS_CRYPTO_CERTIFICATES_H_

#include "absl/strings/string_view.h"
#include <memory>
#include <string>

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {

// A private key (PEM, kept in guarded memory) and its certificate (PEM).
struct KeyAndCertificate {
  SecretBytes private_key_pem;
  std::string certificate_pem;
};

// A private key (PEM) and a PKCS#10 request for it (PEM), made on the client's machine.
struct KeyAndRequest {
  SecretBytes private_key_pem;
  std::string request_pem;
};

// The vault's own certificate authority (ECDSA P-256, SHA-256 signatures, OpenSSL 3). It issues
// the server's TLS certificate and one client certificate per enrolled user. The CA private key
// lives in guarded memory while the server runs and is stored only sealed.
//
// Thread-safe: issuing reads the key and certificate, which never change after Create().
class CertificateAuthority {
 public:
  // Makes a fresh CA named `common_name`, valid for ten years from `now`.
  static absl::StatusOr<KeyAndCertificate> CreateNew(absl::string_view common_name, absl::Time now);
  // Loads an existing CA. Fails if the key does not belong to the certificate.
  static absl::StatusOr<CertificateAuthority> Create(SecretBytes private_key_pem,
                                                     std::string certificate_pem);

  CertificateAuthority(CertificateAuthority&&) noexcept;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept;
  ~CertificateAuthority();

  const std::string& certificate_pem() const { return certificate_pem_; }

  // A new server key and certificate for `names` (DNS names or IP addresses), serverAuth.
  absl::StatusOr<KeyAndCertificate> IssueServerCertificate(const std::vector<std::string>& names,
                                                           absl::Time now) const;
  // Signs a client's PKCS#10 request: checks the request's own signature and that the key is
  // ECDSA P-256, ignores its subject and names `user` instead (CN), clientAuth, valid `validity`.
  absl::StatusOr<std::string> IssueClientCertificate(absl::string_view request_pem,
                                                     absl::string_view user, absl::Time now,
                                                     absl::Duration validity) const;

 private:
  struct Impl;
  explicit CertificateAuthority(std::unique_ptr<Impl> impl, std::string certificate_pem);
  std::unique_ptr<Impl> impl_;
  std::string certificate_pem_;
};

// Makes a client key pair (ECDSA P-256) and a certificate request naming `user`.
absl::StatusOr<KeyAndRequest> GenerateKeyAndRequest(absl::string_view user);

// SHA-256 of the certificate's DER encoding, lowercase hex: how the server recognises a client
// certificate it issued.
absl::StatusOr<std::string> CertificateFingerprint(absl::string_view certificate_pem);

// The subject common name of a certificate.
absl::StatusOr<std::string> CertificateCommonName(absl::string_view certificate_pem);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_CERTIFICATES_H_
