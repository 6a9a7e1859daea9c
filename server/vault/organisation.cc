// Units, teams, users, roles and certificates.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/random.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/keys.h"
#include "server/vault/obligations.h"
#include "server/vault/paging.h"
#include "server/vault/refusal.h"
#include "server/vault/resolve.h"
#include "server/vault/vault.h"

namespace kluis::server {

absl::Status Vault::AddUnit(const Caller& caller, absl::string_view unit,
                            absl::string_view display_name) {
  if (absl::Status s = CheckName("unit", unit); !s.ok()) return RefuseInput(caller, "add-unit", s);
  if (absl::Status s = CheckText("display name", display_name, 200, false); !s.ok()) return RefuseInput(caller, "add-unit", s);
  const absl::Time now = clock_.Now();
  audit::AuditEvent event = ManagementEvent(caller, "add-unit", unit);
  return RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "add units"); !s.ok()) return s;
    absl::StatusOr<int64_t> id = tx.InsertUnit(unit, display_name.empty() ? unit : display_name, Micros(now));
    if (!id.ok()) {
      return id.status().code() == absl::StatusCode::kAlreadyExists
                 ? absl::AlreadyExistsError(absl::StrCat("unit ", unit, " already exists"))
                 : id.status();
    }
    event.unit_id = *id;
    return absl::OkStatus();
  });
}

absl::Status Vault::AddTeam(const Caller& caller, absl::string_view unit, absl::string_view team,
                            absl::string_view display_name) {
  if (absl::Status s = CheckName("unit", unit); !s.ok()) return RefuseInput(caller, "add-team", s);
  if (absl::Status s = CheckName("team", team); !s.ok()) return RefuseInput(caller, "add-team", s);
  if (absl::Status s = CheckText("display name", display_name, 200, false); !s.ok()) return RefuseInput(caller, "add-team", s);
  const absl::Time now = clock_.Now();
  audit::AuditEvent event = ManagementEvent(caller, "add-team", absl::StrCat(unit, "/", team));
  return RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "add teams"); !s.ok()) return s;
    absl::StatusOr<std::optional<storage::UnitRow>> found = tx.FindUnit(unit);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError(absl::StrCat("no unit ", Quoted(unit)));
    event.unit_id = (*found)->id;
    absl::StatusOr<int64_t> id =
        tx.InsertTeam((*found)->id, team, display_name.empty() ? team : display_name, Micros(now));
    if (!id.ok() && id.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(absl::StrCat("team ", unit, "/", team, " already exists"));
    }
    return id.status();
  });
}

absl::StatusOr<EnrollmentCode> Vault::AddUser(const Caller& caller, absl::string_view user,
                                              absl::string_view display_name) {
  return IssueEnrollmentCode(caller, user, /*create=*/true, display_name);
}

absl::StatusOr<EnrollmentCode> Vault::NewEnrollmentCode(const Caller& caller, absl::string_view user) {
  return IssueEnrollmentCode(caller, user, /*create=*/false, "");
}

absl::StatusOr<EnrollmentCode> Vault::IssueEnrollmentCode(const Caller& caller,
                                                          absl::string_view user, bool create,
                                                          absl::string_view display_name) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return RefuseInput(caller, create ? "add-user" : "new-enrollment-code", s);
  if (absl::Status s = CheckText("display name", display_name, 200, false); !s.ok()) return RefuseInput(caller, create ? "add-user" : "new-enrollment-code", s);
  const absl::Time now = clock_.Now();
  const EnrollmentCode code{NewCode(), now + kEnrollmentCodeLifetime};
  audit::AuditEvent event =
      ManagementEvent(caller, create ? "add-user" : "new-enrollment-code", user);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "manage users"); !s.ok()) return s;
    int64_t user_id = 0;
    if (create) {
      absl::StatusOr<int64_t> id = tx.InsertUser(user, display_name.empty() ? user : display_name, Micros(now));
      if (!id.ok() && id.status().code() == absl::StatusCode::kAlreadyExists) {
        return absl::AlreadyExistsError(absl::StrCat("user ", user, " already exists"));
      }
      if (!id.ok()) return id.status();
      user_id = *id;
    } else {
      absl::StatusOr<storage::UserRow> found = FindActiveUser(tx, user);
      if (!found.ok()) return found.status();
      user_id = found->id;
    }
    // The code itself is never stored or recorded: only its hash.
    return tx.InsertEnrollmentCode(user_id, HashCode(code.code), Micros(now), Micros(code.expires_at));
  });
  if (!done.ok()) return done;
  return code;
}

