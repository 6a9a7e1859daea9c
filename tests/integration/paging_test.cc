// Issue 18: every listing comes a page at a time (--limit, a page token), each page decided again
// for its caller; a token only says where the last page ended.
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/cli_fixture.h"
#include "tests/integration/organisation_fixture.h"

namespace kluis::testing {
namespace {

class PagingTest : public ReleaseTest {
 protected:
  // Seven more rotterdam accounts, with an amsterdam account added between each two.
  void SetUp() override {
    ReleaseTest::SetUp();
    Client& op = vault_.operator_client();
    pb::AddUnitRequest unit;
    unit.set_unit("amsterdam");
    ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddUnit, unit).ok());
    pb::AddTeamRequest team;
    team.set_unit("amsterdam");
    team.set_team("centrum");
    ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddTeam, team).ok());
    for (int i = 0; i < 7; ++i) {
      AddAccount(absl::StrCat("R_", i), "");
      pb::AddAccountRequest account;
      account.set_platform("x");
      account.set_handle(absl::StrCat("A_", i));
      account.set_team("amsterdam/centrum");
      account.set_kind(pb::ACCOUNT_KIND_POLITIE_ALLEEN);
      ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account).ok());
    }
  }

  absl::StatusOr<pb::ListAccountsResponse> Accounts(const std::string& user, int limit,
                                                    const std::string& token) {
    pb::ListAccountsRequest request;
    request.set_limit(limit);
    request.set_page_token(token);
    Client& c = *clients_[user];
    return c.Call(c.organisation(), &pb::Organisation::Stub::ListAccounts, request);
  }

  // Every page of the account list at `limit`: the names in order, and how many pages.
  std::vector<std::string> WalkAccounts(const std::string& user, int limit, int* pages) {
    std::vector<std::string> names;
    std::string token;
    *pages = 0;
    do {
      absl::StatusOr<pb::ListAccountsResponse> page = Accounts(user, limit, token);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->accounts_size(), limit);
      for (const pb::Account& a : page->accounts()) names.push_back(a.name());
      token = page->next_page_token();
      ++*pages;
    } while (!token.empty() && *pages < 100);
    return names;
  }
};

TEST_F(PagingTest, AccountPagesWalkEveryAccountInScopeOnce) {
  int pages = 0;
  std::vector<std::string> all = WalkAccounts("landelijk.regisseur", 3, &pages);
  EXPECT_EQ(all.size(), 15u);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 15u);
  EXPECT_EQ(pages, 5);
  // A unit's regisseur: full pages of their own unit, though the accounts interleave.
  std::vector<std::string> own = WalkAccounts("regisseur.rotterdam", 3, &pages);
  EXPECT_EQ(own.size(), 8u);
  for (const std::string& name : own) EXPECT_FALSE(absl::StartsWith(name, "x/A_")) << name;
  EXPECT_EQ(std::set<std::string>(own.begin(), own.end()).size(), 8u);
  EXPECT_EQ(pages, 3);
  // The default page holds them all, and says there is no more.
  absl::StatusOr<pb::ListAccountsResponse> whole = Accounts("regisseur.rotterdam", 0, "");
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->accounts_size(), 8);
  EXPECT_TRUE(whole->next_page_token().empty());
}

TEST_F(PagingTest, APageTokenGrantsNothing) {
  // A token from the landelijk regisseur's walk, handed to the unit regisseur: the next page is
  // still only what the regisseur may see.
  absl::StatusOr<pb::ListAccountsResponse> first = Accounts("landelijk.regisseur", 2, "");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());
  absl::StatusOr<pb::ListAccountsResponse> borrowed =
      Accounts("regisseur.rotterdam", 20, first->next_page_token());
  ASSERT_TRUE(borrowed.ok()) << borrowed.status();
  for (const pb::Account& a : borrowed->accounts())
    EXPECT_FALSE(absl::StartsWith(a.name(), "x/A_")) << a.name();
  // And the buitenstaander sees nothing on any page.
  absl::StatusOr<pb::ListAccountsResponse> outside =
      Accounts("buitenstaander", 20, first->next_page_token());
  ASSERT_TRUE(outside.ok()) << outside.status();
  EXPECT_EQ(outside->accounts_size(), 0);
}

