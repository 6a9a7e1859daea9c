#include "server/vault/views.h"

#include "server/storage/tx.h"
#include "server/vault/internal.h"
#include "server/vault/paging.h"

namespace kluis::server {

absl::StatusOr<AccountView> ViewOf(Tx& tx, const AccountRow& account, absl::Time now) {
  AccountView view;
  view.account = account;
  absl::StatusOr<std::optional<storage::SecretRow>> password = tx.CurrentSecret(account.id, kPassword);
  if (!password.ok()) return password.status();
  if (password->has_value()) {
    view.has_password = true;
    view.password_set_at = absl::FromUnixMicros((*password)->created_us);
  }
  absl::StatusOr<std::optional<storage::SecretRow>> email = tx.CurrentSecret(account.id, kLinkedEmail);
  if (!email.ok()) return email.status();
  view.has_linked_email = email->has_value();
  absl::StatusOr<std::optional<storage::SecretRow>> totp = tx.CurrentSecret(account.id, kTotp);
  if (!totp.ok()) return totp.status();
  view.has_totp = totp->has_value();
  absl::StatusOr<std::vector<storage::SecretRow>> codes = tx.CurrentSecrets(account.id, kRecoveryCode);
  if (!codes.ok()) return codes.status();
  view.recovery_codes_left = static_cast<int>(codes->size());
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> beheerders = tx.UsersWithRole(
      policies::ScopeKind::kAccount, account.id, policies::Role::kBeheerder, Micros(now));
  if (!beheerders.ok()) return beheerders.status();
  for (auto& [id, name] : *beheerders) view.beheerders.push_back(std::move(name));
  return view;
}

AccountView ViewOfSummary(const storage::AccountSummary& summary,
                          std::vector<std::string> beheerders) {
  AccountView view;
  view.account = summary.account;
  view.has_password = summary.password_set_us.has_value();
  if (summary.password_set_us)
    view.password_set_at = absl::FromUnixMicros(*summary.password_set_us);
  view.has_linked_email = summary.has_linked_email;
  view.has_totp = summary.has_totp;
  view.recovery_codes_left = summary.recovery_codes_left;
  view.beheerders = std::move(beheerders);
  return view;
}

absl::StatusOr<BeheerdersByAccount> BeheerdersOf(Tx& tx, const SummaryPage& page, absl::Time now) {
  BeheerdersByAccount beheerders;
  if (page.rows.empty()) return beheerders;
  absl::StatusOr<std::vector<storage::HolderRow>> holders =
      tx.HoldersOf(page.first_id, page.last_id, policies::Role::kBeheerder, Micros(now));
  if (!holders.ok()) return holders.status();
  for (storage::HolderRow& holder : *holders) {
    if (!holder.user_active || !holder.binding_valid) continue;
    std::vector<std::string>& names = beheerders[holder.account_id];
    if (names.empty() || names.back() != holder.user) names.push_back(std::move(holder.user));
  }
  return beheerders;
}

policies::AccessRequest RequestOf(const storage::RequestRow& row) {
  policies::AccessRequest r;
  r.id = row.id;
  r.account_id = row.account_id;
  r.requester_id = row.requester_id;
  r.requester = row.requester;
  r.rule_id = row.rule_id;
  r.purpose = row.purpose;
  r.reason = row.reason;
  r.created = absl::FromUnixMicros(row.created_us);
  r.decision = DecisionOf(row.decision, row.decided_by, row.decided_us, row.decision_reason,
                          row.grant_ttl_us);
  if (row.escalated_us) r.escalated = absl::FromUnixMicros(*row.escalated_us);
  r.escalation_decision =
      DecisionOf(row.escalation_decision, row.escalation_decided_by, row.escalation_decided_us,
                 row.escalation_reason, row.escalation_ttl_us);
  if (row.used_us) r.used = absl::FromUnixMicros(*row.used_us);
  return r;
}

RequestView ViewOfRequest(const storage::RequestRow& row, const std::string& account,
                          const policies::Policy& policy, absl::Time now) {
  policies::AccessRequest request = RequestOf(row);
  const policies::RequestStatus status = policies::DeriveStatus(request, policy, now);
  return RequestView{std::move(request), account, status};
}

}  // namespace kluis::server
