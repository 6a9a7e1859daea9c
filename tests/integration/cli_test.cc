// The real binaries: kluisd init/serve as a child process, kluis for every command, exit codes and
// one-line errors as a person sees them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/integration/cli_fixture.h"

namespace kluis::testing {
namespace {

TEST_F(CliTest, BeheerderGetsTheLoginOthersAreRefusedWithExitCodes) {
  StartServer();
  ASSERT_EQ(Enroll("operator", admin_code_).exit_code, 0);
  EXPECT_EQ(std::filesystem::status(root_ + "/profiles/operator").permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  EXPECT_EQ(std::filesystem::status(root_ + "/profiles/operator/key.pem").permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ASSERT_EQ(Kluis("operator", {"unit", "add", "rotterdam", "--name", "Eenheid Rotterdam"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"team", "add", "rotterdam", "ijsselmonde"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"account", "add", "x/WA_Lombardijen1", "--team", "ijsselmonde",
                               "--kind", "politie-alleen", "--email", "wa@politie.example"})
                .exit_code,
            0);
  for (const char* user : {"robin.peters", "teamchef.ijsselmonde", "auditor"}) AddUser(user);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "robin.peters", "beheerder", "--account", "WA_Lombardijen1"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "teamchef.ijsselmonde", "teamchef", "--team", "rotterdam/ijsselmonde"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "auditor", "auditor", "--unit", "rotterdam"}).exit_code, 0);

  Result set = Kluis("robin.peters", {"secret", "set", "WA_Lombardijen1"}, "Zomer-2026-geheim\n");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  Result get = Kluis("robin.peters", {"get", "WA_Lombardijen1"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(Field(get.out, "password:"), "Zomer-2026-geheim");
  EXPECT_EQ(Field(get.out, "e-mail:"), "wa@politie.example");
  EXPECT_EQ(Kluis("robin.peters", {"get", "WA_Lombardijen1", "--field", "password"}).out,
            "Zomer-2026-geheim\n");

  for (const char* user : {"teamchef.ijsselmonde", "auditor", "operator"}) {
    Result denied = Kluis(user, {"get", "WA_Lombardijen1"});
    EXPECT_EQ(denied.exit_code, 2) << user << denied.err;
    EXPECT_EQ(std::count(denied.err.begin(), denied.err.end(), '\n'), 1) << denied.err;
    EXPECT_TRUE(denied.out.empty());
  }
  EXPECT_EQ(Kluis("robin.peters", {"get", "x/Bestaat_Niet"}).exit_code, 3);
  EXPECT_EQ(Kluis("robin.peters", {"get"}).exit_code, 1);

  Result csv = Kluis("auditor", {"audit", "list", "--format", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_TRUE(absl::StrContains(csv.out, "release-login,x/WA_Lombardijen1,deny")) << csv.out;
  EXPECT_FALSE(absl::StrContains(csv.out, "Zomer-2026-geheim"));
  Result json = Kluis("auditor", {"audit", "list", "--format", "json"});
  EXPECT_TRUE(absl::StrContains(json.out, "\"rule\": \"R1.beheerder\"")) << json.out;
  EXPECT_EQ(Kluis("robin.peters", {"audit", "list"}).exit_code, 2);
  // An auditor of one unit exports that unit's records; the header names it as people know it.
  const std::string export_file = root_ + "/unit-export.jsonl";
  Result exported = Kluis("auditor", {"audit", "export", "--format", "jsonl", "--out", export_file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::ifstream export_in(export_file);
  std::string header;
  std::getline(export_in, header);
  EXPECT_TRUE(absl::StrContains(header, "\"filter\":\"units=rotterdam\"")) << header;

  Result accounts = Kluis("teamchef.ijsselmonde", {"account", "list", "--format", "csv"});
  EXPECT_TRUE(absl::StrContains(accounts.out, "x/WA_Lombardijen1,politie-alleen")) << accounts.out;
  Result prive = Kluis("operator", {"account", "add", "instagram/prive", "--team", "ijsselmonde", "--kind", "prive"});
  EXPECT_EQ(prive.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(prive.err, "R7"));

  ASSERT_EQ(Kluis("operator", {"user", "disable", "robin.peters"}).exit_code, 0);
  Result after = Kluis("robin.peters", {"get", "WA_Lombardijen1"});
  EXPECT_EQ(after.exit_code, 5);
  EXPECT_TRUE(absl::StrContains(after.err, "disabled")) << after.err;

  EXPECT_EQ(StopServer(), 0);
  std::ifstream log(root_ + "/kluisd.log");
  std::stringstream server_log;
  server_log << log.rdbuf();
  EXPECT_TRUE(absl::StrContains(server_log.str(), "stopped")) << server_log.str();
  EXPECT_FALSE(absl::StrContains(server_log.str(), "Zomer-2026-geheim"));
  EXPECT_EQ(Kluis("auditor", {"whoami"}).exit_code, 5) << "server is down";
}

TEST_F(CliTest, TeamchefEmergencyAndRegisseurRequestThroughTheRealBinaries) {
  const std::string policy = root_ + "/policy.textproto";
  {
    std::ifstream in(std::string(KLUIS_SOURCE_DIR) + "/policies/default.textproto");
    std::ofstream(policy) << in.rdbuf();
  }
  StartServer(policy);
  ASSERT_EQ(Enroll("operator", admin_code_).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"unit", "add", "rotterdam"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"team", "add", "rotterdam", "ijsselmonde"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"account", "add", "x/WA_Lombardijen1", "--team", "ijsselmonde", "--kind",
                               "politie-alleen"}).exit_code, 0);
  for (const char* user : {"robin.peters", "teamchef.ijsselmonde", "regisseur.rotterdam"}) AddUser(user);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "robin.peters", "beheerder", "--account", "WA_Lombardijen1"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "teamchef.ijsselmonde", "teamchef", "--team", "ijsselmonde"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "regisseur.rotterdam", "regisseur", "--unit", "rotterdam"}).exit_code, 0);
  ASSERT_EQ(Kluis("robin.peters", {"secret", "set", "WA_Lombardijen1"}, "Herfst-2026-geheim\n").exit_code, 0);

  // Teamchef: plain get is refused with the way forward; emergency needs --reason and works.
  Result plain = Kluis("teamchef.ijsselmonde", {"get", "WA_Lombardijen1"});
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(plain.err, "kluis emergency")) << plain.err;
  EXPECT_EQ(Kluis("teamchef.ijsselmonde", {"emergency", "WA_Lombardijen1"}).exit_code, 1);
  Result emergency = Kluis("teamchef.ijsselmonde", {"emergency", "WA_Lombardijen1", "--reason",
                                                    "Robin ziek, account gehackt", "--field", "password"});
  ASSERT_EQ(emergency.exit_code, 0) << emergency.err;
  EXPECT_EQ(emergency.out, "Herfst-2026-geheim\n");
  Result inbox = Kluis("robin.peters", {"inbox"});
  EXPECT_TRUE(absl::StrContains(inbox.out, "[break-glass]")) << inbox.out;
  Result due = Kluis("regisseur.rotterdam", {"due", "--format", "csv"});
  EXPECT_TRUE(absl::StrContains(due.out, "x/WA_Lombardijen1")) << due.out;

