// Access requests (R3, R9): asking, deciding, escalating, the inbox and what is due.
#include <limits>

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

absl::StatusOr<RequestView> Vault::RequestAccess(const Caller& caller, absl::string_view account,
                                                 absl::string_view purpose,
                                                 absl::string_view reason) {
  if (!policies::IsRequestPurpose(purpose)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown purpose ", Quoted(purpose),
                                                   ": use ", policies::kRequestPurposes));
  }
  if (absl::Status s = CheckText("reason", reason, 500, true); !s.ok()) return RefuseInput(caller, "request-access", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  if (absl::Status s = CheckMeaningfulReason(reason, *policy, "a request"); !s.ok()) return RefuseInput(caller, "request-access", s);
  RequestView view;
  audit::AuditEvent event = ManagementEvent(caller, "request-access", reason);
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<AccountRow> found = ResolveVisibleAccount(tx, caller, account, now);
    if (!found.ok()) return found.status();
    event.account = found->name();
    event.unit_id = found->unit_id;
    const Decision decision =
        policies::DecideNewRequest(*policy, caller.policy_bindings, ResourceOf(*found), now);
    NoteDecision(event, decision);
    if (!decision.allows()) return DeniedError(decision, absl::StrCat("request ", found->name()));
    storage::RequestRow row;
    row.account_id = found->id;
    row.requester_id = caller.user_id;
    row.requester = caller.user;
    row.rule_id = decision.rule;
    row.purpose = std::string(purpose);
    row.reason = std::string(reason);
    row.created_us = Micros(now);
    absl::StatusOr<int64_t> id = tx.InsertRequest(row);
    if (!id.ok()) return id.status();
    row.id = *id;
    event.request_id = absl::StrCat(*id);
    event.reason = absl::StrCat(purpose, ": ", reason);
    view = ViewOfRequest(row, found->name(), *policy, now);
    // The approvers hear of it in their inbox.
    const policies::Rule* rule = policy->FindRule(decision.rule);
    std::vector<policies::Role> approvers = rule != nullptr ? rule->approvers : std::vector<policies::Role>{};
    // The requester is told who can decide (they hear of it in their inbox, below).
    for (policies::Role role : approvers) {
      absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders = UsersHolding(tx, role, *found, now);
      if (!holders.ok()) return holders.status();
      for (const auto& [user_id, name] : *holders) {
        if (user_id != caller.user_id) view.deciders.push_back(absl::StrCat(name, " (", policies::RoleName(role), ")"));
      }
    }
    return NotifyHolders(tx, *found, approvers, "request", *id,
                         absl::StrCat(caller.user, " requests the login of ", found->name(), " (",
                                      purpose, "): ", reason, "; kluis approve ", *id, " or kluis deny ", *id),
                         now);
  });
  if (!done.ok()) return done;
  return view;
}

