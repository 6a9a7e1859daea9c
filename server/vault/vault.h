#ifndef KLUIS_SERVER_VAULT_VAULT_H_
#define KLUIS_SERVER_VAULT_VAULT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crypto/certificates.h"
#include "crypto/root_key.h"
#include "crypto/secret_bytes.h"
#include "policies/decide.h"
#include "policies/policy.h"
#include "policies/requests.h"
#include "server/audit/audit_log.h"
#include "server/storage/rows.h"
#include "server/vault/clock.h"
#include "server/vault/files.h"
#include "server/vault/secret_sealer.h"
#include "server/vault/types.h"

namespace kluis::storage {
class Database;
class Tx;
}  // namespace kluis::storage

namespace kluis::server {

class Attempt;  // server/vault/attempt.h

// The vault core: one function per use case, each the main flow of that use case, readable top to
// bottom. Every function that touches an account decides first (policies::Decide, a pure
// function), records the attempt in the audit log in the same transaction as any change, and only
// then reads or opens a secret. A denied caller learns nothing about accounts outside their
// scope: a missing account and an invisible one get the same answer.
//
// Thread-safe: all state is in the database, whose transactions are serialised.
class Vault {
 public:
  static constexpr absl::Duration kEnrollmentCodeLifetime = absl::Hours(24);
  static constexpr int kEnrollmentAttempts = 5;
  static constexpr absl::Duration kClientCertificateLifetime = absl::Hours(24 * 365);
  // A signed audit checkpoint every this many records, or on the first record after this long.
  static constexpr int64_t kCheckpointEveryRecords = 100;
  static constexpr absl::Duration kCheckpointEvery = absl::Seconds(60);

  // Creates a new vault in options.data_dir; refuses if one exists there.
  static absl::StatusOr<InitResult> Init(const InitOptions& options,
                                         const crypto::SecretBytes& passphrase, Clock& clock);
  // Opens an existing vault: unseals the root key, opens the database, checks the audit chain.
  static absl::StatusOr<std::unique_ptr<Vault>> Open(
      const std::string& data_dir, const crypto::SecretBytes& passphrase, Clock& clock,
      policies::Policy policy = policies::DefaultPolicy());

  // The release rules in force. A snapshot: a reload does not change it under the caller.
  std::shared_ptr<const policies::Policy> policy() const;
  // Reads and validates a policy file and puts it in force; on any error the policy in force
  // stays. Either way the attempt is audited (action "policy-reload").
  absl::Status ReloadPolicy(const std::string& path);
  // SQLite's quick check of every page and index, on a read snapshot beside the calls being
  // served (kluisd serve runs it once serving has begun); kDataLoss naming the damage.
  absl::Status CheckIntegrity();

  absl::StatusOr<ServerIdentity> Identity();
  absl::StatusOr<std::string> DefaultListenAddress();

  // Identity.
  // The caller behind a certificate: one this vault issued, not revoked, of an active user. A
  // refusal is recorded.
  absl::StatusOr<Caller> Authenticate(const Presented& presented);
  absl::StatusOr<Enrolled> Enroll(absl::string_view user, absl::string_view code,
                                  absl::string_view request_pem, absl::string_view peer);