  // Regisseur: get needs approval (exit 4); request, approve, get once.
  EXPECT_EQ(Kluis("regisseur.rotterdam", {"get", "WA_Lombardijen1"}).exit_code, 4);
  Result asked = Kluis("regisseur.rotterdam", {"request", "WA_Lombardijen1", "--purpose", "koppelen",
                                               "--reason", "koppelen aan de landelijke tool"});
  ASSERT_EQ(asked.exit_code, 0) << asked.err;
  EXPECT_TRUE(absl::StartsWith(asked.out, "request 1 for x/WA_Lombardijen1")) << asked.out;
  EXPECT_EQ(Kluis("regisseur.rotterdam", {"get", "WA_Lombardijen1", "--request", "1"}).exit_code, 4);
  Result waiting = Kluis("robin.peters", {"inbox"});
  EXPECT_TRUE(absl::StrContains(waiting.out, "koppelen aan de landelijke tool")) << waiting.out;
  EXPECT_EQ(Kluis("regisseur.rotterdam", {"approve", "1"}).exit_code, 2) << "no self-approval";
  ASSERT_EQ(Kluis("robin.peters", {"approve", "1"}).exit_code, 0);
  Result granted = Kluis("regisseur.rotterdam", {"get", "WA_Lombardijen1", "--request", "1", "--field", "password"});
  ASSERT_EQ(granted.exit_code, 0) << granted.err;
  EXPECT_EQ(granted.out, "Herfst-2026-geheim\n");
  EXPECT_EQ(Kluis("regisseur.rotterdam", {"get", "WA_Lombardijen1", "--request", "1"}).exit_code, 4)
      << "a used grant needs a new approval (issue 16: exit codes by class)";
  Result listed = Kluis("regisseur.rotterdam", {"requests", "--format", "csv"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(absl::StrContains(listed.out, ",used,")) << "a used grant stays listed as used:\n" << listed.out;

  // SIGHUP with a broken policy: one line in the log, the old rules stay.
  std::ofstream(policy, std::ios::trunc) << "name: \"kapot\"\nrule {\n  id: 1\n";
  kill(server_, SIGHUP);
  std::string log;
  for (int i = 0; i < 100 && !absl::StrContains(log, "policy not reloaded"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    log = Slurp(root_ + "/kluisd.log");
  }
  EXPECT_TRUE(absl::StrContains(log, "policy not reloaded, the previous policy stays: " + policy + ":3:7: Expected string"))
      << log;
  EXPECT_EQ(Kluis("teamchef.ijsselmonde", {"emergency", "WA_Lombardijen1", "--reason",
                                          "nog steeds ziek, tweede melding"}).exit_code, 0);
  EXPECT_EQ(StopServer(), 0);
  EXPECT_FALSE(absl::StrContains(Slurp(root_ + "/kluisd.log"), "Herfst-2026-geheim"));
}

TEST_F(CliTest, TotpThroughTheRealBinariesMatchesOathtool) {
  StartServer();
  ASSERT_EQ(Enroll("operator", admin_code_).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"unit", "add", "rotterdam"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"team", "add", "rotterdam", "ijsselmonde"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"account", "add", "x/WA_Lombardijen1", "--team", "ijsselmonde", "--kind",
                               "politie-alleen"}).exit_code, 0);
  for (const char* user : {"robin.peters", "auditor"}) AddUser(user);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "robin.peters", "beheerder", "--account", "WA_Lombardijen1"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "auditor", "auditor", "--global"}).exit_code, 0);
  const std::string seed = "KRUGKIDDN5SGKIDJOMQGSIDUNBSSA5TBOVWHI";

  Result bad = Kluis("robin.peters", {"secret", "set-totp", "WA_Lombardijen1"},
                     "otpauth://totp/X:a?secret=" + seed + "&digits=7\n");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err, "kluis: otpauth digits must be 6 or 8\n");
  Result set = Kluis("robin.peters", {"secret", "set-totp", "WA_Lombardijen1"},
                     "otpauth://totp/X:WA_Lombardijen1?secret=" + seed + "&issuer=X\n");
  ASSERT_EQ(set.exit_code, 0) << set.err;

  auto oathtool_now = [&] {
    FILE* pipe = popen(("oathtool --totp --base32 " + seed).c_str(), "r");
    char line[32] = {0};
    fgets(line, sizeof(line), pipe);
    pclose(pipe);
    return std::string(absl::StripTrailingAsciiWhitespace(line));
  };
  bool matched = false;
  for (int attempt = 0; attempt < 3 && !matched; ++attempt) {  // a window may turn in between
    const std::string before = oathtool_now();
    Result code = Kluis("robin.peters", {"totp", "WA_Lombardijen1", "--field", "code"});
    ASSERT_EQ(code.exit_code, 0) << code.err;
    matched = code.out == before + "\n" || code.out == oathtool_now() + "\n";
  }
  EXPECT_TRUE(matched);
  EXPECT_EQ(Kluis("auditor", {"totp", "WA_Lombardijen1"}).exit_code, 2);

  EXPECT_EQ(Kluis("robin.peters", {"totp", "export", "WA_Lombardijen1"}).exit_code, 1) << "--reason is required";
  Result exported = Kluis("robin.peters", {"totp", "export", "WA_Lombardijen1", "--reason",
                                           "overdracht aan opvolger", "--qr"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(absl::StartsWith(exported.out, "otpauth://totp/X:WA_Lombardijen1?secret=" + seed)) << exported.out;
  EXPECT_TRUE(absl::StrContains(exported.out, "\u2588")) << "a QR code is drawn";
  Result listed = Kluis("robin.peters", {"account", "show", "WA_Lombardijen1"});
  EXPECT_TRUE(absl::StrContains(listed.out, "2fa:")) << listed.out;

  Result recovery_set = Kluis("robin.peters", {"secret", "set-recovery", "WA_Lombardijen1"}, "aaaa-1111\nbbbb-2222\n");
  ASSERT_EQ(recovery_set.exit_code, 0) << recovery_set.err;
  Result recovery = Kluis("robin.peters", {"recovery", "WA_Lombardijen1"});
  EXPECT_EQ(recovery.out, "recovery code: aaaa-1111  (now used; 1 left)\n");

  EXPECT_EQ(StopServer(), 0);
  EXPECT_FALSE(absl::StrContains(Slurp(root_ + "/kluisd.log"), seed));
}

TEST_F(CliTest, CheckPolicyValidatesAndSummarises) {
  Result good = RunBinary("kluisd", {"check-policy", std::string(KLUIS_SOURCE_DIR) + "/policies/default.textproto"});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_TRUE(absl::StrContains(good.out, "R2.teamchef-break-glass: teamchef break-glass")) << good.out;
  const std::string bad = root_ + "/bad.textproto";
  std::ofstream(bad) << "rule {\n  id: \"a\"\n  role: \"beheerder\"\n  actions: [\"release-login\"]\n  mode: SOMETIMES\n}\n";
  Result refused = RunBinary("kluisd", {"check-policy", bad});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(refused.err, "kluisd: error: " + bad + ":")) << refused.err;
}

