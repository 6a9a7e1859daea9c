#include "server/storage/tx.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kluis::storage {
namespace {

constexpr char kBindingColumns[] =
    "b.id, b.user_id, u.name, b.role, b.scope_kind, b.scope_id, "
    "CASE b.scope_kind "
    "  WHEN 'account' THEN (SELECT platform || '/' || handle FROM accounts WHERE id = b.scope_id) "
    "  WHEN 'team' THEN (SELECT un.name || '/' || t.name FROM teams t JOIN units un "
    "                    ON un.id = t.unit_id WHERE t.id = b.scope_id) "
    "  WHEN 'unit' THEN (SELECT name FROM units WHERE id = b.scope_id) "
    "  ELSE 'global' END, "
    "b.valid_from_us, b.valid_until_us, b.granted_by, b.ended_us "
    "FROM role_bindings b JOIN users u ON u.id = b.user_id ";

BindingRow ReadBinding(const Statement& s) {
  BindingRow b;
  b.id = s.Int(0);
  b.user_id = s.Int(1);
  b.user_name = s.Text(2);
  b.role = s.Text(3);
  b.scope_kind = s.Text(4);
  b.scope_id = s.Int(5);
  b.scope_name = s.Text(6);
  b.valid_from_us = s.Int(7);
  b.valid_until_us = s.OptionalInt(8);
  b.granted_by = s.Text(9);
  b.ended_us = s.OptionalInt(10);
  return b;
}

constexpr char kAccountColumns[] =
    "a.id, a.team_id, t.unit_id, t.name, un.name, a.platform, a.handle, a.kind, a.status, "
    "a.mandatory, a.stopped_us, a.stop_reason, a.archive_ref "
    "FROM accounts a JOIN teams t ON t.id = a.team_id JOIN units un ON un.id = t.unit_id ";

AccountRow ReadAccount(const Statement& s) {
  AccountRow a;
  a.id = s.Int(0);
  a.team_id = s.Int(1);
  a.unit_id = s.Int(2);
  a.team_name = s.Text(3);
  a.unit_name = s.Text(4);
  a.platform = s.Text(5);
  a.handle = s.Text(6);
  a.kind = s.Text(7);
  a.status = s.Text(8);
  a.mandatory = s.Int(9) != 0;
  a.stopped_us = s.OptionalInt(10);
  a.stop_reason = s.Text(11);
  a.archive_ref = s.Text(12);
  return a;
}

constexpr char kSecretColumns[] =
    "id, account_id, kind, version, state, sealed, key_version, created_by, created_us, retired_us "
    "FROM secrets ";

SecretRow ReadSecret(const Statement& s) {
  SecretRow r;
  r.id = s.Int(0);
  r.account_id = s.Int(1);
  r.kind = s.Text(2);
  r.version = s.Int(3);
  r.state = s.Text(4);
  r.sealed = s.Blob(5);
  r.key_version = s.Int(6);
  r.created_by = s.Text(7);
  r.created_us = s.Int(8);
  r.retired_us = s.OptionalInt(9);
  return r;
}

// An audit record of a secret that left the vault: an allowed, completed release of a login, a
// code, a replaced version or the TOTP key.
constexpr char kReleasedClause[] =
    "(action LIKE 'release-%' OR action LIKE 'break-glass:%' OR action = 'export-totp-seed' "
    "OR action = 'kabinetswissel:handback-2fa') AND decision = 'allow' AND outcome = 'ok'";

constexpr char kAuditColumns[] =
    "seq, time_us, unit_id, actor, role, action, account, decision, rule, reason, request_id, "
    "peer, outcome, canonical, chain_hash, certificate FROM audit_records ";

AuditRow ReadAudit(const Statement& s) {
  AuditRow r;
  r.seq = s.Int(0);
  r.time_us = s.Int(1);
  r.unit_id = s.OptionalInt(2);
  r.actor = s.Text(3);
  r.role = s.Text(4);
  r.action = s.Text(5);
  r.account = s.Text(6);
  r.decision = s.Text(7);
  r.rule = s.Text(8);
  r.reason = s.Text(9);
  r.request_id = s.Text(10);
  r.peer = s.Text(11);
  r.outcome = s.Text(12);
  r.canonical = s.Blob(13);
  r.chain_hash = s.Blob(14);
  r.certificate = s.Text(15);
  return r;
}

// Runs a query and collects every row with `read`.
template <typename T, typename Reader>
absl::StatusOr<std::vector<T>> Collect(Statement& statement, Reader read) {
  std::vector<T> rows;
  for (;;) {
    absl::StatusOr<bool> row = statement.Step();
    if (!row.ok()) return row.status();
    if (!*row) return rows;
    rows.push_back(read(statement));
  }
}

template <typename T, typename Reader>
absl::StatusOr<std::optional<T>> First(Statement& statement, Reader read) {
  absl::StatusOr<bool> row = statement.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<T>();
  return std::optional<T>(read(statement));
}

}  // namespace

