// kluisd: the Kluis vault server. `kluisd init` creates a vault, `kluisd serve` serves it.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "crypto/process.h"
#include "crypto/random.h"
#include "policies/policy.h"
#include "server/backup.h"
#include "server/server.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/vault.h"

namespace {

using kluis::crypto::SecretBytes;

void Log(absl::string_view line) { std::cerr << "kluisd: " << line << std::endl; }

// Reads the passphrase from a file (never from argv). One trailing newline is dropped.
absl::StatusOr<SecretBytes> ReadPassphrase(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read passphrase file ", path));
  struct stat info;
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 0077) != 0) {
    Log(absl::StrCat("warning: passphrase file ", path, " is readable by others (chmod 600 it)"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string text = contents.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  SecretBytes passphrase = SecretBytes::CopyFrom(text);
  kluis::crypto::WipeString(text);
  if (passphrase.empty()) return absl::InvalidArgumentError("passphrase file is empty");
  return passphrase;
}

// Exit codes of DESIGN.md §9 for the server's own failures.
int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
      return 1;
    case absl::StatusCode::kPermissionDenied:
      return 2;
    case absl::StatusCode::kNotFound:
      return 3;
    case absl::StatusCode::kDataLoss:
      return 6;
    default:
      return 5;
  }
}

int Fail(const absl::Status& status) {
  Log(absl::StrCat("error: ", status.message()));
  return ExitCodeFor(status);
}

int RunInit(const std::string& data_dir, const std::string& passphrase_file,
            const std::string& admin, const std::string& listen,
            const std::vector<std::string>& server_names, const std::string& argon2) {
  absl::StatusOr<SecretBytes> passphrase = ReadPassphrase(passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  kluis::server::InitOptions options;
  options.data_dir = data_dir;
  options.admin_user = admin;
  options.listen = listen;
  options.server_names = server_names;
  if (argon2 == "interactive") options.argon2 = kluis::crypto::Argon2Params::Interactive();
  if (argon2 == "sensitive") options.argon2 = kluis::crypto::Argon2Params::Sensitive();
  kluis::server::SystemClock clock;
  absl::StatusOr<kluis::server::InitResult> result =
      kluis::server::Vault::Init(options, *passphrase, clock);
  if (!result.ok()) return Fail(result.status());
  std::cout << "vault created in " << data_dir << "\n"
            << "CA certificate:      " << result->ca_certificate_path << "\n"
            << "CA fingerprint:      SHA256:" << result->ca_fingerprint << "\n"
            << "operator:            " << admin << "\n"
            << "enrollment code:     " << result->admin_code.code << "\n"
            << "code expires:        " << absl::FormatTime(result->admin_code.expires_at) << "\n"
            << "next: kluis enroll --server " << listen << " --ca-cert "
            << result->ca_certificate_path << " --user " << admin << " --code CODE\n";
  return 0;
}

// Validates a policy file and prints what it says; the vault is not touched.
int RunCheckPolicy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(absl::NotFoundError(absl::StrCat("cannot read policy file ", path)));
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<kluis::policies::Policy> policy = kluis::policies::ParsePolicy(text.str(), path);
  if (!policy.ok()) return Fail(policy.status());
  std::cout << "policy \"" << policy->name << "\": " << policy->rules.size() << " rules; grants last "
            << absl::FormatDuration(policy->grant_ttl) << " (at most "
            << absl::FormatDuration(policy->max_grant_ttl) << "), undecided requests approve after "
            << absl::FormatDuration(policy->waiting_period) << ", reasons of at least "
            << policy->min_reason_length << " characters\n";
  for (const kluis::policies::Rule& rule : policy->rules) {
    std::vector<std::string> actions, kinds, states, extras;
    for (auto a : rule.actions) actions.emplace_back(kluis::policies::ActionName(a));
    for (auto k : rule.account_kinds) kinds.emplace_back(kluis::policies::AccountKindName(k));
    for (auto s : rule.account_states) states.emplace_back(kluis::policies::AccountStateName(s));
    if (rule.reason_required) {
      extras.push_back(absl::StrCat("reason of at least ", policy->min_reason_length, " characters"));
    }
    for (auto r : rule.approvers) extras.push_back(absl::StrCat("approver ", kluis::policies::RoleName(r)));
    if (rule.escalate_to) extras.push_back(absl::StrCat("escalates to ", kluis::policies::RoleName(*rule.escalate_to)));
    for (auto n : rule.notify) extras.push_back(absl::StrCat("notify ", kluis::policies::NotifyName(n)));
    if (rule.raise_rotation_flag) extras.emplace_back("rotation flag");
    if (!rule.required_reason_prefix.empty()) extras.push_back(absl::StrCat("reason \"", rule.required_reason_prefix, "…\""));
    std::cout << "  " << rule.id << ": " << kluis::policies::RoleName(rule.role) << " "
              << kluis::policies::ModeName(rule.mode) << " " << absl::StrJoin(actions, ",")
              << (kinds.empty() ? "" : absl::StrCat(" on ", absl::StrJoin(kinds, ",")))
              << " (" << absl::StrJoin(states, ",") << " accounts)"
              << (extras.empty() ? "" : absl::StrCat(" (", absl::StrJoin(extras, "; "), ")")) << "\n";
  }
  return 0;
}