TEST_F(CliTest, ServerRunsWithCoreDumpsDisabled) {
  StartServer();
  std::ifstream limits("/proc/" + std::to_string(server_) + "/limits");
  std::string line, core;
  while (std::getline(limits, line)) {
    if (absl::StartsWith(line, "Max core file size")) core = line;
  }
  std::vector<std::string> fields = absl::StrSplit(core.substr(18), ' ', absl::SkipEmpty());
  ASSERT_GE(fields.size(), 2u) << core;
  EXPECT_EQ(fields[0], "0") << "soft limit: " << core;
  EXPECT_EQ(fields[1], "0") << "hard limit: " << core;
}

TEST_F(CliTest, WrongEnrollmentCodeExitsFive) {
  StartServer();
  Result wrong = Enroll("operator", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG");
  EXPECT_EQ(wrong.exit_code, 5);
  EXPECT_EQ(wrong.err, "kluis: invalid enrollment code\n");
  EXPECT_FALSE(std::filesystem::exists(root_ + "/profiles/operator/key.pem"));
}

std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    files[entry.path().filename()] = s.str();
  }
  return files;
}

TEST_F(CliTest, ServeWithWrongPassphraseExitsWithOneLineAndChangesNothing) {
  const auto before = Snapshot(data_);
  const std::string wrong = root_ + "/wrong";
  std::ofstream(wrong) << "not the passphrase\n";
  std::filesystem::permissions(wrong, std::filesystem::perms::owner_read);
  Result serve = RunBinary("kluisd", {"serve", "--data-dir", data_, "--passphrase-file", wrong});
  EXPECT_EQ(serve.exit_code, 2);
  EXPECT_EQ(serve.err, "kluisd: error: wrong passphrase: the root key does not open\n");
  EXPECT_EQ(Snapshot(data_), before);
}