#define KLUIS_PREPARE(var, sql)                      \
  absl::StatusOr<Statement> var##_or = Prepare(sql); \
  if (!var##_or.ok()) return var##_or.status();      \
  Statement& var = *var##_or

absl::Status Tx::Savepoint(absl::FunctionRef<absl::Status()> body) {
  auto control = [&](const char* sql) -> absl::Status {
    KLUIS_PREPARE(s, sql);
    return s.Run();
  };
  if (absl::Status s = control("SAVEPOINT step"); !s.ok()) return s;
  absl::Status outcome = body();
  if (!outcome.ok()) control("ROLLBACK TO step").IgnoreError();
  if (absl::Status s = control("RELEASE step"); !s.ok() && outcome.ok()) return s;
  return outcome;
}

absl::Status Tx::PutMeta(absl::string_view key, absl::string_view value) {
  KLUIS_PREPARE(s, "INSERT OR REPLACE INTO vault_meta (key, value) VALUES (?, ?)");
  return s.Bind(1, key).BindBlob(2, value).Run();
}

absl::StatusOr<std::optional<std::string>> Tx::GetMeta(absl::string_view key) {
  KLUIS_PREPARE(s, "SELECT value FROM vault_meta WHERE key = ?");
  s.Bind(1, key);
  return First<std::string>(s, [](const Statement& s) { return s.Blob(0); });
}

absl::Status Tx::PutPki(absl::string_view name, absl::string_view certificate_pem,
                        absl::string_view sealed_key) {
  KLUIS_PREPARE(s, "INSERT OR REPLACE INTO pki (name, certificate_pem, sealed_key) VALUES (?, ?, ?)");
  return s.Bind(1, name).Bind(2, certificate_pem).BindBlob(3, sealed_key).Run();
}

absl::StatusOr<std::optional<PkiRow>> Tx::GetPki(absl::string_view name) {
  KLUIS_PREPARE(s, "SELECT certificate_pem, sealed_key FROM pki WHERE name = ?");
  s.Bind(1, name);
  return First<PkiRow>(s, [](const Statement& s) { return PkiRow{s.Text(0), s.Blob(1)}; });
}

absl::StatusOr<int64_t> Tx::InsertUnit(absl::string_view name, absl::string_view display_name,
                                       int64_t now_us) {
  KLUIS_PREPARE(s, "INSERT INTO units (name, display_name, created_us) VALUES (?, ?, ?)");
  if (absl::Status r = s.Bind(1, name).Bind(2, display_name).Bind(3, now_us).Run(); !r.ok()) {
    return r;
  }
  return sqlite3_last_insert_rowid(db_);
}

absl::StatusOr<std::optional<UnitRow>> Tx::FindUnit(absl::string_view name) {
  KLUIS_PREPARE(s, "SELECT id, name, display_name FROM units WHERE name = ?");
  s.Bind(1, name);
  return First<UnitRow>(s, [](const Statement& s) {
    return UnitRow{s.Int(0), s.Text(1), s.Text(2)};
  });
}

absl::StatusOr<std::optional<UnitRow>> Tx::FindUnitById(int64_t id) {
  KLUIS_PREPARE(s, "SELECT id, name, display_name FROM units WHERE id = ?");
  s.Bind(1, id);
  return First<UnitRow>(s, [](const Statement& s) {
    return UnitRow{s.Int(0), s.Text(1), s.Text(2)};
  });
}

absl::StatusOr<int64_t> Tx::InsertTeam(int64_t unit_id, absl::string_view name,
                                       absl::string_view display_name, int64_t now_us) {
  KLUIS_PREPARE(s,
                "INSERT INTO teams (unit_id, name, display_name, created_us) VALUES (?, ?, ?, ?)");
  if (absl::Status r = s.Bind(1, unit_id).Bind(2, name).Bind(3, display_name).Bind(4, now_us).Run();
      !r.ok()) {
    return r;
  }
  return sqlite3_last_insert_rowid(db_);
}

namespace {
TeamRow ReadTeam(const Statement& s) {
  return TeamRow{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4)};
}
constexpr char kTeamColumns[] =
    "SELECT t.id, t.unit_id, u.name, t.name, t.display_name FROM teams t "
    "JOIN units u ON u.id = t.unit_id ";
}  // namespace

absl::StatusOr<std::vector<TeamRow>> Tx::FindTeams(absl::string_view name) {
  KLUIS_PREPARE(s, absl::StrCat(kTeamColumns, "WHERE t.name = ? ORDER BY u.name"));
  s.Bind(1, name);
  return Collect<TeamRow>(s, ReadTeam);
}

absl::StatusOr<std::optional<TeamRow>> Tx::FindTeamById(int64_t id) {
  KLUIS_PREPARE(s, absl::StrCat(kTeamColumns, "WHERE t.id = ?"));
  s.Bind(1, id);
  return First<TeamRow>(s, ReadTeam);
}

absl::StatusOr<int64_t> Tx::InsertUser(absl::string_view name, absl::string_view display_name,
                                       int64_t now_us) {
  KLUIS_PREPARE(s, "INSERT INTO users (name, display_name, created_us) VALUES (?, ?, ?)");
  if (absl::Status r = s.Bind(1, name).Bind(2, display_name).Bind(3, now_us).Run(); !r.ok()) {
    return r;
  }
  return sqlite3_last_insert_rowid(db_);
}

namespace {
UserRow ReadUser(const Statement& s) {
  return UserRow{s.Int(0), s.Text(1), s.Text(2), s.Int(3) != 0};
}
}  // namespace

absl::StatusOr<std::optional<UserRow>> Tx::FindUser(absl::string_view name) {
  KLUIS_PREPARE(s, "SELECT id, name, display_name, active FROM users WHERE name = ?");
  s.Bind(1, name);
  return First<UserRow>(s, ReadUser);
}

absl::StatusOr<std::optional<UserRow>> Tx::FindUserById(int64_t id) {
  KLUIS_PREPARE(s, "SELECT id, name, display_name, active FROM users WHERE id = ?");
  s.Bind(1, id);
  return First<UserRow>(s, ReadUser);
}

