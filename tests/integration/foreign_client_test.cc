// Issue 7: a client that is not ours. tests/client_py/kluis_client.py, generated from proto/ with
// Debian's protoc and grpc_python_plugin, drives the real kluisd over mutual TLS: enroll, release,
// refusals, audit export verified offline, and the standard health and reflection services.
#include <gtest/gtest.h>

#include <iostream>

#include "absl/strings/match.h"
#include "tests/integration/cli_fixture.h"

namespace kluis::testing {
namespace {

class ForeignClientTest : public CliTest {};

TEST_F(ForeignClientTest, APythonClientFromTheProtoFilesEnrollsReleasesIsRefusedAndVerifiesTheLog) {
  StartServer();
  ASSERT_EQ(Enroll("operator", admin_code_).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"unit", "add", "rotterdam"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"team", "add", "rotterdam", "ijsselmonde"}).exit_code, 0);
  for (const char* account : {"x/WA_Lombardijen1", "x/POL_IJsselmonde"}) {
    ASSERT_EQ(Kluis("operator", {"account", "add", account, "--team", "ijsselmonde", "--kind", "politie-alleen"}).exit_code, 0);
  }
  AddUser("sanne.devries");
  std::string codes;
  for (const char* user : {"python.beheerder", "python.auditor"}) {
    Result added = Kluis("operator", {"user", "add", user, "--name", user});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    codes += Field(added.out, "enrollment code:") + "\n";
  }
  ASSERT_EQ(Kluis("operator", {"role", "grant", "python.beheerder", "beheerder", "--account", "WA_Lombardijen1"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "sanne.devries", "beheerder", "--account", "POL_IJsselmonde"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "python.auditor", "auditor", "--global"}).exit_code, 0);
  ASSERT_EQ(Kluis("operator", {"role", "grant", "sanne.devries", "beheerder", "--account", "WA_Lombardijen1"}).exit_code, 0);
  ASSERT_EQ(Kluis("sanne.devries", {"secret", "set", "WA_Lombardijen1"}, "Gedeeld-wachtwoord-2026\n").exit_code, 0);
  Result python = RunBinary("/usr/bin/python3",
                            {std::string(KLUIS_SOURCE_DIR) + "/tests/client_py/kluis_client.py", address_,
                             data_ + "/ca.pem", "x/WA_Lombardijen1", "x/POL_IJsselmonde"},
                            codes + "Gedeeld-wachtwoord-2026\n");
  ASSERT_EQ(python.exit_code, 0) << python.out << python.err;
  EXPECT_TRUE(absl::StrContains(python.out, "python client: enrolled 2 users, released 1 login")) << python.out;
  std::cout << python.out;
}

}  // namespace
}  // namespace kluis::testing
