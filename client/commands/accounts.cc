// Accounts: registering, listing, showing, stopping (R8) and recording their deletion.
#include "client/commands/common.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/output.h"
#include "kluis/wire/words.h"

namespace kluis::client {
namespace {

// The flags of the account commands.
struct AccountFlags {
  std::string account, email, kind, reason, ref, team, unit;
  std::string format = "table";
  bool mandatory = false;
  PageFlags page;
};

absl::Status RunAccountAdd(Client& c, const AccountFlags& a, const std::string&) {
  pb::AddAccountRequest request;
  const size_t slash = a.account.find('/');
  if (slash == std::string::npos) {
    return absl::InvalidArgumentError("name the account as PLATFORM/HANDLE, e.g. x/WA_Lombardijen1");
  }
  request.set_platform(absl::AsciiStrToLower(a.account.substr(0, slash)));
  request.set_handle(a.account.substr(slash + 1));
  request.set_team(a.team);
  const std::optional<pb::AccountKind> kind = wire::KindOfWord(a.kind);
  if (!kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown account kind \"", a.kind,
        "\": use politie-alleen, politie-samen, corporate, hybrid or organisatie"));
  }
  request.set_kind(*kind);
  request.set_linked_email(a.email);
  request.set_mandatory(a.mandatory);
  absl::StatusOr<pb::AddAccountResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddAccount, request);
  if (!r.ok()) return r.status();
  std::cout << "account " << r->account().name() << " (" << KindWord(r->account().kind()) << ") added to "
            << r->account().unit() << "/" << r->account().team() << "\n";
  return absl::OkStatus();
}

absl::Status RunAccountList(Client& c, const AccountFlags& a, const std::string&) {
  pb::ListAccountsRequest request;
  request.set_unit(a.unit);
  request.set_team(a.team);
  absl::StatusOr<pb::ListAccountsResponse> r =
      Pages<pb::ListAccountsResponse>(a.page, [&](int64_t limit, const std::string& token) {
        request.set_limit(static_cast<int32_t>(limit));
        request.set_page_token(token);
        return c.Call(c.organisation(), &pb::Organisation::Stub::ListAccounts, request);
      });
  if (!r.ok()) return r.status();
  Table table{kAccountHeaders, {}};
  for (const pb::Account& account : r->accounts()) table.rows.push_back(AccountRow(account));
  PrintListing(a.format, table, *r, std::cout);
  return absl::OkStatus();
}

absl::Status RunAccountShow(Client& c, const AccountFlags& a, const std::string&) {
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

absl::Status RunAccountStop(Client& c, const AccountFlags& a, const std::string&) {
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

absl::Status RunAccountDeleted(Client& c, const AccountFlags& a, const std::string&) {
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

}  // namespace

void AddAccountCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Group<AccountFlags> group(commands);
  AccountFlags& a = group.flags();

  CLI::App* account = app.add_subcommand("account", "accounts")->require_subcommand(1);
  CLI::App* account_add = group.Add(account, "add", "register an account", "account add");
  account_add->add_option("ACCOUNT", a.account, "PLATFORM/HANDLE")->required();
  account_add->add_option("--team", a.team, "owning team (UNIT/TEAM)")->required();
  account_add->add_option("--kind", a.kind,
                          "politie-alleen (one officer), politie-samen (a team), organisatie, corporate (a "
                          "ministry's minister account), hybrid (the minister's own, shared by agreement). "
                          "Private accounts (prive) are refused: the organisation does not facilitate them (R7)")
      ->required();
  account_add->add_option("--email", a.email, "linked e-mail address (kept sealed)");
  account_add->add_flag("--mandatory", a.mandatory, "a mandatory geographic account: never stopped, only handed over (R8)");
  CLI::App* account_stop =
      group.Add(account, "stop", "stop an account (R8): it waits to be deleted on the platform",
                "account stop");
  account_stop->add_option("ACCOUNT", a.account)->required();
  account_stop->add_option("--reason", a.reason, "why (recorded; the regisseur or beheerders are told)")->required();
  CLI::App* account_deleted =
      group.Add(account, "deleted",
                "record that a stopped account was deleted on the platform (R8): its secrets "
                "are destroyed at once",
                "account deleted");
  account_deleted->add_option("ACCOUNT", a.account)->required();
  account_deleted->add_option("--ref", a.ref, "the platform's confirmation or a ticket, where it can be checked")
      ->required();
  CLI::App* account_list =
      group.Add(account, "list", "accounts you have a role on", "account list");
  account_list->add_option("--unit", a.unit);
  account_list->add_option("--team", a.team);
  Commands::Listing(account_list, a.format);
  AddPaging(account_list, a.page);
  CLI::App* account_show = group.Add(account, "show", "one account", "account show");
  account_show->add_option("ACCOUNT", a.account)->required();
  account_show->add_option("--format", a.format)->check(CLI::IsMember({"table", "json"}));

  group.Handle("account add", RunAccountAdd);
  group.Handle("account list", RunAccountList);
  group.Handle("account show", RunAccountShow);
  group.Handle("account stop", RunAccountStop);
  group.Handle("account deleted", RunAccountDeleted);
}

}  // namespace kluis::client
