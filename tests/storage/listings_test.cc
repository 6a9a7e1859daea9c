// The listings' statements: what they read, how they page, and that every one is led by an index
// (issue 18: one statement per page, not one query per account).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crypto/random.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"

namespace kluis::storage {
namespace {

using policies::Role;
using policies::ScopeKind;

constexpr int64_t kNow = 1'800'000'000'000'000;
constexpr int64_t kDay = 86'400'000'000;

class ListingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Initialize().ok());
    char tmpl[] = "/tmp/kluis-listings-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto db = Database::Open(dir_ + "/vault.db", crypto::RandomSecret(32), Database::Mode::kCreate);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Two units of one team each; `per_team` accounts in each team, ids in order of adding.
  void Organisation(int per_team) {
    ASSERT_TRUE(db_->Write([&](Tx& tx) -> absl::Status {
                     for (const char* unit : {"rotterdam", "amsterdam"}) {
                       absl::StatusOr<int64_t> u = tx.InsertUnit(unit, unit, kNow);
                       if (!u.ok()) return u.status();
                       absl::StatusOr<int64_t> t = tx.InsertTeam(*u, "wijk", "wijk", kNow);
                       if (!t.ok()) return t.status();
                       units_.push_back(*u);
                       teams_.push_back(*t);
                       for (int i = 0; i < per_team; ++i) {
                         absl::StatusOr<int64_t> a =
                             tx.InsertAccount(*t, "x", absl::StrCat(unit, "_", i),
                                              policies::AccountKind::kPolitieAlleen, kNow, "test");
                         if (!a.ok()) return a.status();
                         accounts_.push_back(*a);
                       }
                     }
                     return absl::OkStatus();
                   })
                    .ok());
  }

  absl::Status Secret(int64_t account, SecretKind kind, SecretState state, int64_t version,
                      int64_t created_us) {
    return db_->Write([&](Tx& tx) {
      return tx.InsertSecret(
          SecretRow{0, account, kind, version, state, "sealed", 1, "test", created_us});
    });
  }

  std::vector<AccountSummary> Summaries(const AccountPage& page) {
    std::vector<AccountSummary> out;
    EXPECT_TRUE(db_->Read([&](Tx& tx) -> absl::Status {
                     absl::StatusOr<std::vector<AccountSummary>> rows = tx.AccountSummaries(page);
                     if (!rows.ok()) return rows.status();
                     out = *std::move(rows);
                     return absl::OkStatus();
                   })
                    .ok());
    return out;
  }

  std::string dir_;
  std::unique_ptr<Database> db_;
  std::vector<int64_t> units_, teams_, accounts_;
};

const std::map<std::string, std::vector<std::string>> kExpectedIndexes = {
    {"account summaries",
     {"sqlite_autoindex_secrets_1", "rotation_flags_by_account", "audit_by_account"}},
    {"holders", {"role_bindings_by_scope", "certificates_by_user"}},
    {"scopes held", {"role_bindings_by_scope"}},
    {"open flags", {"rotation_flags_by_account"}},
    {"unused requests", {"access_requests_by_account"}},
    {"waiting requests", {"access_requests_by_created", "access_requests_by_escalated"}},
};

TEST_F(ListingsTest, EveryListingStatementIsLedByAnIndex) {
  Organisation(2);
  ASSERT_TRUE(
      db_->Read([&](Tx& tx) -> absl::Status {
           for (const auto& [name, sql] : ListingStatements()) {
             absl::StatusOr<std::vector<std::string>> plan = tx.QueryPlan(sql);
             if (!plan.ok()) return plan.status();
             const std::string text = absl::StrJoin(*plan, "\n");
             SCOPED_TRACE(absl::StrCat(name, ":\n", text));
             if (getenv("KLUIS_SHOW_PLANS")) std::cerr << name << ":\n" << text << "\n";
             // A SCAN walks a whole table; only the small organisation tables (units, teams) may
             // be.
             for (const std::string& step : *plan) {
               if (!absl::StartsWith(step, "SCAN")) continue;
               EXPECT_TRUE(absl::StrContains(step, "units") || absl::StrContains(step, "teams") ||
                           absl::StrContains(step, "USING INTEGER PRIMARY KEY") ||
                           absl::StrContains(step, "USING COVERING INDEX"))
                   << step;
             }
             for (const char* table : {"secrets", "rotation_flags", "audit_records",
                                       "role_bindings", "access_requests"}) {
               if (!absl::StrContains(text, absl::StrCat("TABLE ", table))) continue;
               EXPECT_TRUE(absl::StrContains(text, absl::StrCat("SEARCH TABLE ", table))) << table;
             }
             // And the index each is meant to use (a SEARCH by rowid range can still walk a whole
             // table).
             for (const std::string& index : kExpectedIndexes.at(name)) {
               EXPECT_TRUE(absl::StrContains(text, absl::StrCat("USING INDEX ", index, " ")))
                   << index;
             }
           }
           return absl::OkStatus();
         })
          .ok());
}

