// Rotation (R5) and handover (R6): a new secret pending until confirmed, and passing an account on.
#include "server/vault/vault.h"

#include <algorithm>
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/audit/audit_log.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/obligations.h"
#include "server/vault/refusal.h"
#include "server/vault/resolve.h"

namespace kluis::server {

absl::StatusOr<Rotation> Vault::StartRotation(const Caller& caller, absl::string_view account) {
  // The platform is known only once the account is resolved: generate for the name given, then
  // store under the decision (a generated password that is never stored is harmless).
  std::string platform = "x";
  if (const size_t slash = account.find('/'); slash != absl::string_view::npos) {
    platform = std::string(account.substr(0, slash));
  } else {
    absl::StatusOr<AccountView> shown = ShowAccount(caller, account);
    if (!shown.ok()) return shown.status();
    platform = shown->account.platform;
  }
  absl::StatusOr<crypto::SecretBytes> password = GeneratePassword(platform);
  if (!password.ok()) return password.status();
  absl::StatusOr<int64_t> version = StoreCurrent(caller, account, "rotate-start", kPassword, *password, true);
  if (!version.ok()) return version.status();
  return Rotation{std::string(account), *std::move(password), *version};
}

absl::StatusOr<RotationOutcome> Vault::ConfirmRotation(const Caller& caller, absl::string_view account) {
  return FinishRotation(caller, account, /*confirm=*/true);
}

absl::StatusOr<RotationOutcome> Vault::AbortRotation(const Caller& caller, absl::string_view account) {
  return FinishRotation(caller, account, /*confirm=*/false);
}

absl::StatusOr<RotationOutcome> Vault::FinishRotation(const Caller& caller, absl::string_view account,
                                                      bool confirm) {
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  RotationOutcome outcome;
  absl::StatusOr<int64_t> done = Store(
      caller, account, confirm ? "rotate-confirm" : "rotate-abort",
      [&](Tx& tx, const AccountRow& found) -> absl::StatusOr<int64_t> {
        outcome.account = found.name();
        for (storage::SecretKind kind : {kPassword, kTotp}) {
          absl::StatusOr<bool> changed =
              confirm ? tx.ConfirmPending(found.id, kind, Micros(now)) : tx.AbortPending(found.id, kind);
          if (!changed.ok()) return changed.status();
          (kind == kPassword ? outcome.password : outcome.totp) = *changed;
        }
        if (!outcome.password && !outcome.totp) {
          return Refused(Refusal::kRotationState,
                         absl::FailedPreconditionError(absl::StrCat("nothing is pending for ", found.name(),
                                                                    ": start with kluis rotate ", found.name())));
        }
        if (confirm) {
          // A confirmed rotation is what a rotation flag asks for.
          absl::StatusOr<int> cleared = tx.ClearRotationFlags(found.id, caller.user, Micros(now));
          if (!cleared.ok()) return cleared.status();
          outcome.flags_cleared = *cleared;
          // Versions past their retention are destroyed now.
          absl::StatusOr<int> destroyed = tx.DestroyPreviousBefore(Micros(now - policy->previous_retention));
          if (!destroyed.ok()) return destroyed.status();
        }
        return 0;
      });
  if (!done.ok()) return done.status();
  return outcome;
}

absl::StatusOr<Login> Vault::ReleasePrevious(const Presented& presented, absl::string_view account,
                                             int64_t version, absl::string_view reason) {
  const absl::Time now = clock_.Now();
  const absl::Duration retention = policy()->previous_retention;
  ReleaseOptions options;
  options.reason = std::string(reason);
  storage::SecretRow sealed;
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kReleasePrevious, std::nullopt, options,
      [&](Tx& tx, const AccountRow& found, bool) -> absl::Status {
        absl::StatusOr<std::optional<storage::SecretRow>> row = tx.SecretVersion(found.id, kPassword, version);
        if (!row.ok()) return row.status();
        if (!row->has_value() || (*row)->state != storage::SecretState::kPrevious || !(*row)->retired_us.has_value() ||
            absl::FromUnixMicros(*(*row)->retired_us) + retention <= now) {
          return absl::NotFoundError(absl::StrCat("no previous password version ", version, " of ", found.name(),
                                                  " is kept (versions are kept ",
                                                  absl::FormatDuration(retention), " after they were replaced)"));
        }
        sealed = **row;
        return absl::OkStatus();
      });
  if (!released.ok()) return released.status();
  absl::StatusOr<crypto::SecretBytes> opened = sealer_.Open(released->account.id, kPassword, sealed.version, sealed.sealed);
  if (!opened.ok()) return opened.status();
  Login login;
  login.account = released->account.name();
  login.handle = released->account.handle;
  login.password = *std::move(opened);
  login.version = sealed.version;
  login.set_at = absl::FromUnixMicros(sealed.created_us);
  login.rule = released->decision.rule;
  return login;
}

