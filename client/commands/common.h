// What the kluis commands share: the parsed options, the registry that ties a command to its
// handler, and the words, tables, prompts and arguments more than one command group uses.
#ifndef KLUIS_CLIENT_COMMANDS_COMMON_H_
#define KLUIS_CLIENT_COMMANDS_COMMON_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/client.h"
#include "client/output.h"
#include "crypto/secret_bytes.h"
#include "kluis/v1/audit.pb.h"
#include "kluis/v1/organisation.pb.h"
#include "kluis/v1/vault.pb.h"

namespace kluis::client {

namespace pb = ::kluis::v1;

// Everything the subcommands were given on the command line. One struct: CLI11 binds each flag
// to a field, and a command reads the fields its own flags set.
struct Options {
  std::string profile, format = "table";
  std::string server, ca_cert, user, code;
  std::string unit, team, name, account, kind, email, role, until, reason, field;
  std::string scope_account, scope_team, scope_unit;
  bool scope_global = false;
  std::string since, actor, purpose, ttl;
  int64_t request_id = 0;
  bool emergency = false, pending = false, confirm = false, abort = false;
  int previous = 0;
  std::string platform;
  int limit = 0;
  bool mandatory = false;
  std::vector<std::string> successors, hybrid, archives;
  std::string out, plan, ref, public_key;
  std::string fingerprint;
};

// Runs one command over a connection to the vault.
using Handler = std::function<absl::Status(Client& c, const Options& a, const std::string& command)>;
// Runs one command that needs no connection and no profile (enroll, audit verify).
using OfflineHandler = std::function<absl::Status(const Options& a)>;

// The commands of kluis: each command group registers its subcommands, options and handlers here
// (client/commands/*.cc); RunKluis parses, picks the one parsed, and runs its handler.
class Commands {
 public:
  Commands(CLI::App& app, Options& options) : app_(app), options_(options) {}

  CLI::App& app() { return app_; }
  Options& options() { return options_; }
  // A subcommand `name` of `parent`, known as `full` ("role grant") in errors and dispatch.
  CLI::App* Add(CLI::App* parent, const std::string& name, const std::string& help, const std::string& full);
  // --format table|json|csv for a listing.
  void Listing(CLI::App* sub);
  void Handle(const std::string& full, Handler run);
  void HandleOffline(const std::string& full, OfflineHandler run);

  // The full name of the command that was parsed ("" when none), and of the one being parsed
  // when an error stopped it.
  std::string Parsed() const;
  // Runs the parsed command: offline, or over a connection made from the profile.
  absl::Status Run(const std::string& full);

 private:
  CLI::App& app_;
  Options& options_;
  std::vector<std::pair<CLI::App*, std::string>> commands_;
  std::vector<std::pair<std::string, Handler>> handlers_;
  std::vector<std::pair<std::string, OfflineHandler>> offline_;
};

void AddEnrollCommands(Commands& commands);
void AddOrganisationCommands(Commands& commands);
void AddAccountCommands(Commands& commands);
void AddSecretCommands(Commands& commands);
void AddReleaseCommands(Commands& commands);
void AddRequestCommands(Commands& commands);
void AddAuditCommands(Commands& commands);
void AddKabinetswisselCommands(Commands& commands);

std::string FormatTime(int64_t unix_seconds);

// Reads a secret from a no-echo prompt on a terminal, or from standard input otherwise. One
// trailing newline is dropped. The text never passes through argv.
absl::StatusOr<crypto::SecretBytes> ReadSecret(const std::string& prompt);

// Several secrets, one per line: from standard input, or prompted one by one (an empty line ends).
absl::StatusOr<std::vector<crypto::SecretBytes>> ReadSecretLines(const std::string& prompt);

void PrintTotp(const pb::TotpCode& code);

absl::StatusOr<std::string> ReadTextFile(const std::string& path);

std::string RoleWord(pb::Role role);

std::string KindWord(pb::AccountKind kind);

std::string ScopeText(const pb::Scope& scope);

Table BindingsTable(const google::protobuf::RepeatedPtrField<pb::RoleBinding>& bindings);

std::vector<std::string> AccountRow(const pb::Account& a);

extern const std::vector<std::string> kAccountHeaders;

Table RequestsTable(const google::protobuf::RepeatedPtrField<pb::AccessRequest>& requests);

void PrintRequest(const pb::AccessRequest& r);

absl::StatusOr<int64_t> ParseDurationArg(const std::string& text);

absl::StatusOr<int64_t> ParseTimeArg(const std::string& text, const char* what);

absl::StatusOr<pb::Scope> ScopeOf(const Options& a);

absl::StatusOr<pb::Role> RoleOf(const std::string& word);

std::string TimeText(int64_t unix_micros);

inline std::string YesNo(bool b) { return b ? "yes" : "no"; }

}  // namespace kluis::client

#endif  // KLUIS_CLIENT_COMMANDS_COMMON_H_