absl::Status Tx::DeactivateUser(int64_t user_id, int64_t now_us) {
  KLUIS_PREPARE(s, "UPDATE users SET active = 0, disabled_us = ? WHERE id = ? AND active = 1");
  return s.Bind(1, now_us).Bind(2, user_id).Run();
}

absl::StatusOr<int64_t> Tx::InsertBinding(const BindingRow& b) {
  KLUIS_PREPARE(s,
                "INSERT INTO role_bindings (user_id, role, scope_kind, scope_id, valid_from_us, "
                "valid_until_us, granted_by) VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (absl::Status r = s.Bind(1, b.user_id)
                           .Bind(2, b.role)
                           .Bind(3, b.scope_kind)
                           .Bind(4, b.scope_id)
                           .Bind(5, b.valid_from_us)
                           .Bind(6, b.valid_until_us)
                           .Bind(7, b.granted_by)
                           .Run();
      !r.ok()) {
    return r;
  }
  return sqlite3_last_insert_rowid(db_);
}

absl::StatusOr<std::vector<BindingRow>> Tx::ActiveBindings(int64_t user_id, int64_t now_us) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kBindingColumns,
                                "WHERE b.user_id = ? AND b.ended_us IS NULL AND u.active = 1 "
                                "AND b.valid_from_us <= ?2 "
                                "AND (b.valid_until_us IS NULL OR b.valid_until_us > ?2) "
                                "ORDER BY b.id"));
  s.Bind(1, user_id).Bind(2, now_us);
  return Collect<BindingRow>(s, ReadBinding);
}

absl::StatusOr<std::vector<BindingRow>> Tx::ListBindings(std::optional<int64_t> user_id) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kBindingColumns,
                                "WHERE (?1 IS NULL OR b.user_id = ?1) ORDER BY u.name, b.id"));
  s.Bind(1, user_id);
  return Collect<BindingRow>(s, ReadBinding);
}

absl::StatusOr<int> Tx::EndBindings(int64_t user_id, std::optional<absl::string_view> role,
                                    std::optional<absl::string_view> scope_kind,
                                    std::optional<int64_t> scope_id, int64_t now_us,
                                    absl::string_view ended_by) {
  KLUIS_PREPARE(s,
                "UPDATE role_bindings SET ended_us = ?1, ended_by = ?2 "
                "WHERE user_id = ?3 AND ended_us IS NULL "
                "AND (?4 IS NULL OR role = ?4) AND (?5 IS NULL OR scope_kind = ?5) "
                "AND (?6 IS NULL OR scope_id = ?6)");
  s.Bind(1, now_us).Bind(2, ended_by).Bind(3, user_id).Bind(6, scope_id);
  if (role.has_value()) s.Bind(4, *role); else s.BindNull(4);
  if (scope_kind.has_value()) s.Bind(5, *scope_kind); else s.BindNull(5);
  if (absl::Status r = s.Run(); !r.ok()) return r;
  return sqlite3_changes(db_);
}

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> Tx::UsersWithRole(
    absl::string_view scope_kind, int64_t scope_id, absl::string_view role, int64_t now_us) {
  KLUIS_PREPARE(s,
                "SELECT DISTINCT u.id, u.name FROM role_bindings b JOIN users u ON u.id = b.user_id "
                "WHERE b.scope_kind = ?1 AND b.scope_id = ?2 AND b.role = ?3 "
                "AND b.ended_us IS NULL AND u.active = 1 AND b.valid_from_us <= ?4 "
                "AND (b.valid_until_us IS NULL OR b.valid_until_us > ?4) ORDER BY u.name");
  s.Bind(1, scope_kind).Bind(2, scope_id).Bind(3, role).Bind(4, now_us);
  return Collect<std::pair<int64_t, std::string>>(
      s, [](const Statement& s) { return std::pair(s.Int(0), s.Text(1)); });
}

absl::StatusOr<int64_t> Tx::InsertAccount(int64_t team_id, absl::string_view platform,
                                          absl::string_view handle, absl::string_view kind,
                                          int64_t now_us, absl::string_view created_by) {
  KLUIS_PREPARE(s,
                "INSERT INTO accounts (team_id, platform, handle, kind, created_us, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)");
  if (absl::Status r = s.Bind(1, team_id)
                           .Bind(2, platform)
                           .Bind(3, handle)
                           .Bind(4, kind)
                           .Bind(5, now_us)
                           .Bind(6, created_by)
                           .Run();
      !r.ok()) {
    return r;
  }
  return sqlite3_last_insert_rowid(db_);
}

absl::StatusOr<std::vector<AccountRow>> Tx::FindAccounts(absl::string_view handle,
                                                         std::optional<absl::string_view> platform) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kAccountColumns,
                                "WHERE a.handle = ?1 AND (?2 IS NULL OR a.platform = ?2) "
                                "ORDER BY a.platform"));
  s.Bind(1, handle);
  if (platform.has_value()) s.Bind(2, *platform); else s.BindNull(2);
  return Collect<AccountRow>(s, ReadAccount);
}

absl::StatusOr<std::optional<AccountRow>> Tx::FindAccountById(int64_t id) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kAccountColumns, "WHERE a.id = ?"));
  s.Bind(1, id);
  return First<AccountRow>(s, ReadAccount);
}

absl::StatusOr<std::vector<AccountRow>> Tx::ListAccounts() {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kAccountColumns,
                                "ORDER BY un.name, t.name, a.platform, a.handle"));
  return Collect<AccountRow>(s, ReadAccount);
}

