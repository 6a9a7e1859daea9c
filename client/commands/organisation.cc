// Who is who: whoami, units, teams, users, certificates and role bindings.
#include "client/commands/common.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/output.h"

namespace kluis::client {
namespace {

absl::Status RunWhoami(Client& c, const Options& a, const std::string&) {
  absl::StatusOr<pb::WhoAmIResponse> r =
      c.Call(c.organisation(), &pb::Organisation::Stub::WhoAmI, pb::WhoAmIRequest());
  if (!r.ok()) return r.status();
  if (a.format == "table") std::cout << "user: " << r->user() << "\n";
  PrintListing(a.format, BindingsTable(r->bindings()), *r, std::cout);
  return absl::OkStatus();
}

absl::Status RunUnitAdd(Client& c, const Options& a, const std::string&) {
  pb::AddUnitRequest request;
  request.set_unit(a.unit);
  request.set_display_name(a.name);
  absl::StatusOr<pb::AddUnitResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddUnit, request);
  if (!r.ok()) return r.status();
  std::cout << "unit " << a.unit << " added\n";
  return absl::OkStatus();
}

absl::Status RunTeamAdd(Client& c, const Options& a, const std::string&) {
  pb::AddTeamRequest request;
  request.set_unit(a.unit);
  request.set_team(a.team);
  request.set_display_name(a.name);
  absl::StatusOr<pb::AddTeamResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::AddTeam, request);
  if (!r.ok()) return r.status();
  std::cout << "team " << a.unit << "/" << a.team << " added\n";
  return absl::OkStatus();
}

absl::Status RunUserAdd(Client& c, const Options& a, const std::string& command) {
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

absl::Status RunUserDisable(Client& c, const Options& a, const std::string&) {
  pb::DisableUserRequest request;
  request.set_user(a.user);
  absl::StatusOr<pb::DisableUserResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::DisableUser, request);
  if (!r.ok()) return r.status();
  std::cout << "user " << a.user << " disabled: " << r->bindings_ended() << " role bindings ended, "
            << r->certificates_revoked() << " certificates revoked\n";
  return absl::OkStatus();
}

absl::Status RunUserCerts(Client& c, const Options& a, const std::string&) {
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

absl::Status RunCertRevoke(Client& c, const Options& a, const std::string&) {
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
absl::Status SetBinding(const Options& a, Request* request) {
  request->set_user(a.user);
  absl::StatusOr<pb::Role> role = RoleOf(a.role);
  if (!role.ok()) return role.status();
  request->set_role(*role);
  absl::StatusOr<pb::Scope> scope = ScopeOf(a);
  if (!scope.ok()) return scope.status();
  *request->mutable_scope() = *scope;
  return absl::OkStatus();
}

absl::Status RunRoleGrant(Client& c, const Options& a, const std::string&) {
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

absl::Status RunRoleRevoke(Client& c, const Options& a, const std::string&) {
  pb::RevokeRoleRequest request;
  if (absl::Status s = SetBinding(a, &request); !s.ok()) return s;
  absl::StatusOr<pb::RevokeRoleResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::RevokeRole, request);
  if (!r.ok()) return r.status();
  std::cout << "revoked " << a.role << " of " << a.user << " (" << r->bindings_ended() << " binding(s) ended)\n";
  return absl::OkStatus();
}

absl::Status RunRoleList(Client& c, const Options& a, const std::string&) {
  pb::ListRolesRequest request;
  request.set_user(a.user);
  absl::StatusOr<pb::ListRolesResponse> r = c.Call(c.organisation(), &pb::Organisation::Stub::ListRoles, request);
  if (!r.ok()) return r.status();
  PrintListing(a.format, BindingsTable(r->bindings()), *r, std::cout);
  return absl::OkStatus();
}

}  // namespace

void AddOrganisationCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Options& a = commands.options();

  commands.Listing(commands.Add(&app, "whoami", "who you are and your roles", "whoami"));

  CLI::App* unit = app.add_subcommand("unit", "units")->require_subcommand(1);
  CLI::App* unit_add = commands.Add(unit, "add", "add a unit", "unit add");
  unit_add->add_option("UNIT", a.unit)->required();
  unit_add->add_option("--name", a.name, "display name");

  CLI::App* team = app.add_subcommand("team", "teams")->require_subcommand(1);
  CLI::App* team_add = commands.Add(team, "add", "add a team to a unit", "team add");
  team_add->add_option("UNIT", a.unit)->required();
  team_add->add_option("TEAM", a.team)->required();
  team_add->add_option("--name", a.name, "display name");

  CLI::App* user = app.add_subcommand("user", "users")->require_subcommand(1);
  CLI::App* user_add = commands.Add(user, "add", "add a user; prints a one-time enrollment code", "user add");
  user_add->add_option("USER", a.user)->required();
  user_add->add_option("--name", a.name, "full name")->required();
  CLI::App* user_disable = commands.Add(user, "disable", "disable a user at once", "user disable");
  user_disable->add_option("USER", a.user)->required();
  CLI::App* user_code = commands.Add(user, "code", "a new enrollment code for a user (enrolling with it revokes "
                                "the user's earlier certificates)", "user code");
  user_code->add_option("USER", a.user)->required();
  CLI::App* user_certs = commands.Add(user, "certs", "a user's certificates: fingerprint, issued, expires, revoked",
                                 "user certs");
  user_certs->add_option("USER", a.user)->required();
  commands.Listing(user_certs);

  CLI::App* cert = app.add_subcommand("cert", "client certificates")->require_subcommand(1);
  CLI::App* cert_revoke = commands.Add(cert, "revoke", "revoke one certificate (a lost laptop): refused on its next call",
                                  "cert revoke");
  cert_revoke->add_option("FINGERPRINT", a.fingerprint, "as kluis user certs prints it")->required();
  cert_revoke->add_option("--reason", a.reason, "why (audited)")->required();

  CLI::App* role = app.add_subcommand("role", "role bindings")->require_subcommand(1);
  for (const char* verb : {"grant", "revoke"}) {
    CLI::App* sub = commands.Add(role, verb, std::string(verb) + " a role", std::string("role ") + verb);
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
  CLI::App* role_list = commands.Add(role, "list", "list role bindings", "role list");
  role_list->add_option("USER", a.user);
  commands.Listing(role_list);

  commands.Handle("whoami", RunWhoami);
  commands.Handle("unit add", RunUnitAdd);
  commands.Handle("team add", RunTeamAdd);
  commands.Handle("user add", RunUserAdd);
  commands.Handle("user code", RunUserAdd);
  commands.Handle("user disable", RunUserDisable);
  commands.Handle("user certs", RunUserCerts);
  commands.Handle("cert revoke", RunCertRevoke);
  commands.Handle("role grant", RunRoleGrant);
  commands.Handle("role revoke", RunRoleRevoke);
  commands.Handle("role list", RunRoleList);
}

}  // namespace kluis::client
