// Issue 4 through the real server: the seed goes in once, codes come out, the seed leaves only by
// an audited export. Time is the fixture's manual clock, so codes are exact.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/base32.h"
#include "tests/integration/organisation_fixture.h"

namespace kluis::testing {
namespace {

// A made-up 20-byte seed, in base32 as a platform would show it.
constexpr char kSeed[] = "KRUGKIDDN5SGKIDJOMQGSIDUNBSSA5TBOVWHI";  // "The code is in the vault"

std::string Oathtool(const std::string& seed, absl::Time at, int digits = 6,
                     const std::string& algorithm = "sha1") {
  const std::string command =
      absl::StrCat("oathtool --totp=", algorithm, " --digits=", digits, " --now='@",
                   absl::ToUnixSeconds(at), "' --base32 ", seed, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  char line[64] = {0};
  fgets(line, sizeof(line), pipe);
  pclose(pipe);
  return std::string(absl::StripTrailingAsciiWhitespace(line));
}

class TotpTest : public ReleaseTest {
 protected:
  absl::Status SetTotp(const std::string& user, const std::string& text) {
    pb::SetTotpRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_otpauth(text);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::SetTotp, request).status();
  }
  absl::StatusOr<pb::TotpCode> Code(const std::string& user, bool emergency = false,
                                    const std::string& reason = "") {
    pb::GetTotpCodeRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_break_glass(emergency);
    request.set_reason(reason);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::GetTotpCode, request);
  }
  absl::StatusOr<pb::ExportTotpResponse> Export(const std::string& user, const std::string& reason) {
    pb::ExportTotpRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_reason(reason);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::ExportTotp, request);
  }
  pb::Account Show() {
    pb::ShowAccountRequest request;
    request.set_account("WA_Lombardijen1");
    Client& c = *clients_["robin.peters"];
    return c.Call(c.organisation(), &pb::Organisation::Stub::ShowAccount, request)->account();
  }
};

TEST_F(TotpTest, CodeFromTheServerMatchesOathtoolForTheSameWindow) {
  ASSERT_TRUE(SetTotp("robin.peters", absl::StrCat("otpauth://totp/X:WA_Lombardijen1?secret=", kSeed,
                                                  "&issuer=X"))
                  .ok());
  EXPECT_TRUE(Show().has_totp());
  for (int step = 0; step < 5; ++step) {
    auto code = Code("robin.peters");
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(code->code(), Oathtool(kSeed, vault_.clock().Now()));
    EXPECT_GE(code->seconds_left(), 1);
    EXPECT_LE(code->seconds_left(), 30);
    if (code->seconds_left() <= 10) {
      EXPECT_EQ(code->next_code(), Oathtool(kSeed, vault_.clock().Now() + absl::Seconds(30)));
    }
    vault_.clock().Advance(absl::Seconds(17));
  }
}

TEST_F(TotpTest, Sha512EightDigitKeysWork) {
  ASSERT_TRUE(SetTotp("robin.peters", absl::StrCat("otpauth://totp/X:a?secret=", kSeed,
                                                  "&algorithm=SHA512&digits=8"))
                  .ok());
  auto code = Code("robin.peters");
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->code(), Oathtool(kSeed, vault_.clock().Now(), 8, "sha512"));
}

TEST_F(TotpTest, TheLoginReleaseCarriesTheCurrentCode) {
  ASSERT_TRUE(SetTotp("robin.peters", kSeed).ok());
  auto login = Get("robin.peters", "WA_Lombardijen1");
  ASSERT_TRUE(login.ok());
  ASSERT_TRUE(login->has_totp());
  EXPECT_EQ(login->totp().code(), Oathtool(kSeed, vault_.clock().Now()));
}

TEST_F(TotpTest, DeniedRolesGetNoCodeAndTheTeamchefOnlyAsBreakGlass) {
  ASSERT_TRUE(SetTotp("robin.peters", kSeed).ok());
  for (const char* user : {"auditor", "teamchef.ijsselmonde"}) {
    EXPECT_EQ(Code(user).status().code(), absl::StatusCode::kPermissionDenied) << user;
  }
  pb::GetTotpCodeRequest by_operator;
  by_operator.set_account("WA_Lombardijen1");
  Client& op = vault_.operator_client();
  EXPECT_EQ(op.Call(op.vault(), &pb::Vault::Stub::GetTotpCode, by_operator).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code("regisseur.rotterdam").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Code("buitenstaander").status().code(), absl::StatusCode::kNotFound);
  auto emergency = Code("teamchef.ijsselmonde", true, "Robin ziek, 2FA nodig voor melding");
  ASSERT_TRUE(emergency.ok()) << emergency.status();
  EXPECT_EQ(emergency->rule(), "R2.teamchef-break-glass");
}

