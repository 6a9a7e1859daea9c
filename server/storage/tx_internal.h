// What the typed queries of a transaction share (tx.cc, tx_accounts.cc, tx_access.cc,
// tx_audit.cc): the column lists and row readers, running a query for its rows, and preparing a
// cached statement. For server/storage's own files only.
#ifndef KLUIS_SERVER_STORAGE_TX_INTERNAL_H_
#define KLUIS_SERVER_STORAGE_TX_INTERNAL_H_

#include <optional>
#include <type_traits>
#include <vector>

#include "absl/status/statusor.h"
#include "server/storage/tx.h"

namespace kluis::storage {

inline constexpr char kBindingColumns[] =
    "b.id, b.user_id, u.name, b.role, b.scope_kind, b.scope_id, "
    "CASE b.scope_kind "
    "  WHEN 'account' THEN (SELECT platform || '/' || handle FROM accounts WHERE id = b.scope_id) "
    "  WHEN 'team' THEN (SELECT un.name || '/' || t.name FROM teams t JOIN units un "
    "                    ON un.id = t.unit_id WHERE t.id = b.scope_id) "
    "  WHEN 'unit' THEN (SELECT name FROM units WHERE id = b.scope_id) "
    "  ELSE 'global' END, "
    "b.valid_from_us, b.valid_until_us, b.granted_by, b.ended_us "
    "FROM role_bindings b JOIN users u ON u.id = b.user_id ";

// A binding whose role or scope this kluisd does not know is not read: it grants nothing.
inline std::optional<BindingRow> ReadBinding(const Statement& s) {
  BindingRow b;
  const std::optional<policies::Role> role = policies::ParseRole(s.Text(3));
  const std::optional<policies::ScopeKind> scope = policies::ParseScopeKind(s.Text(4));
  if (!role || !scope) return std::nullopt;
  b.id = s.Int(0);
  b.user_id = s.Int(1);
  b.user_name = s.Text(2);
  b.role = *role;
  b.scope_kind = *scope;
  b.scope_id = s.Int(5);
  b.scope_name = s.Text(6);
  b.valid_from_us = s.Int(7);
  b.valid_until_us = s.OptionalInt(8);
  b.granted_by = s.Text(9);
  b.ended_us = s.OptionalInt(10);
  return b;
}

#define KLUIS_ACCOUNT_FIELDS                                                              \
  "a.id, a.team_id, t.unit_id, t.name, un.name, a.platform, a.handle, a.kind, a.status, " \
  "a.mandatory, a.stopped_us, a.stop_reason, a.archive_ref "
#define KLUIS_ACCOUNT_FROM \
  "FROM accounts a JOIN teams t ON t.id = a.team_id JOIN units un ON un.id = t.unit_id "
inline constexpr int kAccountFieldCount = 13;
inline constexpr char kAccountColumns[] = KLUIS_ACCOUNT_FIELDS KLUIS_ACCOUNT_FROM;

inline AccountRow ReadAccount(const Statement& s) {
  AccountRow a;
  a.id = s.Int(0);
  a.team_id = s.Int(1);
  a.unit_id = s.Int(2);
  a.team_name = s.Text(3);
  a.unit_name = s.Text(4);
  a.platform = s.Text(5);
  a.handle = s.Text(6);
  a.kind = policies::ParseAccountKind(s.Text(7));
  a.state = policies::ParseAccountState(s.Text(8)).value_or(policies::AccountState::kArchived);
  a.mandatory = s.Int(9) != 0;
  a.stopped_us = s.OptionalInt(10);
  a.stop_reason = s.Text(11);
  a.archive_ref = s.Text(12);
  return a;
}

inline constexpr char kSecretColumns[] =
    "id, account_id, kind, version, state, sealed, key_version, created_by, created_us, retired_us "
    "FROM secrets ";

inline SecretRow ReadSecret(const Statement& s) {
  SecretRow r;
  r.id = s.Int(0);
  r.account_id = s.Int(1);
  // A kind Kluis never wrote reads as a password, whose seal then does not open: the kind is in
  // every seal's associated data. The schema allows only the four states; anything else is
  // destroyed, which releases nothing.
  r.kind = ParseSecretKind(s.Text(2)).value_or(SecretKind::kPassword);
  r.version = s.Int(3);
  r.state = ParseSecretState(s.Text(4)).value_or(SecretState::kDestroyed);
  r.sealed = s.Blob(5);
  r.key_version = s.Int(6);
  r.created_by = s.Text(7);
  r.created_us = s.Int(8);
  r.retired_us = s.OptionalInt(9);
  return r;
}

// An audit record of a secret that left the vault: an allowed, completed release of a login, a
// code, a replaced version or the TOTP key.
#define KLUIS_RELEASED                                                                      \
  "(action LIKE 'release-%' OR action LIKE 'break-glass:%' OR action = 'export-totp-seed' " \
  "OR action = 'kabinetswissel:handback-2fa') AND decision = 'allow' AND outcome = 'ok'"
inline constexpr char kReleasedClause[] = KLUIS_RELEASED;

#define KLUIS_REQUEST_FIELDS                                                                  \
  "SELECT r.id, r.account_id, r.requester_id, u.name, r.rule_id, r.purpose, r.reason, "       \
  "r.created_us, r.decision, r.decided_by, r.decided_us, r.decision_reason, r.grant_ttl_us, " \
  "r.escalated_us, r.escalation_decision, r.escalation_decided_by, r.escalation_decided_us, " \
  "r.escalation_reason, r.escalation_ttl_us, r.used_us "
#define KLUIS_REQUEST_COLUMNS \
  KLUIS_REQUEST_FIELDS "FROM access_requests r JOIN users u ON u.id = r.requester_id "
RequestRow ReadRequest(const Statement& s);  // tx_access.cc

// Requests not yet used on accounts ?1..?2.
inline constexpr char kUnusedRequestsSql[] = KLUIS_REQUEST_COLUMNS
    "WHERE r.account_id BETWEEN ?1 AND ?2 AND r.used_us IS NULL ORDER BY r.id";
// Requests that may still wait for a decision at the time the waiting period began (?2), newest
// first, before id ?1: unused, unanswered, asked or escalated since then (policies/requests.cc's
// DeriveStatus decides the rest). Two halves, each through its time index (INDEXED BY: without
// statistics SQLite would rather walk the whole table in id order), so the inbox reads the
// requests of one waiting period, not every request ever made.
#define KLUIS_WAITING                                                             \
  " JOIN users u ON u.id = r.requester_id WHERE r.id < ?1 AND r.used_us IS NULL " \
  "AND r.escalation_decision IS NULL AND "
inline constexpr char kWaitingRequestsSql[] = KLUIS_REQUEST_FIELDS
    "FROM access_requests r INDEXED BY access_requests_by_created" KLUIS_WAITING
    "r.created_us > ?2 AND r.escalated_us IS NULL AND r.decision IS NULL "
    "UNION ALL " KLUIS_REQUEST_FIELDS
    "FROM access_requests r INDEXED BY access_requests_by_escalated" KLUIS_WAITING
    "r.escalated_us > ?2 ORDER BY 1 DESC LIMIT ?3";

inline constexpr char kAuditColumns[] =
    "seq, time_us, unit_id, actor, role, action, account, decision, rule, reason, request_id, "
    "peer, outcome, canonical, chain_hash, certificate FROM audit_records ";

inline AuditRow ReadAudit(const Statement& s) {
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
    if constexpr (std::is_same_v<decltype(read(statement)), std::optional<T>>) {
      if (std::optional<T> known = read(statement))
        rows.push_back(*std::move(known));  // else skipped
    } else {
      rows.push_back(read(statement));
    }
  }
}

template <typename T, typename Reader>
absl::StatusOr<std::optional<T>> First(Statement& statement, Reader read) {
  absl::StatusOr<bool> row = statement.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<T>();
  return std::optional<T>(read(statement));
}

}  // namespace kluis::storage

#define KLUIS_PREPARE(var, sql)                      \
  absl::StatusOr<Statement> var##_or = Prepare(sql); \
  if (!var##_or.ok()) return var##_or.status();      \
  Statement& var = *var##_or

#endif  // KLUIS_SERVER_STORAGE_TX_INTERNAL_H_