absl::Status Tx::SetAccountMandatory(int64_t account_id, bool mandatory) {
  KLUIS_PREPARE(s, "UPDATE accounts SET mandatory = ? WHERE id = ?");
  return s.Bind(1, int64_t{mandatory ? 1 : 0}).Bind(2, account_id).Run();
}

absl::Status Tx::StopAccount(int64_t account_id, absl::string_view reason, int64_t now_us) {
  KLUIS_PREPARE(s, "UPDATE accounts SET status = 'stopped', stopped_us = ?, stop_reason = ? "
                   "WHERE id = ? AND status = 'active'");
  if (absl::Status r = s.Bind(1, now_us).Bind(2, reason).Bind(3, account_id).Run(); !r.ok()) return r;
  if (sqlite3_changes(db_) != 1) return absl::FailedPreconditionError("account is not active");
  return absl::OkStatus();
}

absl::Status Tx::ArchiveAccount(int64_t account_id, int64_t now_us) {
  KLUIS_PREPARE(s, "UPDATE accounts SET status = 'archived', stopped_us = ? WHERE id = ?");
  return s.Bind(1, now_us).Bind(2, account_id).Run();
}

absl::Status Tx::MarkDeleted(int64_t account_id, absl::string_view reference, int64_t now_us) {
  KLUIS_PREPARE(s, "UPDATE accounts SET status = 'archived', deleted_ref = ?, stopped_us = coalesce(stopped_us, ?) "
                   "WHERE id = ?");
  return s.Bind(1, reference).Bind(2, now_us).Bind(3, account_id).Run();
}

absl::Status Tx::SetArchiveReference(int64_t account_id, absl::string_view reference) {
  KLUIS_PREPARE(s, "UPDATE accounts SET archive_ref = ? WHERE id = ?");
  return s.Bind(1, reference).Bind(2, account_id).Run();
}

absl::StatusOr<std::optional<SecretRow>> Tx::CurrentSecret(int64_t account_id,
                                                           absl::string_view kind) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kSecretColumns,
                                "WHERE account_id = ? AND kind = ? AND state = 'current'"));
  s.Bind(1, account_id).Bind(2, kind);
  return First<SecretRow>(s, ReadSecret);
}

absl::StatusOr<int64_t> Tx::NextSecretVersion(int64_t account_id, absl::string_view kind) {
  KLUIS_PREPARE(s, "SELECT COALESCE(MAX(version), 0) + 1 FROM secrets WHERE account_id = ? AND kind = ?");
  s.Bind(1, account_id).Bind(2, kind);
  absl::StatusOr<bool> row = s.Step();
  if (!row.ok()) return row.status();
  return s.Int(0);
}

absl::Status Tx::InsertCurrentSecret(const SecretRow& secret) {
  {
    KLUIS_PREPARE(retire, "UPDATE secrets SET state = 'previous', retired_us = ? "
                          "WHERE account_id = ? AND kind = ? AND state = 'current'");
    if (absl::Status r = retire.Bind(1, secret.created_us).Bind(2, secret.account_id).Bind(3, secret.kind).Run();
        !r.ok()) {
      return r;
    }
  }
  return InsertSecret(secret);
}

absl::Status Tx::InsertSecret(const SecretRow& secret) {
  KLUIS_PREPARE(s,
                "INSERT INTO secrets (account_id, kind, version, state, sealed, key_version, "
                "created_by, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Bind(1, secret.account_id)
      .Bind(2, secret.kind)
      .Bind(3, secret.version)
      .Bind(4, secret.state.empty() ? absl::string_view("current") : absl::string_view(secret.state))
      .BindBlob(5, secret.sealed)
      .Bind(6, secret.key_version)
      .Bind(7, secret.created_by)
      .Bind(8, secret.created_us)
      .Run();
}

absl::StatusOr<std::optional<SecretRow>> Tx::SecretInState(int64_t account_id, absl::string_view kind,
                                                           absl::string_view state) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kSecretColumns,
                                "WHERE account_id = ? AND kind = ? AND state = ? ORDER BY version DESC LIMIT 1"));
  s.Bind(1, account_id).Bind(2, kind).Bind(3, state);
  return First<SecretRow>(s, ReadSecret);
}

absl::StatusOr<std::optional<SecretRow>> Tx::SecretVersion(int64_t account_id, absl::string_view kind,
                                                           int64_t version) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kSecretColumns, "WHERE account_id = ? AND kind = ? AND version = ?"));
  s.Bind(1, account_id).Bind(2, kind).Bind(3, version);
  return First<SecretRow>(s, ReadSecret);
}

absl::StatusOr<bool> Tx::ConfirmPending(int64_t account_id, absl::string_view kind, int64_t now_us) {
  absl::StatusOr<std::optional<SecretRow>> pending = SecretInState(account_id, kind, "pending");
  if (!pending.ok()) return pending.status();
  if (!pending->has_value()) return false;
  {
    KLUIS_PREPARE(retire, "UPDATE secrets SET state = 'previous', retired_us = ? "
                          "WHERE account_id = ? AND kind = ? AND state = 'current'");
    if (absl::Status r = retire.Bind(1, now_us).Bind(2, account_id).Bind(3, kind).Run(); !r.ok()) return r;
  }
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'current' WHERE id = ?");
  if (absl::Status r = s.Bind(1, (*pending)->id).Run(); !r.ok()) return r;
  return true;
}

absl::StatusOr<bool> Tx::AbortPending(int64_t account_id, absl::string_view kind) {
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'destroyed', sealed = NULL "
                   "WHERE account_id = ? AND kind = ? AND state = 'pending'");
  if (absl::Status r = s.Bind(1, account_id).Bind(2, kind).Run(); !r.ok()) return r;
  return sqlite3_changes(db_) > 0;
}