  // Organisation (operator).
  absl::Status AddUnit(const Caller& caller, absl::string_view unit, absl::string_view display_name);
  absl::Status AddTeam(const Caller& caller, absl::string_view unit, absl::string_view team,
                       absl::string_view display_name);
  absl::StatusOr<EnrollmentCode> AddUser(const Caller& caller, absl::string_view user,
                                         absl::string_view display_name);
  absl::StatusOr<EnrollmentCode> NewEnrollmentCode(const Caller& caller, absl::string_view user);
  struct Disabled {
    int bindings_ended = 0;
    int certificates_revoked = 0;
  };
  absl::StatusOr<Disabled> DisableUser(const Caller& caller, absl::string_view user);
  absl::StatusOr<storage::BindingRow> GrantRole(const Caller& caller, absl::string_view user,
                                                policies::Role role, policies::ScopeKind scope,
                                                absl::string_view scope_name,
                                                std::optional<absl::Time> valid_until);
  absl::StatusOr<int> RevokeRole(const Caller& caller, absl::string_view user, policies::Role role,
                                 policies::ScopeKind scope, absl::string_view scope_name);
  absl::StatusOr<RoleList> ListRoles(const Caller& caller, absl::string_view user,
                                     const PageRequest& page = {});
  // A user's certificates (the operator: anyone's; a user: their own). Never a key.
  absl::StatusOr<CertificateList> ListCertificates(const Caller& caller, absl::string_view user);
  // Revokes one certificate (a lost laptop): the operator, with a reason. Its very next call is
  // refused; the user's other certificates and access stay.
  absl::StatusOr<storage::CertificateRow> RevokeCertificate(const Caller& caller, absl::string_view fingerprint,
                                                            absl::string_view reason);

  // Accounts.
  absl::StatusOr<AccountView> AddAccount(const Caller& caller, absl::string_view platform,
                                         absl::string_view handle, absl::string_view team,
                                         absl::string_view kind, absl::string_view linked_email,
                                         bool mandatory = false);
  // Listings come a page at a time (server/vault/paging.h), in the order the accounts were added.
  absl::StatusOr<AccountList> ListAccounts(const Caller& caller, absl::string_view unit,
                                           absl::string_view team, const PageRequest& page = {});
  absl::StatusOr<AccountView> ShowAccount(const Caller& caller, absl::string_view account);
  // R8: stops an account. Allowed by the rules (beheerder, regisseur) with a reason; refused for
  // a mandatory geographic account, which is only ever handed over. From now on only the
  // regisseur may release it, to delete it on the platform; its secrets are destroyed once the
  // policy's stopped retention has passed.
  absl::StatusOr<AccountView> StopAccount(const Caller& caller, absl::string_view account,
                                          absl::string_view reason);

  // R8: a stopped account was deleted on the platform (`reference`, e.g. the platform's
  // confirmation). Whoever may release the stopped account to delete it records it: its sealed
  // secrets are destroyed at once, it is archived (releases nothing), the regisseur is told.
  absl::StatusOr<AccountView> RecordAccountDeleted(const Caller& caller, absl::string_view account,
                                                   absl::string_view reference);

  // Secrets.
  absl::StatusOr<int64_t> SetPassword(const Caller& caller, absl::string_view account,
                                      const crypto::SecretBytes& password);
  absl::StatusOr<Login> ReleaseCredential(const Presented& presented, absl::string_view account,
                                          const ReleaseOptions& options);

  // Two-factor authentication: the seed stays in the vault, codes leave.
  // `pending`: the new key waits for confirmation (two-phase, like a password rotation).
  absl::StatusOr<int64_t> SetTotp(const Caller& caller, absl::string_view account,
                                  const crypto::SecretBytes& otpauth_or_seed, bool pending = false);

  // Two-phase rotation (the platforms have no password-change API): a generated password is
  // stored as pending; the beheerder sets it on the platform, then confirms (it becomes current,
  // the old one previous, the account's rotation flags are cleared) or aborts.
  absl::StatusOr<Rotation> StartRotation(const Caller& caller, absl::string_view account);
  absl::StatusOr<RotationOutcome> ConfirmRotation(const Caller& caller, absl::string_view account);
  absl::StatusOr<RotationOutcome> AbortRotation(const Caller& caller, absl::string_view account);
  // A password made by the platform's rules, shown and not stored.
  absl::StatusOr<crypto::SecretBytes> GeneratePassword(absl::string_view platform);
  // A replaced password version, while it is kept (policy: previous_retention_days).
  absl::StatusOr<Login> ReleasePrevious(const Presented& presented, absl::string_view account,
                                        int64_t version, absl::string_view reason);
  absl::StatusOr<TotpCode> ReleaseTotpCode(const Presented& presented, absl::string_view account,
                                           const ReleaseOptions& options);
  // Hands the authenticator over as an otpauth URI (a handover, R14); raises a rotation flag.
  absl::StatusOr<crypto::SecretBytes> ExportTotp(const Presented& presented, absl::string_view account,
                                                 absl::string_view reason);
  // Replaces the account's recovery codes; returns how many are stored.
  absl::StatusOr<int> SetRecoveryCodes(const Caller& caller, absl::string_view account,
                                       const std::vector<crypto::SecretBytes>& codes);
  absl::StatusOr<RecoveryCode> ReleaseRecoveryCode(const Presented& presented, absl::string_view account,
                                                   const ReleaseOptions& options);