TEST_F(ListingsTest, ASummaryReadsWhatTheListingShowsAndPagesByKeyset) {
  Organisation(3);
  const int64_t a = accounts_[0];
  ASSERT_TRUE(Secret(a, SecretKind::kPassword, SecretState::kPrevious, 1, kNow - 9 * kDay).ok());
  ASSERT_TRUE(Secret(a, SecretKind::kPassword, SecretState::kCurrent, 2, kNow - 2 * kDay).ok());
  ASSERT_TRUE(Secret(a, SecretKind::kLinkedEmail, SecretState::kCurrent, 1, kNow).ok());
  ASSERT_TRUE(Secret(a, SecretKind::kRecoveryCode, SecretState::kCurrent, 1, kNow).ok());
  ASSERT_TRUE(Secret(a, SecretKind::kRecoveryCode, SecretState::kCurrent, 2, kNow).ok());
  ASSERT_TRUE(Secret(a, SecretKind::kRecoveryCode, SecretState::kDestroyed, 3, kNow).ok());
  ASSERT_TRUE(Secret(a, SecretKind::kTotp, SecretState::kPending, 1, kNow).ok());
  ASSERT_TRUE(
      db_->Write([&](Tx& tx) { return tx.RaiseRotationFlag(a, "test", "test", kNow); }).ok());

  std::vector<AccountSummary> all = Summaries({});
  ASSERT_EQ(all.size(), 6u);
  const AccountSummary& first = all[0];
  EXPECT_EQ(first.account.id, a);
  EXPECT_EQ(first.password_set_us, kNow - 2 * kDay);
  EXPECT_TRUE(first.has_linked_email);
  EXPECT_FALSE(first.has_totp);  // pending only
  EXPECT_TRUE(first.pending_rotation);
  EXPECT_EQ(first.recovery_codes_left, 2);
  EXPECT_EQ(first.open_flags, 1);
  EXPECT_FALSE(all[1].password_set_us.has_value());
  EXPECT_EQ(all[1].open_flags, 0);

  // Pages: two at a time after the last id seen, in id order, and a unit's alone.
  std::vector<int64_t> walked;
  for (AccountPage page{.limit = 2};;) {
    std::vector<AccountSummary> rows = Summaries(page);
    if (rows.empty()) break;
    EXPECT_LE(rows.size(), 2u);
    for (const AccountSummary& row : rows) walked.push_back(row.account.id);
    page.after_id = rows.back().account.id;
  }
  EXPECT_EQ(walked, accounts_);
  std::vector<AccountSummary> amsterdam = Summaries({.unit_id = units_[1]});
  ASSERT_EQ(amsterdam.size(), 3u);
  EXPECT_EQ(amsterdam[0].account.id, accounts_[3]);
  EXPECT_EQ(Summaries({.team_id = teams_[0], .after_id = accounts_[1]}).size(), 1u);
}