int RunServe(const std::string& data_dir, const std::string& passphrase_file, std::string listen,
             const std::string& port_file, const std::string& policy_file, int64_t checkpoint_every,
             int64_t checkpoint_seconds) {
  // Block the stop signals before gRPC starts its threads, so only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);  // the integrity check below found damage
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<SecretBytes> passphrase = ReadPassphrase(passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  kluis::server::SystemClock clock;
  absl::StatusOr<std::unique_ptr<kluis::server::Vault>> vault =
      kluis::server::Vault::Open(data_dir, *passphrase, clock);
  if (!vault.ok()) return Fail(vault.status());
  if (absl::Status s = (*vault)->ScheduleCheckpoints(checkpoint_every, absl::Seconds(checkpoint_seconds)); !s.ok()) {
    return Fail(s);
  }
  if (!policy_file.empty()) {
    if (absl::Status loaded = (*vault)->ReloadPolicy(policy_file); !loaded.ok()) return Fail(loaded);
    Log(absl::StrCat("policy from ", policy_file));
  }
  if (listen.empty()) {
    absl::StatusOr<std::string> configured = (*vault)->DefaultListenAddress();
    if (!configured.ok()) return Fail(configured.status());
    listen = *configured;
  }
  absl::StatusOr<std::unique_ptr<kluis::server::KluisServer>> server =
      kluis::server::KluisServer::Start(**vault, {listen});
  if (!server.ok()) return Fail(server.status());
  const std::string host = listen.substr(0, listen.rfind(':'));
  Log(absl::StrCat("serving ", data_dir, " on ", host, ":", (*server)->port()));
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << (*server)->port() << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }
  // Every page and index checked beside serving (a scan that grows with the log, so start-up does
  // not wait for it): damage stops kluisd as it would have refused to start (exit 6).
  absl::Status integrity;
  std::thread check([&] {
    // Nicer than the calls it runs beside, like the long reads (server/storage/aside.h).
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
    integrity = (*vault)->CheckIntegrity();
    if (!integrity.ok()) kill(getpid(), SIGUSR1);
  });
  for (;;) {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    if (signal_number == SIGUSR1) {
      check.join();
      Log(absl::StrCat("error: ", integrity.message(), "; stopping"));
      (*server)->Shutdown();
      return ExitCodeFor(integrity);
    }
    if (signal_number == SIGHUP) {
      // Reload the release rules; a broken file leaves the rules in force untouched.
      if (policy_file.empty()) {
        Log("SIGHUP: serving the built-in policy; start with --policy FILE to reload one");
      } else if (absl::Status s = (*vault)->ReloadPolicy(policy_file); !s.ok()) {
        Log(absl::StrCat("policy not reloaded, the previous policy stays: ", s.message()));
      } else {
        Log(absl::StrCat("policy reloaded from ", policy_file));
      }
      continue;
    }
    Log(absl::StrCat("stopping on ", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"));
    break;
  }
  (*server)->Shutdown();
  check.join();
  Log("stopped");
  return 0;
}

int RunCheckVault(const std::string& data_dir, const std::string& passphrase_file) {
  absl::StatusOr<SecretBytes> passphrase = ReadPassphrase(passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  absl::StatusOr<kluis::server::CheckResult> checked = kluis::server::CheckVault(data_dir, *passphrase);
  if (!checked.ok()) return Fail(checked.status());
  std::cout << "ok: " << data_dir << ": the passphrase opens it, every database page and index checks, and the "
            << "audit chain of " << checked->audit_records << " records verifies\n";
  return 0;
}

int RunBackup(const std::string& data_dir, const std::string& passphrase_file, const std::string& backup_file) {
  absl::StatusOr<SecretBytes> passphrase = ReadPassphrase(passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  if (absl::Status s = kluis::server::BackupVault(data_dir, *passphrase, backup_file); !s.ok()) return Fail(s);
  std::cout << "backup of " << data_dir << " written to " << backup_file
            << " (encrypted; it opens only with the vault's passphrase)\n";
  return 0;
}

int RunRestore(const std::string& backup_file, const std::string& data_dir, const std::string& passphrase_file) {
  absl::StatusOr<SecretBytes> passphrase = ReadPassphrase(passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  kluis::server::SystemClock clock;
  if (absl::Status s = kluis::server::RestoreVault(backup_file, data_dir, *passphrase, clock); !s.ok()) {
    return Fail(s);
  }
  std::cout << "restored " << backup_file << " into " << data_dir
            << "; the audit chain verifies. Serve it with kluisd serve --data-dir " << data_dir << "\n";
  return 0;
}

int RunRekey(const std::string& data_dir, const std::string& passphrase_file, const std::string& new_passphrase_file,
             const std::string& argon2) {
  absl::StatusOr<SecretBytes> passphrase = ReadPassphrase(passphrase_file);
  if (!passphrase.ok()) return Fail(passphrase.status());
  absl::StatusOr<SecretBytes> fresh = ReadPassphrase(new_passphrase_file);
  if (!fresh.ok()) return Fail(fresh.status());
  kluis::crypto::Argon2Params params = kluis::crypto::Argon2Params::Moderate();
  if (argon2 == "interactive") params = kluis::crypto::Argon2Params::Interactive();
  if (argon2 == "sensitive") params = kluis::crypto::Argon2Params::Sensitive();
  if (absl::Status s = kluis::server::RekeyPassphrase(data_dir, *passphrase, *fresh, params); !s.ok()) return Fail(s);
  std::cout << "the root key of " << data_dir << " is sealed under the new passphrase\n";
  return 0;
}

// kluisd's flags, as CLI11 fills them in.
struct Flags {
  std::string data_dir, passphrase_file, admin, listen = "127.0.0.1:7443", argon2 = "moderate";
  std::vector<std::string> server_names;
  std::string serve_listen, port_file, policy_file;
  int64_t checkpoint_every = kluis::server::Vault::kCheckpointEveryRecords;
  int64_t checkpoint_seconds = absl::ToInt64Seconds(kluis::server::Vault::kCheckpointEvery);
  std::string backup_file, new_passphrase_file;
  std::string check_file;
};

// kluisd's subcommands.
struct Subcommands {
  CLI::App *init, *serve, *backup, *restore, *rekey, *check_vault, *policy_cmd, *policy_show,
      *check;
};

Subcommands Declare(CLI::App& app, Flags& f) {
  Subcommands c{};
  c.init = app.add_subcommand("init", "create a new vault");
  c.init->add_option("--data-dir", f.data_dir, "directory for the vault")->required();
  c.init->add_option("--passphrase-file", f.passphrase_file, "file holding the passphrase")
      ->required();
  c.init->add_option("--admin", f.admin, "the first operator's user name")->required();
  c.init->add_option("--listen", f.listen, "address serve listens on by default");
  c.init->add_option("--server-name", f.server_names,
                     "extra DNS name or address for the certificate");
  c.init->add_option("--argon2", f.argon2, "passphrase stretching cost")
      ->check(CLI::IsMember({"interactive", "moderate", "sensitive"}));

  c.serve = app.add_subcommand("serve", "serve a vault");
  c.serve->add_option("--data-dir", f.data_dir, "the vault's directory")->required();
  c.serve->add_option("--passphrase-file", f.passphrase_file, "file holding the passphrase")
      ->required();
  c.serve->add_option("--listen", f.serve_listen, "host:port (default: as given at init)");
  c.serve->add_option("--port-file", f.port_file, "write the bound port here once serving");
  c.serve
      ->add_option("--checkpoint-every", f.checkpoint_every,
                   "sign an audit checkpoint every N records (default 100)")
      ->check(CLI::PositiveNumber);
  c.serve
      ->add_option("--checkpoint-seconds", f.checkpoint_seconds,
                   "or on the first record after T seconds (default 60)")
      ->check(CLI::PositiveNumber);
  c.serve->add_option(
      "--policy", f.policy_file,
      "release rules (protobuf text format); default: the built-in policies/default.textproto; "
      "SIGHUP reloads it");

  c.backup = app.add_subcommand("backup",
                                "an encrypted, consistent backup of a vault, also while it serves");
  c.backup->add_option("--data-dir", f.data_dir, "the vault's directory")->required();
  c.backup->add_option("--passphrase-file", f.passphrase_file, "file holding the passphrase")
      ->required();
  c.backup->add_option("--out", f.backup_file, "the backup file to write (not overwritten)")
      ->required();
  c.restore =
      app.add_subcommand("restore", "unpack a backup into a new data directory and check it");
  c.restore->add_option("--in", f.backup_file, "the backup file")->required();
  c.restore->add_option("--data-dir", f.data_dir, "a directory without a vault")->required();
  c.restore
      ->add_option("--passphrase-file", f.passphrase_file, "the passphrase of the backed-up vault")
      ->required();
  c.rekey = app.add_subcommand("rekey-passphrase", "seal the root key under a new passphrase");
  c.rekey->add_option("--data-dir", f.data_dir, "the vault's directory")->required();
  c.rekey->add_option("--passphrase-file", f.passphrase_file, "the current passphrase")->required();
  c.rekey->add_option("--new-passphrase-file", f.new_passphrase_file, "the new passphrase")
      ->required();
  c.rekey->add_option("--argon2", f.argon2, "passphrase stretching cost")
      ->check(CLI::IsMember({"interactive", "moderate", "sensitive"}));

  c.check_vault = app.add_subcommand(
      "check",
      "check a vault in full: passphrase, every database page and index, the whole audit chain");
  c.check_vault->add_option("--data-dir", f.data_dir, "the vault's directory")->required();
  c.check_vault->add_option("--passphrase-file", f.passphrase_file, "file holding the passphrase")
      ->required();

  c.policy_cmd = app.add_subcommand("policy", "the release rules");
  c.policy_cmd->require_subcommand(1);
  c.policy_show = c.policy_cmd->add_subcommand(
      "show",
      "print the built-in policy (policies/default.textproto), to start a policy file from");

  c.check = app.add_subcommand("check-policy", "validate a policy file and summarise it");
  c.check->add_option("FILE", f.check_file, "policy file")->required();

  return c;
}
}  // namespace

int main(int argc, char** argv) {
  kluis::crypto::WipeFreedHeapMemory(argv);  // may re-execute kluisd once, before anything else
  if (absl::Status s = kluis::crypto::DisableCoreDumps(); !s.ok()) return Fail(s);
  if (absl::Status s = kluis::crypto::Initialize(); !s.ok()) return Fail(s);
  // Debian builds Abseil without NDEBUG, which leaves Mutex's lock-order graph on: every lock,
  // ours and gRPC's, paid for it (perf: ~4% of a release). The tests keep it on, to catch cycles.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  CLI::App app{"kluisd: the Kluis credential vault server"};
  app.require_subcommand(1);

  Flags f;
  const Subcommands c = Declare(app, f);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (*c.init)
    return RunInit(f.data_dir, f.passphrase_file, f.admin, f.listen, f.server_names, f.argon2);
  if (*c.check) return RunCheckPolicy(f.check_file);
  if (*c.policy_show) {
    std::cout << kluis::policies::DefaultPolicyText();
    return 0;
  }
  if (*c.check_vault) return RunCheckVault(f.data_dir, f.passphrase_file);
  if (*c.backup) return RunBackup(f.data_dir, f.passphrase_file, f.backup_file);
  if (*c.restore) return RunRestore(f.backup_file, f.data_dir, f.passphrase_file);
  if (*c.rekey) return RunRekey(f.data_dir, f.passphrase_file, f.new_passphrase_file, f.argon2);
  return RunServe(f.data_dir, f.passphrase_file, f.serve_listen, f.port_file, f.policy_file,
                  f.checkpoint_every, f.checkpoint_seconds);
}