absl::StatusOr<HandoverResult> Vault::Handover(const Caller& caller, absl::string_view account,
                                               absl::string_view to, absl::string_view reason,
                                               absl::string_view from) {
  constexpr absl::string_view kReasons[] = {"ziekte", "verlof", "uitdienst", "overlijden", "functiewijziging", "overig"};
  if (std::find(std::begin(kReasons), std::end(kReasons), reason) == std::end(kReasons)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "handover reason must be ziekte, verlof, uitdienst, overlijden, functiewijziging or overig, got ",
        Quoted(reason)));
  }
  if (absl::Status s = CheckName("user", to); !s.ok()) return RefuseInput(caller, "handover", s);
  if (!from.empty()) {
    if (absl::Status s = CheckName("user", from); !s.ok()) return RefuseInput(caller, "handover", s);
  }
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  HandoverResult result;
  result.to = std::string(to);
  audit::AuditEvent event = ManagementEvent(caller, "handover", reason);
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<Decided> decided = ResolveAndDecide(tx, caller, *policy, account, Action::kHandover,
                                                       {caller.user_id, false, std::string(reason)}, now, event,
                                                       "hand over");
    if (!decided.ok()) return decided.status();
    const AccountRow* found = &decided->account;
    const Decision& decision = decided->decision;
    result.account = found->name();
    absl::StatusOr<storage::UserRow> successor = FindActiveUser(tx, to);
    if (!successor.ok()) return successor.status();
    if (successor->id == caller.user_id) {
      event.rule = "sod.no-self-grant";
      return absl::PermissionDeniedError("nobody hands an account to themselves");
    }
    // Who hands over: the named beheerder, else the caller if a beheerder, else all of them.
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> current = tx.UsersWithRole(
        policies::ScopeKind::kAccount, found->id, policies::Role::kBeheerder, Micros(now));
    if (!current.ok()) return current.status();
    const bool caller_is_beheerder =
        std::any_of(current->begin(), current->end(), [&](const auto& b) { return b.first == caller.user_id; });
    std::vector<std::pair<int64_t, std::string>> predecessors;
    for (const auto& [id, name] : *current) {
      const bool hands_over = !from.empty() ? name == from : !caller_is_beheerder || id == caller.user_id;
      if (hands_over && id != successor->id) predecessors.emplace_back(id, name);
    }
    if (!from.empty() && predecessors.empty()) {
      return absl::NotFoundError(absl::StrCat(from, " is not a beheerder of ", found->name()));
    }
    // The rule's obligations first, while the predecessors still hold the account: they, and
    // whoever else the rule names, are told; the password is flagged for rotation.
    if (absl::Status s = ApplyObligations(tx, caller, *found, decision, absl::StrCat(reason, ", to ", to), now,
                                          "handover");
        !s.ok()) {
      return s;
    }
    for (const auto& [id, name] : predecessors) {
      absl::StatusOr<int> ended =
          tx.EndBindings(id, policies::Role::kBeheerder, policies::ScopeKind::kAccount, found->id,
                         Micros(now), caller.user);
      if (!ended.ok()) return ended.status();
      result.from.push_back(name);
    }
    if (absl::Status s =
            BindOnAccount(tx, successor->id, policies::Role::kBeheerder, *found, now, caller.user);
        !s.ok())
      return s;
    event.reason = absl::StrCat(reason, ": ", result.from.empty() ? "-" : absl::StrJoin(result.from, ","), " -> ", to);
    // The successor is told what to do first.
    if (absl::Status s = tx.InsertNotification({0, successor->id, "handover", found->name(), std::nullopt,
                                                absl::StrCat(caller.user, " handed ", found->name(), " to you (",
                                                             reason, "); change the password: kluis rotate ",
                                                             found->name()),
                                                Micros(now)});
        !s.ok()) {
      return s;
    }
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return result;
}

}  // namespace kluis::server