namespace {

// A page of the requests waiting for the caller's decision, newest first: those of the waiting
// period (Tx::WaitingRequests), read a page at a time, the ones the caller may decide kept.
absl::Status DecidablePage(Tx& tx, const Caller& caller, const policies::Policy& policy,
                           const Cursor& cursor, absl::Time now,
                           std::vector<RequestView>& decidable, std::string& next_page_token) {
  int64_t before = cursor.position > 0 ? cursor.position : std::numeric_limits<int64_t>::max();
  for (;;) {
    absl::StatusOr<std::vector<storage::RequestRow>> rows =
        tx.WaitingRequests(before, Micros(now - policy.waiting_period), cursor.limit + 1);
    if (!rows.ok()) return rows.status();
    const bool last_batch = static_cast<int64_t>(rows->size()) < cursor.limit + 1;
    for (size_t i = 0; i < rows->size(); ++i) {
      const storage::RequestRow& row = (*rows)[i];
      before = row.id;
      const policies::AccessRequest request = RequestOf(row);
      const policies::RequestStatus status = policies::DeriveStatus(request, policy, now);
      const bool escalation = status.state == policies::RequestState::kEscalated;
      if (status.state != policies::RequestState::kPending && !escalation) continue;
      absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById(row.account_id);
      if (!account.ok()) return account.status();
      if (!account->has_value() ||
          !policies::DecideOnRequest(policy, caller.policy_bindings, ResourceOf(**account), request,
                                     caller.user_id, escalation, now)
               .allows()) {
        continue;
      }
      decidable.push_back(RequestView{request, (*account)->name(), status});
      if (static_cast<int64_t>(decidable.size()) == cursor.limit) {
        if (!last_batch || i + 1 < rows->size()) next_page_token = PageToken("requests", before);
        return absl::OkStatus();
      }
    }
    if (last_batch) return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<RequestLists> Vault::ListRequests(const Caller& caller, const PageRequest& page) {
  absl::StatusOr<Cursor> cursor = OpenPage(page, "requests");
  if (!cursor.ok()) return cursor.status();
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  RequestLists lists;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::vector<storage::RequestRow>> mine = tx.ListRequests(caller.user_id, 100, /*with_used=*/true);
    if (!mine.ok()) return mine.status();
    for (const storage::RequestRow& row : *mine) {
      absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById(row.account_id);
      if (!account.ok()) return account.status();
      lists.mine.push_back(ViewOfRequest(row, account->has_value() ? (*account)->name() : "?", *policy, now));
    }
    return DecidablePage(tx, caller, *policy, *cursor, now, lists.to_decide, lists.next_page_token);
  });
  if (!read.ok()) return read;
  return lists;
}

absl::StatusOr<RequestView> Vault::DecideRequest(const Caller& caller, int64_t request_id,
                                                 bool approve, absl::string_view reason,
                                                 std::optional<absl::Duration> ttl) {
  if (absl::Status s = CheckText("reason", reason, 500, false); !s.ok()) return RefuseInput(caller, approve ? "approve-request" : "deny-request", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  if (!approve) {
    if (absl::Status s = CheckMeaningfulReason(reason, *policy, "a denial"); !s.ok()) return RefuseInput(caller, approve ? "approve-request" : "deny-request", s);
  }
  if (ttl.has_value() && (*ttl <= absl::ZeroDuration() || *ttl > policy->max_grant_ttl)) {
    return absl::InvalidArgumentError(absl::StrCat("--ttl must be more than 0 and at most ",
                                                   absl::FormatDuration(policy->max_grant_ttl)));
  }
  RequestView view;
  audit::AuditEvent event = ManagementEvent(caller, approve ? "approve-request" : "deny-request", reason);
  event.request_id = absl::StrCat(request_id);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::RequestRow>> row = tx.FindRequest(request_id);
    if (!row.ok()) return row.status();
    const absl::Status not_found = absl::NotFoundError(absl::StrCat("no request ", request_id));
    if (!row->has_value()) return not_found;
    absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById((*row)->account_id);
    if (!account.ok()) return account.status();
    if (!account->has_value() ||
        !policies::DecideAdmin(caller.policy_bindings, ResourceOf(**account), AdminAction::kViewAccount, now)
             .allows()) {
      return not_found;
    }
    event.account = (*account)->name();
    event.unit_id = (*account)->unit_id;
    const policies::AccessRequest request = RequestOf(**row);
    const policies::RequestStatus status = policies::DeriveStatus(request, *policy, now);
    const bool escalation = status.state == policies::RequestState::kEscalated;
    const Decision decision = policies::DecideOnRequest(*policy, caller.policy_bindings, ResourceOf(**account),
                                                        request, caller.user_id, escalation, now);
    NoteDecision(event, decision);
    if (!decision.allows()) return DeniedError(decision, absl::StrCat("decide request ", request_id));
    if (status.state != policies::RequestState::kPending && !escalation) {
      return Refused(Refusal::kRequestState,
                     absl::FailedPreconditionError(absl::StrCat("request ", request_id, " is ",
                                                                policies::RequestStateName(status.state),
                                                                ": there is nothing to decide")));
    }
    std::optional<int64_t> ttl_us;
    if (ttl.has_value()) ttl_us = absl::ToInt64Microseconds(*ttl);
    if (absl::Status s = tx.RecordRequestDecision(request_id, escalation, approve, caller.user,
                                                  Micros(now), reason, ttl_us);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::optional<storage::RequestRow>> updated = tx.FindRequest(request_id);
    if (!updated.ok()) return updated.status();
    view = ViewOfRequest(**updated, (*account)->name(), *policy, now);
    return tx.InsertNotification(
        {0, (*row)->requester_id, "decision", (*account)->name(), request_id,
         absl::StrCat(caller.user, approve ? " approved" : " denied", " your request ", request_id,
                      " for ", (*account)->name(),
                      approve ? absl::StrCat(": kluis get ", (*account)->name(), " --request ", request_id)
                              : absl::StrCat(": ", reason)),
         Micros(now)});
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<RequestView> Vault::EscalateRequest(const Caller& caller, int64_t request_id,
                                                   absl::string_view reason) {
  if (absl::Status s = CheckText("reason", reason, 500, false); !s.ok()) return RefuseInput(caller, "escalate-request", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  RequestView view;
  audit::AuditEvent event = ManagementEvent(caller, "escalate-request", reason);
  event.request_id = absl::StrCat(request_id);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::RequestRow>> row = tx.FindRequest(request_id);
    if (!row.ok()) return row.status();
    // Only the requester escalates their own request; to anyone else it does not exist.
    if (!row->has_value() || (*row)->requester_id != caller.user_id) {
      return absl::NotFoundError(absl::StrCat("no request ", request_id, " of yours"));
    }
    absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById((*row)->account_id);
    if (!account.ok()) return account.status();
    // Accounts are never deleted from the vault (R8 keeps the row); a request without one is not
    // a request anyone can act on.
    if (!account->has_value()) return absl::NotFoundError(absl::StrCat("no request ", request_id, " of yours"));
    event.account = (*account)->name();
    event.unit_id = (*account)->unit_id;
    const policies::AccessRequest request = RequestOf(**row);
    const policies::RequestStatus status = policies::DeriveStatus(request, *policy, now);
    const policies::Rule* rule = policy->FindRule(request.rule_id);
    event.rule = rule != nullptr ? absl::StrCat(rule->id, "/escalate") : "request.rule-gone";
    event.decision = "allow";
    event.outcome = "ok";
    if (rule == nullptr || !rule->escalate_to.has_value()) {
      event.decision = "deny";
      return Refused(Refusal::kRequestState,
                     absl::FailedPreconditionError(absl::StrCat(
                         "request ", request_id, " cannot be escalated: its rule names nobody above")));
    }
    if (status.state != policies::RequestState::kDenied) {
      event.decision = "deny";
      return Refused(Refusal::kRequestState,
                     absl::FailedPreconditionError(absl::StrCat("request ", request_id, " is ",
                                                                policies::RequestStateName(status.state),
                                                                "; only a denied request is escalated")));
    }
    if (absl::Status s = tx.RecordEscalation(request_id, Micros(now)); !s.ok()) return s;
    absl::StatusOr<std::optional<storage::RequestRow>> updated = tx.FindRequest(request_id);
    if (!updated.ok()) return updated.status();
    view = ViewOfRequest(**updated, (*account)->name(), *policy, now);
    return NotifyHolders(tx, **account, {*rule->escalate_to}, "escalation", request_id,
                         absl::StrCat(caller.user, " escalates request ", request_id, " for ",
                                      (*account)->name(), ", denied by ", (*row)->decided_by, " (",
                                      (*row)->decision_reason, "): ", reason, "; kluis approve ",
                                      request_id, " or kluis deny ", request_id),
                         now);
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<Inbox> Vault::GetInbox(const Caller& caller, const PageRequest& page) {
  absl::StatusOr<RequestLists> lists = ListRequests(caller, page);
  if (!lists.ok()) return lists.status();
  Inbox inbox;
  inbox.to_decide = std::move(lists->to_decide);
  inbox.next_page_token = std::move(lists->next_page_token);
  for (RequestView& mine : lists->mine) {
    if (mine.status.usable()) inbox.grants.push_back(std::move(mine));
  }
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::vector<storage::NotificationRow>> notices = tx.ListNotifications(caller.user_id, 50);
    if (!notices.ok()) return notices.status();
    inbox.notices = *std::move(notices);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return inbox;
}

absl::StatusOr<DueList> Vault::ListDue(const Caller& caller, const PageRequest& page) {
  absl::StatusOr<Cursor> cursor = OpenPage(page, "due");
  if (!cursor.ok()) return cursor.status();
  const absl::Time now = clock_.Now();
  // A password older than the policy's maximum is due by age: derived when read, never stored.
  const std::optional<absl::Duration> max_age = policy()->max_password_age;
  DueList due;
  absl::Status read = db_->ReadAside([&](Tx& tx) -> absl::Status {
    storage::AccountPage query;
    query.only_due = true;
    if (max_age) query.password_due_us = Micros(now - *max_age);
    const auto visible = [&](const AccountRow& account) {
      return policies::DecideAdmin(caller.policy_bindings, ResourceOf(account),
                                   AdminAction::kViewAccount, now)
          .allows();
    };
    absl::StatusOr<SummaryPage> rows = KeptSummaries(tx, query, *cursor, "due", visible);
    if (!rows.ok()) return rows.status();
    if (rows->rows.empty()) return absl::OkStatus();
    absl::StatusOr<std::vector<storage::RotationFlagRow>> flags =
        tx.OpenFlagsOf(rows->first_id, rows->last_id);
    if (!flags.ok()) return flags.status();
    auto flag = flags->begin();  // both in account id order
    for (const storage::AccountSummary& row : rows->rows) {
      for (; flag != flags->end() && flag->account_id <= row.account.id; ++flag) {
        if (flag->account_id == row.account.id)
          due.flags.push_back(DueFlag{row.account.name(), *flag});
      }
      if (!max_age || !row.password_set_us || row.account.state != policies::AccountState::kActive)
        continue;
      const absl::Time set = absl::FromUnixMicros(*row.password_set_us);
      if (now - set < *max_age) continue;
      storage::RotationFlagRow age{
          0, row.account.id,
          absl::StrCat("password older than ", *max_age / absl::Hours(24), " days"), "kluisd",
          Micros(set + *max_age)};
      due.flags.push_back(DueFlag{row.account.name(), age});
    }
    due.next_page_token = std::move(rows->next_page_token);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return due;
}

}  // namespace kluis::server
