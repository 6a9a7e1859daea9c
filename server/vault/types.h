// The vault core's value types: what its use cases take and return (server/vault/vault.h).
#ifndef KLUIS_SERVER_VAULT_TYPES_H_
#define KLUIS_SERVER_VAULT_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/root_key.h"
#include "crypto/secret_bytes.h"
#include "policies/decide.h"
#include "policies/requests.h"
#include "server/storage/rows.h"

namespace kluis::server {

// What a call presents before the vault knows who is calling: the client certificate TLS
// verified, and the peer address. The release calls take this rather than a Caller, so that who
// is calling, what the rules allow and the record are one transaction: nothing about the caller
// changes between them, and a release queues for the database once (docs/BENCHMARKS.md).
struct Presented {
  std::string certificate_pem;
  std::string peer;
};

// Who is calling: the user behind a verified client certificate, their role bindings valid now,
// and the network peer (for the audit log).
struct Caller {
  std::string fingerprint;  // of the certificate the call presented
  int64_t user_id = 0;
  std::string user;
  std::vector<storage::BindingRow> bindings;
  std::vector<policies::Binding> policy_bindings;
  std::string peer;
};

// A current TOTP code, computed in the vault: the seed does not leave for this.
struct TotpCode {
  std::string account;
  std::string code;
  int seconds_left = 0;
  std::string next_code;  // when few seconds are left, the code that follows
  std::string pending_code;  // from a pending new key, to answer the platform's confirmation step
  int digits = 6;
  int period = 30;
  std::string rule;
};

// One recovery (backup) code; it is used up by its release.
struct RecoveryCode {
  std::string account;
  crypto::SecretBytes code;
  int remaining = 0;
  std::string rule;
};

// A new password waiting to be set on the platform and confirmed.
struct Rotation {
  std::string account;
  crypto::SecretBytes password;
  int64_t version = 0;
};

struct RotationOutcome {
  std::string account;
  bool password = false;  // a pending password was confirmed (or aborted)
  bool totp = false;      // a pending TOTP key was confirmed (or aborted)
  int flags_cleared = 0;
};

// A released login. The password and e-mail stay in guarded memory until the service layer copies
// them into the reply.
struct Login {
  std::string account;
  std::string handle;
  crypto::SecretBytes password;
  crypto::SecretBytes linked_email;
  std::optional<TotpCode> totp;  // when the account has 2FA and the rules release codes too
  // While a rotation is pending, the new password too: both work until it is confirmed.
  std::optional<crypto::SecretBytes> pending_password;
  int64_t pending_version = 0;
  int64_t version = 0;
  absl::Time set_at;
  std::string rule;
};

// What anyone with a role in scope may see about an account: never a secret.
struct AccountView {
  storage::AccountRow account;
  bool has_password = false;
  bool has_linked_email = false;
  std::vector<std::string> beheerders;
  std::optional<absl::Time> password_set_at;
  bool has_totp = false;
  int recovery_codes_left = 0;
};

struct EnrollmentCode {
  std::string code;  // shown once to the operator
  absl::Time expires_at;
};

struct Enrolled {
  std::string user;
  std::string certificate_pem;
  std::string ca_certificate_pem;
  std::string fingerprint;      // of the new certificate
  int earlier_revoked = 0;      // the user's earlier certificates, revoked by this enrollment
};

// A user's certificates, and which one the asking call presented.
struct CertificateList {
  std::string user;
  std::vector<storage::CertificateRow> certificates;
  std::string current;
};

struct InitOptions {
  std::string data_dir;
  std::string admin_user;
  std::string listen = "127.0.0.1:7443";
  std::vector<std::string> server_names;  // extra DNS names or addresses for the server certificate
  crypto::Argon2Params argon2 = crypto::Argon2Params::Moderate();
};

struct InitResult {
  EnrollmentCode admin_code;
  std::string ca_fingerprint;  // SHA-256 of the CA certificate (DER), hex
  std::string ca_certificate_path;
};

// The TLS material the server listens with. The key stays in guarded memory.
struct ServerIdentity {
  crypto::SecretBytes private_key_pem;
  std::string certificate_pem;
  std::string ca_certificate_pem;
};

// How a release is asked for: the stated reason, as an emergency (`kluis emergency`), or with the
// grant of an access request (`kluis get --request ID`).
struct ReleaseOptions {
  std::string reason;
  bool break_glass = false;
  int64_t request_id = 0;
};

// An access request as the vault shows it: its facts, the account's name, its derived state.
struct RequestView {
  policies::AccessRequest request;
  std::string account;
  policies::RequestStatus status;
  std::vector<std::string> deciders;  // when just made: who can decide it, "user (role)"
};

// The page of a listing asked for: at most `limit` items (0: the server's default), starting after
// the page whose `next_page_token` this is ("" for the first).
struct PageRequest {
  int64_t limit = 0;
  std::string token;
};

struct RoleList {
  std::vector<storage::BindingRow> bindings;  // in the order they were granted
  std::string next_page_token;
};

struct AccountList {
  std::vector<AccountView> accounts;
  std::string next_page_token;  // "": this was the last page
};

struct RequestLists {
  std::vector<RequestView> mine;       // my open requests
  std::vector<RequestView> to_decide;  // requests waiting for my decision (paged)
  std::string next_page_token;         // of to_decide
};

struct Inbox {
  std::vector<RequestView> to_decide;  // paged
  std::vector<storage::NotificationRow> notices;
  std::vector<RequestView> grants;  // my requests that are usable now
  std::string next_page_token;      // of to_decide
};

struct DueFlag {
  std::string account;
  storage::RotationFlagRow flag;
};

// What is due, a page of accounts at a time (each with every flag due on it).
struct DueList {
  std::vector<DueFlag> flags;
  std::string next_page_token;
};

struct AuditQuery {
  std::optional<absl::Time> since, until;
  std::optional<std::string> account, actor;
  int64_t limit = 1000;        // a listing's page: 0 is 1000, at most 10,000
  std::string page_token;      // a listing's: the next_page_token of the page before
  bool releases_only = false;  // "who released what": secrets that actually left
};

struct AuditList {
  std::vector<storage::AuditRow> records;
  std::string next_page_token;  // "": this was the last page
};

// The head of an audit export: what the vault signs with, where the log ended when the export
// began (a checkpoint closes on that record), and what was left out.
struct AuditExport {
  std::string public_key;
  absl::Time exported;
  int64_t head_seq = 0;
  bool filtered = false;
  std::string filter;  // "none", or the filters as text
};

// Receives an export as it is read, page by page; returning false stops it (the client left).
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual bool Header(const AuditExport& head) = 0;
  virtual bool Record(const storage::AuditRow& row, const std::string& previous_hash) = 0;
  virtual bool Checkpoint(const storage::CheckpointRow& checkpoint) = 0;
};

