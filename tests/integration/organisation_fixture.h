#ifndef KLUIS_TESTS_INTEGRATION_ORGANISATION_FIXTURE_H_
#define KLUIS_TESTS_INTEGRATION_ORGANISATION_FIXTURE_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/test_vault.h"

namespace kluis::testing {

namespace pb = ::kluis::v1;
using client::Client;

inline constexpr char kPassword[] = "Lombardijen-Wachtwoord-2026!";
inline constexpr char kEmail[] = "wa.lombardijen1@politie.example";

// The organisation of seed 000: unit rotterdam, team ijsselmonde, one account of a wijkagent, and
// one user per role.
class ReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Client& op = vault_.operator_client();
    pb::AddUnitRequest unit;
    unit.set_unit("rotterdam");
    ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddUnit, unit).ok());
    pb::AddTeamRequest team;
    team.set_unit("rotterdam");
    team.set_team("ijsselmonde");
    ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddTeam, team).ok());
    AddAccount("WA_Lombardijen1", kEmail);
    for (const char* user : {"robin.peters", "teamchef.ijsselmonde", "regisseur.rotterdam",
                             "landelijk.regisseur", "auditor", "buitenstaander"}) {
      clients_[user] = vault_.ClientFor(vault_.AddAndEnroll(user));
    }
    Grant("robin.peters", pb::ROLE_BEHEERDER, Scope("account", "x/WA_Lombardijen1"));
    Grant("teamchef.ijsselmonde", pb::ROLE_TEAMCHEF, Scope("team", "rotterdam/ijsselmonde"));
    Grant("regisseur.rotterdam", pb::ROLE_REGISSEUR, Scope("unit", "rotterdam"));
    Grant("landelijk.regisseur", pb::ROLE_LANDELIJK_REGISSEUR, Scope("global", ""));
    Grant("auditor", pb::ROLE_AUDITOR, Scope("global", ""));
    ASSERT_TRUE(SetPassword("robin.peters", "WA_Lombardijen1", kPassword).ok());
  }

  static pb::Scope Scope(const std::string& kind, const std::string& name) {
    pb::Scope scope;
    if (kind == "account") scope.set_account(name);
    if (kind == "team") scope.set_team(name);
    if (kind == "unit") scope.set_unit(name);
    if (kind == "global") scope.set_global(true);
    return scope;
  }

  // Grants a role through the operator; a refusal fails the test.
  void Grant(const std::string& user, pb::Role role, const pb::Scope& scope, int64_t until = 0) {
    pb::GrantRoleRequest request;
    request.set_user(user);
    request.set_role(role);
    *request.mutable_scope() = scope;
    request.set_valid_until_unix(until);
    Client& op = vault_.operator_client();
    absl::Status s = op.Call(op.organisation(), &pb::Organisation::Stub::GrantRole, request).status();
    EXPECT_TRUE(s.ok()) << s;
  }

  void AddAccount(const std::string& handle, const std::string& email,
                  pb::AccountKind kind = pb::ACCOUNT_KIND_POLITIE_ALLEEN) {
    pb::AddAccountRequest account;
    account.set_platform("x");
    account.set_handle(handle);
    account.set_team("ijsselmonde");
    account.set_kind(kind);
    account.set_linked_email(email);
    Client& op = vault_.operator_client();
    auto added = op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account);
    ASSERT_TRUE(added.ok()) << added.status();
  }

  absl::Status SetPassword(const std::string& user, const std::string& account,
                           const std::string& password) {
    pb::SetPasswordRequest request;
    request.set_account(account);
    request.set_password(password);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::SetPassword, request).status();
  }

  absl::StatusOr<pb::ReleaseCredentialResponse> Get(Client& c, const std::string& account) {
    pb::ReleaseCredentialRequest request;
    request.set_account(account);
    return c.Call(c.vault(), &pb::Vault::Stub::ReleaseCredential, request);
  }
  absl::StatusOr<pb::ReleaseCredentialResponse> Get(const std::string& user, const std::string& account) {
    return Get(*clients_[user], account);
  }

  std::vector<pb::AuditRecord> Audit(const std::string& actor = "") {
    pb::ListAuditRequest request;
    request.set_actor(actor);
    Client& c = *clients_["auditor"];
    auto listed = c.Call(c.audit(), &pb::Audit::Stub::ListAudit, request);
    EXPECT_TRUE(listed.ok()) << listed.status();
    return {listed->records().begin(), listed->records().end()};
  }

  TestVault vault_;
  std::map<std::string, std::unique_ptr<Client>> clients_;
};

}  // namespace kluis::testing

#endif  // KLUIS_TESTS_INTEGRATION_ORGANISATION_FIXTURE_H_
