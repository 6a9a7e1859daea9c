// The rows of the vault's tables, as the typed queries of a transaction (tx.h) return them. Plain
// values: no SQLite here, so layers above can name rows without compiling against the database.
#ifndef KLUIS_SERVER_STORAGE_ROWS_H_
#define KLUIS_SERVER_STORAGE_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "policies/roles.h"

namespace kluis::storage {

struct UnitRow {
  int64_t id = 0;
  std::string name;
  std::string display_name;
};

struct TeamRow {
  int64_t id = 0;
  int64_t unit_id = 0;
  std::string unit_name;
  std::string name;
  std::string display_name;
};

struct UserRow {
  int64_t id = 0;
  std::string name;
  std::string display_name;
  bool active = false;
};

// A role binding as stored, its words (DESIGN.md §5: "beheerder", "account") read into their
// types; scope_id is 0 for the global scope, scope_name resolved for display. A stored binding
// whose role or scope this kluisd does not know is not read at all: an unknown word grants nothing.
struct BindingRow {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string user_name;
  policies::Role role = policies::Role::kBeheerder;
  policies::ScopeKind scope_kind = policies::ScopeKind::kAccount;
  int64_t scope_id = 0;
  std::string scope_name;
  int64_t valid_from_us = 0;
  std::optional<int64_t> valid_until_us;
  std::string granted_by;
  std::optional<int64_t> ended_us;
};

struct AccountRow {
  int64_t id = 0;
  int64_t team_id = 0;
  int64_t unit_id = 0;
  std::string team_name;
  std::string unit_name;
  std::string platform;
  std::string handle;
  // A kind this kluisd does not know reads as none (no rule that names a kind matches it).
  std::optional<policies::AccountKind> kind;
  // A state this kluisd does not know reads as archived: it releases nothing.
  policies::AccountState state = policies::AccountState::kActive;
  bool mandatory = false;  // a mandatory geographic account: never stopped, only handed over (R8)
  std::optional<int64_t> stopped_us;
  std::string stop_reason;
  std::string archive_ref;  // where the posts are archived (R13), before anything is wiped
  std::string name() const { return platform + "/" + handle; }
  // The stored words, for display and the plan's text.
  absl::string_view kind_name() const {
    return kind ? policies::AccountKindName(*kind) : "unknown";
  }
  absl::string_view state_name() const { return policies::AccountStateName(state); }
};

// A kabinetswissel plan as stored: the vault's own encoding of its inputs (server/vault.cc).
struct PlanRow {
  std::string id;
  int64_t unit_id = 0;
  std::string body;
  int64_t created_us = 0;
  std::string created_by;
};

// The kinds of sealed secret an account has (DESIGN.md §5). Their words are the stored form and
// part of every seal's associated data (server/vault/secret_sealer.h): never renamed.
enum class SecretKind { kPassword, kLinkedEmail, kTotp, kRecoveryCode };
// Where a sealed version is in its life: pending (a rotation not yet confirmed), current, previous
// (kept for the retention period), destroyed (its sealed value wiped).
enum class SecretState { kPending, kCurrent, kPrevious, kDestroyed };

absl::string_view SecretKindName(SecretKind kind);  // "password", "email", "totp", "recovery-code"
std::optional<SecretKind> ParseSecretKind(absl::string_view name);
absl::string_view SecretStateName(SecretState state);  // "pending", "current", "previous", "destroyed"
std::optional<SecretState> ParseSecretState(absl::string_view name);

struct SecretRow {
  int64_t id = 0;
  int64_t account_id = 0;
  SecretKind kind = SecretKind::kPassword;
  int64_t version = 0;
  SecretState state = SecretState::kCurrent;
  std::string sealed;
  int64_t key_version = 0;
  std::string created_by;
  int64_t created_us = 0;
  std::optional<int64_t> retired_us;
};

struct EnrollmentCodeRow {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string code_hash;
  int64_t created_us = 0;
  int64_t expires_us = 0;
  std::optional<int64_t> used_us;
  std::optional<int64_t> revoked_us;
  int64_t attempts = 0;
};

struct CertificateRow {
  std::string fingerprint;
  int64_t user_id = 0;
  int64_t issued_us = 0;
  int64_t not_after_us = 0;
  std::optional<int64_t> revoked_us;
  std::string revoke_reason;
};

struct PkiRow {
  std::string certificate_pem;
  std::string sealed_key;
};

// An access request as stored: facts with their times; the state is derived by the policy.
// How a request (or its escalation) was answered; the schema allows only these two.
enum class RequestAnswer { kApprove, kDeny };

struct RequestRow {
  int64_t id = 0;
  int64_t account_id = 0;
  int64_t requester_id = 0;
  std::string requester;
  std::string rule_id, purpose, reason;
  int64_t created_us = 0;
  std::optional<RequestAnswer> decision;
  std::string decided_by, decision_reason;
  std::optional<int64_t> decided_us, grant_ttl_us;
  std::optional<int64_t> escalated_us;
  std::optional<RequestAnswer> escalation_decision;
  std::string escalation_decided_by, escalation_reason;
  std::optional<int64_t> escalation_decided_us, escalation_ttl_us;
  std::optional<int64_t> used_us;
};

struct NotificationRow {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string kind;  // "break-glass", "request", "escalation", "decision"
  std::string account;
  std::optional<int64_t> request_id;
  std::string text;
  int64_t created_us = 0;
};

struct RotationFlagRow {
  int64_t id = 0;
  int64_t account_id = 0;
  std::string cause;
  std::string raised_by;
  int64_t raised_us = 0;
};

// One audit record as stored: the fields, the canonical bytes that were hashed, and the chain hash.
struct AuditRow {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::optional<int64_t> unit_id;
  std::string actor, role, action, account, decision, rule, reason, request_id, peer, outcome;
  std::string certificate;  // record version 2 on; "" before
  std::string canonical;
  std::string chain_hash;
};

// A signed audit checkpoint: the chain hash of record `seq` at `time_us`, Ed25519-signed.
struct CheckpointRow {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::string chain_hash;
  std::string signature;
};

struct AuditFilter {
  std::optional<int64_t> since_us, until_us;
  std::optional<std::string> account, actor;
  std::optional<int64_t> after_seq;  // for paging by sequence
  std::optional<int64_t> up_to_seq;  // an export stops at the record that opened it
  bool releases_only = false;        // only secrets that actually left: allowed and ok releases
  // Empty: every unit. Otherwise only records about these units.
  std::vector<int64_t> units;
  int64_t limit = 1000;
};

// Listings walk the accounts in id order, a page at a time (a keyset: the page after `after_id`).
struct AccountPage {
  std::optional<int64_t> unit_id;  // only the accounts of this unit
  std::optional<int64_t> team_id;  // only the accounts of this team
  int64_t after_id = 0;
  int64_t limit = 1000;
  // Only the accounts with something due: an open rotation flag, or (active) a current password
  // created at or before `password_due_us`.
  bool only_due = false;
  std::optional<int64_t> password_due_us;
  bool with_last_release = false;  // fill AccountSummary::last_release_us (the custody report)
};

// One account with what the listings show of it, read in one statement (no secret value).
struct AccountSummary {
  AccountRow account;
  std::optional<int64_t> password_set_us;  // the current password's, if there is one
  bool has_linked_email = false;
  bool has_totp = false;
  int recovery_codes_left = 0;
  bool pending_rotation = false;  // a pending password or 2FA key
  int open_flags = 0;
  std::optional<int64_t> last_release_us;  // with AccountPage::with_last_release
};

// A binding of a user on one account that has not ended, whatever its validity.
struct HolderRow {
  int64_t account_id = 0;
  int64_t user_id = 0;
  std::string user;
  bool user_active = false;
  bool binding_valid = false;  // valid at the time asked
  bool enrolled = false;       // holds a certificate not revoked or expired then
};

}  // namespace kluis::storage

#endif  // KLUIS_SERVER_STORAGE_ROWS_H_
