// Rows as the vault shows them: account and request views.
#ifndef KLUIS_SERVER_VAULT_VIEWS_H_
#define KLUIS_SERVER_VAULT_VIEWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/vault.h"

namespace kluis::server {

absl::StatusOr<AccountView> ViewOf(storage::Tx& tx, const storage::AccountRow& account, absl::Time now);

// The view of an account from its summary (storage::Tx::AccountSummaries) and its beheerders.
AccountView ViewOfSummary(const storage::AccountSummary& summary,
                          std::vector<std::string> beheerders);

// The active beheerders of each account of a page, by account id, by name.
using BeheerdersByAccount = absl::flat_hash_map<int64_t, std::vector<std::string>>;
struct SummaryPage;  // server/vault/paging.h
absl::StatusOr<BeheerdersByAccount> BeheerdersOf(storage::Tx& tx, const SummaryPage& page,
                                                 absl::Time now);

policies::AccessRequest RequestOf(const storage::RequestRow& row);

RequestView ViewOfRequest(const storage::RequestRow& row, const std::string& account,
                          const policies::Policy& policy, absl::Time now);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_VIEWS_H_
