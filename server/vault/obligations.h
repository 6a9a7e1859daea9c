// What a decision obliges: notices to holders, rotation flags.
#ifndef KLUIS_SERVER_VAULT_OBLIGATIONS_H_
#define KLUIS_SERVER_VAULT_OBLIGATIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/vault.h"

namespace kluis::server {

// The active users who hold `role` on the account: on the account itself, its team, its unit, or
// globally, as the role is granted.
absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> UsersHolding(storage::Tx& tx, policies::Role role,
                                                                          const storage::AccountRow& account,
                                                                          absl::Time now);

// Puts a notice in the inbox of everyone who holds one of `roles` on the account.
absl::Status NotifyHolders(storage::Tx& tx, const storage::AccountRow& account, const std::vector<policies::Role>& roles,
                           absl::string_view kind, std::optional<int64_t> request_id,
                           const std::string& text, absl::Time now);

// Carries out what an allowing decision obliges, inside the transaction of the act itself: spend
// the single-use grant, tell whoever the rule names, flag the account for rotation. `what` names
// the act for the notice and the flag ("handover"); by default a (break-glass) release.
absl::Status ApplyObligations(storage::Tx& tx, const Caller& caller, const storage::AccountRow& account,
                              const policies::Decision& decision, absl::string_view reason, absl::Time now,
                              absl::string_view what = {});

// Raises a rotation flag on every account that `bindings` could have released a login of, with
// `cause`: someone who could release it is gone, so the password may be known outside.
absl::Status FlagReleasable(storage::Tx& tx, const policies::Policy& policy,
                            const std::vector<policies::Binding>& bindings, absl::string_view cause,
                            absl::string_view raised_by, absl::Time now);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_OBLIGATIONS_H_
