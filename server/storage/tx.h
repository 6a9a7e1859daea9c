#ifndef KLUIS_SERVER_STORAGE_TX_H_
#define KLUIS_SERVER_STORAGE_TX_H_

#include "absl/strings/string_view.h"
#include <sqlcipher/sqlite3.h>

#include <cstdint>
#include <optional>
#include <utility>
#include <string>

#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "server/storage/database.h"
#include "server/storage/rows.h"

namespace kluis::storage {

// The typed queries of one transaction, handed to Database::Write and Database::Read bodies. Valid
// only inside that body. Every method is one or two SQL statements; no policy lives here.
class Tx {
 public:
  Tx(sqlite3* db, StatementCache* statements) : db_(db), statements_(statements) {}

  // Runs `body` in a savepoint of this transaction: if it fails, what it changed is undone and the
  // transaction goes on without it. Its status is returned.
  absl::Status Savepoint(absl::FunctionRef<absl::Status()> body);

  // vault_meta
  absl::Status PutMeta(absl::string_view key, absl::string_view value);
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key);

  // pki: the sealed CA and server keys
  absl::Status PutPki(absl::string_view name, absl::string_view certificate_pem,
                      absl::string_view sealed_key);
  absl::StatusOr<std::optional<PkiRow>> GetPki(absl::string_view name);

  // units and teams
  absl::StatusOr<int64_t> InsertUnit(absl::string_view name, absl::string_view display_name,
                                     int64_t now_us);
  absl::StatusOr<std::optional<UnitRow>> FindUnit(absl::string_view name);
  absl::StatusOr<std::optional<UnitRow>> FindUnitById(int64_t id);
  absl::StatusOr<int64_t> InsertTeam(int64_t unit_id, absl::string_view name,
                                     absl::string_view display_name, int64_t now_us);
  // Teams named `name`, in any unit.
  absl::StatusOr<std::vector<TeamRow>> FindTeams(absl::string_view name);
  absl::StatusOr<std::optional<TeamRow>> FindTeamById(int64_t id);

  // users
  absl::StatusOr<int64_t> InsertUser(absl::string_view name, absl::string_view display_name,
                                     int64_t now_us);
  absl::StatusOr<std::optional<UserRow>> FindUser(absl::string_view name);
  absl::StatusOr<std::optional<UserRow>> FindUserById(int64_t id);
  absl::Status DeactivateUser(int64_t user_id, int64_t now_us);

  // role bindings
  absl::StatusOr<int64_t> InsertBinding(const BindingRow& binding);
  // Bindings of a user that are not ended and are valid at `now_us`.
  absl::StatusOr<std::vector<BindingRow>> ActiveBindings(int64_t user_id, int64_t now_us);
  // All bindings (of one user, when given), ended ones included, in id order after `after_id`, at
  // most `limit` (-1: all).
  absl::StatusOr<std::vector<BindingRow>> ListBindings(std::optional<int64_t> user_id,
                                                       int64_t after_id = 0, int64_t limit = -1);
  // Ends the matching active bindings; returns how many.
  absl::StatusOr<int> EndBindings(int64_t user_id, std::optional<policies::Role> role,
                                  std::optional<policies::ScopeKind> scope_kind,
                                  std::optional<int64_t> scope_id, int64_t now_us,
                                  absl::string_view ended_by);
  // The active users bound as `role` on exactly this scope at `now_us`: (id, name) pairs.
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> UsersWithRole(
      policies::ScopeKind scope_kind, int64_t scope_id, policies::Role role, int64_t now_us);

  // accounts
  absl::StatusOr<int64_t> InsertAccount(int64_t team_id, absl::string_view platform,
                                        absl::string_view handle, policies::AccountKind kind,
                                        int64_t now_us, absl::string_view created_by);
  // Accounts with this handle (case-insensitive), on any platform, or on `platform` when given.
  absl::StatusOr<std::vector<AccountRow>> FindAccounts(absl::string_view handle,
                                                       std::optional<absl::string_view> platform);
  absl::StatusOr<std::optional<AccountRow>> FindAccountById(int64_t id);
  absl::StatusOr<std::vector<AccountRow>> ListAccounts();
  absl::Status SetAccountMandatory(int64_t account_id, bool mandatory);
  // Stopped (R8): the account waits to be deleted on the platform.
  absl::Status StopAccount(int64_t account_id, absl::string_view reason, int64_t now_us);
  // Archived: the account left custody (R14) and stays only for the audit trail.
  absl::Status ArchiveAccount(int64_t account_id, int64_t now_us);
  // R8: a stopped account was deleted on the platform (`reference`: the platform's confirmation).
  absl::Status MarkDeleted(int64_t account_id, absl::string_view reference, int64_t now_us);
  absl::Status SetArchiveReference(int64_t account_id, absl::string_view reference);

