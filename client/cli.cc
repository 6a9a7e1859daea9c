#include "client/cli.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/json_util.h>

#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "auditfile/export.h"
#include "auditfile/verify.h"
#include "client/client.h"
#include "crypto/hash.h"
#include "client/output.h"
#include "client/profile.h"
#include "client/qr.h"

namespace kluis::client {

namespace pb = ::kluis::v1;

std::string AuditJsonLine(const pb::AuditExportItem& item) {
  switch (item.item_case()) {
    case pb::AuditExportItem::kHeader:
      return auditfile::HeaderLine({item.header().public_key(), item.header().exported_unix_micros(),
                                    item.header().head_seq(), item.header().filter()});
    case pb::AuditExportItem::kRecord: {
      const pb::AuditRecord& r = item.record();
      // The version the record was written in is its first canonical byte (older logs: version 1).
      const int version = r.canonical().empty() ? auditfile::kRecordVersion : static_cast<unsigned char>(r.canonical()[0]);
      return auditfile::RecordLine({r.seq(), r.time_unix_micros(), r.actor(), r.role(), r.action(), r.account(),
                                    r.decision(), r.rule(), r.reason(), r.request_id(), r.peer(), r.outcome(),
                                    r.certificate(), version},
                                   r.prev_hash(), r.chain_hash());
    }
    case pb::AuditExportItem::kCheckpoint: {
      const pb::AuditCheckpoint& c = item.checkpoint();
      return auditfile::CheckpointLine({c.seq(), c.time_unix_micros(), c.chain_hash(), c.signature()});
    }
    default:
      return "";
  }
}

int ExitCodeFor(const absl::Status& status) {
  // The server's reason, where it gave one, decides the class (common.proto lists them).
  if (std::optional<std::string> reason = RefusalOf(status)) {
    static const auto* const kUsage = new absl::flat_hash_set<std::string>{"REASON_REQUIRED", "INPUT_INVALID"};
    // Needs approval, or another step first.
    static const auto* const kNeedsStep = new absl::flat_hash_set<std::string>{
        "NEEDS_APPROVAL", "GRANT_NOT_USABLE", "REQUEST_STATE",   "ACCOUNT_STATE",
        "ROTATION_STATE", "ARCHIVE_MISSING",  "USER_DISABLED", "CERTIFICATE_STATE"};
    if (kUsage->contains(*reason)) return kExitUsage;
    if (kNeedsStep->contains(*reason)) return kExitNeedsApproval;
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kFailedPrecondition:  // needs approval, or a request in the wrong state
      return kExitNeedsApproval;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:  // the caller's access changed during the call: run it again
    case absl::StatusCode::kInternal:  // the server failed (its storage, say): not the caller's usage
    case absl::StatusCode::kUnknown:
      return kExitUnavailable;
    case absl::StatusCode::kDataLoss:
      return kExitVerificationFailed;
    default:
      return kExitUsage;
  }
}

namespace {

constexpr size_t kMaxSecretInput = 4096;

std::string FormatTime(int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

// Reads a secret from a no-echo prompt on a terminal, or from standard input otherwise. One
// trailing newline is dropped. The text never passes through argv.
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

// Several secrets, one per line: from standard input, or prompted one by one (an empty line ends).
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

const std::pair<absl::string_view, pb::Role> kRoleWords[] = {
    {"beheerder", pb::ROLE_BEHEERDER},
    {"teamchef", pb::ROLE_TEAMCHEF},
    {"regisseur", pb::ROLE_REGISSEUR},
    {"landelijk-regisseur", pb::ROLE_LANDELIJK_REGISSEUR},
    {"communicatieadviseur", pb::ROLE_COMMUNICATIEADVISEUR},
    {"bewindspersoon", pb::ROLE_BEWINDSPERSOON},
    {"politiek-assistent", pb::ROLE_POLITIEK_ASSISTENT},
    {"auditor", pb::ROLE_AUDITOR},
    {"operator", pb::ROLE_OPERATOR},
};

std::string RoleWord(pb::Role role) {
  for (auto [word, value] : kRoleWords) {
    if (value == role) return std::string(word);
  }
  return "unknown";
}

const std::pair<absl::string_view, pb::AccountKind> kKindWords[] = {
    {"politie-alleen", pb::ACCOUNT_KIND_POLITIE_ALLEEN},
    {"politie-samen", pb::ACCOUNT_KIND_POLITIE_SAMEN},
    {"corporate", pb::ACCOUNT_KIND_CORPORATE},
    {"hybrid", pb::ACCOUNT_KIND_HYBRID},
    {"organisatie", pb::ACCOUNT_KIND_ORGANISATIE},
    {"prive", pb::ACCOUNT_KIND_PRIVE},
    {"privé", pb::ACCOUNT_KIND_PRIVE},
    {"private", pb::ACCOUNT_KIND_PRIVE},
};

std::string KindWord(pb::AccountKind kind) {
  for (auto [word, value] : kKindWords) {
    if (value == kind) return std::string(word);
  }
  return "unknown";
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

// Everything the subcommands were given on the command line.
struct Args {
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

// "ACCOUNT=VALUE" pairs of the kabinetswissel plan, each checked for its '='.
absl::Status AddChoices(const std::vector<std::string>& pairs, const char* flag,
                        google::protobuf::RepeatedPtrField<pb::AccountChoice>* out) {
  for (const std::string& pair : pairs) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " takes ACCOUNT=VALUE, got \"", pair, "\""));
    }
    pb::AccountChoice* choice = out->Add();
    choice->set_account(pair.substr(0, eq));
    choice->set_value(pair.substr(eq + 1));
  }
  return absl::OkStatus();
}

Table PlanTable(const pb::KabinetswisselPlan& plan, bool with_state) {
  Table table{{"ACCOUNT", "KIND", "STEP", with_state ? "STATE" : "WHAT", with_state ? "DETAIL" : ""}, {}};
  if (!with_state) table.headers.pop_back();
  for (const pb::KabinetswisselAccount& account : plan.accounts()) {
    for (const pb::KabinetswisselStep& step : account.steps()) {
      if (with_state) {
        table.rows.push_back({account.account(), account.kind(), step.name(), step.state(),
                              step.detail().empty() ? step.description() : step.detail()});
      } else {
        table.rows.push_back({account.account(), account.kind(), step.name(), step.description()});
      }
    }
  }
  return table;
}

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

absl::StatusOr<pb::Scope> ScopeOf(const Args& a) {
  pb::Scope scope;
  int given = 0;
  if (!a.scope_account.empty()) { scope.set_account(a.scope_account); ++given; }
  if (!a.scope_team.empty()) { scope.set_team(a.scope_team); ++given; }
  if (!a.scope_unit.empty()) { scope.set_unit(a.scope_unit); ++given; }
  if (a.scope_global) { scope.set_global(true); ++given; }
  if (given != 1) {
    return absl::InvalidArgumentError("give exactly one of --account, --team, --unit, --global");
  }
  return scope;
}

absl::StatusOr<pb::Role> RoleOf(const std::string& word) {
  for (auto [w, value] : kRoleWords) {
    if (w == word) return value;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role \"", word,
      "\": use beheerder, teamchef, regisseur, landelijk-regisseur, communicatieadviseur, "
      "bewindspersoon, politiek-assistent, auditor or operator"));
}

// ---- commands: each one call, printed ----

std::string TimeText(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMicros(unix_micros), absl::UTCTimeZone());
}

// The filters that audit list, access and export share.
template <typename Request>
absl::Status FillAuditFilter(const Args& a, Request* request) {
  absl::StatusOr<int64_t> since = ParseTimeArg(a.since, "--since");
  if (!since.ok()) return since.status();
  absl::StatusOr<int64_t> until = ParseTimeArg(a.until, "--until");
  if (!until.ok()) return until.status();
  request->set_since_unix(*since);
  request->set_until_unix(*until);
  request->set_account(a.account);
  request->set_actor(a.actor);
  return absl::OkStatus();
}