TEST_F(TotpTest, BadInputIsRefusedPreciselyAndNothingIsStored) {
  for (const std::string& bad :
       {std::string("JBSWY3DP!HPK3PXP"), absl::StrCat("otpauth://totp/X:a?secret=", kSeed, "&algorithm=MD5"),
        absl::StrCat("otpauth://hotp/X:a?secret=", kSeed, "&counter=0"),
        absl::StrCat("otpauth://totp/X:a?secret=", kSeed, "&digits=7"), std::string("otpauth://totp/X:a?secret="),
        std::string("")}) {
    absl::Status refused = SetTotp("robin.peters", bad);
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(absl::StrContains(refused.message(), kSeed)) << refused;
  }
  EXPECT_FALSE(Show().has_totp());
  EXPECT_EQ(SetTotp("teamchef.ijsselmonde", kSeed).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(TotpTest, R14ExportNeedsAReasonIsAuditedFlaggedAndGivesTheKeyBack) {
  ASSERT_TRUE(SetTotp("robin.peters", absl::StrCat("otpauth://totp/X:WA_Lombardijen1?secret=", kSeed, "&issuer=X")).ok());
  EXPECT_EQ(Export("robin.peters", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Export("teamchef.ijsselmonde", "overdracht aan opvolger").status().code(),
            absl::StatusCode::kPermissionDenied);
  auto exported = Export("robin.peters", "overdracht aan opvolger Sanne");
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_TRUE(absl::StartsWith(exported->otpauth_uri(), "otpauth://totp/X:WA_Lombardijen1?secret="));
  EXPECT_TRUE(absl::StrContains(exported->otpauth_uri(), kSeed));
  bool audited = false, refused = false;
  for (const pb::AuditRecord& r : Audit("robin.peters")) {
    if (r.action() != "export-totp-seed") continue;
    audited |= r.decision() == "allow" && r.reason() == "overdracht aan opvolger Sanne";
    refused |= r.decision() == "deny";
    EXPECT_FALSE(absl::StrContains(r.DebugString(), kSeed));
  }
  EXPECT_TRUE(audited);
  EXPECT_TRUE(refused);
  pb::ListDueRequest none;
  Client& regisseur = *clients_["regisseur.rotterdam"];
  auto due = regisseur.Call(regisseur.vault(), &pb::Vault::Stub::ListDue, none);
  ASSERT_EQ(due->flags_size(), 1);
  EXPECT_TRUE(absl::StrContains(due->flags(0).cause(), "R14"));
}

TEST_F(TotpTest, RecoveryCodesComeOutOneAtATimeAndAreUsedUp) {
  pb::SetRecoveryCodesRequest set;
  set.set_account("WA_Lombardijen1");
  for (const char* code : {"hrst-1111", "hrst-2222", "hrst-3333"}) set.add_codes(code);
  Client& robin = *clients_["robin.peters"];
  auto stored = robin.Call(robin.vault(), &pb::Vault::Stub::SetRecoveryCodes, set);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->count(), 3);
  EXPECT_EQ(Show().recovery_codes_left(), 3);
  pb::ReleaseRecoveryCodeRequest release;
  release.set_account("WA_Lombardijen1");
  release.set_reason("telefoon kwijt");
  for (const char* want : {"hrst-1111", "hrst-2222", "hrst-3333"}) {
    auto code = robin.Call(robin.vault(), &pb::Vault::Stub::ReleaseRecoveryCode, release);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(code->code(), want);
  }
  auto none = robin.Call(robin.vault(), &pb::Vault::Stub::ReleaseRecoveryCode, release);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Show().recovery_codes_left(), 0);
  Client& auditor = *clients_["auditor"];
  EXPECT_EQ(auditor.Call(auditor.vault(), &pb::Vault::Stub::ReleaseRecoveryCode, release).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(TotpTest, TheSeedNeverAppearsInTheDatabaseFilesOrTheAuditLog) {
  ASSERT_TRUE(SetTotp("robin.peters", kSeed).ok());
  ASSERT_TRUE(Code("robin.peters").ok());
  ASSERT_TRUE(Export("robin.peters", "overdracht aan opvolger Sanne").ok());
  std::string raw;
  ASSERT_TRUE(crypto::Base32Decode(kSeed).has_value());
  raw = *crypto::Base32Decode(kSeed);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(vault_.data_dir())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    EXPECT_FALSE(absl::StrContains(bytes.str(), kSeed)) << entry.path();
    EXPECT_FALSE(absl::StrContains(bytes.str(), raw)) << entry.path();
  }
  for (const pb::AuditRecord& r : Audit()) {
    EXPECT_FALSE(absl::StrContains(r.DebugString(), kSeed));
  }
}

}  // namespace
}  // namespace kluis::testing
