#ifndef KLUIS_SERVER_BACKUP_H_
#define KLUIS_SERVER_BACKUP_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/root_key.h"
#include "crypto/secret_bytes.h"
#include "server/vault/clock.h"

namespace kluis::server {

// The operator's tools around a vault's data directory (docs/OPERATIONS.md).
//
// A backup file holds the sealed root key, the CA certificate and an online snapshot of the
// database (SQLite's backup API, consistent while kluisd serves), the database still encrypted
// with its key and that key only derivable from the root key, which only the passphrase opens:
// without the passphrase the file reveals nothing but its own size. Layout:
//   "KLUIS-BACKUP\x01" ‖ three entries (root.sealed, ca.pem, vault.db), each
//   name length (u16 BE) ‖ name ‖ size (u64 BE) ‖ bytes ‖ BLAKE2b-256 of all before (integrity).

// Writes a backup of the vault in `data_dir` to `out` (mode 0600; refuses to overwrite).
absl::Status BackupVault(const std::string& data_dir, const crypto::SecretBytes& passphrase,
                         const std::string& out);

// Unpacks a backup into `data_dir`, which must hold no vault, and opens it with the passphrase
// (so a wrong passphrase, a damaged file or a broken audit chain is refused at once; nothing is
// left behind then).
absl::Status RestoreVault(const std::string& in, const std::string& data_dir,
                          const crypto::SecretBytes& passphrase, Clock& clock);

// A full check of a vault, also while it serves: the passphrase, every page and index of the
// database (PRAGMA integrity_check) and the whole audit chain from record 1. The first damage
// found is kDataLoss naming it; a wrong passphrase stays kPermissionDenied.
struct CheckResult {
  int64_t audit_records = 0;
};
absl::StatusOr<CheckResult> CheckVault(const std::string& data_dir, const crypto::SecretBytes& passphrase);

// Reseals the root key under a new passphrase. The database and every secret stay as they are.
absl::Status RekeyPassphrase(const std::string& data_dir, const crypto::SecretBytes& passphrase,
                             const crypto::SecretBytes& new_passphrase, const crypto::Argon2Params& params);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_BACKUP_H_
