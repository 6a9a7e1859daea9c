// The kabinetswissel (R13): the plan for a change of cabinet, and applying it step by step.
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "crypto/random.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/kabinetswissel_plan.h"
#include "server/vault/kabinetswissel_steps.h"
#include "server/vault/obligations.h"
#include "server/vault/refusal.h"
#include "server/vault/resolve.h"
#include "server/vault/vault.h"

namespace kluis::server {

namespace {

constexpr char kHandback[] = "handback";
constexpr char kKeepRemoved[] = "keep-2fa-removed";

// The steps of one minister account, in the order they run. Corporate (R13): archive before the
// wipe, end the predecessor's access, change the password and the authenticator, bind the
// successor. Hybrid (R14): the authenticator goes with the minister or is marked for removal,
// the ministry's access ends, the vault lets go of the account.
std::vector<KabinetswisselStep> StepsFor(const KabinetswisselAccount& a) {
  const std::string who = a.predecessors.empty() ? "nobody is bound" : absl::StrJoin(a.predecessors, ", ");
  if (a.kind == policies::AccountKind::kCorporate) {
    return {
        {"archive",
         absl::StrCat(
             "record where the predecessor's posts are archived: ",
             a.archive_ref.empty() ? "(none given: record one before apply)" : a.archive_ref),
         StepState::kTodo, ""},
        {"wipe", "the predecessor's posts may be removed on the platform (only once archived)",
         StepState::kTodo, ""},
        {"end-predecessor",
         absl::StrCat("end the bewindspersoon and politiek-assistent access (and grants) of: ",
                      who),
         StepState::kTodo, ""},
        {"rotate-password",
         absl::StrCat("a new password, pending: set it on the platform, then kluis rotate ",
                      a.account, " --confirm"),
         StepState::kTodo, ""},
        {"renew-2fa",
         absl::StrCat("set up the authenticator anew: kluis secret set-totp ", a.account,
                      " --pending, then kluis rotate ", a.account, " --confirm"),
         StepState::kTodo, ""},
        {"bind-successor", absl::StrCat(a.successor, " becomes bewindspersoon of the account"),
         StepState::kTodo, ""},
    };
  }
  return {
      a.hybrid == kHandback
          ? KabinetswisselStep{"handback-2fa",
                               absl::StrCat("hand the authenticator (otpauth URI and QR) to the "
                                            "departing minister: ",
                                            a.departing.empty() ? "(no bewindspersoon bound)"
                                                                : absl::StrJoin(a.departing, ", ")),
                               StepState::kTodo, ""}
          : KabinetswisselStep{"remove-2fa",
                               "the minister removes the ministry's authenticator from the account",
                               StepState::kTodo, ""},
      {"end-ministry-bindings", absl::StrCat("end the ministry's access: ", who), StepState::kTodo,
       ""},
      {"release-custody",
       "destroy the vault's copy of the secrets; the account stays read-only for the audit trail",
       StepState::kTodo, ""},
  };
}

// The one entry of `pairs` that names `account` (PLATFORM/HANDLE, or the bare handle).
const std::string* ValueFor(const std::vector<std::pair<std::string, std::string>>& pairs,
                            const AccountRow& account) {
  for (const auto& [name, value] : pairs) {
    if (name == account.name()) return &value;
  }
  for (const auto& [name, value] : pairs) {
    if (name.find('/') == std::string::npos && absl::EqualsIgnoreCase(name, account.handle)) return &value;
  }
  return nullptr;
}

// One minister account's part of the plan: who goes, who comes, and the steps (R13 for a
// corporate account, R14 for a hybrid one), as the caller gave them in `input`.
absl::StatusOr<KabinetswisselAccount> PlanEntry(Tx& tx, const AccountRow& account, const KabinetswisselInput& input,
                                                absl::Time now) {
  KabinetswisselAccount entry;
  entry.account = account.name();
  entry.kind = *account.kind;  // corporate or hybrid: chosen so by Plan
  const std::string* successor = ValueFor(input.successors, account);
  const std::string* choice = ValueFor(input.hybrid, account);
  const std::string* archive = ValueFor(input.archives, account);
  if (account.kind == policies::AccountKind::kCorporate) {
    if (successor == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(account.name(), " is corporate and passes to the successor: "
                                                     "give --successor ", account.name(), "=USER (R13)"));
    }
    if (choice != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(account.name(), " is corporate: --hybrid is for hybrid accounts"));
    }
    if (absl::StatusOr<storage::UserRow> user = FindActiveUser(tx, *successor); !user.ok()) return user.status();
    entry.successor = *successor;
    entry.archive_ref = archive != nullptr ? *archive : account.archive_ref;
    for (policies::Role role :
         {policies::Role::kBewindspersoon, policies::Role::kPolitiekAssistent}) {
      absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders =
          tx.UsersWithRole(policies::ScopeKind::kAccount, account.id, role, Micros(now));
      if (!holders.ok()) return holders.status();
      for (const auto& [id, name] : *holders) {
        if (name == entry.successor) continue;
        entry.predecessors.push_back(name);
        if (role == policies::Role::kBewindspersoon) entry.departing.push_back(name);
      }
    }
  } else {
    if (choice == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          account.name(), " is hybrid and leaves with the minister: give --hybrid ", account.name(),
          "=handback (the authenticator goes to the minister) or =keep-2fa-removed (R14)"));
    }
    if (successor != nullptr || archive != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          account.name(), " is hybrid: it has no successor and no archive in the ministry's care (R14)"));
    }
    entry.hybrid = *choice;
    for (policies::Role role : {policies::Role::kBeheerder, policies::Role::kBewindspersoon,
                                policies::Role::kPolitiekAssistent}) {
      absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders =
          tx.UsersWithRole(policies::ScopeKind::kAccount, account.id, role, Micros(now));
      if (!holders.ok()) return holders.status();
      for (const auto& [id, name] : *holders) {
        if (std::find(entry.predecessors.begin(), entry.predecessors.end(), name) == entry.predecessors.end()) {
          entry.predecessors.push_back(name);
        }
        if (role == policies::Role::kBewindspersoon) entry.departing.push_back(name);
      }
    }
  }
  entry.steps = StepsFor(entry);
  return entry;
}

