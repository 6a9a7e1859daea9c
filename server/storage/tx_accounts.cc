// The typed queries of accounts, their secrets and kabinetswissel plans.
#include "server/storage/tx.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "server/storage/tx_internal.h"

namespace kluis::storage {

absl::StatusOr<int64_t> Tx::InsertAccount(int64_t team_id, absl::string_view platform,
                                          absl::string_view handle, policies::AccountKind kind,
                                          int64_t now_us, absl::string_view created_by) {
  KLUIS_PREPARE(s,
                "INSERT INTO accounts (team_id, platform, handle, kind, created_us, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)");
  if (absl::Status r = s.Bind(1, team_id)
                           .Bind(2, platform)
                           .Bind(3, handle)
                           .Bind(4, policies::AccountKindName(kind))
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
                                                           SecretKind kind) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kSecretColumns,
                                "WHERE account_id = ? AND kind = ? AND state = 'current'"));
  s.Bind(1, account_id).Bind(2, SecretKindName(kind));
  return First<SecretRow>(s, ReadSecret);
}

absl::StatusOr<int64_t> Tx::NextSecretVersion(int64_t account_id, SecretKind kind) {
  KLUIS_PREPARE(s, "SELECT COALESCE(MAX(version), 0) + 1 FROM secrets WHERE account_id = ? AND kind = ?");
  s.Bind(1, account_id).Bind(2, SecretKindName(kind));
  absl::StatusOr<bool> row = s.Step();
  if (!row.ok()) return row.status();
  return s.Int(0);
}

absl::Status Tx::InsertCurrentSecret(const SecretRow& secret) {
  {
    KLUIS_PREPARE(retire, "UPDATE secrets SET state = 'previous', retired_us = ? "
                          "WHERE account_id = ? AND kind = ? AND state = 'current'");
    if (absl::Status r = retire.Bind(1, secret.created_us).Bind(2, secret.account_id).Bind(3, SecretKindName(secret.kind)).Run();
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
      .Bind(2, SecretKindName(secret.kind))
      .Bind(3, secret.version)
      .Bind(4, SecretStateName(secret.state))
      .BindBlob(5, secret.sealed)
      .Bind(6, secret.key_version)
      .Bind(7, secret.created_by)
      .Bind(8, secret.created_us)
      .Run();
}

absl::StatusOr<std::optional<SecretRow>> Tx::SecretInState(int64_t account_id, SecretKind kind,
                                                           SecretState state) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kSecretColumns,
                                "WHERE account_id = ? AND kind = ? AND state = ? ORDER BY version DESC LIMIT 1"));
  s.Bind(1, account_id).Bind(2, SecretKindName(kind)).Bind(3, SecretStateName(state));
  return First<SecretRow>(s, ReadSecret);
}

absl::StatusOr<std::optional<SecretRow>> Tx::SecretVersion(int64_t account_id, SecretKind kind,
                                                           int64_t version) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kSecretColumns, "WHERE account_id = ? AND kind = ? AND version = ?"));
  s.Bind(1, account_id).Bind(2, SecretKindName(kind)).Bind(3, version);
  return First<SecretRow>(s, ReadSecret);
}

absl::StatusOr<bool> Tx::ConfirmPending(int64_t account_id, SecretKind kind, int64_t now_us) {
  absl::StatusOr<std::optional<SecretRow>> pending = SecretInState(account_id, kind, SecretState::kPending);
  if (!pending.ok()) return pending.status();
  if (!pending->has_value()) return false;
  {
    KLUIS_PREPARE(retire, "UPDATE secrets SET state = 'previous', retired_us = ? "
                          "WHERE account_id = ? AND kind = ? AND state = 'current'");
    if (absl::Status r = retire.Bind(1, now_us).Bind(2, account_id).Bind(3, SecretKindName(kind)).Run(); !r.ok()) return r;
  }
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'current' WHERE id = ?");
  if (absl::Status r = s.Bind(1, (*pending)->id).Run(); !r.ok()) return r;
  return true;
}

absl::StatusOr<bool> Tx::AbortPending(int64_t account_id, SecretKind kind) {
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'destroyed', sealed = NULL "
                   "WHERE account_id = ? AND kind = ? AND state = 'pending'");
  if (absl::Status r = s.Bind(1, account_id).Bind(2, SecretKindName(kind)).Run(); !r.ok()) return r;
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

absl::StatusOr<std::vector<SecretRow>> Tx::CurrentSecrets(int64_t account_id, SecretKind kind) {
  KLUIS_PREPARE(s, absl::StrCat("SELECT ", kSecretColumns,
                                "WHERE account_id = ? AND kind = ? AND state = 'current' ORDER BY version"));
  s.Bind(1, account_id).Bind(2, SecretKindName(kind));
  return Collect<SecretRow>(s, ReadSecret);
}

absl::StatusOr<int> Tx::DestroyCurrentSecrets(int64_t account_id, SecretKind kind) {
  KLUIS_PREPARE(s, "UPDATE secrets SET state = 'destroyed', sealed = NULL "
                   "WHERE account_id = ? AND kind = ? AND state = 'current'");
  if (absl::Status st = s.Bind(1, account_id).Bind(2, SecretKindName(kind)).Run(); !st.ok()) return st;
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

}  // namespace kluis::storage
