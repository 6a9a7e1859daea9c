#include "server/vault/kabinetswissel_steps.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/storage/tx.h"
#include "server/vault/checks.h"
#include "server/vault/obligations.h"
#include "server/vault/refusal.h"
#include "server/vault/resolve.h"

namespace kluis::server {

absl::string_view StepStateName(StepState state) {
  switch (state) {
    case StepState::kTodo:
      return "todo";
    case StepState::kDone:
      return "done";
    case StepState::kDoneEarlier:
      return "done-earlier";
    case StepState::kFailed:
      return "failed";
    case StepState::kSkipped:
      return "skipped";
  }
  return "";
}
namespace {

// Ends the account-scoped bindings of `roles` on the account, except those of `keep`; returns
// "user (role)" for each.
absl::StatusOr<std::vector<std::string>> EndAccountBindings(
    Tx& tx, const AccountRow& account, const std::vector<policies::Role>& roles,
    absl::string_view keep, absl::Time now, absl::string_view by) {
  std::vector<std::string> ended;
  for (policies::Role role : roles) {
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders =
        tx.UsersWithRole(policies::ScopeKind::kAccount, account.id, role, Micros(now));
    if (!holders.ok()) return holders.status();
    for (const auto& [id, name] : *holders) {
      if (name == keep) continue;
      absl::StatusOr<int> count =
          tx.EndBindings(id, role, policies::ScopeKind::kAccount, account.id, Micros(now), by);
      if (!count.ok()) return count.status();
      ended.push_back(absl::StrCat(name, " (", policies::RoleName(role), ")"));
    }
  }
  return ended;
}

absl::Status TellBeheerders(StepRun& x, const std::string& text) {
  return NotifyHolders(x.tx, x.account, {policies::Role::kBeheerder}, "kabinetswissel",
                       std::nullopt, text, x.now);
}

absl::Status StepArchive(StepRun& x) {
  const std::string reference =
      !x.entry.archive_ref.empty() ? x.entry.archive_ref : x.account.archive_ref;
  if (reference.empty()) {
    return Refused(
        Refusal::kArchiveMissing,
        absl::FailedPreconditionError(absl::StrCat(
            "no archive reference for ", x.name, ": record one (kluis kabinetswissel archive ",
            x.name, " --ref REF) and apply again; nothing is wiped before it is archived (R13)")));
  }
  x.detail = absl::StrCat("archived at ", reference);
  return x.tx.SetArchiveReference(x.account.id, reference);
}

absl::Status StepWipe(StepRun& x) {
  // Checked again here, not only trusted from the step before: no wipe without an archive.
  if (x.account.archive_ref.empty()) {
    return Refused(Refusal::kArchiveMissing,
                   absl::FailedPreconditionError(
                       absl::StrCat("refusing to wipe ", x.name, ": no archive reference (R13)")));
  }
  x.detail =
      absl::StrCat("the predecessor's posts may be removed; archive ", x.account.archive_ref);
  return TellBeheerders(
      x, absl::StrCat("kabinetswissel: ", x.name, " is archived at ", x.account.archive_ref,
                      "; the predecessor's posts may be removed on the platform now"));
}

absl::Status StepEndPredecessor(StepRun& x) {
  absl::StatusOr<std::vector<std::string>> ended = EndAccountBindings(
      x.tx, x.account, {policies::Role::kBewindspersoon, policies::Role::kPolitiekAssistent},
      x.entry.successor, x.now, x.caller.user);
  if (!ended.ok()) return ended.status();
  x.detail = ended->empty() ? "nobody else was bound"
                            : absl::StrCat("ended: ", absl::StrJoin(*ended, ", "));
  return absl::OkStatus();
}

absl::Status StepRotatePassword(StepRun& x) {
  absl::StatusOr<std::optional<storage::SecretRow>> pending =
      x.tx.SecretInState(x.account.id, kPassword, storage::SecretState::kPending);
  if (!pending.ok()) return pending.status();
  if (pending->has_value()) {
    x.detail =
        absl::StrCat("a new password was already pending (version ", (*pending)->version, ")");
  } else {
    absl::StatusOr<crypto::SecretBytes> password = x.generate_password(x.account.platform);
    if (!password.ok()) return password.status();
    absl::StatusOr<int64_t> version =
        x.insert_version(kPassword, *password, /*pending=*/true, x.caller.user);
    if (!version.ok()) return version.status();
    x.detail = absl::StrCat("new password pending (version ", *version,
                            "); the beheerder sets it on the platform");
  }
  if (absl::Status s = x.tx.RaiseRotationFlag(
          x.account.id,
          absl::StrCat("kabinetswissel ", x.entry.successor.empty() ? "" : "to ", x.entry.successor,
                       ": set the pending password, then confirm"),
          x.caller.user, Micros(x.now));
      !s.ok()) {
    return s;
  }
  return TellBeheerders(x, absl::StrCat("kabinetswissel: a new password of ", x.name,
                                        " is pending; set it on the platform, then kluis rotate ",
                                        x.name, " --confirm"));
}

absl::Status StepRenew2fa(StepRun& x) {
  x.detail = "the authenticator is due to be set up anew";
  if (absl::Status s = x.tx.RaiseRotationFlag(
          x.account.id, "kabinetswissel: set up the authenticator anew (set-totp --pending)",
          x.caller.user, Micros(x.now));
      !s.ok()) {
    return s;
  }
  return TellBeheerders(x, absl::StrCat("kabinetswissel: set up the authenticator of ", x.name,
                                        " anew: kluis secret set-totp ", x.name,
                                        " --pending, then kluis rotate ", x.name, " --confirm"));
}

absl::Status StepBindSuccessor(StepRun& x) {
  absl::StatusOr<storage::UserRow> user = FindActiveUser(x.tx, x.entry.successor);
  if (!user.ok()) return user.status();
  if (absl::Status s = BindOnAccount(x.tx, user->id, policies::Role::kBewindspersoon, x.account,
                                     x.now, x.caller.user);
      !s.ok())
    return s;
  x.detail = absl::StrCat(x.entry.successor, " is bewindspersoon of ", x.name);
  return x.tx.InsertNotification(
      {0, user->id, "kabinetswissel", x.name, std::nullopt,
       absl::StrCat("kabinetswissel: you are now bewindspersoon of ", x.name,
                    "; the ministry's beheerder manages it (R11)"),
       Micros(x.now)});
}

absl::Status StepHandback2fa(StepRun& x) {
  absl::StatusOr<std::optional<storage::SecretRow>> totp = x.tx.CurrentSecret(x.account.id, kTotp);
  if (!totp.ok()) return totp.status();
  if (!totp->has_value()) {
    x.detail = "no authenticator was stored in the vault";
    return absl::OkStatus();
  }
  x.handback = **totp;
  x.detail = absl::StrCat("authenticator handed to ", x.caller.user, " for ",
                          absl::StrJoin(x.entry.departing, ", "), " (export of the TOTP key, R14)");
  return absl::OkStatus();
}

absl::Status StepRemove2fa(StepRun& x) {
  x.detail = "the minister removes the ministry's authenticator from the account";
  return TellBeheerders(
      x, absl::StrCat("kabinetswissel: ", x.name,
                      " leaves with the minister, who removes the ministry's authenticator"));
}

absl::Status StepEndMinistryBindings(StepRun& x) {
  absl::StatusOr<std::vector<std::string>> ended =
      EndAccountBindings(x.tx, x.account,
                         {policies::Role::kBeheerder, policies::Role::kBewindspersoon,
                          policies::Role::kPolitiekAssistent},
                         "", x.now, x.caller.user);
  if (!ended.ok()) return ended.status();
  x.detail =
      ended->empty() ? "nobody was bound" : absl::StrCat("ended: ", absl::StrJoin(*ended, ", "));
  return absl::OkStatus();
}

absl::Status StepReleaseCustody(StepRun& x) {
  absl::StatusOr<int> destroyed = x.tx.DestroyAllSecrets(x.account.id);
  if (!destroyed.ok()) return destroyed.status();
  if (absl::StatusOr<int> cleared =
          x.tx.ClearRotationFlags(x.account.id, x.caller.user, Micros(x.now));
      !cleared.ok()) {
    return cleared.status();
  }
  x.detail =
      absl::StrCat(*destroyed, " sealed secrets destroyed; the account is archived, read-only");
  return x.tx.ArchiveAccount(x.account.id, Micros(x.now));
}

// The steps by the names StepsFor gives them, in no particular order: StepsFor orders them.
using StepFunction = absl::Status (*)(StepRun&);
constexpr std::pair<absl::string_view, StepFunction> kSteps[] = {
    {"archive", StepArchive},
    {"wipe", StepWipe},
    {"end-predecessor", StepEndPredecessor},
    {"rotate-password", StepRotatePassword},
    {"renew-2fa", StepRenew2fa},
    {"bind-successor", StepBindSuccessor},
    {"handback-2fa", StepHandback2fa},
    {"remove-2fa", StepRemove2fa},
    {"end-ministry-bindings", StepEndMinistryBindings},
    {"release-custody", StepReleaseCustody},
};

}  // namespace

absl::Status RunStep(absl::string_view step, StepRun& run) {
  for (const auto& [name, function] : kSteps) {
    if (name == step) return function(run);
  }
  return absl::InternalError(absl::StrCat("unknown kabinetswissel step ", step));
}

}  // namespace kluis::server
