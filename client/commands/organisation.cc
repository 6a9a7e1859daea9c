// Who is who: whoami, units, teams, users, certificates and role bindings.
#include "client/commands/common.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/output.h"

namespace kluis::client {
namespace {

// The flags of the organisation commands (units, teams, users, certificates, roles).
struct OrganisationFlags {
  std::string fingerprint, name, reason, role, scope_account, scope_team, scope_unit, team, unit,
      until, user;
  std::string format = "table";
  bool scope_global = false;
  PageFlags page;
};

// The one scope the flags name.
absl::StatusOr<pb::Scope> ScopeOf(const OrganisationFlags& a) {
  const int given = int{!a.scope_account.empty()} + int{!a.scope_team.empty()} + int{!a.scope_unit.empty()} +
                    int{a.scope_global};
  if (given != 1) return absl::InvalidArgumentError("give exactly one of --account, --team, --unit, --global");
  pb::Scope scope;
  if (!a.scope_account.empty()) scope.set_account(a.scope_account);
  if (!a.scope_team.empty()) scope.set_team(a.scope_team);
  if (!a.scope_unit.empty()) scope.set_unit(a.scope_unit);
  if (a.scope_global) scope.set_global(true);
  return scope;
}

absl::Status RunWhoami(Client& c, const OrganisationFlags& a, const std::string&) {
  absl::StatusOr<pb::WhoAmIResponse> r =
      c.Call(c.organisation(), &pb::Organisation::Stub::WhoAmI, pb::WhoAmIRequest());
  if (!r.ok()) return r.status();
  if (a.format == "table") std::cout << "user: " << r->user() << "\n";
  PrintListing(a.format, BindingsTable(r->bindings()), *r, std::cout);
  return absl::OkStatus();
}

absl::Status RunUnitAdd(Client& c, const OrganisationFlags& a, const std::string&) {
  pb::AddUnitRequest request;
  request.set_unit(a.unit);
  request.set_display_name(a.name);
  absl::StatusOr<pb::AddUnitResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddUnit, request);
  if (!r.ok()) return r.status();
  std::cout << "unit " << a.unit << " added\n";
  return absl::OkStatus();
}

absl::Status RunTeamAdd(Client& c, const OrganisationFlags& a, const std::string&) {
  pb::AddTeamRequest request;
  request.set_unit(a.unit);
  request.set_team(a.team);
  request.set_display_name(a.name);
  absl::StatusOr<pb::AddTeamResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddTeam, request);
  if (!r.ok()) return r.status();
  std::cout << "team " << a.unit << "/" << a.team << " added\n";
  return absl::OkStatus();
}

absl::Status RunUserAdd(Client& c, const OrganisationFlags& a, const std::string& command) {
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

absl::Status RunUserDisable(Client& c, const OrganisationFlags& a, const std::string&) {
  pb::DisableUserRequest request;
  request.set_user(a.user);
  absl::StatusOr<pb::DisableUserResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::DisableUser, request);
  if (!r.ok()) return r.status();
  std::cout << "user " << a.user << " disabled: " << r->bindings_ended() << " role bindings ended, "
            << r->certificates_revoked() << " certificates revoked\n";
  return absl::OkStatus();
}

