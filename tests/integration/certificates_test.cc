// Issue 16 (1): a certificate can be revoked on its own. A new enrollment revokes the user's
// earlier certificates; `kluis cert revoke` ends one (a lost laptop) on its very next call; every
// audit record names the certificate the call presented.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/integration/cli_fixture.h"

namespace kluis::testing {
namespace {

class CertificatesTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    ServeWijkagentAccount();
    for (const char* user : {"sanne.devries", "auditor"}) AddUser(user);
    ASSERT_EQ(Kluis("operator", {"role", "grant", "sanne.devries", "beheerder", "--account", "WA_Lombardijen1"}).exit_code,
              0);
    ASSERT_EQ(Kluis("operator", {"role", "grant", "auditor", "auditor", "--global"}).exit_code, 0);
    ASSERT_EQ(Kluis("robin.peters", {"secret", "set", "WA_Lombardijen1"}, "Lente-2026-geheim\n").exit_code, 0);
  }

  // The fingerprints in `kluis user certs USER`, oldest first.
  std::vector<std::string> Fingerprints(const std::string& user) {
    Result listed = Kluis("operator", {"user", "certs", user});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    std::vector<std::string> found;
    const std::regex pattern("SHA256:([0-9a-f]{64})");
    for (std::sregex_iterator it(listed.out.begin(), listed.out.end(), pattern), end; it != end; ++it) {
      found.push_back((*it)[1]);
    }
    return found;
  }

  // The user enrolls again with a new code, into their profile; the old profile is kept aside.
  void EnrollAgain(const std::string& user, const std::string& keep_old_as, Result* enrolled) {
    std::filesystem::rename(root_ + "/profiles/" + user, root_ + "/profiles/" + keep_old_as);
    Result code = Kluis("operator", {"user", "code", user});
    ASSERT_EQ(code.exit_code, 0) << code.err;
    *enrolled = Enroll(user, Field(code.out, "enrollment code:"));
    ASSERT_EQ(enrolled->exit_code, 0) << enrolled->err;
  }
};

TEST_F(CertificatesTest, NewEnrollmentRevokesTheEarlierCertificate) {
  Result enrolled;
  EnrollAgain("robin.peters", "robin.old", &enrolled);
  EXPECT_TRUE(absl::StrContains(enrolled.out, "your earlier certificate no longer works")) << enrolled.out;
  Result old = Kluis("robin.old", {"get", "WA_Lombardijen1"});
  EXPECT_EQ(old.exit_code, 5) << old.err;
  EXPECT_TRUE(absl::StrContains(old.err, "certificate revoked")) << old.err;
  EXPECT_EQ(Kluis("robin.peters", {"get", "WA_Lombardijen1", "--field", "password"}).out, "Lente-2026-geheim\n");
  Result listed = Kluis("operator", {"user", "certs", "robin.peters"});
  EXPECT_TRUE(absl::StrContains(listed.out, "replaced by a new enrollment")) << listed.out;
  EXPECT_EQ(Fingerprints("robin.peters").size(), 2u);
}

TEST_F(CertificatesTest, FirstEnrollmentRevokesNothingAndSaysNothingOfIt) {
  Result code = Kluis("operator", {"user", "add", "nieuw", "--name", "Nieuw"});
  Result enrolled = Enroll("nieuw", Field(code.out, "enrollment code:"));
  ASSERT_EQ(enrolled.exit_code, 0) << enrolled.err;
  EXPECT_FALSE(absl::StrContains(enrolled.out, "earlier certificate")) << enrolled.out;
  EXPECT_EQ(Fingerprints("nieuw").size(), 1u);
}