TEST_F(PagingTest, ABadLimitOrTokenIsAClearErrorNotAPage) {
  for (const auto& [limit, token] :
       std::vector<std::pair<int, std::string>>{{1001, ""},
                                                {-1, ""},
                                                {0, "garbage"},
                                                {0, "due.3"},
                                                {0, "accounts.-4"},
                                                {0, "accounts.0"},
                                                {0, "accounts.3x"},
                                                {0, "accounts.99999999999999999999"}}) {
    absl::StatusOr<pb::ListAccountsResponse> page = Accounts("landelijk.regisseur", limit, token);
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << limit << " " << token;
    EXPECT_FALSE(absl::StrContains(page.status().message(), "\n"));
  }
}

TEST_F(PagingTest, CustodyDueInboxAndAuditPage) {
  Client& regisseur = *clients_["regisseur.rotterdam"];
  // Custody: pages of 3 make the whole report, each account once.
  std::set<std::string> reported;
  int custody_pages = 0;
  for (std::string token;;) {
    pb::CustodyReportRequest request;
    request.set_unit("rotterdam");
    request.set_limit(3);
    request.set_page_token(token);
    auto page = regisseur.Call(regisseur.audit(), &pb::Audit::Stub::CustodyReport, request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const pb::CustodyAccount& a : page->accounts())
      EXPECT_TRUE(reported.insert(a.account()).second);
    ++custody_pages;
    token = page->next_page_token();
    if (token.empty()) break;
  }
  EXPECT_EQ(reported.size(), 8u);
  EXPECT_EQ(custody_pages, 3);

  // Due: a break-glass on two accounts raises their flags; pages of one account each.
  Client& teamchef = *clients_["teamchef.ijsselmonde"];
  Grant("robin.peters", pb::ROLE_BEHEERDER, Scope("account", "x/R_3"));
  ASSERT_TRUE(SetPassword("robin.peters", "R_3", "Een-wachtwoord-voor-de-test-2026").ok());
  for (const char* account : {"WA_Lombardijen1", "R_3"}) {
    pb::ReleaseCredentialRequest emergency;
    emergency.set_account(account);
    emergency.set_break_glass(true);
    emergency.set_reason("melding buiten kantoortijd");
    auto released = teamchef.Call(teamchef.vault(), &pb::Vault::Stub::ReleaseCredential, emergency);
    ASSERT_TRUE(released.ok()) << released.status();
  }
  std::vector<std::string> due;
  for (std::string token;;) {
    pb::ListDueRequest request;
    request.set_limit(1);
    request.set_page_token(token);
    auto page = regisseur.Call(regisseur.vault(), &pb::Vault::Stub::ListDue, request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const pb::RotationFlag& f : page->flags()) due.push_back(f.account());
    token = page->next_page_token();
    if (token.empty()) break;
  }
  EXPECT_EQ(due, (std::vector<std::string>{"x/WA_Lombardijen1", "x/R_3"}));

  // Inbox: three requests for the teamchef to decide, a page of one at a time, newest first.
  for (const char* account : {"R_0", "R_1", "R_2"}) {
    pb::RequestAccessRequest request;
    request.set_account(account);
    request.set_purpose("koppelen");
    request.set_reason("koppelen aan de landelijke tool");
    ASSERT_TRUE(regisseur.Call(regisseur.vault(), &pb::Vault::Stub::RequestAccess, request).ok());
  }
  std::vector<std::string> to_decide;
  for (std::string token;;) {
    pb::GetInboxRequest request;
    request.set_limit(1);
    request.set_page_token(token);
    auto page = teamchef.Call(teamchef.vault(), &pb::Vault::Stub::GetInbox, request);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->to_decide_size(), 1);
    for (const pb::AccessRequest& r : page->to_decide()) to_decide.push_back(r.account());
    token = page->next_page_token();
    if (token.empty()) break;
  }
  EXPECT_EQ(to_decide, (std::vector<std::string>{"x/R_2", "x/R_1", "x/R_0"}));

  // The audit list: pages by sequence, none twice, none left out.
  Client& auditor = *clients_["auditor"];
  int64_t last = 0;
  int records = 0;
  for (std::string token;;) {
    pb::ListAuditRequest request;
    request.set_limit(7);
    request.set_page_token(token);
    auto page = auditor.Call(auditor.audit(), &pb::Audit::Stub::ListAudit, request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const pb::AuditRecord& r : page->records()) {
      EXPECT_EQ(r.seq(), last + 1);
      last = r.seq();
      ++records;
    }
    token = page->next_page_token();
    if (token.empty()) break;
  }
  EXPECT_GT(records, 30);
}