// kluis audit export: streamed from the server straight into the file, line by line, so memory
// stays flat however long the log. Written to FILE.part and renamed when complete.
absl::Status ExportAudit(Client& c, const Args& a) {
  if (a.format != "jsonl" && a.format != "csv") {
    return absl::InvalidArgumentError("audit export --format is jsonl or csv");
  }
  pb::ExportAuditRequest request;
  if (absl::Status s = FillAuditFilter(a, &request); !s.ok()) return s;
  const std::string part = a.out + ".part";
  std::ofstream file(part, std::ios::binary | std::ios::trunc);
  if (!file) return absl::InvalidArgumentError(absl::StrCat("cannot write ", part));
  const bool csv = a.format == "csv";
  if (csv) {
    Table header{{"seq", "time_utc", "time_us", "actor", "role", "action", "account", "decision", "rule", "reason",
                  "request_id", "peer", "outcome", "certificate", "hash"},
                 {}};
    header.PrintCsv(file);
  }
  int64_t records = 0, checkpoints = 0;
  std::string filter;
  absl::Status streamed = c.ExportAudit(request, [&](const pb::AuditExportItem& item) {
    if (!csv) file << AuditJsonLine(item);
    switch (item.item_case()) {
      case pb::AuditExportItem::kHeader:
        filter = item.header().filter();
        break;
      case pb::AuditExportItem::kRecord: {
        const pb::AuditRecord& r = item.record();
        ++records;
        if (csv) {
          const std::string fields[] = {std::to_string(r.seq()), TimeText(r.time_unix_micros()),
                                        std::to_string(r.time_unix_micros()), r.actor(), r.role(), r.action(),
                                        r.account(), r.decision(), r.rule(), r.reason(), r.request_id(), r.peer(),
                                        r.outcome(), r.certificate(), crypto::HexEncode(r.chain_hash())};
          for (size_t i = 0; i < std::size(fields); ++i) file << (i > 0 ? "," : "") << CsvField(fields[i]);
          file << "\r\n";
        }
        break;
      }
      case pb::AuditExportItem::kCheckpoint:
        ++checkpoints;
        break;
      default:
        break;
    }
    return static_cast<bool>(file);
  });
  file.close();
  if (!streamed.ok() || !file) {
    std::remove(part.c_str());
    return streamed.ok() ? absl::InternalError(absl::StrCat("cannot write ", part)) : streamed;
  }
  if (std::rename(part.c_str(), a.out.c_str()) != 0) return absl::InternalError(absl::StrCat("cannot write ", a.out));
  std::cout << "exported " << records << " records and " << checkpoints << " checkpoints to " << a.out
            << (filter == "none" ? "" : absl::StrCat(" (filtered: ", filter, ")")) << "\n";
  return absl::OkStatus();
}

// The public key for verify: 64 hex characters, or a file whose first line holds them (as
// `kluis audit pubkey` prints it).
absl::StatusOr<std::string> PublicKeyArg(const std::string& text) {
  std::string hex = text;
  if (hex.size() != 64) {
    absl::StatusOr<std::string> file = ReadTextFile(text);
    if (!file.ok()) {
      return absl::InvalidArgumentError("--public-key takes the key as 64 hex characters or a file holding them");
    }
    hex = std::string(absl::StripAsciiWhitespace(file->substr(0, file->find('\n'))));
  }
  std::string key;
  if (hex.size() != 64 || !crypto::HexDecode(hex, &key)) {
    return absl::InvalidArgumentError("--public-key must be 64 hex characters (kluis audit pubkey prints it)");
  }
  return key;
}