// Every account named in `input` is one of the plan's, named once: a typo is not left unplanned.
absl::Status EveryNameIsPlanned(const KabinetswisselInput& input, const KabinetswisselPlan& plan) {
  for (const auto* pairs : {&input.successors, &input.hybrid, &input.archives}) {
    for (const auto& pair : *pairs) {
      const std::string& name = pair.first;  // not a structured binding: a lambda captures it
      const auto matches = std::count_if(plan.accounts.begin(), plan.accounts.end(), [&](const KabinetswisselAccount& a) {
        return a.account == name || absl::EqualsIgnoreCase(a.account.substr(a.account.find('/') + 1), name);
      });
      if (matches == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            Quoted(name), " is not a corporate or hybrid account of unit ", input.unit));
      }
      if (matches > 1) {
        return absl::InvalidArgumentError(absl::StrCat("handle \"", name,
                                                       "\" is on several platforms: name it as PLATFORM/", name));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KabinetswisselPlan> Vault::PlanKabinetswissel(const Caller& caller,
                                                             const KabinetswisselInput& input) {
  if (absl::Status s = CheckName("unit", input.unit); !s.ok()) return RefuseInput(caller, "kabinetswissel-plan", s);
  for (const auto* pairs : {&input.successors, &input.hybrid, &input.archives}) {
    for (const auto& [account, value] : *pairs) {
      if (absl::Status s = CheckText("account", account, 200, true); !s.ok()) return RefuseInput(caller, "kabinetswissel-plan", s);
      if (absl::Status s = CheckText(absl::StrCat("the value for ", account), value, 200, true); !s.ok()) return RefuseInput(caller, "kabinetswissel-plan", s);
    }
  }
  for (const auto& [account, choice] : input.hybrid) {
    if (choice != kHandback && choice != kKeepRemoved) {
      return absl::InvalidArgumentError(absl::StrCat("--hybrid ", Quoted(account), "=", Quoted(choice),
                                                     ": the choice is handback or keep-2fa-removed"));
    }
  }
  for (const auto& [account, user] : input.successors) {
    if (absl::Status s = CheckName("successor", user); !s.ok()) return RefuseInput(caller, "kabinetswissel-plan", s);
  }
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  KabinetswisselPlan plan;
  plan.id = absl::StrCat("kw-", absl::FormatTime("%Y%m%d", now, absl::UTCTimeZone()), "-",
                         absl::BytesToHexString(crypto::RandomBytes(4)));
  plan.unit = input.unit;
  plan.created = now;
  plan.created_by = caller.user;
  audit::AuditEvent event = ManagementEvent(caller, "kabinetswissel-plan", plan.id);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::UnitRow>> unit = tx.FindUnit(input.unit);
    if (!unit.ok()) return unit.status();
    const absl::Status no_unit = absl::NotFoundError(
        absl::StrCat("no minister accounts in unit \"", input.unit, "\" that you have a role on"));
    if (!unit->has_value()) return no_unit;
    event.unit_id = (*unit)->id;
    absl::StatusOr<std::vector<AccountRow>> accounts =
        tx.AccountsIn(policies::ScopeKind::kUnit, (*unit)->id);
    if (!accounts.ok()) return accounts.status();
    for (const AccountRow& account : *accounts) {
      if (account.state != policies::AccountState::kActive ||
          (account.kind != policies::AccountKind::kCorporate &&
           account.kind != policies::AccountKind::kHybrid)) {
        continue;
      }
      if (!policies::DecideAdmin(caller.policy_bindings, ResourceOf(account), AdminAction::kViewAccount, now).allows()) {
        continue;
      }
      const Decision decision = policies::Decide(*policy, caller.policy_bindings, ResourceOf(account),
                                                 Action::kKabinetswissel, {caller.user_id}, now);
      NoteDecision(event, decision);
      if (!decision.allows()) return DeniedError(decision, absl::StrCat("plan the kabinetswissel of ", account.name()));
      absl::StatusOr<KabinetswisselAccount> entry = PlanEntry(tx, account, input, now);
      if (!entry.ok()) return entry.status();
      plan.accounts.push_back(*std::move(entry));
    }
    if (plan.accounts.empty()) return no_unit;
    if (absl::Status s = EveryNameIsPlanned(input, plan); !s.ok()) return s;
    event.reason = absl::StrCat(plan.id, ": ", plan.accounts.size(), " minister accounts");
    return tx.InsertPlan({plan.id, (*unit)->id, EncodePlan(plan), Micros(now), caller.user});
  });
  if (!done.ok()) return done;
  return plan;
}