absl::Status RunUserCerts(Client& c, const OrganisationFlags& a, const std::string&) {
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

absl::Status RunCertRevoke(Client& c, const OrganisationFlags& a, const std::string&) {
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

// USER ROLE --account|--team|--unit|--global, as a grant or a revocation names the binding.
template <typename Request>
absl::Status SetBinding(const OrganisationFlags& a, Request* request) {
  request->set_user(a.user);
  absl::StatusOr<pb::Role> role = RoleOf(a.role);
  if (!role.ok()) return role.status();
  request->set_role(*role);
  absl::StatusOr<pb::Scope> scope = ScopeOf(a);
  if (!scope.ok()) return scope.status();
  *request->mutable_scope() = *scope;
  return absl::OkStatus();
}

absl::Status RunRoleGrant(Client& c, const OrganisationFlags& a, const std::string&) {
  pb::GrantRoleRequest request;
  if (absl::Status s = SetBinding(a, &request); !s.ok()) return s;
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

absl::Status RunRoleRevoke(Client& c, const OrganisationFlags& a, const std::string&) {
  pb::RevokeRoleRequest request;
  if (absl::Status s = SetBinding(a, &request); !s.ok()) return s;
  absl::StatusOr<pb::RevokeRoleResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::RevokeRole, request);
  if (!r.ok()) return r.status();
  std::cout << "revoked " << a.role << " of " << a.user << " (" << r->bindings_ended() << " binding(s) ended)\n";
  return absl::OkStatus();
}

absl::Status RunRoleList(Client& c, const OrganisationFlags& a, const std::string&) {
  pb::ListRolesRequest request;
  request.set_user(a.user);
  absl::StatusOr<pb::ListRolesResponse> r =
      Pages<pb::ListRolesResponse>(a.page, [&](int64_t limit, const std::string& token) {
        request.set_limit(static_cast<int32_t>(limit));
        request.set_page_token(token);
        return c.Call(c.organisation(), &pb::Organisation::Stub::ListRoles, request);
      });
  if (!r.ok()) return r.status();
  PrintListing(a.format, BindingsTable(r->bindings()), *r, std::cout);
  return absl::OkStatus();
}

}  // namespace

void AddOrganisationCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Group<OrganisationFlags> group(commands);
  OrganisationFlags& a = group.flags();

  Commands::Listing(group.Add(&app, "whoami", "who you are and your roles", "whoami"), a.format);

  CLI::App* unit = app.add_subcommand("unit", "units")->require_subcommand(1);
  CLI::App* unit_add = group.Add(unit, "add", "add a unit", "unit add");
  unit_add->add_option("UNIT", a.unit)->required();
  unit_add->add_option("--name", a.name, "display name");

  CLI::App* team = app.add_subcommand("team", "teams")->require_subcommand(1);
  CLI::App* team_add = group.Add(team, "add", "add a team to a unit", "team add");
  team_add->add_option("UNIT", a.unit)->required();
  team_add->add_option("TEAM", a.team)->required();
  team_add->add_option("--name", a.name, "display name");

  CLI::App* user = app.add_subcommand("user", "users")->require_subcommand(1);
  CLI::App* user_add =
      group.Add(user, "add", "add a user; prints a one-time enrollment code", "user add");
  user_add->add_option("USER", a.user)->required();
  user_add->add_option("--name", a.name, "full name")->required();
  CLI::App* user_disable = group.Add(user, "disable", "disable a user at once", "user disable");
  user_disable->add_option("USER", a.user)->required();
  CLI::App* user_code = group.Add(user, "code",
                                  "a new enrollment code for a user (enrolling with it revokes "
                                  "the user's earlier certificates)",
                                  "user code");
  user_code->add_option("USER", a.user)->required();
  CLI::App* user_certs = group.Add(
      user, "certs", "a user's certificates: fingerprint, issued, expires, revoked", "user certs");
  user_certs->add_option("USER", a.user)->required();
  Commands::Listing(user_certs, a.format);

  CLI::App* cert = app.add_subcommand("cert", "client certificates")->require_subcommand(1);
  CLI::App* cert_revoke =
      group.Add(cert, "revoke", "revoke one certificate (a lost laptop): refused on its next call",
                "cert revoke");
  cert_revoke->add_option("FINGERPRINT", a.fingerprint, "as kluis user certs prints it")->required();
  cert_revoke->add_option("--reason", a.reason, "why (audited)")->required();

  CLI::App* role = app.add_subcommand("role", "role bindings")->require_subcommand(1);
  for (const char* verb : {"grant", "revoke"}) {
    CLI::App* sub =
        group.Add(role, verb, std::string(verb) + " a role", std::string("role ") + verb);
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
  CLI::App* role_list = group.Add(role, "list", "list role bindings", "role list");
  role_list->add_option("USER", a.user);
  Commands::Listing(role_list, a.format);
  AddPaging(role_list, a.page);

  group.Handle("whoami", RunWhoami);
  group.Handle("unit add", RunUnitAdd);
  group.Handle("team add", RunTeamAdd);
  group.Handle("user add", RunUserAdd);
  group.Handle("user code", RunUserAdd);
  group.Handle("user disable", RunUserDisable);
  group.Handle("user certs", RunUserCerts);
  group.Handle("cert revoke", RunCertRevoke);
  group.Handle("role grant", RunRoleGrant);
  group.Handle("role revoke", RunRoleRevoke);
  group.Handle("role list", RunRoleList);
}

}  // namespace kluis::client
