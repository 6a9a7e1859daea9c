// Issue 5, the kabinetswissel (R13, R14) through the real binaries: a ministry with two corporate
// accounts and one hybrid account; a plan, an apply that fails in the middle for want of an archive
// reference, and a second apply that finishes what is left without doing anything twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "crypto/kdf.h"
#include "crypto/root_key.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/vault.h"
#include "tests/integration/cli_fixture.h"

namespace kluis::testing {
namespace {

constexpr char kJansenSeed[] = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

int CountLines(const std::string& text, const std::string& part) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) n += absl::StrContains(line, part);
  return n;
}

class KabinetswisselTest : public CliTest {
 protected:
  // The ministry of the demo (issue 5): unit az, team communicatie, corporate x/MinPres and
  // instagram/minpres, hybrid x/JanJansen of a made-up minister.
  void SetUpMinistry() {
    StartServer();
    ASSERT_EQ(Enroll("operator", admin_code_).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"unit", "add", "az", "--name", "Ministerie van Algemene Zaken"}).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"team", "add", "az", "communicatie"}).exit_code, 0);
    for (auto [account, kind] : {std::pair{"x/MinPres", "corporate"}, std::pair{"instagram/minpres", "corporate"},
                                 std::pair{"x/JanJansen", "hybrid"}}) {
      Result added = Kluis("operator", {"account", "add", account, "--team", "az/communicatie", "--kind", kind});
      ASSERT_EQ(added.exit_code, 0) << added.err;
    }
    for (const char* user : {"webcare.az", "minister.jansen", "assistent.jansen", "regisseur.az",
                             "minister.devries", "auditor.az"}) {
      AddUser(user);
    }
    auto grant = [&](const char* user, const char* role, std::vector<std::string> scope) {
      std::vector<std::string> args = {"role", "grant", user, role};
      args.insert(args.end(), scope.begin(), scope.end());
      Result granted = Kluis("operator", args);
      ASSERT_EQ(granted.exit_code, 0) << user << " " << role << ": " << granted.err;
    };
    for (const char* account : {"x/MinPres", "instagram/minpres", "x/JanJansen"}) {
      grant("webcare.az", "beheerder", {"--account", account});
      grant("minister.jansen", "bewindspersoon", {"--account", account});
    }
    grant("minister.jansen", "beheerder", {"--account", "x/JanJansen"});
    grant("assistent.jansen", "politiek-assistent", {"--account", "x/JanJansen"});
    grant("regisseur.az", "regisseur", {"--unit", "az"});
    grant("auditor.az", "auditor", {"--unit", "az"});
    for (const char* account : {"x/MinPres", "instagram/minpres", "x/JanJansen"}) {
      Result set = Kluis("webcare.az", {"secret", "set", account}, absl::StrCat("Oud-", account, "-wachtwoord\n"));
      ASSERT_EQ(set.exit_code, 0) << set.err;
    }
    ASSERT_EQ(Kluis("minister.jansen", {"secret", "set-totp", "x/JanJansen"}, kJansenSeed).exit_code, 0);
  }

  // The vault's database, opened beside the running server as an attacker or an old kluisd might.
  std::unique_ptr<storage::Database> OpenDatabase() {
    std::ifstream in(server::RootKeyPath(data_), std::ios::binary);
    std::stringstream sealed;
    sealed << in.rdbuf();
    auto root =
        crypto::RootKey::Open(sealed.str(), crypto::SecretBytes::CopyFrom("cli test passphrase"));
    EXPECT_TRUE(root.ok()) << root.status();
    auto db = storage::Database::Open(
        server::DatabasePath(data_), *crypto::DeriveSubkey(*root, crypto::SubkeyPurpose::kDatabase),
        storage::Database::Mode::kOpenExisting);
    EXPECT_TRUE(db.ok()) << db.status();
    return *std::move(db);
  }

  // The pending password shown to the beheerder, or "" when none is pending.
  std::string PendingOf(const std::string& account) {
    const std::string line = Field(Kluis("webcare.az", {"get", account}).out, "pending:");
    return line.substr(0, line.find(' '));
  }
};

