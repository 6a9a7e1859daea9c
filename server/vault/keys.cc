#include "server/vault/keys.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "crypto/aead.h"
#include "crypto/base32.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "crypto/signing.h"
#include "server/audit/audit_log.h"
#include "server/storage/tx.h"
#include "server/vault/internal.h"

namespace kluis::server {

absl::StatusOr<crypto::XChaCha20Poly1305> PrivateKeySealer(const crypto::SecretBytes& root) {
  absl::StatusOr<crypto::SecretBytes> key =
      crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kPrivateKeySeal);
  if (!key.ok()) return key.status();
  return crypto::XChaCha20Poly1305::Create(*std::move(key));
}

std::string PkiAssociatedData(absl::string_view name) { return absl::StrCat("kluis/pki/v1/", name); }

std::string NormaliseCode(absl::string_view code) {
  std::string normalised;
  for (char c : code) {
    if (c != '-' && c != ' ') normalised.push_back(absl::ascii_toupper(c));
  }
  return normalised;
}

std::string HashCode(absl::string_view code) {
  return crypto::Blake2b256().Update("kluis/enroll/v1").Update(NormaliseCode(code)).Finish();
}

std::string NewCode() {
  const std::string plain = crypto::Base32Encode(crypto::RandomBytes(16));
  std::string grouped;
  for (size_t i = 0; i < plain.size(); ++i) {
    if (i > 0 && i % 4 == 0) grouped.push_back('-');
    grouped.push_back(plain[i]);
  }
  return grouped;
}

absl::StatusOr<std::unique_ptr<audit::Checkpointer>> MakeCheckpointer(const crypto::SecretBytes& root,
                                                                       int64_t every_records, absl::Duration every) {
  absl::StatusOr<crypto::SecretBytes> seed = crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kAuditSigning);
  if (!seed.ok()) return seed.status();
  absl::StatusOr<crypto::Ed25519Signer> signer = crypto::Ed25519Signer::FromSeed(*seed);
  if (!signer.ok()) return signer.status();
  return std::make_unique<audit::Checkpointer>(*std::move(signer), every_records, every);
}

absl::StatusOr<std::string> FingerprintOf(const Presented& presented) {
  absl::StatusOr<std::string> fingerprint = crypto::CertificateFingerprint(presented.certificate_pem);
  if (!fingerprint.ok()) return absl::UnauthenticatedError("client certificate is unreadable");
  return fingerprint;
}

}  // namespace kluis::server