TEST_F(ListingsTest, OnlyDueIsAnOpenFlagOrAnOldPasswordOfAnActiveAccount) {
  Organisation(3);
  ASSERT_TRUE(
      db_->Write([&](Tx& tx) { return tx.RaiseRotationFlag(accounts_[1], "left", "test", kNow); })
          .ok());
  ASSERT_TRUE(
      Secret(accounts_[2], SecretKind::kPassword, SecretState::kCurrent, 1, kNow - 100 * kDay)
          .ok());
  ASSERT_TRUE(
      Secret(accounts_[3], SecretKind::kPassword, SecretState::kCurrent, 1, kNow - 10 * kDay).ok());
  ASSERT_TRUE(
      Secret(accounts_[4], SecretKind::kPassword, SecretState::kCurrent, 1, kNow - 100 * kDay)
          .ok());
  ASSERT_TRUE(db_->Write([&](Tx& tx) { return tx.StopAccount(accounts_[4], "gone", kNow); }).ok());
  std::vector<int64_t> due;
  for (const AccountSummary& s : Summaries({.only_due = true, .password_due_us = kNow - 90 * kDay}))
    due.push_back(s.account.id);
  EXPECT_EQ(due, (std::vector<int64_t>{accounts_[1], accounts_[2]}));
  // Without a maximum age, only the flag.
  due.clear();
  for (const AccountSummary& s : Summaries({.only_due = true})) due.push_back(s.account.id);
  EXPECT_EQ(due, std::vector<int64_t>{accounts_[1]});
}

TEST_F(ListingsTest, LastReleaseIsTheNewestAllowedCompletedRelease) {
  Organisation(1);
  auto record = [&](int64_t seq, const std::string& action, const std::string& decision,
                    const std::string& outcome) {
    AuditRow row;
    row.seq = seq;
    row.time_us = kNow + seq;
    row.actor = "robin";
    row.role = "beheerder";
    row.action = action;
    row.account = "x/rotterdam_0";
    row.decision = decision;
    row.rule = "R1";
    row.outcome = outcome;
    row.canonical = "c";
    row.chain_hash = "h";
    return db_->Write([&](Tx& tx) { return tx.InsertAuditRecord(row); });
  };
  ASSERT_TRUE(record(1, "release-login", "allow", "ok").ok());
  ASSERT_TRUE(record(2, "release-login", "deny", "denied").ok());
  ASSERT_TRUE(record(3, "show-account", "allow", "ok").ok());
  AccountPage page{.with_last_release = true};
  std::vector<AccountSummary> rows = Summaries(page);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].last_release_us, kNow + 1);
  EXPECT_FALSE(rows[1].last_release_us.has_value());
  EXPECT_FALSE(Summaries({})[0].last_release_us.has_value());  // not asked
}

TEST_F(ListingsTest, HoldersAndScopesHeldReadBindingsThatHaveNotEnded) {
  Organisation(2);
  ASSERT_TRUE(db_->Write([&](Tx& tx) -> absl::Status {
                   absl::StatusOr<int64_t> robin = tx.InsertUser("robin", "Robin", kNow);
                   absl::StatusOr<int64_t> sam = tx.InsertUser("sam", "Sam", kNow);
                   if (!robin.ok() || !sam.ok()) return absl::InternalError("user");
                   BindingRow b{.user_id = *robin,
                                .role = Role::kBeheerder,
                                .scope_kind = ScopeKind::kAccount,
                                .scope_id = accounts_[0],
                                .valid_from_us = kNow - kDay,
                                .granted_by = "test"};
                   if (absl::StatusOr<int64_t> id = tx.InsertBinding(b); !id.ok())
                     return id.status();
                   b.user_id = *sam;
                   b.valid_from_us = kNow + kDay;  // not yet valid
                   if (absl::StatusOr<int64_t> id = tx.InsertBinding(b); !id.ok())
                     return id.status();
                   b.scope_id = accounts_[3];  // the other unit's
                   if (absl::StatusOr<int64_t> id = tx.InsertBinding(b); !id.ok())
                     return id.status();
                   BindingRow chef{.user_id = *robin,
                                   .role = Role::kTeamchef,
                                   .scope_kind = ScopeKind::kTeam,
                                   .scope_id = teams_[1],
                                   .valid_from_us = kNow - kDay,
                                   .granted_by = "test"};
                   if (absl::StatusOr<int64_t> id = tx.InsertBinding(chef); !id.ok())
                     return id.status();
                   return absl::OkStatus();
                 })
                  .ok());
  ASSERT_TRUE(db_->Read([&](Tx& tx) -> absl::Status {
                   absl::StatusOr<std::vector<HolderRow>> holders =
                       tx.HoldersOf(accounts_[0], accounts_[1], Role::kBeheerder, kNow);
                   if (!holders.ok()) return holders.status();
                   EXPECT_EQ(holders->size(), 2u);
                   for (const HolderRow& h : *holders) {
                     EXPECT_EQ(h.account_id, accounts_[0]);
                     EXPECT_EQ(h.binding_valid, h.user == "robin");
                     EXPECT_TRUE(h.user_active);
                     EXPECT_FALSE(h.enrolled);
                   }
                   absl::StatusOr<std::vector<int64_t>> chefs =
                       tx.ScopesHeld(ScopeKind::kTeam, Role::kTeamchef, kNow);
                   if (!chefs.ok()) return chefs.status();
                   EXPECT_EQ(*chefs, std::vector<int64_t>{teams_[1]});
                   absl::StatusOr<std::vector<AccountRow>> in_unit =
                       tx.AccountsIn(ScopeKind::kUnit, units_[1]);
                   if (!in_unit.ok()) return in_unit.status();
                   EXPECT_EQ(in_unit->size(), 2u);
                   absl::StatusOr<std::vector<AccountRow>> everywhere =
                       tx.AccountsIn(ScopeKind::kGlobal, 0);
                   if (!everywhere.ok()) return everywhere.status();
                   EXPECT_EQ(everywhere->size(), 4u);
                   return absl::OkStatus();
                 })
                  .ok());
}