  // secrets
  absl::StatusOr<std::optional<SecretRow>> CurrentSecret(int64_t account_id, SecretKind kind);
  // The newest row of a kind in a state.
  absl::StatusOr<std::optional<SecretRow>> SecretInState(int64_t account_id, SecretKind kind,
                                                         SecretState state);
  absl::StatusOr<std::optional<SecretRow>> SecretVersion(int64_t account_id, SecretKind kind,
                                                         int64_t version);
  // Two-phase rotation: the pending row becomes current and the current one previous; or the
  // pending row is destroyed. Return whether there was a pending row.
  absl::StatusOr<bool> ConfirmPending(int64_t account_id, SecretKind kind, int64_t now_us);
  absl::StatusOr<bool> AbortPending(int64_t account_id, SecretKind kind);
  // Destroys previous versions retired before `cutoff_us`; returns how many.
  absl::StatusOr<int> DestroyPreviousBefore(int64_t cutoff_us);
  // Clears the open rotation flags of an account; returns how many.
  absl::StatusOr<int> ClearRotationFlags(int64_t account_id, absl::string_view cleared_by, int64_t now_us);
  // Stores `secret` as the current version of its kind; the former current one becomes previous.
  // Fills in secret.version (one past the highest) before sealing is done by the caller, so call
  // NextSecretVersion first, seal with that version, then InsertCurrentSecret.
  absl::StatusOr<int64_t> NextSecretVersion(int64_t account_id, SecretKind kind);
  absl::Status InsertCurrentSecret(const SecretRow& secret);
  // Stores a row as given (its state too), retiring nothing.
  absl::Status InsertSecret(const SecretRow& secret);
  // Every current row of a kind, lowest version first.
  absl::StatusOr<std::vector<SecretRow>> CurrentSecrets(int64_t account_id, SecretKind kind);
  // Marks every current row of a kind destroyed and wipes its sealed value; returns how many.
  absl::StatusOr<int> DestroyCurrentSecrets(int64_t account_id, SecretKind kind);
  // Marks one row destroyed and wipes its sealed value (a used recovery code).
  absl::Status DestroySecret(int64_t secret_id);
  // Destroys every sealed secret of an account, of every kind and state; returns how many.
  absl::StatusOr<int> DestroyAllSecrets(int64_t account_id);
  // Destroys the secrets of accounts stopped before `cutoff_us` (R8 retention); returns how many.
  absl::StatusOr<int> DestroyStoppedBefore(int64_t cutoff_us);

  // kabinetswissel plans and their steps
  absl::Status InsertPlan(const PlanRow& plan);
  absl::StatusOr<std::optional<PlanRow>> FindPlan(absl::string_view id);
  absl::StatusOr<bool> StepDone(absl::string_view plan_id, int64_t account_id, absl::string_view step);
  absl::Status MarkStepDone(absl::string_view plan_id, int64_t account_id, absl::string_view step,
                            int64_t now_us, absl::string_view by);

  // enrollment codes
  // Stores a new code for the user; earlier unused codes of the user are revoked.
  absl::Status InsertEnrollmentCode(int64_t user_id, absl::string_view code_hash, int64_t now_us,
                                    int64_t expires_us);
  absl::StatusOr<std::optional<EnrollmentCodeRow>> LatestEnrollmentCode(int64_t user_id);
  absl::Status CountEnrollmentAttempt(int64_t code_id);
  absl::Status MarkEnrollmentCodeUsed(int64_t code_id, int64_t now_us);

  // client certificates
  absl::Status InsertCertificate(const CertificateRow& certificate);
  absl::StatusOr<std::optional<CertificateRow>> FindCertificate(absl::string_view fingerprint);
  // Revokes every certificate of the user not revoked yet; returns how many.
  absl::StatusOr<int> RevokeCertificates(int64_t user_id, int64_t now_us, absl::string_view reason);
  // Revokes one certificate; false when it was revoked already.
  absl::StatusOr<bool> RevokeCertificate(absl::string_view fingerprint, int64_t now_us, absl::string_view reason);
  // A user's certificates, oldest first.
  absl::StatusOr<std::vector<CertificateRow>> ListCertificates(int64_t user_id);