TEST_F(PagingTest, RoleBindingsPageAndWhoAmIShowsOnlyTheCallersOwn) {
  Client& op = vault_.operator_client();
  std::vector<int64_t> ids;
  for (std::string token;;) {
    pb::ListRolesRequest request;
    request.set_limit(2);
    request.set_page_token(token);
    auto page = op.Call(op.organisation(), &pb::Organisation::Stub::ListRoles, request);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->bindings_size(), 2);
    for (const pb::RoleBinding& b : page->bindings()) ids.push_back(b.id());
    token = page->next_page_token();
    if (token.empty()) break;
  }
  pb::ListRolesRequest whole;
  auto all = op.Call(op.organisation(), &pb::Organisation::Stub::ListRoles, whole);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(static_cast<int>(ids.size()), all->bindings_size());
  for (int i = 0; i < all->bindings_size(); ++i) EXPECT_EQ(ids[i], all->bindings(i).id());
  EXPECT_GE(ids.size(), 6u);
  // whoami is the caller's own bindings, also for the operator who may list everyone's.
  auto me = op.Call(op.organisation(), &pb::Organisation::Stub::WhoAmI, pb::WhoAmIRequest());
  ASSERT_TRUE(me.ok()) << me.status();
  ASSERT_GE(me->bindings_size(), 1);
  for (const pb::RoleBinding& b : me->bindings()) EXPECT_EQ(b.user(), me->user());
}

// Through the real binaries: --limit shows one page and says how to get the next.
TEST_F(CliTest, ListingsPageWithLimitAndPageToken) {
  ServeWijkagentAccount();
  for (const char* handle : {"WA_Twee", "WA_Drie"}) {
    ASSERT_EQ(Kluis("operator", {"account", "add", absl::StrCat("x/", handle), "--team",
                                 "rotterdam/ijsselmonde", "--kind", "politie-alleen"})
                  .exit_code,
              0);
  }
  Result all = Kluis("operator", {"account", "list", "--format", "csv"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_TRUE(absl::StrContains(all.out, "WA_Lombardijen1") &&
              absl::StrContains(all.out, "WA_Drie"))
      << all.out;
  EXPECT_EQ(all.err, "");

  Result first = Kluis("operator", {"account", "list", "--limit", "2", "--format", "csv"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(absl::StrContains(first.out, "WA_Twee"));
  EXPECT_FALSE(absl::StrContains(first.out, "WA_Drie"));
  ASSERT_TRUE(absl::StartsWith(first.err, "more: ask again with --page-token accounts."))
      << first.err;
  const std::string token =
      first.err.substr(first.err.rfind(' ') + 1, first.err.size() - first.err.rfind(' ') - 2);
  Result second = Kluis("operator", {"account", "list", "--page-token", token, "--format", "csv"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(absl::StrContains(second.out, "WA_Drie"));
  EXPECT_FALSE(absl::StrContains(second.out, "WA_Twee"));
  EXPECT_EQ(second.err, "");

  Result bad = Kluis("operator", {"account", "list", "--page-token", "due.1"});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;  // usage (DESIGN.md §9)
  EXPECT_TRUE(absl::StrContains(bad.err, "page token")) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  Result too_many = Kluis("operator", {"account", "list", "--limit", "5000"});
  EXPECT_EQ(too_many.exit_code, 1) << too_many.err;
}

}  // namespace
}  // namespace kluis::testing
