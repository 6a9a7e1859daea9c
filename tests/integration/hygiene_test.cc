// Issue 7, secret hygiene: a full session through the real binaries, then every secret value it
// used is searched for in every place a secret could leak to — kluisd's log, the audit log, the
// database and its WAL, every client profile — and none may be found. Also: no core dumps in the
// client either.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "crypto/base32.h"
#include "tests/integration/cli_fixture.h"

namespace kluis::testing {
namespace {

constexpr char kPassword[] = "Hygiene-Wachtwoord-2026!";
constexpr char kEmail[] = "geheim.adres@politie.example";
constexpr char kSeed[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
constexpr char kRecovery1[] = "herstel-9137-4420";
constexpr char kRecovery2[] = "herstel-5521-0082";

class HygieneTest : public CliTest {};

TEST_F(HygieneTest, NoSecretOfAFullSessionIsFoundInLogsAuditDatabaseWalOrProfiles) {
  StartServer();
  std::vector<std::string> secrets = {kPassword, kEmail, kSeed, kRecovery1, kRecovery2, admin_code_};
  secrets.push_back(*crypto::Base32Decode(kSeed));  // the raw key bytes too
  ASSERT_EQ(Enroll("operator", admin_code_).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"unit", "add", "rotterdam"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"team", "add", "rotterdam", "ijsselmonde"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"account", "add", "x/WA_Lombardijen1", "--team", "ijsselmonde", "--kind",
                               "politie-alleen", "--email", kEmail}).exit_code, 0);
  for (const char* user : {"robin.peters", "teamchef.ijsselmonde", "auditor"}) {
    Result added = Kluis("operator", {"user", "add", user, "--name", user});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    const std::string code = Field(added.out, "enrollment code:");
    secrets.push_back(code);
    ASSERT_EQ(Enroll(user, code).exit_code, 0);
  }
  ASSERT_EQ(Kluis("operator", {"role", "grant", "robin.peters", "beheerder", "--account", "WA_Lombardijen1"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "teamchef.ijsselmonde", "teamchef", "--team", "ijsselmonde"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "auditor", "auditor", "--global"}).exit_code, 0);

  // The client holds secrets too: no core dumps while it waits for one on standard input.
  {
    int in[2];
    ASSERT_EQ(pipe(in), 0);
    const pid_t client = fork();
    if (client == 0) {
      dup2(in[0], STDIN_FILENO);
      close(in[1]);
      freopen("/dev/null", "w", stdout);
      const std::string path = BinDir() + "/kluis", profile = root_ + "/profiles/robin.peters";
      execl(path.c_str(), path.c_str(), "--profile", profile.c_str(), "secret", "set", "WA_Lombardijen1", nullptr);
      _exit(127);
    }
    close(in[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::string core;
    std::ifstream limits("/proc/" + std::to_string(client) + "/limits");
    for (std::string line; std::getline(limits, line);) {
      if (absl::StartsWith(line, "Max core file size")) core = line;
    }
    ASSERT_FALSE(core.empty()) << "kluis is not waiting on its input";
    std::vector<std::string> fields = absl::StrSplit(core.substr(18), ' ', absl::SkipEmpty());
    ASSERT_GE(fields.size(), 2u) << core;
    EXPECT_EQ(fields[0], "0") << "soft limit: " << core;
    EXPECT_EQ(fields[1], "0") << "hard limit: " << core;
    const std::string input = std::string(kPassword) + "\n";
    ASSERT_EQ(write(in[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
    close(in[1]);
    int status = 0;
    waitpid(client, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  // The session: store, release, break-glass, rotate, the 2FA key in and out.
  ASSERT_EQ(Kluis("robin.peters", {"secret", "set-totp", "WA_Lombardijen1"}, kSeed).exit_code, 0);
  ASSERT_EQ(Kluis("robin.peters", {"secret", "set-recovery", "WA_Lombardijen1"},
                  absl::StrCat(kRecovery1, "\n", kRecovery2, "\n")).exit_code, 0);
  EXPECT_EQ(Field(Kluis("robin.peters", {"get", "WA_Lombardijen1"}).out, "password:"), kPassword);
  EXPECT_EQ(Kluis("robin.peters", {"totp", "WA_Lombardijen1"}).exit_code, 0);
  EXPECT_TRUE(absl::StrContains(Kluis("robin.peters", {"recovery", "WA_Lombardijen1"}).out, kRecovery1));
  EXPECT_EQ(Kluis("teamchef.ijsselmonde", {"emergency", "WA_Lombardijen1", "--reason", "Robin ziek, melding nodig"})
                .exit_code, 0);
  Result rotated = Kluis("robin.peters", {"rotate", "WA_Lombardijen1"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  const std::string fresh = Field(rotated.out, "new password:");
  ASSERT_GE(fresh.size(), 20u);
  secrets.push_back(fresh);
  ASSERT_EQ(Kluis("robin.peters", {"rotate", "WA_Lombardijen1", "--confirm"}).exit_code, 0);
  Result exported = Kluis("robin.peters", {"totp", "export", "WA_Lombardijen1", "--reason", "nieuwe telefoon"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(absl::StrContains(exported.out, kSeed));
  const std::string audit_file = root_ + "/audit.jsonl";
  ASSERT_EQ(Kluis("auditor", {"audit", "export", "--format", "jsonl", "--out", audit_file}).exit_code, 0);
  ASSERT_EQ(Kluis("auditor", {"audit", "export", "--format", "csv", "--out", root_ + "/audit.csv"}).exit_code, 0);

  // Every place, while the server still runs (the WAL holds the newest pages) and after it stopped.
  auto search = [&](const std::string& when) {
    std::vector<std::string> places = {root_ + "/kluisd.log", audit_file, root_ + "/audit.csv"};
    for (const auto& entry : std::filesystem::recursive_directory_iterator(data_)) {
      if (entry.is_regular_file()) places.push_back(entry.path());
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root_ + "/profiles")) {
      if (entry.is_regular_file()) places.push_back(entry.path());
    }
    int searched = 0;
    for (const std::string& place : places) {
      const std::string bytes = Slurp(place);
      ++searched;
      for (const std::string& secret : secrets) {
        EXPECT_FALSE(absl::StrContains(bytes, secret)) << when << ": a secret in " << place;
      }
    }
    EXPECT_GE(searched, 8) << when;
  };
  EXPECT_TRUE(std::filesystem::exists(data_ + "/vault.db-wal"));
  search("while serving");
  EXPECT_EQ(StopServer(), 0);
  search("after stopping");
}

}  // namespace
}  // namespace kluis::testing
