// Keys derived from the root key, and the enrollment codes.
#ifndef KLUIS_SERVER_VAULT_KEYS_H_
#define KLUIS_SERVER_VAULT_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/vault/checks.h"
#include "server/vault/vault.h"

namespace kluis::server {

absl::StatusOr<crypto::XChaCha20Poly1305> PrivateKeySealer(const crypto::SecretBytes& root);

std::string PkiAssociatedData(absl::string_view name);

// Enrollment codes: 128 random bits, base32 in groups of four for reading aloud.
std::string NormaliseCode(absl::string_view code);

std::string HashCode(absl::string_view code);

std::string NewCode();

absl::StatusOr<std::unique_ptr<audit::Checkpointer>> MakeCheckpointer(const crypto::SecretBytes& root,
                                                                       int64_t every_records, absl::Duration every);

// The fingerprint a release or an authentication looks the caller up by.
absl::StatusOr<std::string> FingerprintOf(const Presented& presented);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_KEYS_H_