// One account in the regisseur's custody report (R4): never a secret, only whether it is there.
struct CustodyLine {
  AccountView view;
  std::vector<std::pair<std::string, bool>> beheerders;  // name, active (enrolled, binding valid)
  bool teamchef_covered = false;
  int open_flags = 0;
  int pending_requests = 0;
  std::optional<absl::Time> last_release;
  bool pending_rotation = false;      // a new password or 2FA key waits for confirmation
  std::vector<std::string> problems;  // empty: in order
  std::vector<std::string> warnings;  // advice (no 2FA key, no recovery codes, open requests)
};

struct TeamTotals {
  std::string team;  // UNIT/TEAM
  int accounts = 0;
  int in_order = 0;
};

struct CustodyReport {
  absl::Time as_of;  // ages are counted to this moment
  std::vector<CustodyLine> lines;
  std::vector<TeamTotals> teams;  // of this page's accounts
  std::string next_page_token;
};

struct HandoverResult {
  std::string account;
  std::vector<std::string> from;
  std::string to;
};

// ---- kabinetswissel (R13, R14) ----

// What the regisseur gives to plan a change of cabinet for a ministry unit: per minister account
// (PLATFORM/HANDLE or bare handle), the successor of a corporate account, the choice for a hybrid
// account ("handback": the authenticator goes to the departing minister; "keep-2fa-removed": the
// minister removes the ministry's authenticator), and where a corporate account's posts are
// archived.
struct KabinetswisselInput {
  std::string unit;
  std::vector<std::pair<std::string, std::string>> successors;
  std::vector<std::pair<std::string, std::string>> hybrid;
  std::vector<std::pair<std::string, std::string>> archives;
};

// Where a kabinetswissel step is: planned, done now, done by an earlier apply, failed (undone and
// recorded), or skipped because a step before it failed.
enum class StepState { kTodo, kDone, kDoneEarlier, kFailed, kSkipped };
absl::string_view StepStateName(StepState state);  // "todo", "done", "done-earlier", ...

struct KabinetswisselStep {
  std::string name;         // archive, wipe, end-predecessor, rotate-password, renew-2fa, ...
  std::string description;  // what it does, for the plan
  StepState state = StepState::kTodo;
  std::string detail;       // what apply did, or why it failed
};

struct KabinetswisselAccount {
  std::string account;
  policies::AccountKind kind = policies::AccountKind::kCorporate;  // corporate or hybrid
  std::string successor;  // corporate
  std::string hybrid;     // hybrid: handback or keep-2fa-removed
  std::string archive_ref;
  std::vector<std::string> predecessors;  // whose access ends
  std::vector<std::string> departing;     // the departing bewindspersoon (a hybrid account goes with them)
  std::vector<KabinetswisselStep> steps;
};

// A plan as the vault stores it: the vault's copy is the one that is applied, so an edited plan
// file changes nothing.
struct KabinetswisselPlan {
  std::string id;
  std::string unit;
  absl::Time created;
  std::string created_by;
  std::vector<KabinetswisselAccount> accounts;
};

// A hybrid account's authenticator, to be handed to the departing minister in person.
struct KabinetswisselHandback {
  std::string account;
  std::string to;
  crypto::SecretBytes otpauth_uri;
};

struct KabinetswisselOutcome {
  KabinetswisselPlan plan;  // with each step's state
  std::vector<KabinetswisselHandback> handed_back;
  bool complete = false;
};

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_TYPES_H_
