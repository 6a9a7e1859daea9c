// Creating, opening and running a vault: the root key, the database, the CA, the policy, checkpoints.
#include "server/vault/vault.h"

#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include "absl/strings/str_cat.h"
#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/files.h"
#include "server/vault/internal.h"
#include "server/vault/keys.h"

namespace kluis::server {

std::string RootKeyPath(const std::string& data_dir) { return data_dir + "/root.sealed"; }

std::string DatabasePath(const std::string& data_dir) { return data_dir + "/vault.db"; }

std::string CaCertificatePath(const std::string& data_dir) { return data_dir + "/ca.pem"; }

Vault::Vault(DataDirLock lock, std::unique_ptr<storage::Database> db, crypto::SecretBytes root,
             SecretSealer sealer, std::unique_ptr<audit::Checkpointer> checkpointer, Clock& clock,
             policies::Policy policy)
    : lock_(std::move(lock)),
      db_(std::move(db)),
      root_(std::move(root)),
      sealer_(std::move(sealer)),
      checkpointer_(std::move(checkpointer)),
      clock_(clock),
      policy_(std::make_shared<const policies::Policy>(std::move(policy))) {}

Vault::~Vault() = default;

namespace {

// The names the server's certificate is valid for: the loopback names, the --listen host unless it
// is a wildcard, and --server-name.
std::vector<std::string> ServerNames(const InitOptions& options) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  if (const size_t colon = options.listen.rfind(':'); colon != std::string::npos) {
    std::string host = options.listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    // A wildcard listen address (all zeros, IPv4 or IPv6) names no host to put in a certificate.
    const bool wildcard = host.find_first_not_of("0.:") == std::string::npos;
    if (!host.empty() && !wildcard) names.push_back(host);
  }
  names.insert(names.end(), options.server_names.begin(), options.server_names.end());
  std::sort(names.begin() + 3, names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// A new vault's first rows, in one transaction: the CA and server keys (sealed), its settings, the
// first operator with their enrollment code, and the record that opens the audit chain.
absl::Status FirstRecords(Tx& tx, const InitOptions& options, const crypto::XChaCha20Poly1305& pki_sealer,
                          const crypto::KeyAndCertificate& ca_material,
                          const crypto::KeyAndCertificate& server_material, const EnrollmentCode& admin_code,
                          absl::Time now) {
  for (auto [name, material] : {std::pair{"ca", &ca_material}, std::pair{"server", &server_material}}) {
    if (absl::Status s = tx.PutPki(name, material->certificate_pem,
                                   pki_sealer.Seal(material->private_key_pem.Reveal(),
                                                    PkiAssociatedData(name)));
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = tx.PutMeta("listen", options.listen); !s.ok()) return s;
  if (absl::Status s = tx.PutMeta("created", absl::FormatTime(now)); !s.ok()) return s;
  // The first operator: the only binding nobody grants, because nobody exists yet.
  absl::StatusOr<int64_t> admin = tx.InsertUser(options.admin_user, options.admin_user, Micros(now));
  if (!admin.ok()) return admin.status();
  storage::BindingRow binding;
  binding.user_id = *admin;
  binding.role = policies::Role::kOperator;
  binding.scope_kind = policies::ScopeKind::kGlobal;
  binding.valid_from_us = Micros(now);
  binding.granted_by = "kluisd-init";
  if (absl::StatusOr<int64_t> id = tx.InsertBinding(binding); !id.ok()) return id.status();
  if (absl::Status s = tx.InsertEnrollmentCode(*admin, HashCode(admin_code.code), Micros(now),
                                               Micros(admin_code.expires_at));
      !s.ok()) {
    return s;
  }
  audit::AuditEvent event;
  event.actor = "kluisd-init";
  event.action = "init";
  event.decision = "allow";
  event.rule = "init.first-operator";
  event.reason = absl::StrCat("vault created; operator ", options.admin_user);
  event.outcome = "ok";
  return audit::Append(tx, event, now).status();
}

}  // namespace

absl::StatusOr<InitResult> Vault::Init(const InitOptions& options,
                                       const crypto::SecretBytes& passphrase, Clock& clock) {
  if (absl::Status s = CheckName("admin user", options.admin_user); !s.ok()) return s;
  if (Exists(RootKeyPath(options.data_dir)) || Exists(DatabasePath(options.data_dir))) {
    return absl::AlreadyExistsError(absl::StrCat("a vault already exists in ", options.data_dir,
                                                 "; refusing to overwrite it"));
  }
  if (::mkdir(options.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.data_dir, ": ", std::strerror(errno)));
  }
  absl::StatusOr<DataDirLock> lock = DataDirLock::Acquire(options.data_dir);
  if (!lock.ok()) return lock.status();
  const absl::Time now = clock.Now();

  crypto::SecretBytes root;
  absl::StatusOr<std::string> sealed_root =
      crypto::RootKey::CreateSealed(passphrase, options.argon2, &root);
  if (!sealed_root.ok()) return sealed_root.status();
  absl::StatusOr<crypto::SecretBytes> db_key =
      crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kDatabase);
  if (!db_key.ok()) return db_key.status();