// kluis audit verify: offline, no server and no profile.
absl::Status VerifyAuditFile(const Args& a) {
  absl::StatusOr<std::string> key = PublicKeyArg(a.public_key);
  if (!key.ok()) return key.status();
  std::ifstream in(a.plan, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", a.plan));
  absl::StatusOr<auditfile::Verification> v = auditfile::VerifyExport(in, *key);
  if (!v.ok()) {
    return v.status().code() == absl::StatusCode::kDataLoss
               ? absl::DataLossError(absl::StrCat("verification failed: ", v.status().message()))
               : v.status();
  }
  if (v->filtered) {
    std::cout << "ok (filtered export, " << v->filter << "): " << v->records
              << " records, each consistent with a hash chain; " << v->checkpoints
              << " checkpoints verified, and the records they are on are the vault's own. The export's own record "
              << v->head_seq << " is signed and proves the filter and where the log stood. A filtered export cannot "
                 "prove that no matching record was left out, nor that a record without a checkpoint is the "
                 "vault's: for that, verify a full export.\n";
  } else {
    std::cout << "ok: records 1 to " << v->last_seq << " are complete and unaltered, " << v->checkpoints
              << " checkpoints verified, the last on record " << v->last_seq << "\n";
  }
  return absl::OkStatus();
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

absl::Status Enroll(const Args& a) {
  absl::StatusOr<std::string> ca = ReadTextFile(a.ca_cert);
  if (!ca.ok()) return ca.status();
  std::string code = a.code;
  if (code.empty()) {
    absl::StatusOr<crypto::SecretBytes> typed = ReadSecret("enrollment code: ");
    if (!typed.ok()) return typed.status();
    code = std::string(typed->Reveal());
  }
  const std::string dir = Profile::DefaultDir(a.profile);
  int earlier_revoked = 0;
  absl::StatusOr<Profile> profile = Client::Enroll(a.server, *ca, a.user, code, dir, &earlier_revoked);
  if (!profile.ok()) return profile.status();
  if (absl::Status s = profile->Save(); !s.ok()) return s;
  std::cout << "enrolled " << a.user << "; profile saved in " << dir << "\n";
  if (earlier_revoked > 0) {
    std::cout << "your earlier certificate" << (earlier_revoked > 1 ? "s (" + std::to_string(earlier_revoked) + ")" : "")
              << " no longer work" << (earlier_revoked > 1 ? "" : "s") << ": a new enrollment revokes them\n";
  }
  return absl::OkStatus();
}

absl::Status Run(Client& c, const std::string& command, const Args& a) {
  if (command == "whoami") {
    absl::StatusOr<pb::WhoAmIResponse> r =
        c.Call(c.organisation(), &pb::Organisation::Stub::WhoAmI, pb::WhoAmIRequest());
    if (!r.ok()) return r.status();
    if (a.format == "table") std::cout << "user: " << r->user() << "\n";
    PrintListing(a.format, BindingsTable(r->bindings()), *r, std::cout);
    return absl::OkStatus();
  }
  if (command == "unit add") {
    pb::AddUnitRequest request;
    request.set_unit(a.unit);
    request.set_display_name(a.name);
    absl::StatusOr<pb::AddUnitResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddUnit, request);
    if (!r.ok()) return r.status();
    std::cout << "unit " << a.unit << " added\n";
    return absl::OkStatus();
  }
  if (command == "team add") {
    pb::AddTeamRequest request;
    request.set_unit(a.unit);
    request.set_team(a.team);
    request.set_display_name(a.name);
    absl::StatusOr<pb::AddTeamResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddTeam, request);
    if (!r.ok()) return r.status();
    std::cout << "team " << a.unit << "/" << a.team << " added\n";
    return absl::OkStatus();
  }
  if (command == "user add" || command == "user code") {
    absl::StatusOr<std::pair<std::string, int64_t>> code;
    if (command == "user add") {
      pb::AddUserRequest request;
      request.set_user(a.user);
      request.set_display_name(a.name);
      absl::StatusOr<pb::AddUserResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddUser, request);
      if (!r.ok()) return r.status();
      code = std::pair(r->enrollment_code(), r->code_expires_unix());
    } else {
      pb::NewEnrollmentCodeRequest request;
      request.set_user(a.user);
      absl::StatusOr<pb::NewEnrollmentCodeResponse> r =
          c.Call(c.organisation(), &pb::Organisation::Stub::NewEnrollmentCode, request);
      if (!r.ok()) return r.status();
      code = std::pair(r->enrollment_code(), r->code_expires_unix());
    }
    std::cout << "user:            " << a.user << "\n"
              << "enrollment code: " << code->first << "\n"
              << "expires:         " << FormatTime(code->second) << "\n"
              << "hand the code over in person; it works once.\n";
    return absl::OkStatus();
  }
  if (command == "user disable") {
    pb::DisableUserRequest request;
    request.set_user(a.user);
    absl::StatusOr<pb::DisableUserResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::DisableUser, request);
    if (!r.ok()) return r.status();
    std::cout << "user " << a.user << " disabled: " << r->bindings_ended() << " role bindings ended, "
              << r->certificates_revoked() << " certificates revoked\n";
    return absl::OkStatus();
  }
  if (command == "user certs") {
    pb::ListCertificatesRequest request;
    request.set_user(a.user);
    absl::StatusOr<pb::ListCertificatesResponse> r =
        c.Call(c.organisation(), &pb::Organisation::Stub::ListCertificates, request);
    if (!r.ok()) return r.status();
    Table table{{"FINGERPRINT", "ISSUED", "EXPIRES", "REVOKED", "REASON"}, {}};
    for (const pb::Certificate& cert : r->certificates()) {
      table.rows.push_back({absl::StrCat("SHA256:", cert.fingerprint(), cert.current() ? " (this one)" : ""),
                            FormatTime(cert.issued_unix()), FormatTime(cert.expires_unix()),
                            cert.revoked_unix() ? FormatTime(cert.revoked_unix()) : "no", cert.revoke_reason()});
    }
    PrintListing(a.format, table, *r, std::cout);
    return absl::OkStatus();
  }
  if (command == "cert revoke") {
    pb::RevokeCertificateRequest request;
    request.set_fingerprint(a.fingerprint);
    request.set_reason(a.reason);
    absl::StatusOr<pb::RevokeCertificateResponse> r =
        c.Call(c.organisation(), &pb::Organisation::Stub::RevokeCertificate, request);
    if (!r.ok()) return r.status();
    std::cout << "certificate SHA256:" << r->certificate().fingerprint()
              << " revoked; its next call is refused. The user's other certificates still work.\n";
    return absl::OkStatus();
  }
  if (command == "role grant") {
    pb::GrantRoleRequest request;
    request.set_user(a.user);
    absl::StatusOr<pb::Role> role = RoleOf(a.role);
    if (!role.ok()) return role.status();
    request.set_role(*role);
    absl::StatusOr<pb::Scope> scope = ScopeOf(a);
    if (!scope.ok()) return scope.status();
    *request.mutable_scope() = *scope;
    absl::StatusOr<int64_t> until = ParseTimeArg(a.until, "--until");
    if (!until.ok()) return until.status();
    request.set_valid_until_unix(*until);
    absl::StatusOr<pb::GrantRoleResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::GrantRole, request);
    if (!r.ok()) return r.status();
    std::cout << "granted " << a.role << " to " << a.user << " on " << ScopeText(r->binding().scope())
              << (r->binding().valid_until_unix() ? absl::StrCat(" until ", FormatTime(r->binding().valid_until_unix())) : "")
              << "\n";
    return absl::OkStatus();
  }
  if (command == "role revoke") {
    pb::RevokeRoleRequest request;
    request.set_user(a.user);
    absl::StatusOr<pb::Role> role = RoleOf(a.role);
    if (!role.ok()) return role.status();
    request.set_role(*role);
    absl::StatusOr<pb::Scope> scope = ScopeOf(a);
    if (!scope.ok()) return scope.status();
    *request.mutable_scope() = *scope;
    absl::StatusOr<pb::RevokeRoleResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::RevokeRole, request);
    if (!r.ok()) return r.status();
    std::cout << "revoked " << a.role << " of " << a.user << " (" << r->bindings_ended() << " binding(s) ended)\n";
    return absl::OkStatus();
  }
  if (command == "role list") {
    pb::ListRolesRequest request;
    request.set_user(a.user);
    absl::StatusOr<pb::ListRolesResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::ListRoles, request);
    if (!r.ok()) return r.status();
    PrintListing(a.format, BindingsTable(r->bindings()), *r, std::cout);
    return absl::OkStatus();
  }
  if (command == "account add") {
    pb::AddAccountRequest request;
    const size_t slash = a.account.find('/');
    if (slash == std::string::npos) {
      return absl::InvalidArgumentError("name the account as PLATFORM/HANDLE, e.g. x/WA_Lombardijen1");
    }
    request.set_platform(absl::AsciiStrToLower(a.account.substr(0, slash)));
    request.set_handle(a.account.substr(slash + 1));
    request.set_team(a.team);
    pb::AccountKind kind = pb::ACCOUNT_KIND_UNSPECIFIED;
    for (auto [word, value] : kKindWords) {
      if (word == a.kind) kind = value;
    }
    if (kind == pb::ACCOUNT_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown account kind \"", a.kind,
          "\": use politie-alleen, politie-samen, corporate, hybrid or organisatie"));
    }
    request.set_kind(kind);
    request.set_linked_email(a.email);
    request.set_mandatory(a.mandatory);
    absl::StatusOr<pb::AddAccountResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddAccount, request);
    if (!r.ok()) return r.status();
    std::cout << "account " << r->account().name() << " (" << KindWord(r->account().kind()) << ") added to "
              << r->account().unit() << "/" << r->account().team() << "\n";
    return absl::OkStatus();
  }
  if (command == "account list") {
    pb::ListAccountsRequest request;
    request.set_unit(a.unit);
    request.set_team(a.team);
    absl::StatusOr<pb::ListAccountsResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::ListAccounts, request);
    if (!r.ok()) return r.status();
    Table table{kAccountHeaders, {}};
    for (const pb::Account& account : r->accounts()) table.rows.push_back(AccountRow(account));
    PrintListing(a.format, table, *r, std::cout);
    return absl::OkStatus();
  }
  if (command == "account show") {
    pb::ShowAccountRequest request;
    request.set_account(a.account);
    absl::StatusOr<pb::ShowAccountResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::ShowAccount, request);
    if (!r.ok()) return r.status();
    if (a.format == "json") {
      PrintJson(*r, std::cout);
      return absl::OkStatus();
    }
    const std::vector<std::string> row = AccountRow(r->account());
    for (size_t i = 0; i < row.size(); ++i) {
      std::cout << absl::AsciiStrToLower(kAccountHeaders[i]) << ":"
                << std::string(14 - std::min<size_t>(13, kAccountHeaders[i].size()), ' ') << row[i] << "\n";
    }
    return absl::OkStatus();
  }
  if (command == "account stop") {
    pb::StopAccountRequest request;
    request.set_account(a.account);
    request.set_reason(a.reason);
    absl::StatusOr<pb::StopAccountResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::StopAccount, request);
    if (!r.ok()) return r.status();
    std::cout << r->account().name() << " stopped. To delete it on the platform the beheerder (or, if that "
              << "fails, the landelijk regisseur) or the regisseur can still release it, with --reason; then: kluis "
              << "account deleted " << r->account().name() << " --ref REF. Its secrets are destroyed after "
              << FormatTime(r->secrets_destroyed_after_unix()) << ".\n";
    return absl::OkStatus();
  }
  if (command == "account deleted") {
    pb::RecordAccountDeletedRequest request;
    request.set_account(a.account);
    request.set_reference(a.ref);
    absl::StatusOr<pb::RecordAccountDeletedResponse> r =
        c.Call(c.organisation(), &pb::Organisation::Stub::RecordAccountDeleted, request);
    if (!r.ok()) return r.status();
    std::cout << r->account().name() << " recorded as deleted on the platform (" << a.ref
              << "): its secrets are destroyed and it releases nothing; the regisseur is told.\n";
    return absl::OkStatus();
  }
  if (command == "kabinetswissel plan") {
    pb::PlanKabinetswisselRequest request;
    request.set_unit(a.unit);
    for (auto [pairs, flag, field] : {std::tuple{&a.successors, "--successor", request.mutable_successors()},
                                      std::tuple{&a.hybrid, "--hybrid", request.mutable_hybrid()},
                                      std::tuple{&a.archives, "--archive", request.mutable_archives()}}) {
      if (absl::Status s = AddChoices(*pairs, flag, field); !s.ok()) return s;
    }
    absl::StatusOr<pb::KabinetswisselPlan> r = c.Call(c.vault(), &pb::Vault::Stub::PlanKabinetswissel, request);
    if (!r.ok()) return r.status();
    const std::string path = a.out.empty() ? absl::StrCat(r->id(), ".json") : a.out;
    {
      std::ofstream file(path, std::ios::trunc);
      PrintJson(*r, file);
      if (!file) return absl::InternalError(absl::StrCat("cannot write the plan to ", path));
    }
    PrintListing(a.format, PlanTable(*r, false), *r, std::cout);
    if (a.format == "table") {
      std::cout << "\nplan " << r->id() << " written to " << path << " (the vault keeps its own copy).\n"
                << "Carry it out with: kluis kabinetswissel apply " << path << "\n";
    }
    return absl::OkStatus();
  }
  if (command == "kabinetswissel apply") {
    absl::StatusOr<std::string> text = ReadTextFile(a.plan);
    if (!text.ok()) return text.status();
    pb::KabinetswisselPlan plan;
    if (!google::protobuf::util::JsonStringToMessage(*text, &plan).ok() || plan.id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(a.plan, " is not a kabinetswissel plan file"));
    }
    pb::ApplyKabinetswisselRequest request;
    request.set_plan_id(plan.id());
    absl::StatusOr<pb::ApplyKabinetswisselResponse> r = c.Call(c.vault(), &pb::Vault::Stub::ApplyKabinetswissel, request);
    if (!r.ok()) return r.status();
    PrintListing(a.format, PlanTable(r->plan(), true), *r, std::cout);
    for (pb::HandedBackAuthenticator& h : *r->mutable_handed_back()) {
      if (a.format == "table") {
        std::cout << "\nauthenticator of " << h.account() << ", to hand to " << h.to() << " in person:\n"
                  << h.otpauth_uri() << "\n";
        if (::isatty(STDOUT_FILENO)) {
          absl::StatusOr<std::string> qr = TerminalQr(h.otpauth_uri());
          if (qr.ok()) std::cout << "\n" << *qr << "\n";
        }
      }
      crypto::WipeString(*h.mutable_otpauth_uri());
    }
    if (!r->complete()) {
      int failed = 0;
      for (const pb::KabinetswisselAccount& account : r->plan().accounts()) {
        for (const pb::KabinetswisselStep& step : account.steps()) failed += step.state() == "failed";
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "kabinetswissel ", plan.id(), " is not complete: ", failed,
          " step(s) failed (see DETAIL); put it right and run kluis kabinetswissel apply again"));
    }
    if (a.format == "table") std::cout << "\nkabinetswissel " << plan.id() << " complete.\n";
    return absl::OkStatus();
  }
  if (command == "kabinetswissel archive") {
    pb::RecordArchiveReferenceRequest request;
    request.set_account(a.account);
    request.set_reference(a.ref);
    absl::StatusOr<pb::RecordArchiveReferenceResponse> r =
        c.Call(c.vault(), &pb::Vault::Stub::RecordArchiveReference, request);
    if (!r.ok()) return r.status();
    std::cout << "archive of " << a.account << " recorded: " << a.ref << "\n";
    return absl::OkStatus();
  }
  if (command == "secret set") {
    absl::StatusOr<crypto::SecretBytes> password = ReadSecret(absl::StrCat("password for ", a.account, ": "));
    if (!password.ok()) return password.status();
    pb::SetPasswordRequest request;
    request.set_account(a.account);
    request.set_password(std::string(password->Reveal()));
    absl::StatusOr<pb::SetPasswordResponse> r = c.Call(c.vault(), &pb::Vault::Stub::SetPassword, request);
    // The request's copy of the password is wiped before the message is freed.
    crypto::WipeString(*request.mutable_password());
    if (!r.ok()) return r.status();
    std::cout << "password of " << a.account << " stored (version " << r->version() << ")\n";
    return absl::OkStatus();
  }
  if (command == "secret set-totp") {
    absl::StatusOr<crypto::SecretBytes> seed =
        ReadSecret(absl::StrCat("otpauth:// URI or base32 seed for ", a.account, ": "));
    if (!seed.ok()) return seed.status();
    pb::SetTotpRequest request;
    request.set_account(a.account);
    request.set_otpauth(std::string(seed->Reveal()));
    request.set_pending(a.pending);
    absl::StatusOr<pb::SetTotpResponse> r = c.Call(c.vault(), &pb::Vault::Stub::SetTotp, request);
    crypto::WipeString(*request.mutable_otpauth());
    if (!r.ok()) return r.status();
    if (a.pending) {
      std::cout << "new TOTP key of " << a.account << " stored as pending (version " << r->version()
                << "); kluis totp " << a.account << " shows its code for the platform's confirmation; then kluis rotate "
                << a.account << " --confirm\n";
    } else {
      std::cout << "TOTP key of " << a.account << " stored (version " << r->version()
                << "); kluis totp " << a.account << " gives the current code\n";
    }
    return absl::OkStatus();
  }
  if (command == "secret set-recovery") {
    absl::StatusOr<std::vector<crypto::SecretBytes>> codes = ReadSecretLines("recovery code");
    if (!codes.ok()) return codes.status();
    pb::SetRecoveryCodesRequest request;
    request.set_account(a.account);
    for (const crypto::SecretBytes& code : *codes) request.add_codes(std::string(code.Reveal()));
    absl::StatusOr<pb::SetRecoveryCodesResponse> r = c.Call(c.vault(), &pb::Vault::Stub::SetRecoveryCodes, request);
    for (std::string& code : *request.mutable_codes()) crypto::WipeString(code);
    if (!r.ok()) return r.status();
    std::cout << r->count() << " recovery codes of " << a.account << " stored; earlier ones are gone\n";
    return absl::OkStatus();
  }
  if (command == "totp") {
    pb::GetTotpCodeRequest request;
    request.set_account(a.account);
    request.set_reason(a.reason);
    request.set_request_id(a.request_id);
    request.set_break_glass(a.emergency);
    absl::StatusOr<pb::TotpCode> r = c.Call(c.vault(), &pb::Vault::Stub::GetTotpCode, request);
    if (!r.ok()) return r.status();
    if (a.field == "code") {
      std::cout << r->code() << "\n";
    } else {
      std::cout << "account:  " << r->account() << "\n";
      PrintTotp(*r);
    }
    return absl::OkStatus();
  }
  if (command == "totp export") {
    pb::ExportTotpRequest request;
    request.set_account(a.account);
    request.set_reason(a.reason);
    absl::StatusOr<pb::ExportTotpResponse> r = c.Call(c.vault(), &pb::Vault::Stub::ExportTotp, request);
    if (!r.ok()) return r.status();
    std::cout << r->otpauth_uri() << "\n";
    if (::isatty(STDOUT_FILENO) || a.field == "qr") {
      absl::StatusOr<std::string> qr = TerminalQr(r->otpauth_uri());
      if (qr.ok()) std::cout << "\n" << *qr << "\n";
    }
    std::cerr << "the authenticator has left the vault: the 2FA of " << a.account
              << " is due to be set up anew (kluis due)" << std::endl;
    crypto::WipeString(*r->mutable_otpauth_uri());
    return absl::OkStatus();
  }
  if (command == "recovery") {
    pb::ReleaseRecoveryCodeRequest request;
    request.set_account(a.account);
    request.set_reason(a.reason);
    request.set_request_id(a.request_id);
    request.set_break_glass(a.emergency);
    absl::StatusOr<pb::RecoveryCode> r = c.Call(c.vault(), &pb::Vault::Stub::ReleaseRecoveryCode, request);
    if (!r.ok()) return r.status();
    std::cout << "recovery code: " << r->code() << "  (now used; " << r->remaining() << " left)\n";
    crypto::WipeString(*r->mutable_code());
    return absl::OkStatus();
  }
  if (command == "rotate") {
    if (a.confirm && a.abort) return absl::InvalidArgumentError("give --confirm or --abort, not both");
    pb::RotateRequest request;
    request.set_account(a.account);
    request.set_step(a.confirm ? pb::RotateRequest::CONFIRM : a.abort ? pb::RotateRequest::ABORT : pb::RotateRequest::START);
    absl::StatusOr<pb::RotateResponse> r = c.Call(c.vault(), &pb::Vault::Stub::Rotate, request);
    if (!r.ok()) return r.status();
    if (request.step() == pb::RotateRequest::START) {
      std::cout << "new password: " << r->new_password() << "\n"
                << "set it on the platform now, then: kluis rotate " << a.account << " --confirm"
                << " (or --abort). Until then kluis get shows both.\n";
      crypto::WipeString(*r->mutable_new_password());
    } else {
      std::cout << (a.confirm ? "confirmed" : "aborted") << " for " << r->account() << ":"
                << (r->password() ? " password" : "") << (r->totp() ? " TOTP key" : "");
      if (a.confirm) std::cout << "; " << r->flags_cleared() << " rotation flag(s) cleared";
      std::cout << "\n";
    }
    return absl::OkStatus();
  }
  if (command == "handover") {
    pb::HandoverRequest request;
    request.set_account(a.account);
    request.set_to(a.user);
    request.set_reason(a.reason);
    request.set_from(a.actor);
    absl::StatusOr<pb::HandoverResponse> r = c.Call(c.vault(), &pb::Vault::Stub::Handover, request);
    if (!r.ok()) return r.status();
    std::cout << r->account() << " handed over"
              << (r->from().empty() ? "" : absl::StrCat(" from ", absl::StrJoin(r->from(), ", "))) << " to "
              << r->to() << "; their access ended now. The password is due for rotation: kluis rotate "
              << r->account() << "\n";
    return absl::OkStatus();
  }
  if (command == "secret generate") {
    pb::GeneratePasswordRequest request;
    request.set_platform(a.platform);
    absl::StatusOr<pb::GeneratePasswordResponse> r = c.Call(c.vault(), &pb::Vault::Stub::GeneratePassword, request);
    if (!r.ok()) return r.status();
    std::cout << r->password() << "\n";
    crypto::WipeString(*r->mutable_password());
    return absl::OkStatus();
  }
  if (command == "request") {
    pb::RequestAccessRequest request;
    request.set_account(a.account);
    request.set_purpose(a.purpose);
    request.set_reason(a.reason);
    absl::StatusOr<pb::AccessRequest> r = c.Call(c.vault(), &pb::Vault::Stub::RequestAccess, request);
    if (!r.ok()) return r.status();
    PrintRequest(*r);
    std::cout << "the beheerders and teamchef see it in kluis inbox; once approved: kluis get "
              << r->account() << " --request " << r->id() << "\n";
    return absl::OkStatus();
  }
  if (command == "requests") {
    absl::StatusOr<pb::ListRequestsResponse> r =
        c.Call(c.vault(), &pb::Vault::Stub::ListRequests, pb::ListRequestsRequest());
    if (!r.ok()) return r.status();
    if (a.format != "table") {
      pb::ListRequestsResponse both = *r;
      PrintListing(a.format, RequestsTable(both.mine()), both, std::cout);
      return absl::OkStatus();
    }
    std::cout << "mine:\n";
    RequestsTable(r->mine()).PrintTable(std::cout);
    std::cout << "\nto decide:\n";
    RequestsTable(r->to_decide()).PrintTable(std::cout);
    return absl::OkStatus();
  }
  if (command == "approve" || command == "deny") {
    pb::DecideRequestRequest request;
    request.set_id(a.request_id);
    request.set_approve(command == "approve");
    request.set_reason(a.reason);
    absl::StatusOr<int64_t> ttl = ParseDurationArg(a.ttl);
    if (!ttl.ok()) return ttl.status();
    request.set_ttl_seconds(*ttl);
    absl::StatusOr<pb::AccessRequest> r = c.Call(c.vault(), &pb::Vault::Stub::DecideRequest, request);
    if (!r.ok()) return r.status();
    PrintRequest(*r);
    return absl::OkStatus();
  }
  if (command == "escalate") {
    pb::EscalateRequestRequest request;
    request.set_id(a.request_id);
    request.set_reason(a.reason);
    absl::StatusOr<pb::AccessRequest> r = c.Call(c.vault(), &pb::Vault::Stub::EscalateRequest, request);
    if (!r.ok()) return r.status();
    PrintRequest(*r);
    std::cout << "the landelijk regisseur decides; that decision stands\n";
    return absl::OkStatus();
  }
  if (command == "inbox") {
    absl::StatusOr<pb::Inbox> r = c.Call(c.vault(), &pb::Vault::Stub::GetInbox, pb::GetInboxRequest());
    if (!r.ok()) return r.status();
    if (a.format == "json") {
      PrintJson(*r, std::cout);
      return absl::OkStatus();
    }
    std::cout << "waiting for your decision (kluis approve ID | kluis deny ID --reason R):\n";
    if (r->to_decide().empty()) std::cout << "  nothing\n";
    for (const pb::AccessRequest& q : r->to_decide()) {
      std::cout << "  " << q.id() << "  " << q.account() << "  " << q.requester() << "  " << q.purpose()
                << "  " << q.state() << "  " << q.reason() << "\n";
    }
    std::cout << "your grants (kluis get ACCOUNT --request ID):\n";
    if (r->grants().empty()) std::cout << "  none\n";
    for (const pb::AccessRequest& q : r->grants()) {
      std::cout << "  " << q.id() << "  " << q.account() << "  until " << FormatTime(q.grant_expires_unix()) << "\n";
    }
    std::cout << "notices:\n";
    if (r->notices().empty()) std::cout << "  none\n";
    for (const pb::Notice& n : r->notices()) {
      std::cout << "  " << FormatTime(n.created_unix()) << "  [" << n.kind() << "] " << n.text() << "\n";
    }
    return absl::OkStatus();
  }
  if (command == "due") {
    absl::StatusOr<pb::ListDueResponse> r = c.Call(c.vault(), &pb::Vault::Stub::ListDue, pb::ListDueRequest());
    if (!r.ok()) return r.status();
    Table table{{"ACCOUNT", "RAISED", "BY", "CAUSE"}, {}};
    for (const pb::RotationFlag& f : r->flags()) {
      table.rows.push_back({f.account(), FormatTime(f.raised_unix()), f.raised_by(), f.cause()});
    }
    PrintListing(a.format, table, *r, std::cout);
    return absl::OkStatus();
  }
  if (command == "get" || command == "emergency") {
    pb::ReleaseCredentialRequest request;
    request.set_account(a.account);
    request.set_reason(a.reason);
    request.set_request_id(a.request_id);
    request.set_break_glass(command == "emergency");
    request.set_previous_version(a.previous);
    absl::StatusOr<pb::ReleaseCredentialResponse> r = c.Call(c.vault(), &pb::Vault::Stub::ReleaseCredential, request);
    if (!r.ok()) return r.status();
    if (a.field == "password") {
      std::cout << r->password() << "\n";
    } else if (a.field == "email") {
      std::cout << r->linked_email() << "\n";
    } else {
      std::cout << "account:  " << r->account() << "\n"
                << "login:    " << r->handle() << "\n"
                << "password: " << r->password() << "\n"
                << "e-mail:   " << (r->linked_email().empty() ? "-" : r->linked_email()) << "\n"
                << "version:  " << r->version() << " (set " << FormatTime(r->set_unix()) << ")\n";
      if (r->has_totp()) PrintTotp(r->totp());
      if (!r->pending_password().empty()) {
        std::cout << "pending:  " << r->pending_password() << "  (version " << r->pending_version()
                  << ", not yet confirmed: kluis rotate " << r->account() << " --confirm)\n";
      }
    }
    crypto::WipeString(*r->mutable_pending_password());
    crypto::WipeString(*r->mutable_password());
    return absl::OkStatus();
  }
  if (command == "audit export") return ExportAudit(c, a);
  if (command == "audit pubkey") {
    absl::StatusOr<pb::AuditPublicKey> r =
        c.Call(c.audit(), &pb::Audit::Stub::GetAuditPublicKey, pb::GetAuditPublicKeyRequest());
    if (!r.ok()) return r.status();
    std::cout << crypto::HexEncode(r->public_key()) << "\n" << "fingerprint " << r->fingerprint() << "\n";
    return absl::OkStatus();
  }
  if (command == "custody report") {
    pb::CustodyReportRequest request;
    request.set_unit(a.unit);
    absl::StatusOr<pb::CustodyReportResponse> r = c.Call(c.audit(), &pb::Audit::Stub::CustodyReport, request);
    if (!r.ok()) return r.status();
    Table accounts{{"ACCOUNT", "KIND", "TEAM", "BEHEERDERS", "TEAMCHEF", "PASSWORD", "E-MAIL", "2FA", "RECOVERY",
                    "AGE (DAYS)", "FLAGS", "REQUESTS", "LAST RELEASE", "VERDICT"},
                   {}};
    for (const pb::CustodyAccount& x : r->accounts()) {
      std::vector<std::string> beheerders;
      for (const pb::CustodyBeheerder& b : x.beheerders()) {
        beheerders.push_back(b.active() ? b.user() : absl::StrCat(b.user(), " (inactive)"));
      }
      accounts.rows.push_back({x.account(), x.kind(), x.team(), beheerders.empty() ? "-" : absl::StrJoin(beheerders, ", "),
                               YesNo(x.teamchef_covered()), YesNo(x.has_password()), YesNo(x.has_linked_email()),
                               YesNo(x.has_totp()), std::to_string(x.recovery_codes_left()),
                               x.has_password() ? std::to_string(x.password_age_days()) : "-",
                               std::to_string(x.open_rotation_flags()), std::to_string(x.pending_requests()),
                               FormatTime(x.last_release_unix()),
                               x.in_order() ? (x.warnings().empty()
                                                   ? std::string("in order")
                                                   : absl::StrCat("in order; advice: ", absl::StrJoin(x.warnings(), "; ")))
                                            : absl::StrJoin(x.problems(), "; ")});
    }
    Table teams{{"TEAM", "ACCOUNTS", "IN ORDER", "NOT IN ORDER"}, {}};
    for (const pb::CustodyTeamTotals& t : r->teams()) {
      teams.rows.push_back({t.team(), std::to_string(t.accounts()), std::to_string(t.in_order()),
                            std::to_string(t.accounts() - t.in_order())});
    }
    if (a.format == "json") {
      PrintJson(*r, std::cout);
    } else if (a.format == "csv") {
      accounts.PrintCsv(std::cout);
      std::cout << "\n";
      teams.PrintCsv(std::cout);
    } else {
      accounts.PrintTable(std::cout);
      std::cout << "\n";
      teams.PrintTable(std::cout);
    }
    return absl::OkStatus();
  }
  if (command == "audit list" || command == "audit access") {
    pb::ListAuditRequest request;
    if (absl::Status s = FillAuditFilter(a, &request); !s.ok()) return s;
    request.set_limit(a.limit);
    request.set_releases_only(command == "audit access");
    if (command == "audit access" && a.actor.empty() && a.account.empty()) {
      return absl::InvalidArgumentError("audit access needs --actor USER or --account ACCOUNT");
    }
    absl::StatusOr<pb::ListAuditResponse> r = c.Call(c.audit(), &pb::Audit::Stub::ListAudit, request);
    if (!r.ok()) return r.status();
    Table table{{"SEQ", "TIME (UTC)", "ACTOR", "ROLE", "ACTION", "ACCOUNT", "DECISION", "RULE", "OUTCOME", "REASON",
                 "CERTIFICATE"},
                {}};
    for (const pb::AuditRecord& rec : r->records()) {
      table.rows.push_back({std::to_string(rec.seq()),
                            absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMicros(rec.time_unix_micros()),
                                             absl::UTCTimeZone()),
                            rec.actor(), rec.role(), rec.action(), rec.account(), rec.decision(), rec.rule(),
                            rec.outcome(), rec.reason(), rec.certificate()});
    }
    PrintListing(a.format, table, *r, std::cout);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown command ", command));
}

}  // namespace