  // R6: moves the beheerder binding to `to` in one transaction: the predecessor's access ends at
  // once, the password is flagged for rotation, the regisseur is told. `reason` is one of
  // ziekte, verlof, uitdienst, overlijden, functiewijziging, overig; `from` picks one beheerder
  // (default: the caller if a beheerder, else every current beheerder).
  absl::StatusOr<HandoverResult> Handover(const Caller& caller, absl::string_view account,
                                          absl::string_view to, absl::string_view reason,
                                          absl::string_view from);

  // Kabinetswissel (R13, R14): the regisseur of a ministry plans the change of every minister
  // account of the unit (stored in the vault, printed for review), then applies it. Apply carries
  // out each step in a transaction of its own, with its audit record and its mark as done, so a
  // second apply after a failure finishes what is left and does nothing twice. A failing step
  // stops that account's steps; the other accounts go on.
  absl::StatusOr<KabinetswisselPlan> PlanKabinetswissel(const Caller& caller,
                                                        const KabinetswisselInput& input);
  absl::StatusOr<KabinetswisselOutcome> ApplyKabinetswissel(const Caller& caller,
                                                            absl::string_view plan_id);
  // Records where a corporate account's posts are archived (R13): no wipe without it.
  absl::Status RecordArchiveReference(const Caller& caller, absl::string_view account,
                                      absl::string_view reference);

  // Access requests (rules R3, R9, R11).
  absl::StatusOr<RequestView> RequestAccess(const Caller& caller, absl::string_view account,
                                            absl::string_view purpose, absl::string_view reason);
  absl::StatusOr<RequestLists> ListRequests(const Caller& caller, const PageRequest& page = {});
  absl::StatusOr<RequestView> DecideRequest(const Caller& caller, int64_t request_id, bool approve,
                                            absl::string_view reason,
                                            std::optional<absl::Duration> ttl);
  absl::StatusOr<RequestView> EscalateRequest(const Caller& caller, int64_t request_id,
                                              absl::string_view reason);
  absl::StatusOr<Inbox> GetInbox(const Caller& caller, const PageRequest& page = {});
  absl::StatusOr<DueList> ListDue(const Caller& caller, const PageRequest& page = {});

  // Audit.
  absl::StatusOr<AuditList> ListAudit(const Caller& caller, const AuditQuery& query);
  // Streams the audit log to `sink` for an auditor: first records the export itself and signs a
  // checkpoint on that record (so a full export always ends protected), then reads page by page,
  // with memory flat in the size of the log. A unit auditor's export, and any filtered one, is
  // marked filtered (docs/AUDIT_FORMAT.md says what that can prove).
  absl::Status ExportAudit(const Caller& caller, const AuditQuery& query, AuditSink& sink);
  // The Ed25519 public key that checkpoints verify with (32 bytes).
  std::string AuditPublicKey() const { return checkpointer()->public_key(); }
  // How often a checkpoint is signed; call before serving.
  absl::Status ScheduleCheckpoints(int64_t every_records, absl::Duration every);

  // R4: the regisseur's custody report of a unit (all units in scope when empty).
  absl::StatusOr<CustodyReport> Custody(const Caller& caller, absl::string_view unit,
                                        const PageRequest& page = {});

 public:
  ~Vault();