  // access requests
  absl::StatusOr<int64_t> InsertRequest(const RequestRow& request);
  absl::StatusOr<std::optional<RequestRow>> FindRequest(int64_t id);
  // Requests of one requester when given, newest first: those not yet used, or with `with_used`
  // the used ones too (a requester's own list shows what their grants were spent on).
  absl::StatusOr<std::vector<RequestRow>> ListRequests(std::optional<int64_t> requester_id,
                                                       int64_t limit, bool with_used = false);
  absl::Status RecordRequestDecision(int64_t id, bool escalation, bool approve,
                                     absl::string_view by, int64_t at_us, absl::string_view reason,
                                     std::optional<int64_t> ttl_us);
  absl::Status RecordEscalation(int64_t id, int64_t at_us);
  absl::Status MarkRequestUsed(int64_t id, int64_t at_us);

  // notifications
  absl::Status InsertNotification(const NotificationRow& notification);
  absl::StatusOr<std::vector<NotificationRow>> ListNotifications(int64_t user_id, int64_t limit);

  // Requests not yet used on the accounts with ids first..last.
  absl::StatusOr<std::vector<RequestRow>> UnusedRequestsOf(int64_t first_account_id,
                                                           int64_t last_account_id);
  // Requests that may still wait for a decision (kWaitingRequestsSql): newest first, before
  // `before_id`, asked or escalated after `waiting_since_us`.
  absl::StatusOr<std::vector<RequestRow>> WaitingRequests(int64_t before_id,
                                                          int64_t waiting_since_us, int64_t limit);

  // rotation flags
  absl::Status RaiseRotationFlag(int64_t account_id, absl::string_view cause,
                                 absl::string_view raised_by, int64_t now_us);
  absl::StatusOr<std::vector<RotationFlagRow>> OpenRotationFlags(std::optional<int64_t> account_id);

  // listings (tx_listings.cc): one statement per page, not one per account
  absl::StatusOr<std::vector<AccountSummary>> AccountSummaries(const AccountPage& page);
  // The bindings of `role` on the accounts with ids first..last that have not ended.
  absl::StatusOr<std::vector<HolderRow>> HoldersOf(int64_t first_account_id,
                                                   int64_t last_account_id, policies::Role role,
                                                   int64_t now_us);
  // The ids of the scopes of `kind` where an active user holds `role` at `now_us`.
  absl::StatusOr<std::vector<int64_t>> ScopesHeld(policies::ScopeKind kind, policies::Role role,
                                                  int64_t now_us);
  // The open rotation flags of the accounts with ids first..last.
  absl::StatusOr<std::vector<RotationFlagRow>> OpenFlagsOf(int64_t first_account_id,
                                                           int64_t last_account_id);
  // The accounts in one scope: an account, a team's, a unit's, or (global) all.
  absl::StatusOr<std::vector<AccountRow>> AccountsIn(policies::ScopeKind kind, int64_t scope_id);
  // The plan SQLite chooses for `sql`, one line per step.
  absl::StatusOr<std::vector<std::string>> QueryPlan(absl::string_view sql);

  // audit
  absl::StatusOr<std::optional<AuditRow>> LastAuditRecord();
  absl::Status InsertAuditRecord(const AuditRow& row);
  absl::StatusOr<std::vector<AuditRow>> ListAuditRecords(const AuditFilter& filter);
  // The chain hash of record `seq`, if there is one.
  absl::StatusOr<std::optional<std::string>> AuditHashAt(int64_t seq);
  absl::Status InsertCheckpoint(const CheckpointRow& checkpoint);
  absl::StatusOr<std::optional<CheckpointRow>> LastCheckpoint();
  // Checkpoints on records after `after_seq` up to `up_to_seq`, in order.
  absl::StatusOr<std::vector<CheckpointRow>> ListCheckpoints(int64_t after_seq, int64_t up_to_seq);

 private:
  absl::StatusOr<Statement> Prepare(absl::string_view sql) { return statements_->Prepare(db_, sql); }
  sqlite3* db_;
  StatementCache* statements_;
};

// The listings' statements by name, for tests that check their query plans.
const std::vector<std::pair<std::string, std::string>>& ListingStatements();

}  // namespace kluis::storage

#endif  // KLUIS_SERVER_STORAGE_TX_H_
