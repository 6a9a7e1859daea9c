// Accounts: adding, listing, showing, stopping and recording their deletion (R8).
#include "absl/strings/str_cat.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/obligations.h"
#include "server/vault/paging.h"
#include "server/vault/refusal.h"
#include "server/vault/resolve.h"
#include "server/vault/vault.h"
#include "server/vault/views.h"

namespace kluis::server {

absl::StatusOr<AccountView> Vault::AddAccount(const Caller& caller, absl::string_view platform,
                                              absl::string_view handle, absl::string_view team,
                                              absl::string_view kind,
                                              absl::string_view linked_email, bool mandatory) {
  if (kind == "prive") {
    // R7 (policy 2020 §3.3, §3.4, §5): private accounts are the officer's own business.
    return absl::InvalidArgumentError(
        "private accounts (types 3 and 4) are not facilitated by the organisation, so Kluis does "
        "not store them (rule R7)");
  }
  const std::optional<policies::AccountKind> known_kind = policies::ParseAccountKind(kind);
  if (!known_kind.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown account kind ", Quoted(kind),
        ": use politie-alleen, politie-samen, corporate, hybrid or organisatie"));
  }
  if (absl::Status s = CheckPlatform(platform); !s.ok()) return RefuseInput(caller, "add-account", s);
  if (absl::Status s = CheckHandle(handle); !s.ok()) return RefuseInput(caller, "add-account", s);
  if (!linked_email.empty()) {
    if (absl::Status s = CheckEmail(linked_email); !s.ok()) return RefuseInput(caller, "add-account", s);
  }
  const absl::Time now = clock_.Now();
  const std::string name = absl::StrCat(platform, "/", handle);
  AccountView view;
  audit::AuditEvent event = ManagementEvent(caller, "add-account", kind);
  event.account = name;
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<ScopeTarget> target = ResolveScope(tx, caller, policies::ScopeKind::kTeam, team, now);
    if (!target.ok()) return target.status();
    event.unit_id = target->unit_id;
    const Decision decision = policies::DecideAdmin(
        caller.policy_bindings, policies::Resource{0, target->id, target->unit_id.value_or(0)},
        AdminAction::kRegisterAccount, now);
    NoteDecision(event, decision);
    if (!decision.allows()) return DeniedError(decision, absl::StrCat("register accounts in ", target->name));
    absl::StatusOr<int64_t> id =
        tx.InsertAccount(target->id, platform, handle, *known_kind, Micros(now), caller.user);
    if (!id.ok() && id.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(absl::StrCat("account ", name, " already exists"));
    }
    if (!id.ok()) return id.status();
    if (mandatory) {
      if (absl::Status s = tx.SetAccountMandatory(*id, true); !s.ok()) return s;
      event.reason = absl::StrCat(kind, ", mandatory");
    }
    if (!linked_email.empty()) {
      storage::SecretRow email{0, *id, kLinkedEmail, 1, storage::SecretState::kCurrent,
                               sealer_.Seal(*id, kLinkedEmail, 1, linked_email),
                               sealer_.key_version(), caller.user, Micros(now)};
      if (absl::Status s = tx.InsertCurrentSecret(email); !s.ok()) return s;
    }
    absl::StatusOr<std::optional<AccountRow>> row = tx.FindAccountById(*id);
    if (!row.ok()) return row.status();
    absl::StatusOr<AccountView> added = ViewOf(tx, **row, now);
    if (!added.ok()) return added.status();
    view = *std::move(added);
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<AccountList> Vault::ListAccounts(const Caller& caller, absl::string_view unit,
                                                absl::string_view team, const PageRequest& page) {
  absl::StatusOr<Cursor> cursor = OpenPage(page, "accounts");
  if (!cursor.ok()) return cursor.status();
  const absl::Time now = clock_.Now();
  AccountList list;
  absl::Status read = db_->ReadAside([&](Tx& tx) -> absl::Status {
    storage::AccountPage query;
    absl::StatusOr<std::optional<OrganisationFilter>> filter = FilterOf(tx, unit, team);
    if (!filter.ok()) return filter.status();
    if (!filter->has_value()) return absl::OkStatus();  // no such unit or team: nothing to list
    query.unit_id = (*filter)->unit_id;
    query.team_id = (*filter)->team_id;
    const auto visible = [&](const AccountRow& account) {
      return (*filter)->Matches(account) &&
             policies::DecideAdmin(caller.policy_bindings, ResourceOf(account),
                                   AdminAction::kViewAccount, now)
                 .allows();
    };
    absl::StatusOr<SummaryPage> rows = KeptSummaries(tx, query, *cursor, "accounts", visible);
    if (!rows.ok()) return rows.status();
    absl::StatusOr<BeheerdersByAccount> beheerders = BeheerdersOf(tx, *rows, now);
    if (!beheerders.ok()) return beheerders.status();
    for (storage::AccountSummary& row : rows->rows) {
      list.accounts.push_back(ViewOfSummary(row, (*beheerders)[row.account.id]));
    }
    list.next_page_token = std::move(rows->next_page_token);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return list;
}

absl::StatusOr<AccountView> Vault::ShowAccount(const Caller& caller, absl::string_view account) {
  const absl::Time now = clock_.Now();
  AccountView view;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<AccountRow> found = ResolveVisibleAccount(tx, caller, account, now);
    if (!found.ok()) return found.status();
    absl::StatusOr<AccountView> shown = ViewOf(tx, *found, now);
    if (!shown.ok()) return shown.status();
    view = *std::move(shown);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return view;
}

absl::StatusOr<AccountView> Vault::StopAccount(const Caller& caller, absl::string_view account,
                                               absl::string_view reason) {
  if (absl::Status s = CheckText("reason", reason, 500, true); !s.ok()) return RefuseInput(caller, "stop-account", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  AccountView view;
  audit::AuditEvent event = ManagementEvent(caller, "stop-account", reason);
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<Decided> decided = ResolveAndDecide(tx, caller, *policy, account, Action::kStopAccount,
                                                       {caller.user_id, false, std::string(reason)}, now, event, "stop");
    if (!decided.ok()) return decided.status();
    const AccountRow* found = &decided->account;
    const Decision& decision = decided->decision;
    // R8: a mandatory geographic account is never deleted; it passes to someone else instead.
    if (found->mandatory) {
      event.decision = "deny";
      event.rule = "R8.mandatory-account";
      return absl::PermissionDeniedError(absl::StrCat(
          found->name(), " is a mandatory account: it cannot be stopped, only handed over (kluis handover ",
          found->name(), " --to USER --reason R; rule R8)"));
    }
    if (found->state != policies::AccountState::kActive) {
      return Refused(Refusal::kAccountState,
                     absl::FailedPreconditionError(
                         absl::StrCat(found->name(), " is already ", found->state_name())));
    }
    if (absl::Status s = tx.StopAccount(found->id, reason, Micros(now)); !s.ok()) return s;
    // Pending rotations end with the account: nothing new is set on a platform account that goes.
    for (storage::SecretKind kind : {kPassword, kTotp}) {
      if (absl::StatusOr<bool> aborted = tx.AbortPending(found->id, kind); !aborted.ok()) return aborted.status();
    }
    if (absl::Status s = ApplyObligations(tx, caller, *found, decision, reason, now, "stop"); !s.ok()) return s;
    absl::StatusOr<std::optional<AccountRow>> stopped = tx.FindAccountById(found->id);
    if (!stopped.ok()) return stopped.status();
    absl::StatusOr<AccountView> shown = ViewOf(tx, **stopped, now);
    if (!shown.ok()) return shown.status();
    view = *std::move(shown);
    event.reason = absl::StrCat(reason, " (secrets destroyed after ",
                                absl::FormatDuration(policy->stopped_retention), ")");
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<AccountView> Vault::RecordAccountDeleted(const Caller& caller, absl::string_view account,
                                                        absl::string_view reference) {
  if (absl::Status s = CheckText("platform reference", reference, 200, true); !s.ok()) {
    return RefuseInput(caller, "account-deleted", s);
  }
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  AccountView view;
  audit::AuditEvent event = ManagementEvent(caller, "account-deleted", reference);
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    // Who may release a stopped account to delete it may record that it is gone (R8).
    absl::StatusOr<Decided> decided =
        ResolveAndDecide(tx, caller, *policy, account, Action::kReleaseLogin,
                         {caller.user_id, false, absl::StrCat("deleted on the platform: ", reference)}, now, event,
                         "record the deletion of");
    if (!decided.ok()) return decided.status();
    const AccountRow& found = decided->account;
    if (found.state != policies::AccountState::kStopped) {
      event.decision = "deny";
      return Refused(Refusal::kAccountState, absl::FailedPreconditionError(absl::StrCat(
                                                 found.name(), " is ", found.state_name(),
                                                 ": only a stopped account is deleted "
                                                 "(kluis account stop first; R8)")));
    }
    // Gone from the platform: nothing of it is kept, and it releases nothing from now on.
    absl::StatusOr<int> destroyed = tx.DestroyAllSecrets(found.id);
    if (!destroyed.ok()) return destroyed.status();
    if (absl::Status s = tx.MarkDeleted(found.id, reference, Micros(now)); !s.ok()) return s;
    if (absl::Status s = NotifyHolders(tx, found, {policies::Role::kRegisseur, policies::Role::kBeheerder}, "deleted",
                                       std::nullopt,
                                       absl::StrCat(found.name(), " was deleted on the platform (", reference, "), by ",
                                                    caller.user),
                                       now);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::optional<AccountRow>> archived = tx.FindAccountById(found.id);
    if (!archived.ok()) return archived.status();
    absl::StatusOr<AccountView> shown = ViewOf(tx, **archived, now);
    if (!shown.ok()) return shown.status();
    view = *std::move(shown);
    event.reason = absl::StrCat("deleted on the platform: ", reference, "; ", *destroyed, " sealed secrets destroyed");
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return view;
}

}  // namespace kluis::server