 private:
  Vault(DataDirLock lock, std::unique_ptr<storage::Database> db, crypto::SecretBytes root,
        SecretSealer sealer, std::unique_ptr<audit::Checkpointer> checkpointer, Clock& clock,
        policies::Policy policy);

  // Appends the audit record of `event` (and its checkpoint, when one is due) in `tx`.
  absl::Status Record(storage::Tx& tx, const audit::AuditEvent& event, absl::Time now);

  absl::StatusOr<crypto::CertificateAuthority> LoadCa(storage::Tx& tx);

  // Who presented a certificate, read in `tx` as of `now`: the caller, or the refusal to record
  // and its error (`refused`). Fails only on a storage error.
  struct Identified {
    Caller caller;
    absl::Status refused;
    audit::AuditEvent refusal;
  };
  absl::StatusOr<Identified> Identify(storage::Tx& tx, absl::string_view fingerprint, const Presented& presented,
                                      absl::Time now);

  // The one release path, for every kind of secret: identify the caller, resolve the account
  // among those the caller may see, decide (before anything secret is touched), fetch the sealed
  // rows, carry out the rule's obligations, and record the attempt; all in one transaction that
  // commits before any seal is opened. `also` is a second action decided with the same context
  // (a login release also gives the current 2FA code when the rules allow that too); `fetch` gets
  // the sealed rows (the first is required) and may change them (a recovery code is used up).
  struct Released {
    storage::AccountRow account;
    policies::Decision decision;
    bool also_allowed = false;
  };
  // Reads the sealed rows into the use case's own typed result (nothing opened); NotFound when
  // what the release needs is not stored.
  using Fetch = absl::FunctionRef<absl::Status(storage::Tx&, const storage::AccountRow&, bool also_allowed)>;
  absl::StatusOr<Released> Release(const Presented& presented, absl::string_view account,
                                   policies::Action action, std::optional<policies::Action> also,
                                   const ReleaseOptions& options, Fetch fetch);
  // Stores a secret of `kind` after the store-secret decision, audited as `audit_action`.
  absl::StatusOr<int64_t> Store(const Caller& caller, absl::string_view account,
                                absl::string_view audit_action,
                                absl::FunctionRef<absl::StatusOr<int64_t>(storage::Tx&, const storage::AccountRow&)> store);
  // Stores `plaintext` as the new current version of `kind`; the former one becomes previous.
  absl::StatusOr<int64_t> StoreCurrent(const Caller& caller, absl::string_view account,
                                       absl::string_view audit_action, storage::SecretKind kind,
                                       const crypto::SecretBytes& plaintext, bool pending = false);
  // Seals `plaintext` as a new version of `kind` (current, or pending) inside `tx`.
  absl::StatusOr<int64_t> InsertVersion(storage::Tx& tx, const storage::AccountRow& account,
                                        storage::SecretKind kind, const crypto::SecretBytes& plaintext,
                                        bool pending, absl::string_view by);
  // A kabinetswissel plan on one account: its steps in one transaction, each in a savepoint with
  // its own record; the authenticator handed back opens after the commit.
  absl::Status ApplyKabinetswisselTo(const Caller& caller, const policies::Policy& policy,
                                     KabinetswisselOutcome& outcome, KabinetswisselAccount& entry);
  // One step of a kabinetswissel on one account, inside its transaction: decided afresh on the
  // account as the steps before left it, run, and marked done; `event` notes the decision and
  // what the step did. A failure leaves the step's changes for the caller's savepoint to undo.
  absl::Status RunKabinetswisselStep(storage::Tx& tx, const Caller& caller,
                                     const policies::Policy& policy, absl::string_view plan_id,
                                     const KabinetswisselAccount& entry, int64_t account_id,
                                     KabinetswisselStep& step, absl::Time now,
                                     audit::AuditEvent& event,
                                     std::optional<storage::SecretRow>& handback);
  // Sends the export's own record (`head_seq`) and the checkpoint signed on it: how every export ends.
  absl::Status ExportClosing(int64_t head_seq, AuditSink& sink);
  // Confirms or aborts what is pending for an account, after the store-secret decision.
  absl::StatusOr<RotationOutcome> FinishRotation(const Caller& caller, absl::string_view account, bool confirm);
  absl::StatusOr<TotpCode> CodeFrom(const storage::AccountRow& account, const storage::SecretRow& sealed,
                                    const std::string& rule);
  // The one audited-attempt pipeline (server/vault/attempt.h): identify the caller, let `step`
  // decide and do, record the outcome or the refusal, all in one write; then pick the status.
  using Step = absl::FunctionRef<absl::Status(storage::Tx&, Attempt&)>;
  // Step 1 from the certificate presented, inside the attempt's write: a release. Its step changes
  // rows only after its last refusal (it runs without a savepoint: Database::kBeforeChanging), so
  // it never calls RefuseAndUndo.
  absl::Status Run(Attempt& attempt, const Presented& presented, absl::string_view fingerprint,
                   Step step);
  // Step 1 for a caller authenticated when the call began: checked still current (StillCurrent).
  absl::Status Run(Attempt& attempt, const Caller& caller, Step step);
  // No caller: an enrollment (the code is its proof) or kluisd itself.
  absl::Status Run(Attempt& attempt, Step step);
  absl::Status RunAttempt(Attempt& attempt, const Presented* presented,
                          absl::string_view fingerprint, const Caller* caller, Step step);
  // The common case of Run for a caller: `body` resolves, decides and, when allowed, changes
  // state, filling in `event`; the event commits with the change. When `body` fails or refuses,
  // its change is rolled back and the attempt is recorded in a write of its own.
  absl::Status RunAudited(const Caller& caller, audit::AuditEvent& event, absl::Time now,
                          absl::FunctionRef<absl::Status(storage::Tx&)> body);
  // Records a refusal for bad input (the attempt still gets its record, with the error's message,
  // never the raw input) and returns `error`; a record that cannot be written fails the call.
  absl::Status RefuseInput(const Caller& caller, absl::string_view action, const absl::Status& error);
  // A call other than a release authenticates in a read of its own and acts in a write after it.
  // Inside that write the caller is identified again: if the certificate, the user or the roles
  // changed in between, the call is refused (and asked to run again), so no call acts on roles
  // its caller no longer has.
  absl::Status StillCurrent(storage::Tx& tx, const Caller& caller, absl::Time now);
  absl::StatusOr<EnrollmentCode> IssueEnrollmentCode(const Caller& caller, absl::string_view user,
                                                     bool create, absl::string_view display_name);