absl::StatusOr<KabinetswisselOutcome> Vault::ApplyKabinetswissel(const Caller& caller,
                                                                 absl::string_view plan_id) {
  if (absl::Status s = CheckName("plan id", plan_id); !s.ok()) return RefuseInput(caller, "kabinetswissel:apply", s);
  KabinetswisselOutcome outcome;
  // The vault's own copy of the plan is what runs.
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::PlanRow>> row = tx.FindPlan(plan_id);
    if (!row.ok()) return row.status();
    if (!row->has_value()) return absl::NotFoundError(absl::StrCat("no kabinetswissel plan ", Quoted(plan_id)));
    outcome.plan.id = (*row)->id;
    outcome.plan.created = absl::FromUnixMicros((*row)->created_us);
    outcome.plan.created_by = (*row)->created_by;
    absl::StatusOr<DecodedPlan> decoded = DecodePlan((*row)->id, (*row)->body);
    if (!decoded.ok()) return decoded.status();
    outcome.plan.unit = decoded->unit;
    outcome.plan.accounts = std::move(decoded->accounts);
    for (KabinetswisselAccount& account : outcome.plan.accounts) account.steps = StepsFor(account);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;

  outcome.complete = true;
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  for (KabinetswisselAccount& entry : outcome.plan.accounts) {
    if (absl::Status s = ApplyKabinetswisselTo(caller, *policy, outcome, entry); !s.ok()) return s;
  }
  return outcome;
}

