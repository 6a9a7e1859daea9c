#include "server/storage/schema.h"

namespace kluis::storage {

// SQLite 3.15 (SQLCipher 3.4.1): no UPSERT, RETURNING, window functions or STRICT tables.
// Times are microseconds since the Unix epoch, UTC.
const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> kMigrations = {
      // 1: the organisation, accounts, sealed secrets, identities and the audit chain.
      R"sql(
CREATE TABLE vault_meta (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
CREATE TABLE units (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  created_us INTEGER NOT NULL
);
CREATE TABLE teams (
  id INTEGER PRIMARY KEY,
  unit_id INTEGER NOT NULL REFERENCES units(id),
  name TEXT NOT NULL,
  display_name TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  UNIQUE (unit_id, name)
);
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  created_us INTEGER NOT NULL,
  disabled_us INTEGER
);
CREATE TABLE role_bindings (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  role TEXT NOT NULL,
  scope_kind TEXT NOT NULL CHECK (scope_kind IN ('account', 'team', 'unit', 'global')),
  scope_id INTEGER NOT NULL,
  valid_from_us INTEGER NOT NULL,
  valid_until_us INTEGER,
  granted_by TEXT NOT NULL,
  ended_us INTEGER,
  ended_by TEXT
);
CREATE INDEX role_bindings_by_user ON role_bindings (user_id);
CREATE INDEX role_bindings_by_scope ON role_bindings (scope_kind, scope_id);
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  team_id INTEGER NOT NULL REFERENCES teams(id),
  platform TEXT NOT NULL,
  handle TEXT NOT NULL COLLATE NOCASE,
  kind TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  created_us INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  UNIQUE (platform, handle)
);
CREATE INDEX accounts_by_handle ON accounts (handle);
CREATE TABLE secrets (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  kind TEXT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'current', 'previous', 'destroyed')),
  sealed BLOB,
  key_version INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  UNIQUE (account_id, kind, version)
);
CREATE TABLE enrollment_codes (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  code_hash BLOB NOT NULL,
  created_us INTEGER NOT NULL,
  expires_us INTEGER NOT NULL,
  used_us INTEGER,
  revoked_us INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX enrollment_codes_by_user ON enrollment_codes (user_id);
CREATE TABLE certificates (
  fingerprint TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  issued_us INTEGER NOT NULL,
  not_after_us INTEGER NOT NULL,
  revoked_us INTEGER
);
CREATE TABLE pki (
  name TEXT PRIMARY KEY,
  certificate_pem TEXT NOT NULL,
  sealed_key BLOB NOT NULL
);
CREATE TABLE audit_records (
  seq INTEGER PRIMARY KEY,
  time_us INTEGER NOT NULL,
  unit_id INTEGER,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  action TEXT NOT NULL,
  account TEXT NOT NULL,
  decision TEXT NOT NULL,
  rule TEXT NOT NULL,
  reason TEXT NOT NULL,
  request_id TEXT NOT NULL,
  peer TEXT NOT NULL,
  outcome TEXT NOT NULL,
  canonical BLOB NOT NULL,
  chain_hash BLOB NOT NULL
);
CREATE INDEX audit_by_time ON audit_records (time_us);
CREATE INDEX audit_by_actor ON audit_records (actor);
CREATE INDEX audit_by_account ON audit_records (account);
)sql",
      // 2: access requests (R3, R9), notices to users, and rotation flags.
      R"sql(
CREATE TABLE access_requests (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  requester_id INTEGER NOT NULL REFERENCES users(id),
  rule_id TEXT NOT NULL,
  purpose TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  decision TEXT CHECK (decision IN ('approve', 'deny')),
  decided_by TEXT,
  decided_us INTEGER,
  decision_reason TEXT,
  grant_ttl_us INTEGER,
  escalated_us INTEGER,
  escalation_decision TEXT CHECK (escalation_decision IN ('approve', 'deny')),
  escalation_decided_by TEXT,
  escalation_decided_us INTEGER,
  escalation_reason TEXT,
  escalation_ttl_us INTEGER,
  used_us INTEGER
);
CREATE INDEX access_requests_by_account ON access_requests (account_id);
CREATE INDEX access_requests_by_requester ON access_requests (requester_id);
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  kind TEXT NOT NULL,
  account TEXT NOT NULL,
  request_id INTEGER,
  text TEXT NOT NULL,
  created_us INTEGER NOT NULL
);
CREATE INDEX notifications_by_user ON notifications (user_id, created_us);
CREATE TABLE rotation_flags (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  cause TEXT NOT NULL,
  raised_by TEXT NOT NULL,
  raised_us INTEGER NOT NULL,
  cleared_us INTEGER,
  cleared_by TEXT
);
CREATE INDEX rotation_flags_by_account ON rotation_flags (account_id);
)sql",
      // 3: when a version stopped being current, so previous versions can expire.
      R"sql(
ALTER TABLE secrets ADD COLUMN retired_us INTEGER;
)sql",
      // 4: stopping accounts (R8), mandatory geographic accounts, the archive reference of a
      // minister account (R13), and the kabinetswissel: plans and the steps done of each.
      R"sql(
ALTER TABLE accounts ADD COLUMN mandatory INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN stopped_us INTEGER;
ALTER TABLE accounts ADD COLUMN stop_reason TEXT;
ALTER TABLE accounts ADD COLUMN archive_ref TEXT;
CREATE TABLE kabinetswissel_plans (
  id TEXT PRIMARY KEY,
  unit_id INTEGER NOT NULL REFERENCES units(id),
  body TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
CREATE TABLE kabinetswissel_steps (
  plan_id TEXT NOT NULL REFERENCES kabinetswissel_plans(id),
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  step TEXT NOT NULL,
  done_us INTEGER NOT NULL,
  done_by TEXT NOT NULL,
  PRIMARY KEY (plan_id, account_id, step)
);
)sql",
      // 5: signed audit checkpoints (docs/AUDIT_FORMAT.md).
      R"sql(
CREATE TABLE audit_checkpoints (
  seq INTEGER PRIMARY KEY REFERENCES audit_records(seq),
  time_us INTEGER NOT NULL,
  chain_hash BLOB NOT NULL,
  signature BLOB NOT NULL
);
)sql",
      // 6: two audit indexes no query uses (the listing walks the seq range, EXPLAIN QUERY PLAN
      // says so), each costing every release a page written, encrypted and synced.
      // audit_by_account stays: the custody report's last release per account reads it.
      R"sql(
DROP INDEX audit_by_time;
DROP INDEX audit_by_actor;
)sql",
      // 7: the certificate a call presented, in every audit record (record version 2), why a
      // certificate was revoked (issue 16: one certificate revoked on its own), and the reference
      // of a stopped account's deletion on the platform (R8).
      R"sql(
ALTER TABLE audit_records ADD COLUMN certificate TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN revoke_reason TEXT;
ALTER TABLE accounts ADD COLUMN deleted_ref TEXT;
CREATE INDEX certificates_by_user ON certificates (user_id);
)sql",
      // 8: the requests waiting for a decision, found by when they were asked or escalated (the
      // inbox reads the requests of one waiting period, not every request ever made).
      R"sql(
CREATE INDEX access_requests_by_created ON access_requests (created_us);
CREATE INDEX access_requests_by_escalated ON access_requests (escalated_us);
)sql",
  };
  return kMigrations;
}

}  // namespace kluis::storage