  DataDirLock lock_;  // held while the vault is open: one process per data directory
  std::unique_ptr<storage::Database> db_;
  crypto::SecretBytes root_;
  SecretSealer sealer_;
  // The checkpointer in force: ScheduleCheckpoints may swap it while calls run (the key stays the
  // same, derived from the root key; only the schedule changes). Each use takes a snapshot.
  std::shared_ptr<const audit::Checkpointer> checkpointer() const;
  mutable absl::Mutex checkpointer_mu_;
  std::shared_ptr<const audit::Checkpointer> checkpointer_ ABSL_GUARDED_BY(checkpointer_mu_);
  Clock& clock_;
  mutable absl::Mutex policy_mu_;
  std::shared_ptr<const policies::Policy> policy_ ABSL_GUARDED_BY(policy_mu_);
};

// Opens a vault's database with the key derived from its (unsealed) root key. A database that
// does not open with it is kDataLoss (damaged, or another vault's): the passphrase was right.
absl::StatusOr<std::unique_ptr<storage::Database>> OpenVaultDatabase(const std::string& data_dir,
                                                                     const crypto::SecretBytes& root);

// Files in a vault's data directory.
std::string RootKeyPath(const std::string& data_dir);
std::string DatabasePath(const std::string& data_dir);
std::string CaCertificatePath(const std::string& data_dir);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_VAULT_H_