absl::Status Vault::ApplyKabinetswisselTo(const Caller& caller, const policies::Policy& policy,
                                          KabinetswisselOutcome& outcome, KabinetswisselAccount& entry) {
  // One transaction per account. Each step runs in a savepoint with its own audit record and
  // done-mark, so a failing step undoes only itself (and is recorded), the steps before it stay,
  // the account's later steps are skipped, and a second apply does nothing twice.
  const absl::Time now = clock_.Now();
  std::vector<KabinetswisselStep> steps = entry.steps;
  std::optional<AccountRow> account;
  std::optional<storage::SecretRow> handback;
  // When nothing of the account could run: its first step failed with `why`, the rest skipped.
  auto none_ran = [&](const absl::Status& why) {
    steps = entry.steps;
    for (KabinetswisselStep& step : steps) step.state = StepState::kSkipped;
    if (!steps.empty()) {
      steps.front().state = StepState::kFailed;
      steps.front().detail = std::string(why.message());
    }
    handback.reset();
  };
  // Should the caller's access have changed since it authenticated, the accounts applied so far
  // stay applied (a second apply goes on from there), nothing more runs, and the refusal is
  // recorded as this attempt's; otherwise each step records itself.
  Attempt attempt(ManagementEvent(caller, "kabinetswissel:apply", outcome.plan.id), now);
  attempt.StepsRecordThemselves();
  auto run_steps = [&](Tx& tx, Attempt&) -> absl::Status {
    absl::StatusOr<AccountRow> found = ResolveVisibleAccount(tx, caller, entry.account, now);
    if (!found.ok()) {
      none_ran(found.status());
      return absl::OkStatus();
    }
    account = *found;
    bool failed = false;
    for (KabinetswisselStep& step : steps) {
      if (failed) {
        step.state = StepState::kSkipped;
        continue;
      }
      absl::StatusOr<bool> done = tx.StepDone(outcome.plan.id, account->id, step.name);
      if (!done.ok()) return done.status();
      if (*done) {
        step.state = StepState::kDoneEarlier;
        continue;
      }
      audit::AuditEvent event = ManagementEvent(caller, absl::StrCat("kabinetswissel:", step.name), "");
      event.account = entry.account;
      event.unit_id = account->unit_id;
      const absl::Status ran = tx.Savepoint([&] {
        return RunKabinetswisselStep(tx, caller, policy, outcome.plan.id, entry, account->id, step,
                                     now, event, handback);
      });
      if (ran.ok()) {
        step.state = StepState::kDone;
      } else {
        NoteFailure(event, ran);
        step.state = StepState::kFailed;
        step.detail = std::string(ran.message());
        failed = true;
      }
      if (absl::Status r = Record(tx, event, now); !r.ok()) return r;
    }
    return absl::OkStatus();
  };
  const absl::Status stored = Run(attempt, caller, run_steps);
  if (!attempt.refusal().ok()) return attempt.refusal();
  if (!stored.ok()) none_ran(stored);  // nothing of this account committed
  entry.steps = std::move(steps);
  for (const KabinetswisselStep& step : entry.steps) {
    if (step.state == StepState::kFailed) outcome.complete = false;
  }
  // The authenticator opens only after its record committed, like every release.
  if (handback.has_value()) {
    absl::StatusOr<crypto::SecretBytes> uri = sealer_.Open(account->id, kTotp, handback->version, handback->sealed);
    if (!uri.ok()) return uri.status();
    outcome.handed_back.push_back({entry.account, absl::StrJoin(entry.departing, ", "), *std::move(uri)});
  }
  return absl::OkStatus();
}

absl::Status Vault::RunKabinetswisselStep(Tx& tx, const Caller& caller,
                                          const policies::Policy& policy, absl::string_view plan_id,
                                          const KabinetswisselAccount& entry, int64_t account_id,
                                          KabinetswisselStep& step, absl::Time now,
                                          audit::AuditEvent& event,
                                          std::optional<storage::SecretRow>& handback) {
  absl::StatusOr<std::optional<AccountRow>> fresh = tx.FindAccountById(account_id);
  if (!fresh.ok()) return fresh.status();
  if (!fresh->has_value()) return absl::NotFoundError(absl::StrCat("no account ", entry.account));
  const AccountRow& account = **fresh;
  const Decision decision = policies::Decide(policy, caller.policy_bindings, ResourceOf(account),
                                             Action::kKabinetswissel, {caller.user_id}, now);
  NoteDecision(event, decision);
  if (!decision.allows())
    return DeniedError(decision, absl::StrCat("change ", entry.account, " at a kabinetswissel"));
  // Named, so they outlive `run`: a FunctionRef only refers to them.
  auto generate = [&](absl::string_view platform) { return GeneratePassword(platform); };
  auto insert = [&](storage::SecretKind kind, const crypto::SecretBytes& secret, bool pending, absl::string_view by) {
    return InsertVersion(tx, account, kind, secret, pending, by);
  };
  StepRun run{tx,  caller,      entry,    account,  account.name(),
              now, step.detail, handback, generate, insert};
  if (absl::Status s = RunStep(step.name, run); !s.ok()) return s;
  event.reason = absl::StrCat(plan_id, ": ", step.detail);
  return tx.MarkStepDone(plan_id, account_id, step.name, Micros(now), caller.user);
}

absl::Status Vault::RecordArchiveReference(const Caller& caller, absl::string_view account,
                                           absl::string_view reference) {
  if (absl::Status s = CheckText("archive reference", reference, 200, true); !s.ok()) return RefuseInput(caller, "kabinetswissel:archive-reference", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  audit::AuditEvent event = ManagementEvent(caller, "kabinetswissel:archive-reference", reference);
  event.account = std::string(account);
  return RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<Decided> decided = ResolveAndDecide(tx, caller, *policy, account, Action::kKabinetswissel,
                                                       {caller.user_id}, now, event, "record the archive of");
    if (!decided.ok()) return decided.status();
    const AccountRow* found = &decided->account;
    if (found->kind != policies::AccountKind::kCorporate) {
      return absl::InvalidArgumentError(absl::StrCat(found->name(), " is not corporate: only corporate accounts are archived by the ministry (R13)"));
    }
    return tx.SetArchiveReference(found->id, reference);
  });
}

}  // namespace kluis::server
