// The listings' queries: each reads a page of accounts, or what a page of accounts needs, in one
// statement led by an index (tests/storage/listings_test.cc proves the plans), instead of a query
// per account.
#include "absl/strings/str_cat.h"
#include "server/storage/tx.h"
#include "server/storage/tx_internal.h"

namespace kluis::storage {

namespace {

// A current row of one kind of the account `a`, through secrets' (account_id, kind, version) index.
#define KLUIS_CURRENT(kind) \
  "FROM secrets s WHERE s.account_id = a.id AND s.kind = '" kind "' AND s.state = 'current'"
#define KLUIS_PASSWORD_SET \
  "(SELECT s.created_us " KLUIS_CURRENT("password") " ORDER BY s.version DESC LIMIT 1)"
#define KLUIS_OPEN_FLAG "FROM rotation_flags f WHERE f.account_id = a.id AND f.cleared_us IS NULL"

// ?1 after id, ?2 unit, ?3 team, ?4 only due, ?5 password due at or before, ?6 limit, ?7 with the
// last release. The last release walks the account's audit records newest first (audit_by_account).
constexpr char kSummarySql[] =
    "SELECT " KLUIS_ACCOUNT_FIELDS ", " KLUIS_PASSWORD_SET ", "
    "EXISTS (SELECT 1 " KLUIS_CURRENT("email") "), "
    "EXISTS (SELECT 1 " KLUIS_CURRENT("totp") "), "
    "(SELECT count(*) " KLUIS_CURRENT("recovery-code") "), "
    "EXISTS (SELECT 1 FROM secrets s WHERE s.account_id = a.id AND s.kind IN ('password', 'totp') "
    "        AND s.state = 'pending'), "
    "(SELECT count(*) " KLUIS_OPEN_FLAG "), "
    "CASE WHEN ?7 THEN (SELECT r.time_us FROM audit_records r WHERE r.account = a.platform || '/' || a.handle "
    "                   AND " KLUIS_RELEASED " ORDER BY r.seq DESC LIMIT 1) END " KLUIS_ACCOUNT_FROM
    "WHERE a.id > ?1 AND (?2 IS NULL OR t.unit_id = ?2) AND (?3 IS NULL OR a.team_id = ?3) "
    "AND (?4 = 0 OR EXISTS (SELECT 1 " KLUIS_OPEN_FLAG ") "
    "     OR (a.status = 'active' AND " KLUIS_PASSWORD_SET " <= ?5)) "
    "ORDER BY a.id LIMIT ?6";

constexpr char kHoldersSql[] =
    "SELECT b.scope_id, u.id, u.name, u.active, "
    "b.valid_from_us <= ?4 AND (b.valid_until_us IS NULL OR b.valid_until_us > ?4), "
    "EXISTS (SELECT 1 FROM certificates c WHERE c.user_id = u.id AND c.revoked_us IS NULL "
    "        AND c.not_after_us > ?4) "
    "FROM role_bindings b JOIN users u ON u.id = b.user_id "
    "WHERE b.scope_kind = 'account' AND b.scope_id BETWEEN ?1 AND ?2 AND b.role = ?3 "
    "AND b.ended_us IS NULL ORDER BY b.scope_id, u.name";

constexpr char kScopesHeldSql[] =
    "SELECT DISTINCT b.scope_id FROM role_bindings b JOIN users u ON u.id = b.user_id "
    "WHERE b.scope_kind = ?1 AND b.role = ?2 AND b.ended_us IS NULL AND u.active = 1 "
    "AND b.valid_from_us <= ?3 AND (b.valid_until_us IS NULL OR b.valid_until_us > ?3)";

constexpr char kOpenFlagsSql[] =
    "SELECT id, account_id, cause, raised_by, raised_us FROM rotation_flags "
    "WHERE account_id BETWEEN ?1 AND ?2 AND cleared_us IS NULL ORDER BY account_id, id";

constexpr char kAccountsInSql[] =
    "SELECT " KLUIS_ACCOUNT_FIELDS KLUIS_ACCOUNT_FROM
    "WHERE (?1 = 'account' AND a.id = ?2) OR (?1 = 'team' AND a.team_id = ?2) "
    "OR (?1 = 'unit' AND t.unit_id = ?2) OR ?1 = 'global' ORDER BY a.id";

}  // namespace

const std::vector<std::pair<std::string, std::string>>& ListingStatements() {
  static const auto* statements = new std::vector<std::pair<std::string, std::string>>{
      {"account summaries", kSummarySql},      {"holders", kHoldersSql},
      {"scopes held", kScopesHeldSql},         {"open flags", kOpenFlagsSql},
      {"unused requests", kUnusedRequestsSql}, {"waiting requests", kWaitingRequestsSql}};
  return *statements;
}

absl::StatusOr<std::vector<AccountSummary>> Tx::AccountSummaries(const AccountPage& page) {
  KLUIS_PREPARE(s, kSummarySql);
  s.Bind(1, page.after_id)
      .Bind(2, page.unit_id)
      .Bind(3, page.team_id)
      .Bind(4, int64_t{page.only_due});
  s.Bind(5, page.password_due_us).Bind(6, page.limit).Bind(7, int64_t{page.with_last_release});
  return Collect<AccountSummary>(s, [](const Statement& s) {
    constexpr int n = kAccountFieldCount;
    AccountSummary summary;
    summary.account = ReadAccount(s);
    summary.password_set_us = s.OptionalInt(n);
    summary.has_linked_email = s.Int(n + 1) != 0;
    summary.has_totp = s.Int(n + 2) != 0;
    summary.recovery_codes_left = static_cast<int>(s.Int(n + 3));
    summary.pending_rotation = s.Int(n + 4) != 0;
    summary.open_flags = static_cast<int>(s.Int(n + 5));
    summary.last_release_us = s.OptionalInt(n + 6);
    return summary;
  });
}

absl::StatusOr<std::vector<HolderRow>> Tx::HoldersOf(int64_t first_account_id,
                                                     int64_t last_account_id, policies::Role role,
                                                     int64_t now_us) {
  KLUIS_PREPARE(s, kHoldersSql);
  s.Bind(1, first_account_id)
      .Bind(2, last_account_id)
      .Bind(3, policies::RoleName(role))
      .Bind(4, now_us);
  return Collect<HolderRow>(s, [](const Statement& s) {
    return HolderRow{s.Int(0), s.Int(1), s.Text(2), s.Int(3) != 0, s.Int(4) != 0, s.Int(5) != 0};
  });
}

absl::StatusOr<std::vector<int64_t>> Tx::ScopesHeld(policies::ScopeKind kind, policies::Role role,
                                                    int64_t now_us) {
  KLUIS_PREPARE(s, kScopesHeldSql);
  s.Bind(1, policies::ScopeKindName(kind)).Bind(2, policies::RoleName(role)).Bind(3, now_us);
  return Collect<int64_t>(s, [](const Statement& s) { return s.Int(0); });
}

absl::StatusOr<std::vector<RotationFlagRow>> Tx::OpenFlagsOf(int64_t first_account_id,
                                                             int64_t last_account_id) {
  KLUIS_PREPARE(s, kOpenFlagsSql);
  s.Bind(1, first_account_id).Bind(2, last_account_id);
  return Collect<RotationFlagRow>(s, [](const Statement& s) {
    return RotationFlagRow{s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Int(4)};
  });
}

absl::StatusOr<std::vector<AccountRow>> Tx::AccountsIn(policies::ScopeKind kind, int64_t scope_id) {
  KLUIS_PREPARE(s, kAccountsInSql);
  s.Bind(1, policies::ScopeKindName(kind)).Bind(2, scope_id);
  return Collect<AccountRow>(s, ReadAccount);
}

absl::StatusOr<std::vector<std::string>> Tx::QueryPlan(absl::string_view sql) {
  KLUIS_PREPARE(s, absl::StrCat("EXPLAIN QUERY PLAN ", sql));
  return Collect<std::string>(s, [](const Statement& s) { return s.Text(3); });
}

}  // namespace kluis::storage