absl::StatusOr<int> Tx::DestroyPreviousBefore(int64_t cutoff_us) {
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'destroyed', sealed = NULL "
                   "WHERE state = 'previous' AND retired_us IS NOT NULL AND retired_us < ?");
  if (absl::Status r = s.Bind(1, cutoff_us).Run(); !r.ok()) return r;
  return sqlite3_changes(db_);
}

absl::StatusOr<int> Tx::ClearRotationFlags(int64_t account_id, absl::string_view cleared_by, int64_t now_us) {
  KLUIS_PREPARE(s, "UPDATE rotation_flags SET cleared_us = ?, cleared_by = ? "
                   "WHERE account_id = ? AND cleared_us IS NULL");
  if (absl::Status r = s.Bind(1, now_us).Bind(2, cleared_by).Bind(3, account_id).Run(); !r.ok()) return r;
  return sqlite3_changes(db_);
}

absl::StatusOr<std::vector<SecretRow>> Tx::CurrentSecrets(int64_t account_id, absl::string_view kind) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kSecretColumns,
                                "WHERE account_id = ? AND kind = ? AND state = 'current' ORDER BY version"));
  s.Bind(1, account_id).Bind(2, kind);
  return Collect<SecretRow>(s, ReadSecret);
}

absl::StatusOr<int> Tx::DestroyCurrentSecrets(int64_t account_id, absl::string_view kind) {
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'destroyed', sealed = NULL "
                   "WHERE account_id = ? AND kind = ? AND state = 'current'");
  if (absl::Status st = s.Bind(1, account_id).Bind(2, kind).Run(); !st.ok()) return st;
  return sqlite3_changes(db_);
}

absl::Status Tx::DestroySecret(int64_t secret_id) {
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'destroyed', sealed = NULL WHERE id = ? AND state = 'current'");
  if (absl::Status st = s.Bind(1, secret_id).Run(); !st.ok()) return st;
  if (sqlite3_changes(db_) != 1) return absl::FailedPreconditionError("secret already used");
  return absl::OkStatus();
}

absl::StatusOr<int> Tx::DestroyAllSecrets(int64_t account_id) {
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'destroyed', sealed = NULL "
                   "WHERE account_id = ? AND state != 'destroyed'");
  if (absl::Status r = s.Bind(1, account_id).Run(); !r.ok()) return r;
  return sqlite3_changes(db_);
}

absl::StatusOr<int> Tx::DestroyStoppedBefore(int64_t cutoff_us) {
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'destroyed', sealed = NULL WHERE state != 'destroyed' "
                   "AND account_id IN (SELECT id FROM accounts WHERE status = 'stopped' "
                   "AND stopped_us IS NOT NULL AND stopped_us < ?)");
  if (absl::Status r = s.Bind(1, cutoff_us).Run(); !r.ok()) return r;
  return sqlite3_changes(db_);
}

absl::Status Tx::InsertPlan(const PlanRow& plan) {
  KLUIS_PREPARE(s, "INSERT INTO kabinetswissel_plans (id, unit_id, body, created_us, created_by) "
                   "VALUES (?, ?, ?, ?, ?)");
  return s.Bind(1, plan.id).Bind(2, plan.unit_id).Bind(3, plan.body).Bind(4, plan.created_us)
      .Bind(5, plan.created_by).Run();
}

absl::StatusOr<std::optional<PlanRow>> Tx::FindPlan(absl::string_view id) {
  KLUIS_PREPARE(s, "SELECT id, unit_id, body, created_us, created_by FROM kabinetswissel_plans WHERE id = ?");
  s.Bind(1, id);
  return First<PlanRow>(s, [](const Statement& s) {
    return PlanRow{s.Text(0), s.Int(1), s.Text(2), s.Int(3), s.Text(4)};
  });
}

absl::StatusOr<bool> Tx::StepDone(absl::string_view plan_id, int64_t account_id, absl::string_view step) {
  KLUIS_PREPARE(s, "SELECT 1 FROM kabinetswissel_steps WHERE plan_id = ? AND account_id = ? AND step = ?");
  s.Bind(1, plan_id).Bind(2, account_id).Bind(3, step);
  return s.Step();
}

absl::Status Tx::MarkStepDone(absl::string_view plan_id, int64_t account_id, absl::string_view step,
                              int64_t now_us, absl::string_view by) {
  KLUIS_PREPARE(s, "INSERT INTO kabinetswissel_steps (plan_id, account_id, step, done_us, done_by) "
                   "VALUES (?, ?, ?, ?, ?)");
  return s.Bind(1, plan_id).Bind(2, account_id).Bind(3, step).Bind(4, now_us).Bind(5, by).Run();
}

absl::Status Tx::InsertEnrollmentCode(int64_t user_id, absl::string_view code_hash, int64_t now_us,
                                      int64_t expires_us) {
  {
    KLUIS_PREPARE(revoke, "UPDATE enrollment_codes SET revoked_us = ? "
                          "WHERE user_id = ? AND used_us IS NULL AND revoked_us IS NULL");
    if (absl::Status r = revoke.Bind(1, now_us).Bind(2, user_id).Run(); !r.ok()) return r;
  }
  KLUIS_PREPARE(s, "INSERT INTO enrollment_codes (user_id, code_hash, created_us, expires_us) "
                   "VALUES (?, ?, ?, ?)");
  return s.Bind(1, user_id).BindBlob(2, code_hash).Bind(3, now_us).Bind(4, expires_us).Run();
}

