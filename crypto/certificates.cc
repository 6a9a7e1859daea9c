#include "crypto/certificates.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <memory>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "crypto/hash.h"

namespace kluis::crypto {
namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct ReqFree { void operator()(X509_REQ* r) const { X509_REQ_free(r); } };
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using ReqPtr = std::unique_ptr<X509_REQ, ReqFree>;

// OpenSSL's last error as text, for messages: it never contains key bytes.
std::string OpenSslError(absl::string_view what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(what);
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return absl::StrCat(what, ": ", buffer);
}

absl::StatusOr<PkeyPtr> NewP256Key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return absl::InternalError(OpenSslError("EC key generation failed"));
  return key;
}

absl::StatusOr<SecretBytes> PrivateKeyPem(EVP_PKEY* key) {
  // A secure-memory BIO is cleared when freed; the PEM is then copied into guarded memory.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(OpenSslError("writing private key failed"));
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return SecretBytes::CopyFrom(absl::string_view(data, static_cast<size_t>(size)));
}

absl::StatusOr<PkeyPtr> ReadPrivateKey(const SecretBytes& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return absl::InvalidArgumentError(OpenSslError("not a PEM private key"));
  return key;
}

absl::StatusOr<X509Ptr> ReadCertificate(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError(OpenSslError("not a PEM certificate"));
  return cert;
}

absl::StatusOr<std::string> CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return absl::InternalError(OpenSslError("writing certificate failed"));
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return absl::InvalidArgumentError(OpenSslError("bad certificate extension"));
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) return absl::InternalError(OpenSslError("adding extension failed"));
  return absl::OkStatus();
}

// A certificate skeleton: random 128-bit serial, subject CN, validity window.
absl::StatusOr<X509Ptr> NewCertificate(absl::string_view common_name, absl::Time now,
                                       absl::Duration validity) {
  X509Ptr cert(X509_new());
  if (!cert) return absl::InternalError("X509_new failed");
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof(serial_bytes));
  serial_bytes[0] &= 0x7f;  // keep the serial positive
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  // Back-date by five minutes so a client whose clock is slightly behind accepts it.
  const time_t not_before = absl::ToTimeT(now - absl::Minutes(5));
  const time_t not_after = absl::ToTimeT(now + validity);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before);
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), not_after);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Kluis"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(std::string(common_name).c_str()),
                             -1, -1, 0);
  return cert;
}

bool LooksLikeIp(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

}  // namespace

struct CertificateAuthority::Impl {
  PkeyPtr key;
  X509Ptr cert;
};

CertificateAuthority::CertificateAuthority(std::unique_ptr<Impl> impl, std::string certificate_pem)
    : impl_(std::move(impl)), certificate_pem_(std::move(certificate_pem)) {}
CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;
CertificateAuthority::~CertificateAuthority() = default;

absl::StatusOr<KeyAndCertificate> CertificateAuthority::CreateNew(absl::string_view common_name,
                                                                  absl::Time now) {
  absl::StatusOr<PkeyPtr> key = NewP256Key();
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> cert = NewCertificate(common_name, now, absl::Hours(24 * 3653));
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  X509_set_pubkey(c, key->get());
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (absl::Status s = AddExtension(c, c, nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, key->get(), EVP_sha256()) == 0) {
    return absl::InternalError(OpenSslError("signing CA certificate failed"));
  }
  absl::StatusOr<SecretBytes> key_pem = PrivateKeyPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::string> cert_pem = CertificatePem(c);
  if (!cert_pem.ok()) return cert_pem.status();
  return KeyAndCertificate{*std::move(key_pem), *std::move(cert_pem)};
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(SecretBytes private_key_pem,
                                                                  std::string certificate_pem) {
  auto impl = std::make_unique<Impl>();
  absl::StatusOr<PkeyPtr> key = ReadPrivateKey(private_key_pem);
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> cert = ReadCertificate(certificate_pem);
  if (!cert.ok()) return cert.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CA private key does not match the CA certificate");
  }
  impl->key = *std::move(key);
  impl->cert = *std::move(cert);
  return CertificateAuthority(std::move(impl), std::move(certificate_pem));
}

absl::StatusOr<KeyAndCertificate> CertificateAuthority::IssueServerCertificate(
    const std::vector<std::string>& names, absl::Time now) const {
  if (names.empty()) return absl::InvalidArgumentError("server certificate needs a name");
  absl::StatusOr<PkeyPtr> key = NewP256Key();
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> cert = NewCertificate(names.front(), now, absl::Hours(24 * 825));
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(impl_->cert.get()));
  X509_set_pubkey(c, key->get());
  std::vector<std::string> alt_names;
  for (const std::string& name : names) {
    alt_names.push_back(absl::StrCat(LooksLikeIp(name) ? "IP:" : "DNS:", name));
  }
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, std::string("critical,CA:FALSE")},
        std::pair{NID_key_usage, std::string("critical,digitalSignature")},
        std::pair{NID_ext_key_usage, std::string("serverAuth")},
        std::pair{NID_subject_alt_name, absl::StrJoin(alt_names, ",")}}) {
    if (absl::Status s = AddExtension(c, impl_->cert.get(), nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, impl_->key.get(), EVP_sha256()) == 0) {
    return absl::InternalError(OpenSslError("signing server certificate failed"));
  }
  absl::StatusOr<SecretBytes> key_pem = PrivateKeyPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::string> cert_pem = CertificatePem(c);
  if (!cert_pem.ok()) return cert_pem.status();
  return KeyAndCertificate{*std::move(key_pem), *std::move(cert_pem)};
}