  // The certificate authority and the server's TLS identity, their keys sealed under the root.
  absl::StatusOr<crypto::KeyAndCertificate> ca_material =
      crypto::CertificateAuthority::CreateNew("Kluis vault CA", now);
  if (!ca_material.ok()) return ca_material.status();
  absl::StatusOr<crypto::CertificateAuthority> ca = crypto::CertificateAuthority::Create(
      ca_material->private_key_pem.Clone(), ca_material->certificate_pem);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<crypto::KeyAndCertificate> server_material =
      ca->IssueServerCertificate(ServerNames(options), now);
  if (!server_material.ok()) return server_material.status();
  absl::StatusOr<crypto::XChaCha20Poly1305> pki_sealer = PrivateKeySealer(root);
  if (!pki_sealer.ok()) return pki_sealer.status();

  absl::StatusOr<std::unique_ptr<storage::Database>> db =
      storage::Database::Open(DatabasePath(options.data_dir), *db_key, storage::Database::Mode::kCreate);
  if (!db.ok()) return db.status();

  const EnrollmentCode admin_code{NewCode(), now + kEnrollmentCodeLifetime};
  absl::Status stored = (*db)->Write([&](Tx& tx) {
    return FirstRecords(tx, options, *pki_sealer, *ca_material, *server_material, admin_code, now);
  });
  if (stored.ok()) {
    stored = WriteFileAtomically(CaCertificatePath(options.data_dir), ca_material->certificate_pem, 0644);
  }
  // The sealed root key is written last: a vault without it is not a vault, and a failed init
  // leaves nothing that a second init would refuse.
  if (stored.ok()) stored = WriteFileAtomically(RootKeyPath(options.data_dir), *sealed_root, 0600);
  if (!stored.ok()) {
    db->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      ::unlink((DatabasePath(options.data_dir) + suffix).c_str());
    }
    return stored;
  }
  absl::StatusOr<std::string> fingerprint = crypto::CertificateFingerprint(ca_material->certificate_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  return InitResult{admin_code, *fingerprint, CaCertificatePath(options.data_dir)};
}

absl::StatusOr<std::unique_ptr<storage::Database>> OpenVaultDatabase(const std::string& data_dir,
                                                                     const crypto::SecretBytes& root) {
  absl::StatusOr<crypto::SecretBytes> db_key = crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kDatabase);
  if (!db_key.ok()) return db_key.status();
  absl::StatusOr<std::unique_ptr<storage::Database>> db =
      storage::Database::Open(DatabasePath(data_dir), *db_key, storage::Database::Mode::kOpenExisting);
  // The root key opened, so the passphrase is right: a database that does not open with the key
  // derived from it is damaged (its first page, say) or another vault's, not a wrong passphrase.
  if (!db.ok() && db.status().code() == absl::StatusCode::kPermissionDenied) {
    return absl::DataLossError(absl::StrCat(
        DatabasePath(data_dir), " does not open with this vault's key although the passphrase is right: "
        "the database is damaged, or it is another vault's (restore it from a backup)"));
  }
  return db;
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::Open(const std::string& data_dir,
                                                   const crypto::SecretBytes& passphrase,
                                                   Clock& clock, policies::Policy policy) {
  if (!Exists(RootKeyPath(data_dir))) {
    return absl::NotFoundError(absl::StrCat("no vault in ", data_dir, " (run kluisd init first)"));
  }
  absl::StatusOr<std::string> sealed_root = ReadWholeFile(RootKeyPath(data_dir));
  if (!sealed_root.ok()) return sealed_root.status();
  absl::StatusOr<crypto::SecretBytes> root = crypto::RootKey::Open(*sealed_root, passphrase);
  if (!root.ok()) return root.status();
  // One process at a time serves a data directory: taken before the database is opened, so a
  // second server does not even sweep (and after the passphrase, so a wrong one leaves no file).
  absl::StatusOr<DataDirLock> lock = DataDirLock::Acquire(data_dir);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<std::unique_ptr<storage::Database>> db = OpenVaultDatabase(data_dir, *root);
  if (!db.ok()) return db.status();
  // Damage anywhere in the file is named by CheckIntegrity, which kluisd serve runs beside
  // serving: a scan of every page grows with the log, and start-up must not (issue 18). Until it
  // ends, a damaged page still cannot be read as data: SQLCipher authenticates every page it reads.
  absl::StatusOr<SecretSealer> sealer = SecretSealer::Create(*root, /*key_version=*/1);
  if (!sealer.ok()) return sealer.status();
  absl::StatusOr<std::unique_ptr<audit::Checkpointer>> checkpointer =
      MakeCheckpointer(*root, kCheckpointEveryRecords, kCheckpointEvery);
  if (!checkpointer.ok()) return checkpointer.status();
  // A broken chain means the log was altered behind the vault's back: refuse to serve on it. The
  // last signed checkpoint vouches for what comes before it.
  absl::Status chain = (*db)->Read([&](Tx& tx) {
    return audit::VerifyFromLastCheckpoint(tx, (*checkpointer)->public_key()).status();
  });
  if (!chain.ok()) {
    return absl::DataLossError(absl::StrCat("refusing to serve: ", chain.message()));
  }
  // Previous versions past their retention are destroyed at start (and after each rotation).
  const int64_t cutoff = Micros(clock.Now() - policy.previous_retention);
  // So are the secrets of accounts stopped longer ago than their retention (R8).
  const int64_t stopped_cutoff = Micros(clock.Now() - policy.stopped_retention);
  if (absl::Status swept = (*db)->Write([&](Tx& tx) -> absl::Status {
        if (absl::Status s = tx.DestroyPreviousBefore(cutoff).status(); !s.ok()) return s;
        return tx.DestroyStoppedBefore(stopped_cutoff).status();
      });
      !swept.ok()) {
    return swept;
  }
  return std::unique_ptr<Vault>(new Vault(*std::move(lock), *std::move(db), *std::move(root),
                                          *std::move(sealer), *std::move(checkpointer), clock,
                                          std::move(policy)));
}

absl::Status Vault::CheckIntegrity() { return db_->CheckIntegrity(/*quick=*/true); }

absl::StatusOr<ServerIdentity> Vault::Identity() {
  ServerIdentity identity;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::PkiRow>> server = tx.GetPki("server");
    if (!server.ok()) return server.status();
    absl::StatusOr<std::optional<storage::PkiRow>> ca = tx.GetPki("ca");
    if (!ca.ok()) return ca.status();
    if (!server->has_value() || !ca->has_value()) {
      return absl::DataLossError("the vault has no TLS identity");
    }
    absl::StatusOr<crypto::XChaCha20Poly1305> sealer = PrivateKeySealer(root_);
    if (!sealer.ok()) return sealer.status();
    absl::StatusOr<crypto::SecretBytes> key =
        sealer->Open((*server)->sealed_key, PkiAssociatedData("server"));
    if (!key.ok()) return absl::DataLossError("the server's sealed TLS key does not open");
    identity.private_key_pem = *std::move(key);
    identity.certificate_pem = (*server)->certificate_pem;
    identity.ca_certificate_pem = (*ca)->certificate_pem;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return identity;
}

absl::StatusOr<std::string> Vault::DefaultListenAddress() {
  std::string listen = "127.0.0.1:7443";
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<std::string>> value = tx.GetMeta("listen");
    if (!value.ok()) return value.status();
    if (value->has_value()) listen = **value;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return listen;
}

std::shared_ptr<const audit::Checkpointer> Vault::checkpointer() const {
  absl::MutexLock lock(&checkpointer_mu_);
  return checkpointer_;
}

std::shared_ptr<const policies::Policy> Vault::policy() const {
  absl::MutexLock lock(&policy_mu_);
  return policy_;
}

absl::Status Vault::ReloadPolicy(const std::string& path) {
  const absl::Time now = clock_.Now();
  absl::StatusOr<policies::Policy> loaded = absl::NotFoundError(absl::StrCat("cannot read policy file ", path));
  if (std::ifstream in(path, std::ios::binary); in) {
    std::ostringstream text;
    text << in.rdbuf();
    loaded = text.str().size() > 1024 * 1024
                 ? absl::InvalidArgumentError(absl::StrCat(path, ": policy file larger than 1 MiB"))
                 : policies::ParsePolicy(text.str(), path);
  }
  audit::AuditEvent reload;
  reload.actor = "kluisd";
  reload.action = "policy-reload";
  Attempt attempt(std::move(reload), now);
  // The new rules count from the moment the record of them is durable.
  auto step = [&](Tx&, Attempt& self) -> absl::Status {
    if (!loaded.ok()) {
      self.Decide(DeniedBy("policy.invalid"));
      self.event().reason = std::string(loaded.status().message());
      return self.Refuse(loaded.status());
    }
    self.Decide(Decision{policies::Verdict::kAllow, "policy.valid", {}});
    self.event().reason =
        absl::StrCat(path, ": policy \"", loaded->name, "\", ", loaded->rules.size(), " rules");
    return absl::OkStatus();
  };
  if (absl::Status s = Run(attempt, step); !s.ok()) return s;
  absl::MutexLock lock(&policy_mu_);
  policy_ = std::make_shared<const policies::Policy>(*std::move(loaded));
  return absl::OkStatus();
}

absl::StatusOr<crypto::CertificateAuthority> Vault::LoadCa(Tx& tx) {
  absl::StatusOr<std::optional<storage::PkiRow>> row = tx.GetPki("ca");
  if (!row.ok()) return row.status();
  if (!row->has_value()) return absl::DataLossError("the vault has no certificate authority");
  absl::StatusOr<crypto::XChaCha20Poly1305> sealer = PrivateKeySealer(root_);
  if (!sealer.ok()) return sealer.status();
  absl::StatusOr<crypto::SecretBytes> key = sealer->Open((*row)->sealed_key, PkiAssociatedData("ca"));
  if (!key.ok()) return absl::DataLossError("the CA's sealed key does not open");
  return crypto::CertificateAuthority::Create(*std::move(key), (*row)->certificate_pem);
}

absl::Status Vault::ScheduleCheckpoints(int64_t every_records, absl::Duration every) {
  if (every_records < 1 || every <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("checkpoints need a positive number of records and of seconds");
  }
  absl::StatusOr<std::unique_ptr<audit::Checkpointer>> checkpointer = MakeCheckpointer(root_, every_records, every);
  if (!checkpointer.ok()) return checkpointer.status();
  absl::MutexLock lock(&checkpointer_mu_);
  checkpointer_ = *std::move(checkpointer);
  return absl::OkStatus();
}

}  // namespace kluis::server