absl::StatusOr<std::optional<EnrollmentCodeRow>> Tx::LatestEnrollmentCode(int64_t user_id) {
  KLUIS_PREPARE(s, "SELECT id, user_id, code_hash, created_us, expires_us, used_us, revoked_us, "
                   "attempts FROM enrollment_codes WHERE user_id = ? ORDER BY id DESC LIMIT 1");
  s.Bind(1, user_id);
  return First<EnrollmentCodeRow>(s, [](const Statement& s) {
    return EnrollmentCodeRow{s.Int(0),         s.Int(1),         s.Blob(2),
                             s.Int(3),         s.Int(4),         s.OptionalInt(5),
                             s.OptionalInt(6), s.Int(7)};
  });
}

absl::Status Tx::CountEnrollmentAttempt(int64_t code_id) {
  KLUIS_PREPARE(s, "UPDATE enrollment_codes SET attempts = attempts + 1 WHERE id = ?");
  return s.Bind(1, code_id).Run();
}

absl::Status Tx::MarkEnrollmentCodeUsed(int64_t code_id, int64_t now_us) {
  KLUIS_PREPARE(s, "UPDATE enrollment_codes SET used_us = ? WHERE id = ?");
  return s.Bind(1, now_us).Bind(2, code_id).Run();
}

namespace {

constexpr char kCertificateColumns[] =
    "SELECT fingerprint, user_id, issued_us, not_after_us, revoked_us, coalesce(revoke_reason, '') "
    "FROM certificates ";

CertificateRow ReadCertificate(const Statement& s) {
  return CertificateRow{s.Text(0), s.Int(1), s.Int(2), s.Int(3), s.OptionalInt(4), s.Text(5)};
}

}  // namespace

absl::Status Tx::InsertCertificate(const CertificateRow& c) {
  KLUIS_PREPARE(s, "INSERT INTO certificates (fingerprint, user_id, issued_us, not_after_us) "
                   "VALUES (?, ?, ?, ?)");
  return s.Bind(1, c.fingerprint).Bind(2, c.user_id).Bind(3, c.issued_us).Bind(4, c.not_after_us).Run();
}

absl::StatusOr<std::optional<CertificateRow>> Tx::FindCertificate(absl::string_view fingerprint) {
  KLUIS_PREPARE(s, absl::StrCat(kCertificateColumns, "WHERE fingerprint = ?"));
  s.Bind(1, fingerprint);
  return First<CertificateRow>(s, ReadCertificate);
}

absl::StatusOr<std::vector<CertificateRow>> Tx::ListCertificates(int64_t user_id) {
  KLUIS_PREPARE(s, absl::StrCat(kCertificateColumns, "WHERE user_id = ? ORDER BY issued_us, fingerprint"));
  s.Bind(1, user_id);
  return Collect<CertificateRow>(s, ReadCertificate);
}

absl::StatusOr<int> Tx::RevokeCertificates(int64_t user_id, int64_t now_us, absl::string_view reason) {
  KLUIS_PREPARE(s, "UPDATE certificates SET revoked_us = ?, revoke_reason = ? "
                   "WHERE user_id = ? AND revoked_us IS NULL");
  if (absl::Status r = s.Bind(1, now_us).Bind(2, reason).Bind(3, user_id).Run(); !r.ok()) return r;
  return sqlite3_changes(db_);
}

absl::StatusOr<bool> Tx::RevokeCertificate(absl::string_view fingerprint, int64_t now_us, absl::string_view reason) {
  KLUIS_PREPARE(s, "UPDATE certificates SET revoked_us = ?, revoke_reason = ? "
                   "WHERE fingerprint = ? AND revoked_us IS NULL");
  if (absl::Status r = s.Bind(1, now_us).Bind(2, reason).Bind(3, fingerprint).Run(); !r.ok()) return r;
  return sqlite3_changes(db_) == 1;
}

namespace {

constexpr char kRequestColumns[] =
    "SELECT r.id, r.account_id, r.requester_id, u.name, r.rule_id, r.purpose, r.reason, "
    "r.created_us, r.decision, r.decided_by, r.decided_us, r.decision_reason, r.grant_ttl_us, "
    "r.escalated_us, r.escalation_decision, r.escalation_decided_by, r.escalation_decided_us, "
    "r.escalation_reason, r.escalation_ttl_us, r.used_us "
    "FROM access_requests r JOIN users u ON u.id = r.requester_id ";

std::optional<std::string> OptionalText(const Statement& s, int column) {
  if (s.IsNull(column)) return std::nullopt;
  return s.Text(column);
}

RequestRow ReadRequest(const Statement& s) {
  RequestRow r;
  r.id = s.Int(0);
  r.account_id = s.Int(1);
  r.requester_id = s.Int(2);
  r.requester = s.Text(3);
  r.rule_id = s.Text(4);
  r.purpose = s.Text(5);
  r.reason = s.Text(6);
  r.created_us = s.Int(7);
  r.decision = OptionalText(s, 8);
  r.decided_by = s.Text(9);
  r.decided_us = s.OptionalInt(10);
  r.decision_reason = s.Text(11);
  r.grant_ttl_us = s.OptionalInt(12);
  r.escalated_us = s.OptionalInt(13);
  r.escalation_decision = OptionalText(s, 14);
  r.escalation_decided_by = s.Text(15);
  r.escalation_decided_us = s.OptionalInt(16);
  r.escalation_reason = s.Text(17);
  r.escalation_ttl_us = s.OptionalInt(18);
  r.used_us = s.OptionalInt(19);
  return r;
}

}  // namespace

