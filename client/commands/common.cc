#include "client/commands/common.h"

#include "kluis/wire/words.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/output.h"
#include "client/profile.h"
#include "crypto/secret_bytes.h"

namespace kluis::client {

CLI::App* Commands::Add(CLI::App* parent, const std::string& name, const std::string& help,
                        const std::string& full) {
  CLI::App* sub = parent->add_subcommand(name, help);
  commands_.emplace_back(sub, full);
  return sub;
}

void Commands::Listing(CLI::App* sub, std::string& format) {
  sub->add_option("--format", format, "table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
}

void AddPaging(CLI::App* sub, PageFlags& page) {
  sub->add_option("--limit", page.limit, "show one page of at most this many (1 to 1000)");
  sub->add_option("--page-token", page.token,
                  "show the page after the one that printed this token");
}

void Commands::Handle(const std::string& full, Handler run) { handlers_.emplace_back(full, std::move(run)); }

void Commands::HandleOffline(const std::string& full, OfflineHandler run) {
  offline_.emplace_back(full, std::move(run));
}

std::string Commands::Parsed() const {
  std::string parsed;
  for (const auto& [sub, name] : commands_) {
    if (sub->parsed()) parsed = name;
  }
  return parsed;
}

absl::Status Commands::Run(const std::string& full) {
  for (const auto& [name, run] : offline_) {
    if (name == full) return run(session_);
  }
  for (const auto& [name, run] : handlers_) {
    if (name != full) continue;
    absl::StatusOr<Profile> profile = Profile::Load(Profile::DefaultDir(session_.profile));
    if (!profile.ok()) return profile.status();
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*profile);
    if (!client.ok()) return client.status();
    return run(**client, full);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown command ", full));
}

constexpr size_t kMaxSecretInput = 4096;

std::string FormatTime(int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

absl::StatusOr<crypto::SecretBytes> ReadSecret(const std::string& prompt) {
  // Read straight into guarded memory, byte by byte from the descriptor: no iostream or
  // std::string buffer ever holds the secret.
  crypto::SecretBytes buffer(kMaxSecretInput + 1);
  size_t size = 0;
  const bool terminal = ::isatty(STDIN_FILENO);
  termios saved;
  if (terminal) {
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::cerr << prompt << std::flush;
  }
  for (;;) {
    const ssize_t got = ::read(STDIN_FILENO, buffer.MutableData() + size, buffer.size() - size);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    size += static_cast<size_t>(got);
    // A terminal gives one line; a pipe or file is read to its end.
    if (terminal && buffer.data()[size - 1] == '\n') break;
    if (size == buffer.size()) break;
  }
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << std::endl;
  }
  if (size > kMaxSecretInput) {
    return absl::InvalidArgumentError(absl::StrCat("input is too long: more than ", kMaxSecretInput, " bytes"));
  }
  absl::string_view text(reinterpret_cast<const char*>(buffer.data()), size);
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  crypto::SecretBytes secret = crypto::SecretBytes::CopyFrom(text);
  if (secret.empty()) return absl::InvalidArgumentError("no input given");
  return secret;
}

absl::StatusOr<std::vector<crypto::SecretBytes>> ReadSecretLines(const std::string& prompt) {
  std::vector<crypto::SecretBytes> lines;
  if (::isatty(STDIN_FILENO)) {
    for (int i = 1; i <= 50; ++i) {
      absl::StatusOr<crypto::SecretBytes> line = ReadSecret(absl::StrCat(prompt, " ", i, " (empty to end): "));
      if (!line.ok()) break;
      lines.push_back(*std::move(line));
    }
  } else {
    absl::StatusOr<crypto::SecretBytes> all = ReadSecret(prompt);
    if (!all.ok()) return all.status();
    for (absl::string_view line : absl::StrSplit(all->Reveal(), '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty()) lines.push_back(crypto::SecretBytes::CopyFrom(line));
    }
  }
  if (lines.empty()) return absl::InvalidArgumentError("no recovery codes given");
  return lines;
}

void PrintTotp(const pb::TotpCode& code) {
  std::cout << "code:     " << code.code() << "  (valid " << code.seconds_left() << " s more)\n";
  if (!code.next_code().empty()) std::cout << "next:     " << code.next_code() << "\n";
  if (!code.pending_code().empty()) {
    std::cout << "pending:  " << code.pending_code() << "  (from the new key, for the platform's confirmation)\n";
  }
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string RoleWord(pb::Role role) {
  const absl::string_view word = wire::WordOf(role);
  return word.empty() ? "unknown" : std::string(word);
}

std::string KindWord(pb::AccountKind kind) {
  const absl::string_view word = wire::WordOf(kind);
  return word.empty() ? "unknown" : std::string(word);
}

std::string ScopeText(const pb::Scope& scope) {
  switch (scope.target_case()) {
    case pb::Scope::kAccount: return absl::StrCat("account ", scope.account());
    case pb::Scope::kTeam: return absl::StrCat("team ", scope.team());
    case pb::Scope::kUnit: return absl::StrCat("unit ", scope.unit());
    case pb::Scope::kGlobal: return "global";
    default: return "-";
  }
}

Table BindingsTable(const google::protobuf::RepeatedPtrField<pb::RoleBinding>& bindings) {
  Table table{{"USER", "ROLE", "SCOPE", "GRANTED BY", "FROM", "UNTIL", "ACTIVE"}, {}};
  for (const pb::RoleBinding& b : bindings) {
    table.rows.push_back({b.user(), RoleWord(b.role()), ScopeText(b.scope()), b.granted_by(),
                          FormatTime(b.valid_from_unix()), FormatTime(b.valid_until_unix()),
                          b.active() ? "yes" : "no"});
  }
  return table;
}

std::vector<std::string> AccountRow(const pb::Account& a) {
  return {a.name(),
          KindWord(a.kind()),
          absl::StrCat(a.unit(), "/", a.team()),
          a.status(),
          a.has_password() ? "yes" : "no",
          a.has_linked_email() ? "yes" : "no",
          a.has_totp() ? "yes" : "no",
          std::to_string(a.recovery_codes_left()),
          absl::StrJoin(a.beheerders(), " "),
          FormatTime(a.password_set_unix()),
          a.mandatory() ? "yes" : "no"};
}

const std::vector<std::string> kAccountHeaders = {"ACCOUNT", "KIND",     "TEAM",       "STATUS",
                                                  "PASSWORD", "E-MAIL",  "2FA",        "RECOVERY",
                                                  "BEHEERDERS", "PASSWORD SET", "MANDATORY"};

Table RequestsTable(const google::protobuf::RepeatedPtrField<pb::AccessRequest>& requests) {
  Table table{{"ID", "ACCOUNT", "REQUESTER", "PURPOSE", "STATE", "CREATED", "DECIDED BY", "GRANT UNTIL", "REASON"}, {}};
  for (const pb::AccessRequest& r : requests) {
    table.rows.push_back({std::to_string(r.id()), r.account(), r.requester(), r.purpose(), r.state(),
                          FormatTime(r.created_unix()),
                          r.escalation_decided_by().empty() ? r.decided_by() : r.escalation_decided_by(),
                          FormatTime(r.grant_expires_unix()), r.reason()});
  }
  return table;
}

void PrintRequest(const pb::AccessRequest& r) {
  std::cout << "request " << r.id() << " for " << r.account() << " by " << r.requester() << ": " << r.state();
  if (r.grant_expires_unix() != 0) std::cout << ", usable once until " << FormatTime(r.grant_expires_unix());
  std::cout << "\n";
  if (!r.deciders().empty()) {
    std::cout << "who can decide: " << absl::StrJoin(r.deciders(), ", ") << " (kluis approve " << r.id()
              << " or kluis deny " << r.id() << ")\n";
  }
}

absl::StatusOr<int64_t> ParseDurationArg(const std::string& text) {
  if (text.empty()) return 0;
  absl::Duration d;
  int days = 0;
  // Days too ("2d"), which absl's durations do not have.
  const bool in_days = absl::EndsWith(text, "d") && absl::SimpleAtoi(absl::string_view(text).substr(0, text.size() - 1), &days);
  if (in_days) d = absl::Hours(24) * days;
  if ((!in_days && !absl::ParseDuration(text, &d)) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("--ttl must be a duration like 2d, 4h or 90m, got \"", text, "\""));
  }
  return absl::ToInt64Seconds(d);
}

absl::StatusOr<int64_t> ParseTimeArg(const std::string& text, const char* what) {
  if (text.empty()) return 0;
  absl::Time t;
  std::string error;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &error) ||
      absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::ToUnixSeconds(t);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " must be a date (2026-01-31) or RFC 3339 time, got \"", text, "\""));
}

absl::StatusOr<pb::Role> RoleOf(const std::string& word) {
  if (std::optional<pb::Role> role = wire::RoleOfWord(word)) return *role;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role \"", word,
      "\": use beheerder, teamchef, regisseur, landelijk-regisseur, communicatieadviseur, "
      "bewindspersoon, politiek-assistent, auditor or operator"));
}

std::string TimeText(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMicros(unix_micros), absl::UTCTimeZone());
}

}  // namespace kluis::client
