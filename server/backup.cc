#include "server/backup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/files.h"
#include "server/vault/vault.h"

namespace kluis::server {
namespace {

constexpr absl::string_view kMagic("KLUIS-BACKUP\x01", 13);
constexpr const char* kEntries[] = {"root.sealed", "ca.pem", "vault.db"};
constexpr size_t kMaxEntry = size_t{1} << 40;

void PutBigEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(absl::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

absl::StatusOr<crypto::SecretBytes> RootOf(const std::string& data_dir, const crypto::SecretBytes& passphrase) {
  absl::StatusOr<std::string> sealed = ReadWholeFile(RootKeyPath(data_dir));
  if (!sealed.ok()) return sealed.status();
  return crypto::RootKey::Open(*sealed, passphrase);
}

}  // namespace

absl::Status BackupVault(const std::string& data_dir, const crypto::SecretBytes& passphrase,
                         const std::string& out) {
  if (Exists(out)) return absl::AlreadyExistsError(absl::StrCat(out, " exists; refusing to overwrite it"));
  if (!Exists(RootKeyPath(data_dir))) return absl::NotFoundError(absl::StrCat("no vault in ", data_dir));
  absl::StatusOr<crypto::SecretBytes> root = RootOf(data_dir, passphrase);
  if (!root.ok()) return root.status();
  absl::StatusOr<crypto::SecretBytes> key = crypto::DeriveSubkey(*root, crypto::SubkeyPurpose::kDatabase);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::unique_ptr<storage::Database>> db = OpenVaultDatabase(data_dir, *root);
  if (!db.ok()) return db.status();
  const std::string snapshot = out + ".db.part";
  ::unlink(snapshot.c_str());
  absl::Status copied = (*db)->BackupTo(snapshot, *key);
  absl::StatusOr<std::string> db_bytes = copied.ok() ? ReadWholeFile(snapshot) : absl::StatusOr<std::string>(copied);
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((snapshot + suffix).c_str());
  if (!db_bytes.ok()) return db_bytes.status();

  std::string file(kMagic);
  for (const char* name : kEntries) {
    absl::StatusOr<std::string> bytes = std::string(name) == "vault.db"
                                            ? absl::StatusOr<std::string>(*db_bytes)
                                            : ReadWholeFile(absl::StrCat(data_dir, "/", name));
    if (!bytes.ok()) return bytes.status();
    PutBigEndian(&file, std::strlen(name), 2);
    file.append(name);
    PutBigEndian(&file, bytes->size(), 8);
    file.append(*bytes);
  }
  file.append(crypto::Blake2b256Of(file));
  return WriteFileAtomically(out, file, 0600);
}

absl::Status RestoreVault(const std::string& in, const std::string& data_dir,
                          const crypto::SecretBytes& passphrase, Clock& clock) {
  if (Exists(RootKeyPath(data_dir)) || Exists(DatabasePath(data_dir))) {
    return absl::AlreadyExistsError(absl::StrCat("a vault already exists in ", data_dir, "; refusing to overwrite it"));
  }
  absl::StatusOr<std::string> file = ReadWholeFile(in);
  if (!file.ok()) return file.status();
  const absl::Status damaged = absl::DataLossError(absl::StrCat(in, " is not a Kluis backup, or it is damaged"));
  if (file->size() < kMagic.size() + crypto::Blake2b256::kSize || !absl::StartsWith(*file, kMagic)) return damaged;
  const absl::string_view body(file->data(), file->size() - crypto::Blake2b256::kSize);
  if (crypto::Blake2b256Of(body) != absl::string_view(*file).substr(body.size())) return damaged;
  size_t at = kMagic.size();
  std::vector<std::pair<std::string, absl::string_view>> entries;
  for (const char* name : kEntries) {
    if (body.size() - at < 2) return damaged;
    const size_t name_size = GetBigEndian(body.substr(at, 2), 2);
    at += 2;
    if (body.size() - at < name_size + 8 || body.substr(at, name_size) != name) return damaged;
    at += name_size;
    const uint64_t size = GetBigEndian(body.substr(at, 8), 8);
    at += 8;
    if (size > kMaxEntry || body.size() - at < size) return damaged;
    entries.emplace_back(name, body.substr(at, size));
    at += size;
  }
  if (at != body.size()) return damaged;

  if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create ", data_dir, ": ", std::strerror(errno)));
  }
  // Nobody serves the directory while it is half written. The lock is let go before the check
  // below, which opens the vault as kluisd would (and so takes the lock itself).
  std::optional<DataDirLock> lock;
  if (absl::StatusOr<DataDirLock> locked = DataDirLock::Acquire(data_dir); locked.ok()) {
    lock = *std::move(locked);
  } else {
    return locked.status();
  }
  auto remove_all = [&] {
    for (const auto& [name, bytes] : entries) ::unlink(absl::StrCat(data_dir, "/", name).c_str());
    for (const char* suffix : {"-wal", "-shm"}) ::unlink((DatabasePath(data_dir) + suffix).c_str());
  };
  for (const auto& [name, bytes] : entries) {
    // The sealed root key is written last, as at init: a directory without it holds no vault.
    if (name == "root.sealed") continue;
    if (absl::Status s = WriteFileAtomically(absl::StrCat(data_dir, "/", name), bytes, name == "ca.pem" ? 0644 : 0600);
        !s.ok()) {
      remove_all();
      return s;
    }
  }
  if (absl::Status s = WriteFileAtomically(RootKeyPath(data_dir), entries[0].second, 0600); !s.ok()) {
    remove_all();
    return s;
  }
  lock.reset();
  // Open it as kluisd would: the passphrase, the database key and the audit chain are checked.
  absl::StatusOr<std::unique_ptr<Vault>> vault = Vault::Open(data_dir, passphrase, clock);
  if (!vault.ok()) {
    remove_all();
    return vault.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckResult> CheckVault(const std::string& data_dir, const crypto::SecretBytes& passphrase) {
  if (!Exists(RootKeyPath(data_dir))) return absl::NotFoundError(absl::StrCat("no vault in ", data_dir));
  absl::StatusOr<crypto::SecretBytes> root = RootOf(data_dir, passphrase);
  if (!root.ok()) return root.status();
  absl::StatusOr<std::unique_ptr<storage::Database>> db = OpenVaultDatabase(data_dir, *root);
  if (!db.ok()) return db.status();
  if (absl::Status s = (*db)->CheckIntegrity(/*quick=*/false); !s.ok()) return s;
  CheckResult result;
  absl::Status chain = (*db)->Read([&](storage::Tx& tx) -> absl::Status {
    absl::StatusOr<int64_t> records = audit::VerifyChain(tx);
    if (!records.ok()) return records.status();
    result.audit_records = *records;
    return absl::OkStatus();
  });
  if (!chain.ok()) return chain;
  return result;
}

absl::Status RekeyPassphrase(const std::string& data_dir, const crypto::SecretBytes& passphrase,
                             const crypto::SecretBytes& new_passphrase, const crypto::Argon2Params& params) {
  if (!Exists(RootKeyPath(data_dir))) return absl::NotFoundError(absl::StrCat("no vault in ", data_dir));
  // Not while kluisd serves the directory (nor beside another rekey).
  absl::StatusOr<DataDirLock> lock = DataDirLock::Acquire(data_dir);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<std::string> sealed = ReadWholeFile(RootKeyPath(data_dir));
  if (!sealed.ok()) return sealed.status();
  absl::StatusOr<crypto::SecretBytes> root = crypto::RootKey::Open(*sealed, passphrase);
  if (!root.ok()) return root.status();
  absl::StatusOr<std::string> resealed = crypto::RootKey::Reseal(*root, new_passphrase, params);
  if (!resealed.ok()) return resealed.status();
  return WriteFileAtomically(RootKeyPath(data_dir), *resealed, 0600);
}

}  // namespace kluis::server