TEST_F(CliTest, InitRefusesAnExistingVault) {
  const auto before = Snapshot(data_);
  Result again = RunBinary("kluisd", {"init", "--data-dir", data_, "--passphrase-file", pass_, "--admin",
                                "someone", "--argon2", "interactive"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(again.err, "already exists")) << again.err;
  EXPECT_EQ(Snapshot(data_), before);
}

TEST_F(CliTest, SecretsAreNotAcceptedOnTheCommandLine) {
  Result set = RunBinary("kluis", {"secret", "set", "WA_Lombardijen1", "--password", "x"});
  EXPECT_EQ(set.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(set.err, "--password")) << set.err;
}

// Issue 16 (12): help a newcomer can use.
TEST(CliHelpTest, HelpListsTheExitCodesAndHowAccountsAreNamed) {
  Result help = RunBinary("kluis", {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(help.out, "PLATFORM/HANDLE")) << help.out;
  EXPECT_TRUE(absl::StrContains(help.out, "4 needs approval")) << help.out;
  Result get = RunBinary("kluis", {"get", "--help"});
  EXPECT_TRUE(absl::StrContains(get.out, "kluis emergency")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, "--request ID")) << get.out;
  EXPECT_TRUE(absl::StrContains(RunBinary("kluis", {"role", "grant", "--help"}).out, "operator (--global)"));
  EXPECT_TRUE(absl::StrContains(RunBinary("kluis", {"account", "add", "--help"}).out, "(R7)"));
}

TEST(CliHelpTest, UsageErrorsNameTheUnknownCommandOrPointToTheCommandsHelp) {
  Result unknown = RunBinary("kluis", {"haal", "WA_Lombardijen1"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_EQ(unknown.err, "kluis: unknown command \"haal\" (see kluis --help)\n");
  Result missing = RunBinary("kluis", {"get"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(missing.err, "(see kluis get --help)")) << missing.err;
  Result group = RunBinary("kluis", {"role"});
  EXPECT_TRUE(absl::StrContains(group.err, "(see kluis role --help)")) << group.err;
}

TEST(CliHelpTest, PolicyShowPrintsTheBuiltInPolicyAndCheckPolicyShowsEachRulesConditions) {
  Result shown = RunBinary("kluisd", {"policy", "show"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const std::string dir = MakeTempDir("kluis-policy");
  std::ofstream(dir + "/policy.textproto") << shown.out;
  Result checked = RunBinary("kluisd", {"check-policy", dir + "/policy.textproto"});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_TRUE(absl::StrContains(checked.out, "R8.beheerder-deletes-stopped: beheerder allow "
                                             "release-login,release-totp,release-recovery-code (stopped accounts) "
                                             "(reason of at least 10 characters"))
      << checked.out;
  std::ofstream(dir + "/broken.textproto") << shown.out << "\nrule { id: \n";
  EXPECT_EQ(RunBinary("kluisd", {"check-policy", dir + "/broken.textproto"}).exit_code, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kluis::testing