absl::StatusOr<Vault::Disabled> Vault::DisableUser(const Caller& caller, absl::string_view user) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return RefuseInput(caller, "disable-user", s);
  const absl::Time now = clock_.Now();
  Disabled disabled;
  audit::AuditEvent event = ManagementEvent(caller, "disable-user", user);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "disable users"); !s.ok()) return s;
    if (user == caller.user) {
      event.rule = "sod.not-yourself";
      return absl::PermissionDeniedError("you cannot disable yourself: ask another operator");
    }
    absl::StatusOr<storage::UserRow> found = FindKnownUser(tx, user);
    if (!found.ok()) return found.status();
    const int64_t id = found->id;
    // Every account this user could release is due for rotation.
    absl::StatusOr<std::vector<storage::BindingRow>> held = tx.ActiveBindings(id, Micros(now));
    if (!held.ok()) return held.status();
    if (absl::Status s = FlagReleasable(tx, *policy(), PolicyBindings(*held),
                                        absl::StrCat("user ", user, " disabled"), caller.user, now);
        !s.ok()) {
      return s;
    }
    // All in one transaction: the very next call of this user is refused.
    absl::StatusOr<int> ended = tx.EndBindings(id, {}, {}, {}, Micros(now), caller.user);
    if (!ended.ok()) return ended.status();
    absl::StatusOr<int> revoked = tx.RevokeCertificates(id, Micros(now), "user disabled");
    if (!revoked.ok()) return revoked.status();
    if (absl::Status s = tx.DeactivateUser(id, Micros(now)); !s.ok()) return s;
    if (absl::Status s = tx.InsertEnrollmentCode(id, crypto::RandomBytes(32), Micros(now), Micros(now));
        !s.ok()) {
      return s;  // replaces any open code with one that can never match and is already expired
    }
    disabled = Disabled{*ended, *revoked};
    event.reason = absl::StrCat(user, ": ", *ended, " bindings ended, ", *revoked,
                                " certificates revoked");
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return disabled;
}

absl::StatusOr<storage::BindingRow> Vault::GrantRole(const Caller& caller, absl::string_view user,
                                                     policies::Role role, policies::ScopeKind scope,
                                                     absl::string_view scope_name,
                                                     std::optional<absl::Time> valid_until) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return RefuseInput(caller, "grant-role", s);
  const std::vector<policies::ScopeKind> allowed = policies::AllowedScopes(role);
  if (std::find(allowed.begin(), allowed.end(), scope) == allowed.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "role ", policies::RoleName(role), " is granted on ",
        policies::ScopeKindName(allowed.front()),
        allowed.size() > 1 ? absl::StrCat(" or ", policies::ScopeKindName(allowed.back())) : "",
        " scope, not on ", policies::ScopeKindName(scope)));
  }
  const absl::Time now = clock_.Now();
  if (valid_until.has_value() && *valid_until <= now) {
    return absl::InvalidArgumentError("valid-until lies in the past");
  }
  storage::BindingRow binding;
  audit::AuditEvent event = ManagementEvent(
      caller, "grant-role",
      absl::StrCat(user, " ", policies::RoleName(role), " on ", policies::ScopeKindName(scope), " ",
                   scope_name));
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "grant roles"); !s.ok()) return s;
    if (user == caller.user) {
      event.rule = "sod.no-self-grant";
      return absl::PermissionDeniedError("nobody grants a role to themselves");
    }
    absl::StatusOr<storage::UserRow> target = FindActiveUser(tx, user);
    if (!target.ok()) return target.status();
    absl::StatusOr<ScopeTarget> resolved = ResolveScope(tx, caller, scope, scope_name, now);
    if (!resolved.ok()) return resolved.status();
    event.unit_id = resolved->unit_id;
    if (scope == policies::ScopeKind::kAccount) event.account = resolved->name;
    binding.user_id = target->id;
    binding.user_name = target->name;
    binding.role = role;
    binding.scope_kind = scope;
    binding.scope_id = resolved->id;
    binding.scope_name = resolved->name;
    binding.valid_from_us = Micros(now);
    if (valid_until.has_value()) binding.valid_until_us = Micros(*valid_until);
    binding.granted_by = caller.user;
    absl::StatusOr<int64_t> id = tx.InsertBinding(binding);
    if (!id.ok()) return id.status();
    binding.id = *id;
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return binding;
}

absl::StatusOr<int> Vault::RevokeRole(const Caller& caller, absl::string_view user,
                                      policies::Role role, policies::ScopeKind scope,
                                      absl::string_view scope_name) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return RefuseInput(caller, "revoke-role", s);
  const absl::Time now = clock_.Now();
  int ended = 0;
  audit::AuditEvent event = ManagementEvent(
      caller, "revoke-role",
      absl::StrCat(user, " ", policies::RoleName(role), " on ", policies::ScopeKindName(scope), " ",
                   scope_name));
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "revoke roles"); !s.ok()) return s;
    absl::StatusOr<storage::UserRow> target = FindKnownUser(tx, user);
    if (!target.ok()) return target.status();
    absl::StatusOr<ScopeTarget> resolved = ResolveScope(tx, caller, scope, scope_name, now);
    if (!resolved.ok()) return resolved.status();
    event.unit_id = resolved->unit_id;
    // The accounts the ending binding could release are due for rotation.
    const std::vector<policies::Binding> ending = {policies::Binding{role, scope, resolved->id}};
    if (absl::Status s = FlagReleasable(tx, *policy(), ending,
                                        absl::StrCat(policies::RoleName(role), " binding of ", user, " ended"),
                                        caller.user, now);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<int> count =
        tx.EndBindings(target->id, role, scope, resolved->id, Micros(now), caller.user);
    if (!count.ok()) return count.status();
    if (*count == 0) {
      return absl::NotFoundError(absl::StrCat(user, " has no active ", policies::RoleName(role),
                                              " binding on ", resolved->name));
    }
    ended = *count;
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return ended;
}