absl::StatusOr<std::string> CertificateAuthority::IssueClientCertificate(
    absl::string_view request_pem, absl::string_view user, absl::Time now,
    absl::Duration validity) const {
  if (request_pem.size() > 16 * 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate request too large: ", request_pem.size(), " bytes"));
  }
  BioPtr bio(BIO_new_mem_buf(request_pem.data(), static_cast<int>(request_pem.size())));
  ReqPtr request(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!request) {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate request is not a PEM PKCS#10 request");
  }
  EVP_PKEY* request_key = X509_REQ_get0_pubkey(request.get());
  if (request_key == nullptr || X509_REQ_verify(request.get(), request_key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate request signature does not verify");
  }
  char group[64] = {0};
  size_t group_length = 0;
  if (EVP_PKEY_get_base_id(request_key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(request_key, "group", group, sizeof(group), &group_length) !=
          1 ||
      absl::string_view(group) != "prime256v1") {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate request key must be ECDSA P-256");
  }
  absl::StatusOr<X509Ptr> cert = NewCertificate(user, now, validity);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(impl_->cert.get()));
  X509_set_pubkey(c, request_key);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature"},
                            std::pair{NID_ext_key_usage, "clientAuth"}}) {
    if (absl::Status s = AddExtension(c, impl_->cert.get(), nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, impl_->key.get(), EVP_sha256()) == 0) {
    return absl::InternalError(OpenSslError("signing client certificate failed"));
  }
  return CertificatePem(c);
}

absl::StatusOr<KeyAndRequest> GenerateKeyAndRequest(absl::string_view user) {
  absl::StatusOr<PkeyPtr> key = NewP256Key();
  if (!key.ok()) return key.status();
  ReqPtr request(X509_REQ_new());
  X509_REQ_set_version(request.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(request.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(std::string(user).c_str()), -1,
                             -1, 0);
  X509_REQ_set_pubkey(request.get(), key->get());
  if (X509_REQ_sign(request.get(), key->get(), EVP_sha256()) == 0) {
    return absl::InternalError(OpenSslError("signing certificate request failed"));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), request.get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  absl::StatusOr<SecretBytes> key_pem = PrivateKeyPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return KeyAndRequest{*std::move(key_pem), std::string(data, static_cast<size_t>(size))};
}

absl::StatusOr<std::string> CertificateFingerprint(absl::string_view certificate_pem) {
  // Every call authenticates by this, so it reads only the PEM armour and hashes the DER bytes
  // inside as they are — the digest X509_digest gives — without parsing the ASN.1, which was a
  // fifth of a release's CPU (docs/BENCHMARKS.md). The TLS handshake has verified the certificate.
  // Nor does it go through a BIO: OpenSSL 3 takes a process-wide write lock for every BIO_new,
  // which concurrent calls queued on. As PEM_read_bio does, text before the first armour line is
  // skipped, and that first object must be a certificate.
  constexpr absl::string_view kBegin = "-----BEGIN ";
  constexpr absl::string_view kBeginCertificate = "-----BEGIN CERTIFICATE-----";
  constexpr absl::string_view kEndCertificate = "-----END CERTIFICATE-----";
  const absl::Status refused = absl::InvalidArgumentError("not a PEM certificate");
  if (certificate_pem.size() > 64 * 1024) return refused;  // a client certificate is ~1 KiB
  size_t begin = 0;
  while (begin < certificate_pem.size() && !absl::StartsWith(certificate_pem.substr(begin), kBegin)) {
    const size_t newline = certificate_pem.find('\n', begin);
    if (newline == absl::string_view::npos) return refused;
    begin = newline + 1;
  }
  absl::string_view rest = certificate_pem.substr(begin);
  if (!absl::ConsumePrefix(&rest, kBeginCertificate)) return refused;
  absl::ConsumePrefix(&rest, "\r");
  if (!absl::ConsumePrefix(&rest, "\n")) return refused;
  const size_t end = rest.find(kEndCertificate);
  if (end == absl::string_view::npos) return refused;
  // OpenSSL's decoder, as PEM_read_bio uses it (line breaks allowed); not libsodium's, which is
  // constant-time and so three times slower, for bytes that are not secret.
  const absl::string_view base64 = rest.substr(0, end);
  std::string der(base64.size() / 4 * 3 + 3, '\0');
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> decoder(EVP_ENCODE_CTX_new(), &EVP_ENCODE_CTX_free);
  if (decoder == nullptr) return absl::ResourceExhaustedError("out of memory");
  EVP_DecodeInit(decoder.get());
  int written = 0, last = 0;
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (EVP_DecodeUpdate(decoder.get(), out, &written, reinterpret_cast<const unsigned char*>(base64.data()),
                       static_cast<int>(base64.size())) < 0 ||
      EVP_DecodeFinal(decoder.get(), out + written, &last) != 1 || written + last == 0) {
    return refused;
  }
  const size_t length = static_cast<size_t>(written + last);
  unsigned char sha256[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(sha256, reinterpret_cast<const unsigned char*>(der.data()), length);
  return HexEncode(absl::string_view(reinterpret_cast<const char*>(sha256), sizeof(sha256)));
}

absl::StatusOr<std::string> CertificateCommonName(absl::string_view certificate_pem) {
  absl::StatusOr<X509Ptr> cert = ReadCertificate(certificate_pem);
  if (!cert.ok()) return cert.status();
  char buffer[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert->get()), NID_commonName, buffer,
                                sizeof(buffer)) < 0) {
    return absl::InvalidArgumentError("certificate has no common name");
  }
  return std::string(buffer);
}

}  // namespace kluis::crypto
