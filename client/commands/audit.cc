// The audit log and custody: listing, exporting with proofs, verifying offline (R4 custody report).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "auditfile/export.h"
#include "auditfile/verify.h"
#include "client/cli.h"
#include "client/client.h"
#include "client/commands/common.h"
#include "client/output.h"
#include "crypto/hash.h"

namespace kluis::client {
namespace {

// The flags of the audit and custody commands.
struct AuditFlags {
  std::string account, actor, out, plan, public_key, since, unit, until;
  std::string format = "table";
  int limit = 0;
  std::string page_token;  // audit list and access: always one page
  PageFlags page;          // custody report
};

// The team totals of every page of a custody report, added up by team.
void MoreCustody(pb::CustodyReportResponse& all, const pb::CustodyReportResponse& more) {
  all.mutable_accounts()->MergeFrom(more.accounts());
  for (const pb::CustodyTeamTotals& t : more.teams()) {
    auto same = std::find_if(all.mutable_teams()->begin(), all.mutable_teams()->end(),
                             [&](const pb::CustodyTeamTotals& u) { return u.team() == t.team(); });
    if (same == all.mutable_teams()->end()) {
      *all.add_teams() = t;
    } else {
      same->set_accounts(same->accounts() + t.accounts());
      same->set_in_order(same->in_order() + t.in_order());
    }
  }
}

// The filters that audit list, access and export share.
template <typename Request>
absl::Status FillAuditFilter(const AuditFlags& a, Request* request) {
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
absl::Status ExportAudit(Client& c, const AuditFlags& a) {
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
absl::Status VerifyAuditFile(const AuditFlags& a, const Session&) {
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

absl::Status RunAuditList(Client& c, const AuditFlags& a, const std::string& command) {
  pb::ListAuditRequest request;
  if (absl::Status s = FillAuditFilter(a, &request); !s.ok()) return s;
  request.set_limit(a.limit);
  request.set_page_token(a.page_token);
  request.set_releases_only(command == "audit access");
  if (command == "audit access" && a.actor.empty() && a.account.empty()) {
    return absl::InvalidArgumentError("audit access needs --actor USER or --account ACCOUNT");
  }
  absl::StatusOr<pb::ListAuditResponse> r = c.Call(c.audit(), &pb::Audit::Stub::ListAudit, request);
  if (!r.ok()) return r.status();
  if (!r->next_page_token().empty())
    std::cerr << "more: ask again with --page-token " << r->next_page_token() << "\n";
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

absl::Status RunAuditExport(Client& c, const AuditFlags& a, const std::string&) {
  return ExportAudit(c, a);
}

absl::Status RunAuditPubkey(Client& c, const AuditFlags& a, const std::string&) {
  absl::StatusOr<pb::AuditPublicKey> r =
      c.Call(c.audit(), &pb::Audit::Stub::GetAuditPublicKey, pb::GetAuditPublicKeyRequest());
  if (!r.ok()) return r.status();
  std::cout << crypto::HexEncode(r->public_key()) << "\n" << "fingerprint " << r->fingerprint() << "\n";
  return absl::OkStatus();
}

absl::Status RunCustodyReport(Client& c, const AuditFlags& a, const std::string&) {
  pb::CustodyReportRequest request;
  request.set_unit(a.unit);
  absl::StatusOr<pb::CustodyReportResponse> r = Pages<pb::CustodyReportResponse>(
      a.page,
      [&](int64_t limit, const std::string& token) {
        request.set_limit(static_cast<int32_t>(limit));
        request.set_page_token(token);
        return c.Call(c.audit(), &pb::Audit::Stub::CustodyReport, request);
      },
      MoreCustody);
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

}  // namespace

void AddAuditCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Group<AuditFlags> group(commands);
  AuditFlags& a = group.flags();

  CLI::App* audit = app.add_subcommand("audit", "the audit log")->require_subcommand(1);
  CLI::App* audit_list = group.Add(audit, "list", "list audit records", "audit list");
  audit_list->add_option("--since", a.since, "from (date or RFC 3339)");
  audit_list->add_option("--until", a.until, "before (date or RFC 3339)");
  audit_list->add_option("--account", a.account);
  audit_list->add_option("--actor", a.actor);
  audit_list->add_option("--limit", a.limit,
                         "at most this many records (default 1000, at most 10000)");
  audit_list->add_option("--page-token", a.page_token,
                         "the records after the page that printed this token");
  Commands::Listing(audit_list, a.format);
  CLI::App* audit_access =
      group.Add(audit, "access", "who released what, when, under which rule", "audit access");
  audit_access->add_option("--actor", a.actor, "what this user released");
  audit_access->add_option("--account", a.account, "who released this account");
  audit_access->add_option("--since", a.since, "from (date or RFC 3339)");
  audit_access->add_option("--until", a.until, "before (date or RFC 3339)");
  audit_access->add_option("--limit", a.limit,
                           "at most this many records (default 1000, at most 10000)");
  audit_access->add_option("--page-token", a.page_token,
                           "the records after the page that printed this token");
  Commands::Listing(audit_access, a.format);

  CLI::App* audit_export = group.Add(
      audit, "export", "the log for offline verification (jsonl) or reading (csv)", "audit export");
  audit_export->add_option("--format", a.format, "jsonl (verifiable) or csv (RFC 4180)")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->required();
  audit_export->add_option("--out", a.out, "the file to write")->required();
  audit_export->add_option("--since", a.since, "from (date or RFC 3339)");
  audit_export->add_option("--until", a.until, "before (date or RFC 3339)");
  audit_export->add_option("--account", a.account);
  audit_export->add_option("--actor", a.actor);
  CLI::App* audit_verify = group.Add(
      audit, "verify", "check an export offline: exit 0, or 6 naming the first bad record",
      "audit verify");
  audit_verify->add_option("FILE", a.plan, "a JSON Lines export")->required();
  audit_verify->add_option("--public-key", a.public_key, "the vault's checkpoint key: hex, or a file (kluis audit pubkey)")
      ->required();
  group.Add(audit, "pubkey", "the key audit checkpoints are signed with, and its fingerprint",
            "audit pubkey");

  CLI::App* custody = app.add_subcommand("custody", "custody of the unit's passwords (R4)")->require_subcommand(1);
  CLI::App* custody_report = group.Add(
      custody, "report", "per account: is custody in order, and if not why", "custody report");
  custody_report->add_option("--unit", a.unit, "the unit (default: every unit in your scope)");
  Commands::Listing(custody_report, a.format);
  AddPaging(custody_report, a.page);

  group.HandleOffline("audit verify", VerifyAuditFile);  // offline: no server, no profile
  group.Handle("audit list", RunAuditList);
  group.Handle("audit access", RunAuditList);
  group.Handle("audit export", RunAuditExport);
  group.Handle("audit pubkey", RunAuditPubkey);
  group.Handle("custody report", RunCustodyReport);
}

}  // namespace kluis::client