absl::StatusOr<int64_t> Tx::InsertRequest(const RequestRow& r) {
  KLUIS_PREPARE(s, "INSERT INTO access_requests (account_id, requester_id, rule_id, purpose, "
                   "reason, created_us) VALUES (?, ?, ?, ?, ?, ?)");
  if (absl::Status st = s.Bind(1, r.account_id)
                            .Bind(2, r.requester_id)
                            .Bind(3, r.rule_id)
                            .Bind(4, r.purpose)
                            .Bind(5, r.reason)
                            .Bind(6, r.created_us)
                            .Run();
      !st.ok()) {
    return st;
  }
  return sqlite3_last_insert_rowid(db_);
}

absl::StatusOr<std::optional<RequestRow>> Tx::FindRequest(int64_t id) {
  KLUIS_PREPARE(s, absl::StrCat(kRequestColumns, "WHERE r.id = ?"));
  s.Bind(1, id);
  return First<RequestRow>(s, ReadRequest);
}

absl::StatusOr<std::vector<RequestRow>> Tx::ListRequests(std::optional<int64_t> requester_id,
                                                         int64_t limit, bool with_used) {
  KLUIS_PREPARE(s, absl::StrCat(kRequestColumns,
                                "WHERE (?3 OR r.used_us IS NULL) AND (?1 IS NULL OR r.requester_id = ?1) "
                                "ORDER BY r.id DESC LIMIT ?2"));
  s.Bind(1, requester_id).Bind(2, limit).Bind(3, int64_t{with_used});
  return Collect<RequestRow>(s, ReadRequest);
}

absl::Status Tx::RecordRequestDecision(int64_t id, bool escalation, bool approve,
                                       absl::string_view by, int64_t at_us,
                                       absl::string_view reason, std::optional<int64_t> ttl_us) {
  KLUIS_PREPARE(s, escalation
                       ? "UPDATE access_requests SET escalation_decision = ?, escalation_decided_by = ?, "
                         "escalation_decided_us = ?, escalation_reason = ?, escalation_ttl_us = ? WHERE id = ?"
                       : "UPDATE access_requests SET decision = ?, decided_by = ?, decided_us = ?, "
                         "decision_reason = ?, grant_ttl_us = ? WHERE id = ?");
  return s.Bind(1, absl::string_view(approve ? "approve" : "deny"))
      .Bind(2, by)
      .Bind(3, at_us)
      .Bind(4, reason)
      .Bind(5, ttl_us)
      .Bind(6, id)
      .Run();
}

absl::Status Tx::RecordEscalation(int64_t id, int64_t at_us) {
  KLUIS_PREPARE(s, "UPDATE access_requests SET escalated_us = ? WHERE id = ?");
  return s.Bind(1, at_us).Bind(2, id).Run();
}

absl::Status Tx::MarkRequestUsed(int64_t id, int64_t at_us) {
  KLUIS_PREPARE(s, "UPDATE access_requests SET used_us = ? WHERE id = ? AND used_us IS NULL");
  if (absl::Status st = s.Bind(1, at_us).Bind(2, id).Run(); !st.ok()) return st;
  if (sqlite3_changes(db_) != 1) {
    return absl::FailedPreconditionError(absl::StrCat("request ", id, " has been used"));
  }
  return absl::OkStatus();
}

absl::Status Tx::InsertNotification(const NotificationRow& n) {
  KLUIS_PREPARE(s, "INSERT INTO notifications (user_id, kind, account, request_id, text, created_us) "
                   "VALUES (?, ?, ?, ?, ?, ?)");
  return s.Bind(1, n.user_id)
      .Bind(2, n.kind)
      .Bind(3, n.account)
      .Bind(4, n.request_id)
      .Bind(5, n.text)
      .Bind(6, n.created_us)
      .Run();
}

absl::StatusOr<std::vector<NotificationRow>> Tx::ListNotifications(int64_t user_id, int64_t limit) {
  KLUIS_PREPARE(s, "SELECT id, user_id, kind, account, request_id, text, created_us "
                   "FROM notifications WHERE user_id = ? ORDER BY id DESC LIMIT ?");
  s.Bind(1, user_id).Bind(2, limit);
  return Collect<NotificationRow>(s, [](const Statement& s) {
    return NotificationRow{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.OptionalInt(4), s.Text(5), s.Int(6)};
  });
}

absl::Status Tx::RaiseRotationFlag(int64_t account_id, absl::string_view cause,
                                   absl::string_view raised_by, int64_t now_us) {
  KLUIS_PREPARE(s, "INSERT INTO rotation_flags (account_id, cause, raised_by, raised_us) "
                   "VALUES (?, ?, ?, ?)");
  return s.Bind(1, account_id).Bind(2, cause).Bind(3, raised_by).Bind(4, now_us).Run();
}

absl::StatusOr<std::vector<RotationFlagRow>> Tx::OpenRotationFlags(std::optional<int64_t> account_id) {
  KLUIS_PREPARE(s, "SELECT id, account_id, cause, raised_by, raised_us FROM rotation_flags "
                   "WHERE cleared_us IS NULL AND (?1 IS NULL OR account_id = ?1) ORDER BY id");
  s.Bind(1, account_id);
  return Collect<RotationFlagRow>(s, [](const Statement& s) {
    return RotationFlagRow{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Int(4)};
  });
}

absl::StatusOr<std::optional<AuditRow>> Tx::LastAuditRecord() {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kAuditColumns, "ORDER BY seq DESC LIMIT 1"));
  return First<AuditRow>(s, ReadAudit);
}

