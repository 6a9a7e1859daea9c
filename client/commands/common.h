// What the kluis commands share: the session, the registry that ties a command to its flags and
// handler, and the words, tables, prompts and arguments more than one command group uses.
#ifndef KLUIS_CLIENT_COMMANDS_COMMON_H_
#define KLUIS_CLIENT_COMMANDS_COMMON_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// What every command shares: the flags of kluis itself (not of a command).
struct Session {
  std::string profile;  // --profile: the profile directory ("" for the default)
};

// Runs one command over a connection to the vault; `command` is its full name ("role grant").
using Handler = std::function<absl::Status(Client& c, const std::string& command)>;
// Runs one command that needs no connection and no profile (enroll, audit verify).
using OfflineHandler = std::function<absl::Status(const Session& session)>;

// The commands of kluis: each command group registers its subcommands, flags and handlers here
// (client/commands/*.cc); RunKluis parses, picks the one parsed, and runs its handler.
class Commands {
 public:
  Commands(CLI::App& app, Session& session) : app_(app), session_(session) {}

  CLI::App& app() { return app_; }
  // A subcommand `name` of `parent`, known as `full` ("role grant") in errors and dispatch.
  CLI::App* Add(CLI::App* parent, const std::string& name, const std::string& help, const std::string& full);
  // --format table|json|csv for a listing, into `format`.
  static void Listing(CLI::App* sub, std::string& format);
  void Handle(const std::string& full, Handler run);
  void HandleOffline(const std::string& full, OfflineHandler run);

  // The full name of the command that was parsed ("" when none), and of the one being parsed
  // when an error stopped it.
  std::string Parsed() const;
  // Runs the parsed command: offline, or over a connection made from the profile.
  absl::Status Run(const std::string& full);

 private:
  CLI::App& app_;
  Session& session_;
  std::vector<std::pair<CLI::App*, std::string>> commands_;
  std::vector<std::pair<std::string, Handler>> handlers_;
  std::vector<std::pair<std::string, OfflineHandler>> offline_;
};

// A command group's own flags: one `F` (a struct of the group's), which its subcommands bind their
// flags to and its handlers read. Only one command is parsed per run, so they share one.
template <typename F>
class Group {
 public:
  explicit Group(Commands& commands) : commands_(commands), flags_(std::make_shared<F>()) {}

  CLI::App& app() { return commands_.app(); }
  F& flags() { return *flags_; }
  CLI::App* Add(CLI::App* parent, const std::string& name, const std::string& help,
                const std::string& full) {
    return commands_.Add(parent, name, help, full);
  }
  void Handle(const std::string& full, absl::Status (*run)(Client&, const F&, const std::string&)) {
    commands_.Handle(full, [flags = flags_, run](Client& c, const std::string& command) {
      return run(c, *flags, command);
    });
  }
  void HandleOffline(const std::string& full, absl::Status (*run)(const F&, const Session&)) {
    commands_.HandleOffline(
        full, [flags = flags_, run](const Session& session) { return run(*flags, session); });
  }

 private:
  Commands& commands_;
  std::shared_ptr<F> flags_;
};

// A listing's paging: --limit N and --page-token T. With neither, a listing walks every page.
struct PageFlags {
  int64_t limit = 0;
  std::string token;
  bool one_page() const { return limit != 0 || !token.empty(); }
};
void AddPaging(CLI::App* sub, PageFlags& page);

// One page (with --limit or --page-token), or every page in turn, each merged into the first by
// `merge` (protobuf's MergeFrom appends repeated fields). `call` asks for a page: (limit, token).
// With one page, how to ask for the next is told on standard error (the JSON has it too).
template <typename Response, typename Call, typename Merge>
absl::StatusOr<Response> Pages(const PageFlags& page, Call call, Merge merge) {
  absl::StatusOr<Response> all = call(page.limit, page.token);
  if (!all.ok() || page.one_page()) {
    if (all.ok() && !all->next_page_token().empty()) {
      std::cerr << "more: ask again with --page-token " << all->next_page_token() << "\n";
    }
    return all;
  }
  for (std::string next = all->next_page_token(); !next.empty();) {
    absl::StatusOr<Response> more = call(0, next);
    if (!more.ok()) return more.status();
    next = more->next_page_token();
    merge(*all, *more);
  }
  all->clear_next_page_token();
  return all;
}
template <typename Response, typename Call>
absl::StatusOr<Response> Pages(const PageFlags& page, Call call) {
  return Pages<Response>(page, call,
                         [](Response& all, const Response& more) { all.MergeFrom(more); });
}

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

absl::StatusOr<pb::Role> RoleOf(const std::string& word);

std::string TimeText(int64_t unix_micros);

inline std::string YesNo(bool b) { return b ? "yes" : "no"; }

}  // namespace kluis::client

#endif  // KLUIS_CLIENT_COMMANDS_COMMON_H_