TEST_F(CertificatesTest, RevokedCertificateIsRefusedOnItsVeryNextCall) {
  const std::vector<std::string> robin = Fingerprints("robin.peters");
  ASSERT_EQ(robin.size(), 1u);
  Result revoked = Kluis("operator", {"cert", "revoke", "SHA256:" + robin[0], "--reason", "laptop verloren in de trein"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  Result refused = Kluis("robin.peters", {"get", "WA_Lombardijen1"});
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  EXPECT_TRUE(absl::StrContains(refused.err, "certificate revoked")) << refused.err;
  EXPECT_EQ(Kluis("robin.peters", {"totp", "WA_Lombardijen1"}).exit_code, 5);
  Result listed = Kluis("operator", {"user", "certs", "robin.peters"});
  EXPECT_TRUE(absl::StrContains(listed.out, "laptop verloren in de trein")) << listed.out;
  // The user is not disabled: a new enrollment gets them in again.
  Result enrolled;
  EnrollAgain("robin.peters", "robin.lost", &enrolled);
  EXPECT_FALSE(absl::StrContains(enrolled.out, "earlier certificate")) << "the lost one was revoked already";
  EXPECT_EQ(Kluis("robin.peters", {"get", "WA_Lombardijen1"}).exit_code, 0);
}

TEST_F(CertificatesTest, RevokingOneCertificateLeavesEveryoneElseWorking) {
  const std::vector<std::string> robin = Fingerprints("robin.peters");
  ASSERT_EQ(robin.size(), 1u);
  // Only an operator revokes, with a reason, a certificate that exists; never the one they call with.
  EXPECT_EQ(Kluis("sanne.devries", {"cert", "revoke", robin[0], "--reason", "laptop verloren in de trein"}).exit_code, 2);
  EXPECT_EQ(Kluis("operator", {"cert", "revoke", robin[0], "--reason", "weg"}).exit_code, 1);
  EXPECT_EQ(Kluis("operator", {"cert", "revoke", std::string(64, 'a'), "--reason", "laptop verloren"}).exit_code, 3);
  EXPECT_EQ(Kluis("operator", {"cert", "revoke", "abcd", "--reason", "laptop verloren"}).exit_code, 1);
  const std::vector<std::string> own = Fingerprints("operator");
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(Kluis("operator", {"cert", "revoke", own[0], "--reason", "laptop verloren"}).exit_code, 2);
  EXPECT_EQ(Kluis("robin.peters", {"get", "WA_Lombardijen1"}).exit_code, 0) << "nothing was revoked";
  ASSERT_EQ(Kluis("operator", {"cert", "revoke", robin[0], "--reason", "laptop verloren"}).exit_code, 0);
  EXPECT_EQ(Kluis("operator", {"cert", "revoke", robin[0], "--reason", "laptop verloren"}).exit_code, 4)
      << "revoked already: the wrong state";
  EXPECT_EQ(Kluis("sanne.devries", {"get", "WA_Lombardijen1"}).exit_code, 0);
  EXPECT_EQ(Kluis("operator", {"whoami"}).exit_code, 0);
}

TEST_F(CertificatesTest, EveryAuditRecordNamesTheCertificateTheCallPresented) {
  const std::vector<std::string> robin = Fingerprints("robin.peters");
  ASSERT_EQ(robin.size(), 1u);
  ASSERT_EQ(Kluis("robin.peters", {"get", "WA_Lombardijen1", "--reason", "eigen gebruik"}).exit_code, 0);
  Result listed = Kluis("auditor", {"audit", "list", "--actor", "robin.peters", "--format", "csv"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  int with_certificate = 0;
  for (absl::string_view line : absl::StrSplit(listed.out, '\n')) {
    if (absl::StrContains(line, "release-login")) EXPECT_TRUE(absl::StrContains(line, robin[0])) << line;
    with_certificate += absl::StrContains(line, robin[0]);
  }
  EXPECT_GE(with_certificate, 2) << listed.out;  // the secret set and the release
  // A revoked certificate's refusal names it too.
  ASSERT_EQ(Kluis("operator", {"cert", "revoke", robin[0], "--reason", "laptop verloren"}).exit_code, 0);
  EXPECT_EQ(Kluis("robin.peters", {"get", "WA_Lombardijen1"}).exit_code, 5);
  Result refusals = Kluis("auditor", {"audit", "list", "--actor", "robin.peters", "--format", "csv"});
  EXPECT_TRUE(absl::StrContains(refusals.out, "auth.certificate-revoked")) << refusals.out;
}

TEST_F(CertificatesTest, EnrollmentRecordNamesNoPresentedCertificate) {
  Result listed = Kluis("auditor", {"audit", "list", "--actor", "sanne.devries", "--format", "csv"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::vector<std::string> sanne = Fingerprints("sanne.devries");
  for (absl::string_view line : absl::StrSplit(listed.out, '\n')) {
    if (absl::StrContains(line, ",enroll,")) {
      // Enrollment presents no certificate; its reason names the one issued.
      EXPECT_TRUE(absl::StrContains(line, "certificate " + sanne[0])) << line;
      EXPECT_TRUE(absl::EndsWith(absl::StripTrailingAsciiWhitespace(line), ",")) << line;
    }
  }
}

}  // namespace
}  // namespace kluis::testing
