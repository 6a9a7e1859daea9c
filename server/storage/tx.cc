#include "server/storage/tx.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "server/storage/tx_internal.h"

namespace kluis::storage {

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
                           .Bind(2, policies::RoleName(b.role))
                           .Bind(3, policies::ScopeKindName(b.scope_kind))
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

absl::StatusOr<std::vector<BindingRow>> Tx::ListBindings(std::optional<int64_t> user_id,
                                                         int64_t after_id, int64_t limit) {
  KLUIS_PREPARE(
      s, absl::StrCat("SELECT ", kBindingColumns,
                      "WHERE (?1 IS NULL OR b.user_id = ?1) AND b.id > ?2 ORDER BY b.id LIMIT ?3"));
  s.Bind(1, user_id).Bind(2, after_id).Bind(3, limit);
  return Collect<BindingRow>(s, ReadBinding);
}

absl::StatusOr<int> Tx::EndBindings(int64_t user_id, std::optional<policies::Role> role,
                                    std::optional<policies::ScopeKind> scope_kind,
                                    std::optional<int64_t> scope_id, int64_t now_us,
                                    absl::string_view ended_by) {
  KLUIS_PREPARE(s,
                "UPDATE role_bindings SET ended_us = ?1, ended_by = ?2 "
                "WHERE user_id = ?3 AND ended_us IS NULL "
                "AND (?4 IS NULL OR role = ?4) AND (?5 IS NULL OR scope_kind = ?5) "
                "AND (?6 IS NULL OR scope_id = ?6)");
  s.Bind(1, now_us).Bind(2, ended_by).Bind(3, user_id).Bind(6, scope_id);
  if (role.has_value())
    s.Bind(4, policies::RoleName(*role));
  else
    s.BindNull(4);
  if (scope_kind.has_value())
    s.Bind(5, policies::ScopeKindName(*scope_kind));
  else
    s.BindNull(5);
  if (absl::Status r = s.Run(); !r.ok()) return r;
  return sqlite3_changes(db_);
}

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> Tx::UsersWithRole(
    policies::ScopeKind scope_kind, int64_t scope_id, policies::Role role, int64_t now_us) {
  KLUIS_PREPARE(s,
                "SELECT DISTINCT u.id, u.name FROM role_bindings b JOIN users u ON u.id = b.user_id "
                "WHERE b.scope_kind = ?1 AND b.scope_id = ?2 AND b.role = ?3 "
                "AND b.ended_us IS NULL AND u.active = 1 AND b.valid_from_us <= ?4 "
                "AND (b.valid_until_us IS NULL OR b.valid_until_us > ?4) ORDER BY u.name");
  s.Bind(1, policies::ScopeKindName(scope_kind))
      .Bind(2, scope_id)
      .Bind(3, policies::RoleName(role))
      .Bind(4, now_us);
  return Collect<std::pair<int64_t, std::string>>(
      s, [](const Statement& s) { return std::pair(s.Int(0), s.Text(1)); });
}

}  // namespace kluis::storage