int RunKluis(int argc, char** argv) {
  CLI::App app{"kluis: the Kluis credential vault client"};
  app.require_subcommand(1);
  app.footer(
      "Accounts are named PLATFORM/HANDLE (x/WA_Lombardijen1, instagram/minpres); the bare handle is enough\n"
      "when only one platform has it. Secrets are read from standard input or a no-echo prompt, never argv.\n"
      "Exit codes: 0 ok; 1 usage or bad input (also a missing or too-short reason); 2 denied; 3 not found\n"
      "(or not yours to see); 4 needs approval or another step first (no grant yet, or one used, denied or\n"
      "expired; a request, account or rotation in the wrong state); 5 server unavailable or failing, or not authenticated (disabled user, revoked\n"
      "certificate); 6 verification failed (damaged data, an audit export that does not verify).\n"
      "kluis COMMAND --help describes each command.");
  app.fallthrough();  // --profile may stand after the subcommand too
  Args a;
  app.add_option("--profile", a.profile, "profile directory (default $KLUIS_PROFILE, ~/.config/kluis)");
  const auto formats = CLI::IsMember({"table", "json", "csv"});
  auto listing = [&](CLI::App* sub) {
    sub->add_option("--format", a.format, "table, json or csv")->check(formats);
  };
  std::vector<std::pair<CLI::App*, std::string>> commands;
  auto command = [&](CLI::App* parent, const std::string& name, const std::string& help,
                     const std::string& full) {
    CLI::App* sub = parent->add_subcommand(name, help);
    commands.emplace_back(sub, full);
    return sub;
  };

  CLI::App* enroll = command(&app, "enroll", "enroll this machine with a one-time code", "enroll");
  enroll->add_option("--server", a.server, "vault address, host:port")->required();
  enroll->add_option("--ca-cert", a.ca_cert, "the vault's CA certificate (PEM)")->required();
  enroll->add_option("--user", a.user, "your user name")->required();
  enroll->add_option("--code", a.code, "one-time enrollment code (omit to be prompted)");

  listing(command(&app, "whoami", "who you are and your roles", "whoami"));

  CLI::App* unit = app.add_subcommand("unit", "units")->require_subcommand(1);
  CLI::App* unit_add = command(unit, "add", "add a unit", "unit add");
  unit_add->add_option("UNIT", a.unit)->required();
  unit_add->add_option("--name", a.name, "display name");

  CLI::App* team = app.add_subcommand("team", "teams")->require_subcommand(1);
  CLI::App* team_add = command(team, "add", "add a team to a unit", "team add");
  team_add->add_option("UNIT", a.unit)->required();
  team_add->add_option("TEAM", a.team)->required();
  team_add->add_option("--name", a.name, "display name");

  CLI::App* user = app.add_subcommand("user", "users")->require_subcommand(1);
  CLI::App* user_add = command(user, "add", "add a user; prints a one-time enrollment code", "user add");
  user_add->add_option("USER", a.user)->required();
  user_add->add_option("--name", a.name, "full name")->required();
  CLI::App* user_disable = command(user, "disable", "disable a user at once", "user disable");
  user_disable->add_option("USER", a.user)->required();
  CLI::App* user_code = command(user, "code", "a new enrollment code for a user (enrolling with it revokes "
                                "the user's earlier certificates)", "user code");
  user_code->add_option("USER", a.user)->required();
  CLI::App* user_certs = command(user, "certs", "a user's certificates: fingerprint, issued, expires, revoked",
                                 "user certs");
  user_certs->add_option("USER", a.user)->required();
  listing(user_certs);

  CLI::App* cert = app.add_subcommand("cert", "client certificates")->require_subcommand(1);
  CLI::App* cert_revoke = command(cert, "revoke", "revoke one certificate (a lost laptop): refused on its next call",
                                  "cert revoke");
  cert_revoke->add_option("FINGERPRINT", a.fingerprint, "as kluis user certs prints it")->required();
  cert_revoke->add_option("--reason", a.reason, "why (audited)")->required();

  CLI::App* role = app.add_subcommand("role", "role bindings")->require_subcommand(1);
  for (const char* verb : {"grant", "revoke"}) {
    CLI::App* sub = command(role, verb, std::string(verb) + " a role", std::string("role ") + verb);
    sub->add_option("USER", a.user)->required();
    sub->add_option("ROLE", a.role)->required();
    sub->add_option("--account", a.scope_account, "scope: an account");
    sub->add_option("--team", a.scope_team, "scope: a team (UNIT/TEAM)");
    sub->add_option("--unit", a.scope_unit, "scope: a unit");
    sub->add_flag("--global", a.scope_global, "scope: everything");
    if (std::string(verb) == "grant") {
      sub->footer(
          "ROLE is one of: beheerder (--account), teamchef (--team), regisseur (--unit), landelijk-regisseur\n"
          "(--global), communicatieadviseur (--unit), bewindspersoon (--account), politiek-assistent (--account),\n"
          "auditor (--unit or --global), operator (--global). Nobody grants a role to themselves.");
    }
    if (std::string(verb) == "grant") sub->add_option("--until", a.until, "end of validity (date or RFC 3339)");
  }
  CLI::App* role_list = command(role, "list", "list role bindings", "role list");
  role_list->add_option("USER", a.user);
  listing(role_list);

  CLI::App* account = app.add_subcommand("account", "accounts")->require_subcommand(1);
  CLI::App* account_add = command(account, "add", "register an account", "account add");
  account_add->add_option("ACCOUNT", a.account, "PLATFORM/HANDLE")->required();
  account_add->add_option("--team", a.team, "owning team (UNIT/TEAM)")->required();
  account_add->add_option("--kind", a.kind,
                          "politie-alleen (one officer), politie-samen (a team), organisatie, corporate (a "
                          "ministry's minister account), hybrid (the minister's own, shared by agreement). "
                          "Private accounts (prive) are refused: the organisation does not facilitate them (R7)")
      ->required();
  account_add->add_option("--email", a.email, "linked e-mail address (kept sealed)");
  account_add->add_flag("--mandatory", a.mandatory, "a mandatory geographic account: never stopped, only handed over (R8)");
  CLI::App* account_stop = command(account, "stop", "stop an account (R8): it waits to be deleted on the platform",
                                   "account stop");
  account_stop->add_option("ACCOUNT", a.account)->required();
  account_stop->add_option("--reason", a.reason, "why (recorded; the regisseur or beheerders are told)")->required();
  CLI::App* account_deleted = command(account, "deleted",
                                      "record that a stopped account was deleted on the platform (R8): its secrets "
                                      "are destroyed at once",
                                      "account deleted");
  account_deleted->add_option("ACCOUNT", a.account)->required();
  account_deleted->add_option("--ref", a.ref, "the platform's confirmation or a ticket, where it can be checked")
      ->required();
  CLI::App* account_list = command(account, "list", "accounts you have a role on", "account list");
  account_list->add_option("--unit", a.unit);
  account_list->add_option("--team", a.team);
  listing(account_list);
  CLI::App* account_show = command(account, "show", "one account", "account show");
  account_show->add_option("ACCOUNT", a.account)->required();
  account_show->add_option("--format", a.format)->check(CLI::IsMember({"table", "json"}));

  CLI::App* secret = app.add_subcommand("secret", "store secrets")->require_subcommand(1);
  CLI::App* secret_set = command(secret, "set", "store the password (from stdin or a prompt)", "secret set");
  secret_set->add_option("ACCOUNT", a.account)->required();

  CLI::App* secret_totp = command(secret, "set-totp", "store the 2FA key: otpauth:// URI or base32 seed (stdin or prompt)",
                                 "secret set-totp");
  secret_totp->add_option("ACCOUNT", a.account)->required();
  secret_totp->add_flag("--pending", a.pending, "a new key that waits for kluis rotate --confirm");
  CLI::App* secret_generate = command(secret, "generate", "show a password made by a platform's rules (not stored)",
                                      "secret generate");
  secret_generate->add_option("--platform", a.platform, "x, instagram, facebook, linkedin, threads, tiktok, youtube")
      ->required();
  CLI::App* rotate = command(&app, "rotate", "two-phase password rotation: new pending password, then --confirm",
                             "rotate");
  rotate->add_option("ACCOUNT", a.account)->required();
  rotate->add_flag("--confirm", a.confirm, "the new password (or TOTP key) is set on the platform: make it current");
  rotate->add_flag("--abort", a.abort, "drop the pending password (or TOTP key)");
  CLI::App* secret_recovery = command(secret, "set-recovery", "store recovery codes, one per line (stdin or prompt)",
                                      "secret set-recovery");
  secret_recovery->add_option("ACCOUNT", a.account)->required();

  CLI::App* totp = command(&app, "totp", "the current 2FA code of an account (the seed stays in the vault)", "totp");
  totp->add_option("ACCOUNT", a.account);
  totp->add_option("--reason", a.reason, "why (recorded)");
  totp->add_option("--request", a.request_id, "use the grant of this approved request");
  totp->add_flag("--emergency", a.emergency, "break-glass, for roles whose rule is break-glass (needs --reason)");
  totp->add_option("--field", a.field, "print only the code")->check(CLI::IsMember({"code"}));
  CLI::App* totp_export = command(totp, "export", "hand the authenticator over: otpauth URI and QR code", "totp export");
  totp_export->add_option("ACCOUNT", a.account)->required();
  totp_export->add_option("--reason", a.reason, "why (recorded; the regisseur is told)")->required();
  totp_export->add_flag("--qr{qr}", a.field, "draw the QR code even when not on a terminal");

  CLI::App* recovery = command(&app, "recovery", "release one recovery code (it is used up)", "recovery");
  recovery->add_option("ACCOUNT", a.account)->required();
  recovery->add_option("--reason", a.reason, "why (recorded)");
  recovery->add_option("--request", a.request_id, "use the grant of this approved request");
  recovery->add_flag("--emergency", a.emergency, "break-glass (needs --reason)");

  CLI::App* get = command(&app, "get", "release the login of an account", "get");
  get->add_option("ACCOUNT", a.account, "PLATFORM/HANDLE, or the bare handle when only one platform has it")->required();
  get->footer(
      "The beheerder gets the login at any time. --reason is needed where the rules ask for one: a replaced\n"
      "version (--previous), a stopped account (to delete it), a regisseur's request. A regisseur or\n"
      "minister first asks (kluis request), and once it is approved uses --request ID; the grant works once.\n"
      "A teamchef (or the communicatieadviseur in a crisis) takes it as break-glass: kluis emergency.");
  get->add_option("--reason", a.reason, "why (recorded in the audit log)");
  get->add_option("--field", a.field, "print only this field")->check(CLI::IsMember({"password", "email"}));
  get->add_option("--request", a.request_id, "use the grant of this approved request");
  get->add_option("--previous", a.previous, "a replaced version (beheerder, with --reason)");

  CLI::App* emergency = command(&app, "emergency", "break-glass release, with a reason; everyone concerned is told", "emergency");
  emergency->add_option("ACCOUNT", a.account)->required();
  emergency->add_option("--reason", a.reason, "why (recorded, and sent to the beheerders and regisseur)")->required();
  emergency->add_option("--field", a.field, "print only this field")->check(CLI::IsMember({"password", "email"}));

  CLI::App* request = command(&app, "request", "ask for the login of an account", "request");
  request->add_option("ACCOUNT", a.account)->required();
  request->add_option("--purpose", a.purpose, "koppelen, ziekte, verlof, uitdienst, overlijden, stopzetten, overig")
      ->required();
  request->add_option("--reason", a.reason, "what for")->required();
  listing(command(&app, "requests", "my requests and those I can decide", "requests"));
  CLI::App* approve = command(&app, "approve", "approve a request", "approve");
  approve->add_option("ID", a.request_id)->required();
  approve->add_option("--ttl", a.ttl, "a shorter grant than the policy's: 2d, 4h or 90m");
  approve->add_option("--reason", a.reason, "note (recorded)");
  CLI::App* deny = command(&app, "deny", "deny a request", "deny");
  deny->add_option("ID", a.request_id)->required();
  deny->add_option("--reason", a.reason, "why (the requester sees it)")->required();
  CLI::App* escalate = command(&app, "escalate", "take a denied request to the landelijk regisseur", "escalate");
  escalate->add_option("ID", a.request_id)->required();
  escalate->add_option("--reason", a.reason, "why (recorded)");
  CLI::App* inbox = command(&app, "inbox", "requests to decide, notices, my grants", "inbox");
  inbox->add_option("--format", a.format)->check(CLI::IsMember({"table", "json"}));
  listing(command(&app, "due", "accounts whose password is due for rotation", "due"));

  CLI::App* audit = app.add_subcommand("audit", "the audit log")->require_subcommand(1);
  CLI::App* audit_list = command(audit, "list", "list audit records", "audit list");
  audit_list->add_option("--since", a.since, "from (date or RFC 3339)");
  audit_list->add_option("--until", a.until, "before (date or RFC 3339)");
  audit_list->add_option("--account", a.account);
  audit_list->add_option("--actor", a.actor);
  audit_list->add_option("--limit", a.limit, "at most this many records (default 1000)");
  listing(audit_list);
  CLI::App* audit_access = command(audit, "access", "who released what, when, under which rule", "audit access");
  audit_access->add_option("--actor", a.actor, "what this user released");
  audit_access->add_option("--account", a.account, "who released this account");
  audit_access->add_option("--since", a.since, "from (date or RFC 3339)");
  audit_access->add_option("--until", a.until, "before (date or RFC 3339)");
  listing(audit_access);

  CLI::App* audit_export = command(audit, "export", "the log for offline verification (jsonl) or reading (csv)",
                                  "audit export");
  audit_export->add_option("--format", a.format, "jsonl (verifiable) or csv (RFC 4180)")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->required();
  audit_export->add_option("--out", a.out, "the file to write")->required();
  audit_export->add_option("--since", a.since, "from (date or RFC 3339)");
  audit_export->add_option("--until", a.until, "before (date or RFC 3339)");
  audit_export->add_option("--account", a.account);
  audit_export->add_option("--actor", a.actor);
  CLI::App* audit_verify = command(audit, "verify", "check an export offline: exit 0, or 6 naming the first bad record",
                                  "audit verify");
  audit_verify->add_option("FILE", a.plan, "a JSON Lines export")->required();
  audit_verify->add_option("--public-key", a.public_key, "the vault's checkpoint key: hex, or a file (kluis audit pubkey)")
      ->required();
  command(audit, "pubkey", "the key audit checkpoints are signed with, and its fingerprint", "audit pubkey");

  CLI::App* custody = app.add_subcommand("custody", "custody of the unit's passwords (R4)")->require_subcommand(1);
  CLI::App* custody_report = command(custody, "report", "per account: is custody in order, and if not why",
                                     "custody report");
  custody_report->add_option("--unit", a.unit, "the unit (default: every unit in your scope)");
  listing(custody_report);

  CLI::App* handover = command(&app, "handover", "hand an account to a successor (R6)", "handover");
  handover->add_option("ACCOUNT", a.account)->required();
  handover->add_option("--to", a.user, "the successor")->required();
  handover->add_option("--reason", a.reason, "ziekte, verlof, uitdienst, overlijden, functiewijziging, overig")
      ->required()
      ->check(CLI::IsMember({"ziekte", "verlof", "uitdienst", "overlijden", "functiewijziging", "overig"}));
  handover->add_option("--from", a.actor, "the beheerder who hands over (default: you, or all beheerders)");

  CLI::App* kabinetswissel =
      app.add_subcommand("kabinetswissel", "change of cabinet for a ministry (R13, R14)")->require_subcommand(1);
  CLI::App* kw_plan = command(kabinetswissel, "plan", "print every step for every minister account and write a plan file",
                              "kabinetswissel plan");
  kw_plan->add_option("--unit", a.unit, "the ministry unit")->required();
  kw_plan->add_option("--successor", a.successors, "corporate ACCOUNT=USER (the new bewindspersoon)");
  kw_plan->add_option("--hybrid", a.hybrid, "hybrid ACCOUNT=handback|keep-2fa-removed");
  kw_plan->add_option("--archive", a.archives, "corporate ACCOUNT=REFERENCE (archive account or RDDI reference)");
  kw_plan->add_option("--out", a.out, "plan file (default PLAN-ID.json)");
  listing(kw_plan);
  CLI::App* kw_apply = command(kabinetswissel, "apply", "carry out a plan; run again to finish after a failure",
                               "kabinetswissel apply");
  kw_apply->add_option("PLAN", a.plan, "the plan file")->required();
  kw_apply->add_option("--format", a.format)->check(CLI::IsMember({"table", "json"}));
  CLI::App* kw_archive = command(kabinetswissel, "archive", "record where a corporate account's posts are archived",
                                 "kabinetswissel archive");
  kw_archive->add_option("ACCOUNT", a.account)->required();
  kw_archive->add_option("--ref", a.ref, "archive account or RDDI reference")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Point to the help of the command that was being parsed, if one was.
    std::string where;
    for (const auto& [sub, name] : commands) {
      if (sub->parsed()) where = name;
    }
    // A first word that is no command is named as such (CLI11 would only say one is required).
    std::string unknown;
    for (int i = 1; where.empty() && i < argc; ++i) {
      const std::string word = argv[i];
      if (word == "--profile") {
        ++i;
        continue;
      }
      if (absl::StartsWith(word, "-")) continue;
      const auto known = app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == word; });
      if (known.empty()) {
        unknown = word;
      } else {
        where = word;  // a group such as "role": its help lists its commands
      }
      break;
    }
    if (!unknown.empty()) {
      std::cerr << "kluis: unknown command \"" << unknown << "\" (see kluis --help)" << std::endl;
    } else {
      std::cerr << "kluis: " << e.what() << " (see kluis " << (where.empty() ? "" : where + " ") << "--help)"
                << std::endl;
    }
    return kExitUsage;
  }

  std::string chosen;
  for (const auto& [sub, name] : commands) {
    if (sub->parsed()) chosen = name;
  }
  absl::Status result;
  if (chosen == "enroll") {
    result = Enroll(a);
  } else if (chosen == "audit verify") {
    result = VerifyAuditFile(a);  // offline: no server, no profile
  } else {
    absl::StatusOr<Profile> profile = Profile::Load(Profile::DefaultDir(a.profile));
    if (!profile.ok()) {
      result = profile.status();
    } else {
      absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(*profile);
      result = client.ok() ? Run(**client, chosen, a) : client.status();
    }
  }
  if (!result.ok()) {
    std::cerr << "kluis: " << result.message() << std::endl;
    return ExitCodeFor(result);
  }
  return kExitOk;
}

}  // namespace kluis::client
