// Names to rows, as the caller may see them: accounts, users, scopes.
#ifndef KLUIS_SERVER_VAULT_RESOLVE_H_
#define KLUIS_SERVER_VAULT_RESOLVE_H_

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

// Finds the account named `name` ("platform/handle" or a bare handle) among the accounts the
// caller may see. A missing account and one outside the caller's scope get the same answer.
absl::StatusOr<storage::AccountRow> ResolveVisibleAccount(storage::Tx& tx, const Caller& caller,
                                                 absl::string_view name, absl::Time now);

// The opening of every use case on one account: find it among the accounts the caller may see,
// note it in the event, and decide `action` by the release rules. A refusal is the error (and
// the decision stays noted in the event, which RunAudited records).
struct Decided {
  storage::AccountRow account;
  policies::Decision decision;
};

absl::StatusOr<Decided> ResolveAndDecide(storage::Tx& tx, const Caller& caller, const policies::Policy& policy,
                                         absl::string_view account, policies::Action action,
                                         const policies::ReleaseContext& context, absl::Time now,
                                         audit::AuditEvent& event, absl::string_view verb);

// A listing's --unit and --team, as ids: the unit, and the teams the name can mean ("TEAM" in any
// unit, or "UNIT/TEAM"). None when a name given matches nothing (nothing to list).
struct OrganisationFilter {
  std::optional<int64_t> unit_id;
  std::optional<int64_t> team_id;  // when the team name means one team
  std::vector<int64_t> team_ids;   // every team it can mean; empty: any team
  bool Matches(const storage::AccountRow& account) const;
};
absl::StatusOr<std::optional<OrganisationFilter>> FilterOf(storage::Tx& tx, absl::string_view unit,
                                                           absl::string_view team);

// The active user named `name`: not found, or refused when disabled.
absl::StatusOr<storage::UserRow> FindActiveUser(storage::Tx& tx, absl::string_view name);

// The user named `name`, active or not: not found says so.
absl::StatusOr<storage::UserRow> FindKnownUser(storage::Tx& tx, absl::string_view name);

// Binds `user_id` as `role` on the account, unless that binding is there already.
absl::Status BindOnAccount(storage::Tx& tx, int64_t user_id, policies::Role role,
                           const storage::AccountRow& account, absl::Time now,
                           absl::string_view by);

// Finds the scope object of a role binding by name; its id and unit for the audit record.
struct ScopeTarget {
  int64_t id = 0;
  std::optional<int64_t> unit_id;
  std::string name;
};

absl::StatusOr<ScopeTarget> ResolveScope(storage::Tx& tx, const Caller& caller, policies::ScopeKind scope,
                                         absl::string_view name, absl::Time now);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_RESOLVE_H_
