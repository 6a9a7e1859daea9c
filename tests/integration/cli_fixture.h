#ifndef KLUIS_TESTS_INTEGRATION_CLI_FIXTURE_H_
#define KLUIS_TESTS_INTEGRATION_CLI_FIXTURE_H_

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
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/integration/test_vault.h"

namespace kluis::testing {

struct Result {
  int exit_code = -1;
  std::string out, err;
};

inline std::string BinDir() {
  const char* dir = std::getenv("KLUIS_BIN_DIR");
  return dir != nullptr ? dir : "build/bin";
}

// Runs a binary (of the build, or an absolute path) with `args`, feeding `input` on stdin; captures stdout and stderr.
inline Result RunBinary(const std::string& binary, const std::vector<std::string>& args,
           const std::string& input = "") {
  const std::string dir = MakeTempDir("kluis-run");
  const std::string in = dir + "/in", out = dir + "/out", err = dir + "/err";
  std::ofstream(in) << input;
  const pid_t pid = fork();
  if (pid == 0) {
    freopen(in.c_str(), "r", stdin);
    freopen(out.c_str(), "w", stdout);
    freopen(err.c_str(), "w", stderr);
    std::vector<char*> argv;
    std::string path = binary.front() == '/' ? binary : BinDir() + "/" + binary;
    argv.push_back(path.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Result result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  result.out = slurp(out);
  result.err = slurp(err);
  std::filesystem::remove_all(dir);
  return result;
}

inline std::string Field(const std::string& text, const std::string& label) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, label)) {
      return std::string(absl::StripLeadingAsciiWhitespace(line.substr(label.size())));
    }
  }
  return "";
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir("kluis-cli");
    data_ = root_ + "/data";
    pass_ = root_ + "/pass";
    std::ofstream(pass_) << "cli test passphrase\n";
    std::filesystem::permissions(pass_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    Result init = RunBinary("kluisd", {"init", "--data-dir", data_, "--passphrase-file", pass_, "--admin",
                                 "operator", "--listen", "127.0.0.1:0", "--argon2", "interactive"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    admin_code_ = Field(init.out, "enrollment code:");
    ASSERT_FALSE(admin_code_.empty()) << init.out;
  }

  void TearDown() override {
    StopServer();
    std::filesystem::remove_all(root_);
  }

  void StartServer(const std::string& policy = "", std::vector<std::string> extra = {}) {
    const std::string port_file = root_ + "/port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args = {BinDir() + "/kluisd", "serve", "--data-dir", data_, "--passphrase-file", pass_,
                                     "--listen", "127.0.0.1:0", "--port-file", port_file};
    if (!policy.empty()) args.insert(args.end(), {"--policy", policy});
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = fork();
    if (server_ == 0) {
      freopen((root_ + "/kluisd.log").c_str(), "w", stderr);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && !std::filesystem::exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ifstream in(port_file);
    int port = 0;
    in >> port;
    ASSERT_GT(port, 0) << "kluisd did not start";
    address_ = "127.0.0.1:" + std::to_string(port);
  }

  int StopServer() {
    if (server_ <= 0) return -1;
    kill(server_, SIGTERM);
    int status = 0;
    waitpid(server_, &status, 0);
    server_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  Result Kluis(const std::string& user, std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--profile", root_ + "/profiles/" + user});
    return RunBinary("kluis", args, input);
  }

  Result Enroll(const std::string& user, const std::string& code) {
    return RunBinary("kluis", {"enroll", "--server", address_, "--ca-cert", data_ + "/ca.pem", "--user",
                         user, "--code", code, "--profile", root_ + "/profiles/" + user});
  }

  void AddUser(const std::string& user) {
    Result added = Kluis("operator", {"user", "add", user, "--name", user});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    Result enrolled = Enroll(user, Field(added.out, "enrollment code:"));
    ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  }

  // Serves the vault with the seed's smallest organisation: the operator enrolled, unit rotterdam,
  // team ijsselmonde, account x/WA_Lombardijen1 (linked e-mail `email`) and its beheerder robin.peters.
  void ServeWijkagentAccount(const std::string& email = "") {
    StartServer();
    ASSERT_EQ(Enroll("operator", admin_code_).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"unit", "add", "rotterdam"}).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"team", "add", "rotterdam", "ijsselmonde"}).exit_code, 0);
    std::vector<std::string> add = {"account", "add", "x/WA_Lombardijen1", "--team", "ijsselmonde", "--kind",
                                     "politie-alleen"};
    if (!email.empty()) add.insert(add.end(), {"--email", email});
    ASSERT_EQ(Kluis("operator", add).exit_code, 0);
    AddUser("robin.peters");
    ASSERT_EQ(Kluis("operator", {"role", "grant", "robin.peters", "beheerder", "--account", "WA_Lombardijen1"})
                  .exit_code,
              0);
  }

  std::string root_, data_, pass_, admin_code_, address_;
  pid_t server_ = 0;
};

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace kluis::testing

#endif  // KLUIS_TESTS_INTEGRATION_CLI_FIXTURE_H_