TEST_F(ListingsTest, WaitingRequestsAreThoseOfTheWaitingPeriodWithoutAnAnswer) {
  Organisation(1);
  std::vector<int64_t> ids;
  ASSERT_TRUE(db_->Write([&](Tx& tx) -> absl::Status {
                   absl::StatusOr<int64_t> user = tx.InsertUser("regisseur", "R", kNow);
                   if (!user.ok()) return user.status();
                   for (int64_t created : {kNow - 10 * kDay, kNow - kDay, kNow - kDay,
                                           kNow - 10 * kDay, kNow - kDay}) {
                     RequestRow r{.account_id = accounts_[0],
                                  .requester_id = *user,
                                  .rule_id = "R3",
                                  .purpose = "audit",
                                  .reason = "test",
                                  .created_us = created};
                     absl::StatusOr<int64_t> id = tx.InsertRequest(r);
                     if (!id.ok()) return id.status();
                     ids.push_back(*id);
                   }
                   // ids[0]: asked long ago, unanswered (auto-approved by now): not waiting.
                   // ids[1]: waiting. ids[2]: answered. ids[3]: asked long ago, escalated lately:
                   // waiting. ids[4]: used.
                   if (absl::Status s = tx.RecordRequestDecision(ids[2], false, false, "chef", kNow,
                                                                 "no", std::nullopt);
                       !s.ok())
                     return s;
                   if (absl::Status s = tx.RecordEscalation(ids[3], kNow - kDay); !s.ok()) return s;
                   return tx.MarkRequestUsed(ids[4], kNow);
                 })
                  .ok());
  ASSERT_TRUE(db_->Read([&](Tx& tx) -> absl::Status {
                   absl::StatusOr<std::vector<RequestRow>> waiting =
                       tx.WaitingRequests(INT64_MAX, kNow - 3 * kDay, 10);
                   if (!waiting.ok()) return waiting.status();
                   std::vector<int64_t> got;
                   for (const RequestRow& r : *waiting) got.push_back(r.id);
                   EXPECT_EQ(got, (std::vector<int64_t>{ids[3], ids[1]}));
                   absl::StatusOr<std::vector<RequestRow>> page =
                       tx.WaitingRequests(ids[3], kNow - 3 * kDay, 10);
                   if (!page.ok()) return page.status();
                   EXPECT_EQ(page->size(), 1u);
                   absl::StatusOr<std::vector<RequestRow>> unused =
                       tx.UnusedRequestsOf(accounts_[0], accounts_[0]);
                   if (!unused.ok()) return unused.status();
                   EXPECT_EQ(unused->size(), 4u);
                   return absl::OkStatus();
                 })
                  .ok());
}

}  // namespace
}  // namespace kluis::storage