absl::StatusOr<RoleList> Vault::ListRoles(const Caller& caller, absl::string_view user,
                                          const PageRequest& page) {
  absl::StatusOr<Cursor> cursor = OpenPage(page, "roles");
  if (!cursor.ok()) return cursor.status();
  if (!user.empty()) {
    if (absl::Status s = CheckName("user", user); !s.ok()) return s;
  }
  const absl::Time now = clock_.Now();
  const Decision decision =
      policies::DecideAdmin(caller.policy_bindings, policies::Resource{}, AdminAction::kManageOrganisation, now);
  // Everyone may list their own bindings; the operator may list anyone's.
  if (!decision.allows() && !user.empty() && user != caller.user) {
    return DeniedError(decision, "list other users' roles");
  }
  RoleList list;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    std::optional<int64_t> user_id;
    if (!decision.allows()) {
      user_id = caller.user_id;
    } else if (!user.empty()) {
      absl::StatusOr<storage::UserRow> found = FindKnownUser(tx, user);
      if (!found.ok()) return found.status();
      user_id = found->id;
    }
    // One more than a page: whether there is a next page shows.
    absl::StatusOr<std::vector<storage::BindingRow>> rows =
        tx.ListBindings(user_id, cursor->position, cursor->limit + 1);
    if (!rows.ok()) return rows.status();
    list.bindings = *std::move(rows);
    if (static_cast<int64_t>(list.bindings.size()) > cursor->limit) {
      list.bindings.pop_back();
      list.next_page_token = PageToken("roles", list.bindings.back().id);
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return list;
}

absl::StatusOr<CertificateList> Vault::ListCertificates(const Caller& caller, absl::string_view user) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return s;
  const absl::Time now = clock_.Now();
  const Decision decision =
      policies::DecideAdmin(caller.policy_bindings, policies::Resource{}, AdminAction::kManageOrganisation, now);
  // Everyone may list their own certificates; the operator anyone's.
  if (!decision.allows() && user != caller.user) return DeniedError(decision, "list other users' certificates");
  CertificateList list;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<storage::UserRow> found = FindKnownUser(tx, user);
    if (!found.ok()) return found.status();
    absl::StatusOr<std::vector<storage::CertificateRow>> rows = tx.ListCertificates(found->id);
    if (!rows.ok()) return rows.status();
    list.user = found->name;
    list.certificates = *std::move(rows);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  list.current = caller.fingerprint;
  return list;
}

absl::StatusOr<storage::CertificateRow> Vault::RevokeCertificate(const Caller& caller, absl::string_view fingerprint,
                                                                 absl::string_view reason) {
  // As `kluis user certs` prints it, with or without "SHA256:", in either case.
  std::string wanted = absl::AsciiStrToLower(fingerprint);
  if (absl::StartsWith(wanted, "sha256:")) wanted.erase(0, 7);
  if (wanted.size() != 64 || wanted.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("a certificate fingerprint is 64 hex characters (kluis user certs USER), got ", Quoted(fingerprint)));
  }
  if (absl::Status s = CheckText("reason", reason, 500, true); !s.ok()) return RefuseInput(caller, "revoke-certificate", s);
  if (absl::Status s = CheckMeaningfulReason(reason, *policy(), "revoking a certificate"); !s.ok()) return RefuseInput(caller, "revoke-certificate", s);
  const absl::Time now = clock_.Now();
  storage::CertificateRow revoked;
  audit::AuditEvent event = ManagementEvent(caller, "revoke-certificate", absl::StrCat(wanted, ": ", reason));
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "revoke certificates"); !s.ok()) return s;
    if (wanted == caller.fingerprint) {
      event.rule = "sod.not-yourself";
      return absl::PermissionDeniedError(
          "you cannot revoke the certificate you are calling with: ask another operator");
    }
    absl::StatusOr<std::optional<storage::CertificateRow>> found = tx.FindCertificate(wanted);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError(absl::StrCat("no certificate SHA256:", wanted));
    if ((*found)->revoked_us.has_value()) {
      return Refused(Refusal::kCertificateState,
                     absl::FailedPreconditionError(absl::StrCat("certificate SHA256:", wanted,
                                                                " was revoked already (", (*found)->revoke_reason, ")")));
    }
    absl::StatusOr<bool> changed = tx.RevokeCertificate(wanted, Micros(now), reason);
    if (!changed.ok()) return changed.status();
    revoked = **found;
    revoked.revoked_us = Micros(now);
    revoked.revoke_reason = std::string(reason);
    absl::StatusOr<std::optional<storage::UserRow>> holder = tx.FindUserById(revoked.user_id);
    if (!holder.ok()) return holder.status();
    if (holder->has_value()) event.reason = absl::StrCat((*holder)->name, " ", wanted, ": ", reason);
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return revoked;
}

}  // namespace kluis::server