absl::Status Tx::InsertAuditRecord(const AuditRow& r) {
  KLUIS_PREPARE(s,
                "INSERT INTO audit_records (seq, time_us, unit_id, actor, role, action, account, "
                "decision, rule, reason, request_id, peer, outcome, canonical, chain_hash, certificate) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Bind(1, r.seq)
      .Bind(2, r.time_us)
      .Bind(3, r.unit_id)
      .Bind(4, r.actor)
      .Bind(5, r.role)
      .Bind(6, r.action)
      .Bind(7, r.account)
      .Bind(8, r.decision)
      .Bind(9, r.rule)
      .Bind(10, r.reason)
      .Bind(11, r.request_id)
      .Bind(12, r.peer)
      .Bind(13, r.outcome)
      .BindBlob(14, r.canonical)
      .BindBlob(15, r.chain_hash)
      .Bind(16, r.certificate)
      .Run();
}

absl::StatusOr<std::vector<AuditRow>> Tx::ListAuditRecords(const AuditFilter& f) {
  std::string units_clause;
  if (!f.units.empty()) {
    units_clause = absl::StrCat(" AND unit_id IN (", absl::StrJoin(f.units, ","), ")");
  }
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kAuditColumns,
                                "WHERE (?1 IS NULL OR time_us >= ?1) AND (?2 IS NULL OR time_us < ?2) "
                                "AND (?3 IS NULL OR account = ?3) AND (?4 IS NULL OR actor = ?4) "
                                "AND seq > ?6 AND seq <= ?8 "
                                "AND (?7 = 0 OR (", kReleasedClause, "))",
                                units_clause, " ORDER BY seq LIMIT ?5"));
  s.Bind(1, f.since_us).Bind(2, f.until_us).Bind(5, f.limit).Bind(7, int64_t{f.releases_only ? 1 : 0});
  // Plain bounds (no "IS NULL OR"), so SQLite walks the rowid range: paging through a long log
  // stays linear (a page was a full scan before: O(n²) over an export of a million records).
  s.Bind(6, f.after_seq.value_or(0)).Bind(8, f.up_to_seq.value_or(std::numeric_limits<int64_t>::max()));
  if (f.account.has_value()) s.Bind(3, *f.account); else s.BindNull(3);
  if (f.actor.has_value()) s.Bind(4, *f.actor); else s.BindNull(4);
  return Collect<AuditRow>(s, ReadAudit);
}

absl::StatusOr<std::optional<std::string>> Tx::AuditHashAt(int64_t seq) {
  KLUIS_PREPARE(s, "SELECT chain_hash FROM audit_records WHERE seq = ?");
  s.Bind(1, seq);
  return First<std::string>(s, [](const Statement& s) { return s.Blob(0); });
}

absl::StatusOr<std::optional<int64_t>> Tx::LastRelease(absl::string_view account) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT max(time_us) FROM audit_records WHERE account = ? AND ", kReleasedClause));
  s.Bind(1, account);
  absl::StatusOr<std::optional<std::optional<int64_t>>> row =
      First<std::optional<int64_t>>(s, [](const Statement& s) { return s.OptionalInt(0); });
  if (!row.ok()) return row.status();
  return row->has_value() ? **row : std::nullopt;
}

absl::StatusOr<std::vector<Tx::Holder>> Tx::AccountHolders(int64_t account_id, absl::string_view role,
                                                           int64_t now_us) {
  KLUIS_PREPARE(s, "SELECT u.name, u.active, "
                   "b.valid_from_us <= ?3 AND (b.valid_until_us IS NULL OR b.valid_until_us > ?3), "
                   "EXISTS (SELECT 1 FROM certificates c WHERE c.user_id = u.id AND c.revoked_us IS NULL "
                   "        AND c.not_after_us > ?3) "
                   "FROM role_bindings b JOIN users u ON u.id = b.user_id "
                   "WHERE b.scope_kind = 'account' AND b.scope_id = ?1 AND b.role = ?2 AND b.ended_us IS NULL "
                   "ORDER BY u.name");
  s.Bind(1, account_id).Bind(2, role).Bind(3, now_us);
  return Collect<Holder>(s, [](const Statement& s) {
    return Holder{s.Text(0), s.Int(1) != 0, s.Int(2) != 0, s.Int(3) != 0};
  });
}

absl::Status Tx::InsertCheckpoint(const CheckpointRow& c) {
  KLUIS_PREPARE(s, "INSERT INTO audit_checkpoints (seq, time_us, chain_hash, signature) VALUES (?, ?, ?, ?)");
  return s.Bind(1, c.seq).Bind(2, c.time_us).BindBlob(3, c.chain_hash).BindBlob(4, c.signature).Run();
}

absl::StatusOr<std::optional<CheckpointRow>> Tx::LastCheckpoint() {
  KLUIS_PREPARE(s, "SELECT seq, time_us, chain_hash, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1");
  return First<CheckpointRow>(s, [](const Statement& s) {
    return CheckpointRow{s.Int(0), s.Int(1), s.Blob(2), s.Blob(3)};
  });
}

absl::StatusOr<std::vector<CheckpointRow>> Tx::ListCheckpoints(int64_t after_seq, int64_t up_to_seq) {
  KLUIS_PREPARE(s, "SELECT seq, time_us, chain_hash, signature FROM audit_checkpoints "
                   "WHERE seq > ? AND seq <= ? ORDER BY seq");
  s.Bind(1, after_seq).Bind(2, up_to_seq);
  return Collect<CheckpointRow>(s, [](const Statement& s) {
    return CheckpointRow{s.Int(0), s.Int(1), s.Blob(2), s.Blob(3)};
  });
}

}  // namespace kluis::storage