TEST_F(KabinetswisselTest, R13R14PlanApplyFailInTheMiddleAndFinishWithoutDoingAnythingTwice) {
  SetUpMinistry();
  // Minister Jansen asks for the corporate account, and the webcare beheerder grants it (R11).
  Result asked = Kluis("minister.jansen", {"request", "x/MinPres", "--purpose", "overig", "--reason",
                                           "bericht plaatsen na de ministerraad"});
  ASSERT_EQ(asked.exit_code, 0) << asked.err;
  ASSERT_EQ(Kluis("webcare.az", {"approve", "1"}).exit_code, 0);

  // The plan refuses what the rules forbid or leaves out.
  Result no_successor = Kluis("regisseur.az", {"kabinetswissel", "plan", "--unit", "az", "--hybrid",
                                               "x/JanJansen=handback"});
  EXPECT_EQ(no_successor.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_successor.err, "R13")) << no_successor.err;
  Result no_choice = Kluis("regisseur.az", {"kabinetswissel", "plan", "--unit", "az", "--successor",
                                            "x/MinPres=minister.devries", "--successor",
                                            "instagram/minpres=minister.devries"});
  EXPECT_EQ(no_choice.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_choice.err, "R14")) << no_choice.err;
  const std::vector<std::string> plan_args = {
      "kabinetswissel", "plan", "--unit", "az", "--successor", "x/MinPres=minister.devries", "--successor",
      "instagram/minpres=minister.devries", "--hybrid", "JanJansen=handback", "--archive",
      "x/MinPres=x/MinPresJansen (archiefaccount)", "--out", root_ + "/plan.json"};
  EXPECT_EQ(Kluis("webcare.az", plan_args).exit_code, 2) << "only the regisseur plans";
  Result ambiguous = Kluis("regisseur.az", {"kabinetswissel", "plan", "--unit", "az", "--successor",
                                            "x/MinPres=minister.devries", "--successor", "minpres=minister.devries",
                                            "--hybrid", "x/JanJansen=handback"});
  EXPECT_EQ(ambiguous.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(ambiguous.err, "several platforms")) << ambiguous.err;
  Result plan = Kluis("regisseur.az", plan_args);
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  for (const char* step : {"archive", "wipe", "end-predecessor", "rotate-password", "renew-2fa", "bind-successor",
                           "handback-2fa", "end-ministry-bindings", "release-custody"}) {
    EXPECT_TRUE(absl::StrContains(plan.out, step)) << step << "\n" << plan.out;
  }
  const std::string plan_file = Slurp(root_ + "/plan.json");
  EXPECT_TRUE(absl::StrContains(plan_file, "\"id\": \"kw-")) << plan_file;
  Result plan_json = Kluis("regisseur.az", {"kabinetswissel", "plan", "--unit", "az", "--successor",
                                            "x/MinPres=minister.devries", "--successor", "instagram/minpres=minister.devries",
                                            "--hybrid", "x/JanJansen=keep-2fa-removed", "--format", "json",
                                            "--out", root_ + "/other.json"});
  EXPECT_TRUE(absl::StrContains(plan_json.out, "\"name\": \"remove-2fa\"")) << plan_json.out;

  // First apply: instagram/minpres has no archive reference, so its steps stop before the wipe;
  // the other two accounts go through. Exit 4, the failed step named.
  Result first = Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/plan.json"});
  EXPECT_EQ(first.exit_code, 4) << first.out << first.err;
  EXPECT_TRUE(absl::StrContains(first.out, "no archive reference for instagram/minpres")) << first.out;
  EXPECT_EQ(CountLines(first.out, "failed"), 1) << first.out;
  EXPECT_EQ(CountLines(first.out, "skipped"), 5) << first.out;
  EXPECT_TRUE(absl::StrContains(first.out, absl::StrCat("secret=", kJansenSeed))) << "the authenticator, handed back";
  EXPECT_TRUE(absl::StrContains(first.out, "authenticator of x/JanJansen, to hand to minister.jansen in person"))
      << first.out;
  EXPECT_TRUE(absl::StrContains(first.err, "not complete")) << first.err;
  EXPECT_EQ(std::count(first.err.begin(), first.err.end(), '\n'), 1) << first.err;
  EXPECT_TRUE(PendingOf("instagram/minpres").empty()) << "nothing happened after the refused step";
  const std::string minpres_pending = PendingOf("x/MinPres");
  EXPECT_FALSE(minpres_pending.empty()) << "x/MinPres has a new password, pending";

  // x/MinPres (corporate): the predecessor's access and grant ended, the successor is bound.
  EXPECT_EQ(Kluis("minister.jansen", {"get", "x/MinPres", "--request", "1"}).exit_code, 3);
  Result successor = Kluis("minister.devries", {"request", "x/MinPres", "--purpose", "overig", "--reason",
                                                "eerste bericht als minister-president"});
  EXPECT_EQ(successor.exit_code, 0) << successor.err;
  Result due = Kluis("regisseur.az", {"due", "--format", "csv"});
  EXPECT_TRUE(absl::StrContains(due.out, "set up the authenticator anew")) << due.out;
  // x/JanJansen (hybrid): the ministry's access ended, the account is archived, nothing is left.
  EXPECT_EQ(Kluis("webcare.az", {"get", "x/JanJansen"}).exit_code, 3);
  EXPECT_EQ(Kluis("assistent.jansen", {"get", "x/JanJansen"}).exit_code, 3);
  Result shown = Kluis("regisseur.az", {"account", "show", "x/JanJansen"});
  EXPECT_EQ(Field(shown.out, "status:"), "archived") << shown.out;
  EXPECT_EQ(Field(shown.out, "password:"), "no") << shown.out;
  EXPECT_EQ(Kluis("regisseur.az", {"get", "x/JanJansen", "--reason", "nog even kijken voor het archief"}).exit_code, 2);

  // Put it right, apply again: what was done is not done twice.
  ASSERT_EQ(Kluis("webcare.az", {"kabinetswissel", "archive", "instagram/minpres", "--ref", "x"}).exit_code, 2)
      << "only the regisseur records the archive";
  Result archived = Kluis("regisseur.az", {"kabinetswissel", "archive", "instagram/minpres", "--ref",
                                           "instagram/minpresjansen (Meta-archief)"});
  ASSERT_EQ(archived.exit_code, 0) << archived.err;
  Result second = Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/plan.json"});
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_TRUE(absl::StrContains(second.out, "complete")) << second.out;
  EXPECT_EQ(CountLines(second.out, "done-earlier"), 9) << second.out;
  EXPECT_FALSE(absl::StrContains(second.out, "secret=")) << "the authenticator is not handed out twice";
  EXPECT_EQ(PendingOf("x/MinPres"), minpres_pending);
  EXPECT_FALSE(PendingOf("instagram/minpres").empty());
  Result third = Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/plan.json"});
  EXPECT_EQ(third.exit_code, 0);
  EXPECT_EQ(CountLines(third.out, "done-earlier"), 15) << third.out;

  // The audit log holds each step once, with its rule.
  Result log = Kluis("auditor.az", {"audit", "list", "--format", "csv"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(CountLines(log.out, "kabinetswissel:rotate-password,x/MinPres,allow,R13.kabinetswissel-corporate"), 1)
      << log.out;
  EXPECT_EQ(CountLines(log.out, "kabinetswissel:rotate-password,instagram/minpres,allow"), 1) << log.out;
  EXPECT_EQ(CountLines(log.out, "kabinetswissel:handback-2fa,x/JanJansen,allow,R14.kabinetswissel-hybrid"), 1);
  EXPECT_EQ(CountLines(log.out, "kabinetswissel:wipe,instagram/minpres"), 1) << "wiped only once archived";
  // The refused archive step: the rules allowed it, the missing reference stopped it.
  EXPECT_EQ(CountLines(log.out, "kabinetswissel:archive,instagram/minpres,allow,R13.kabinetswissel-corporate,failed-precondition"), 1)
      << log.out;
  EXPECT_FALSE(absl::StrContains(log.out, kJansenSeed));
  EXPECT_FALSE(absl::StrContains(log.out, minpres_pending));

  // An unknown or edited plan does not run: only the vault's own copy does.
  std::ofstream(root_ + "/forged.json") << "{\"id\": \"kw-20260101-deadbeef\"}";
  EXPECT_EQ(Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/forged.json"}).exit_code, 3);
  std::ofstream(root_ + "/garbage.json") << "not json";
  EXPECT_EQ(Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/garbage.json"}).exit_code, 1);
}

TEST_F(KabinetswisselTest, R13NoWipeWithoutAnArchiveReference) {
  SetUpMinistry();
  Result plan = Kluis("regisseur.az", {"kabinetswissel", "plan", "--unit", "az", "--successor",
                                       "x/MinPres=minister.devries", "--successor", "instagram/minpres=minister.devries",
                                       "--hybrid", "x/JanJansen=keep-2fa-removed", "--out", root_ + "/plan.json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  Result applied = Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/plan.json"});
  EXPECT_EQ(applied.exit_code, 4);
  EXPECT_EQ(CountLines(applied.out, "no archive reference"), 2) << applied.out;
  Result log = Kluis("auditor.az", {"audit", "list", "--format", "csv"});
  EXPECT_EQ(CountLines(log.out, "kabinetswissel:wipe"), 0) << log.out;
  EXPECT_EQ(CountLines(log.out, "kabinetswissel:end-predecessor"), 0) << log.out;
  // The minister still holds the corporate accounts until the archive is recorded.
  Result roles = Kluis("operator", {"role", "list", "minister.jansen", "--format", "csv"});
  EXPECT_EQ(CountLines(roles.out, "bewindspersoon,account x/MinPres"), 1) << roles.out;
  // keep-2fa-removed: no authenticator leaves the vault.
  EXPECT_FALSE(absl::StrContains(applied.out, "secret=")) << applied.out;
}

// The plan the vault keeps is versioned JSON; one stored by an older kluisd (tab-separated, format
// 1) still applies the same; a damaged one is refused, named, and nothing of it runs.
TEST_F(KabinetswisselTest,
       R13APlanIsStoredAsVersionedJsonAnOlderOneStillAppliesADamagedOneIsRefused) {
  SetUpMinistry();
  Result plan =
      Kluis("regisseur.az",
            {"kabinetswissel", "plan", "--unit", "az", "--successor", "x/MinPres=minister.devries",
             "--successor", "instagram/minpres=minister.devries", "--hybrid",
             "x/JanJansen=keep-2fa-removed", "--out", root_ + "/plan.json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const nlohmann::json file = nlohmann::json::parse(Slurp(root_ + "/plan.json"));
  const std::string id = file.at("id").get<std::string>();
  std::unique_ptr<storage::Database> db = OpenDatabase();
  std::string stored;
  ASSERT_TRUE(db->Read([&](storage::Tx& tx) -> absl::Status {
                  auto row = tx.FindPlan(id);
                  if (!row.ok()) return row.status();
                  if (row->has_value()) stored = (*row)->body;
                  return absl::OkStatus();
                }).ok());
  const nlohmann::json body = nlohmann::json::parse(stored, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << stored;
  EXPECT_EQ(body.at("format"), "kluis-plan/2");
  EXPECT_EQ(body.at("unit"), "az");
  ASSERT_EQ(body.at("accounts").size(), 3u) << stored;

  // The same plan as kluisd wrote it before: the unit, then a tab-separated line per account.
  std::string tabs = "unit\taz\n";
  for (const nlohmann::json& a : body.at("accounts")) {
    absl::StrAppend(&tabs, a.at("account").get<std::string>(), "\t",
                    a.at("kind").get<std::string>(), "\t", a.at("successor").get<std::string>(),
                    "\t", a.at("hybrid").get<std::string>(), "\t",
                    a.at("archive_ref").get<std::string>(), "\t",
                    absl::StrJoin(a.at("predecessors").get<std::vector<std::string>>(), ","), "\t",
                    absl::StrJoin(a.at("departing").get<std::vector<std::string>>(), ","), "\n");
  }
  auto store = [&](const std::string& text) {
    std::string quoted = text;
    absl::StrReplaceAll({{"'", "''"}}, &quoted);
    ASSERT_TRUE(db->ExecForTest(absl::StrCat("UPDATE kabinetswissel_plans SET body = '", quoted,
                                             "' WHERE id = '", id, "'"))
                    .ok());
  };
  store(
      R"({"format":"kluis-plan/2","unit":"az","accounts":[{"account":"x/MinPres","kind":"koning"}]})");
  Result damaged = Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/plan.json"});
  EXPECT_EQ(damaged.exit_code, 6) << damaged.err;
  EXPECT_TRUE(absl::StrContains(damaged.err, "is damaged: account 1")) << damaged.err;
  store("{\"format\":\"kluis-plan/9\"}");
  EXPECT_EQ(Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/plan.json"}).exit_code, 6);
  Result log = Kluis("auditor.az", {"audit", "list", "--format", "csv"});
  EXPECT_EQ(CountLines(log.out, "kabinetswissel:"), 0) << "nothing of a damaged plan runs\n"
                                                       << log.out;

  store(tabs);
  Result applied = Kluis("regisseur.az", {"kabinetswissel", "apply", root_ + "/plan.json"});
  EXPECT_EQ(applied.exit_code, 4)
      << applied.err;  // as R13NoWipeWithoutAnArchiveReference: no archive yet
  EXPECT_EQ(CountLines(applied.out, "no archive reference"), 2) << applied.out;
  EXPECT_TRUE(absl::StrContains(applied.out, "remove-2fa")) << applied.out;
}

}  // namespace
}  // namespace kluis::testing
