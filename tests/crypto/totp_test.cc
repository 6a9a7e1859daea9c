#include "crypto/totp.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/base32.h"
#include "crypto/random.h"

namespace kluis::crypto {
namespace {

// RFC 4226 Appendix D: HOTP values for the secret "12345678901234567890", counters 0 to 9.
TEST(HotpTest, Rfc4226AppendixD) {
  const SecretBytes secret = SecretBytes::CopyFrom("12345678901234567890");
  const uint32_t expected[] = {755224, 287082, 359152, 969429, 338314,
                               254676, 287922, 162583, 399871, 520489};
  for (uint64_t counter = 0; counter < 10; ++counter) {
    EXPECT_EQ(Hotp(secret, counter, OtpAlgorithm::kSha1, 6).value_or(0), expected[counter]) << counter;
  }
}

// RFC 6238 Appendix B: all 18 TOTP values (8 digits, period 30, T0 = 0), with the appendix's
// 20-, 32- and 64-byte seeds for SHA1, SHA256 and SHA512.
TEST(TotpTest, Rfc6238AppendixB) {
  struct Vector {
    int64_t time;
    OtpAlgorithm algorithm;
    const char* code;
  };
  const Vector vectors[] = {
      {59, OtpAlgorithm::kSha1, "94287082"},          {59, OtpAlgorithm::kSha256, "46119246"},
      {59, OtpAlgorithm::kSha512, "90693936"},        {1111111109, OtpAlgorithm::kSha1, "07081804"},
      {1111111109, OtpAlgorithm::kSha256, "68084774"}, {1111111109, OtpAlgorithm::kSha512, "25091201"},
      {1111111111, OtpAlgorithm::kSha1, "14050471"},  {1111111111, OtpAlgorithm::kSha256, "67062674"},
      {1111111111, OtpAlgorithm::kSha512, "99943326"}, {1234567890, OtpAlgorithm::kSha1, "89005924"},
      {1234567890, OtpAlgorithm::kSha256, "91819424"}, {1234567890, OtpAlgorithm::kSha512, "93441116"},
      {2000000000, OtpAlgorithm::kSha1, "69279037"},  {2000000000, OtpAlgorithm::kSha256, "90698825"},
      {2000000000, OtpAlgorithm::kSha512, "38618901"}, {20000000000, OtpAlgorithm::kSha1, "65353130"},
      {20000000000, OtpAlgorithm::kSha256, "77737706"}, {20000000000, OtpAlgorithm::kSha512, "47863826"},
  };
  for (const Vector& v : vectors) {
    TotpKey key;
    key.algorithm = v.algorithm;
    key.digits = 8;
    key.secret = SecretBytes::CopyFrom(
        v.algorithm == OtpAlgorithm::kSha1     ? "12345678901234567890"
        : v.algorithm == OtpAlgorithm::kSha256 ? "12345678901234567890123456789012"
                                               : "1234567890123456789012345678901234567890123456789012345678901234");
    auto code = Totp(key, absl::FromUnixSeconds(v.time));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(FormatOtp(*code, 8), v.code) << v.time << " " << OtpAlgorithmName(v.algorithm);
  }
}

// Cross-check against oathtool (an independent implementation, Debian's oath-toolkit) for random
// seeds, every algorithm, both digit counts, several periods and times.
TEST(TotpTest, AgreesWithOathtool) {
  ASSERT_TRUE(Initialize().ok());
  std::mt19937_64 rng(20261121);
  const OtpAlgorithm algorithms[] = {OtpAlgorithm::kSha1, OtpAlgorithm::kSha256, OtpAlgorithm::kSha512};
  int checked = 0;
  for (int i = 0; i < 120; ++i) {
    TotpKey key;
    key.secret = RandomSecret(10 + rng() % 55);
    key.algorithm = algorithms[i % 3];
    key.digits = (i / 3) % 2 == 0 ? 6 : 8;
    key.period = (i % 5 == 0) ? 60 : 30;
    const int64_t time = static_cast<int64_t>(rng() % 4'000'000'000ull);
    const std::string command = absl::StrCat(
        "oathtool --totp=", absl::AsciiStrToLower(OtpAlgorithmName(key.algorithm)), " --digits=",
        key.digits, " --time-step-size=", key.period, "s --now='@", time, "' --base32 ",
        Base32Encode(key.secret.Reveal()), " 2>&1");
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char line[64] = {0};
    const bool read = fgets(line, sizeof(line), pipe) != nullptr;
    pclose(pipe);
    ASSERT_TRUE(read) << command;
    const std::string theirs = std::string(absl::StripTrailingAsciiWhitespace(line));
    auto ours = Totp(key, absl::FromUnixSeconds(time));
    ASSERT_TRUE(ours.ok());
    EXPECT_EQ(FormatOtp(*ours, key.digits), theirs) << command;
    ++checked;
  }
  EXPECT_EQ(checked, 120);
}

TEST(OtpauthTest, ReadsAGoogleAuthenticatorKeyUri) {
  auto key = ParseOtpauth(
      "otpauth://totp/X:WA_Lombardijen1?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=X"
      "&algorithm=SHA256&digits=8&period=60");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->issuer, "X");
  EXPECT_EQ(key->account, "WA_Lombardijen1");
  EXPECT_EQ(key->algorithm, OtpAlgorithm::kSha256);
  EXPECT_EQ(key->digits, 8);
  EXPECT_EQ(key->period, 60);
  EXPECT_EQ(key->secret.size(), 20u);
  // And writes it back so that it reads the same.
  auto again = ParseOtpauth(FormatOtpauth(*key));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->secret.Equals(key->secret));
  EXPECT_EQ(again->issuer, "X");
  EXPECT_EQ(again->period, 60);
}

TEST(OtpauthTest, ReadsABareBase32SeedWithDefaults) {
  auto key = ParseOtpauth("  jbsw y3dp ehpk 3pxp  \n");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->algorithm, OtpAlgorithm::kSha1);
  EXPECT_EQ(key->digits, 6);
  EXPECT_EQ(key->period, 30);
  EXPECT_EQ(key->secret.Reveal(), "Hello!\xde\xad\xbe\xef");
}

TEST(OtpauthTest, RefusesBadInputWithAPreciseLineThatNeverEchoesTheSecret) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty"},
      {"JBSWY3DP!HPK3PXP", "not valid base32"},
      {"JBSWY3DP", "too short"},
      {"otpauth://hotp/X:a?secret=JBSWY3DPEHPK3PXP&counter=1", "hotp"},
      {"otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "SHA1, SHA256 or SHA512"},
      {"otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&digits=7", "6 or 8"},
      {"otpauth://totp/X:a?secret=", "empty"},
      {"otpauth://totp/X:a?issuer=X", "no secret"},
      {"otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&period=1", "10 to 300"},
      {"otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&secret=JBSWY3DPEHPK3PXP", "repeated"},
      {"otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&evil=1", "unknown otpauth parameter"},
      {"otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&issuer=Y", "differs"},
      {"otpauth://totp/X%ZZ:a?secret=JBSWY3DPEHPK3PXP", "%-escape"},
      {"otpauth://totp/X%07Y:a?secret=JBSWY3DPEHPK3PXP", "control character"},
      {"https://example.org/?secret=JBSWY3DPEHPK3PXP", "not valid base32"},
  };
  for (auto [input, want] : cases) {
    auto key = ParseOtpauth(input);
    ASSERT_FALSE(key.ok()) << input;
    EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(key.status().message()), absl::AsciiStrToLower(want)))
        << input << " -> " << key.status();
    EXPECT_FALSE(absl::StrContains(key.status().message(), "JBSWY3DP")) << key.status();
  }
}

}  // namespace
}  // namespace kluis::crypto

namespace kluis::crypto {
namespace {

// Found by tests/fuzz (regressions/otpauth/issuer-with-colon): an issuer with a colon parsed, but
// its stored form read back differently, so the key could not be used later.
TEST(OtpauthTest, IssuerWithAColonIsRefusedAndEveryParsedKeyReadsBackTheSame) {
  EXPECT_FALSE(ParseOtpauth("otpauth://totp/acct?secret=JBSWY3DPEHPK3PXP&issuer=Bad%3AIssuer").ok());
  for (const char* uri : {"otpauth://totp/X:WA_Lombardijen1?secret=JBSWY3DPEHPK3PXP&issuer=X",
                          "otpauth://totp/a:b:c?secret=JBSWY3DPEHPK3PXP",
                          "otpauth://totp/acct?secret=JBSWY3DPEHPK3PXP&issuer=%20Spaced%20"}) {
    auto key = ParseOtpauth(uri);
    ASSERT_TRUE(key.ok()) << uri << ": " << key.status();
    auto again = ParseOtpauth(FormatOtpauth(*key));
    ASSERT_TRUE(again.ok()) << uri << ": " << again.status();
    EXPECT_EQ(again->issuer, key->issuer);
    EXPECT_EQ(again->account, key->account);
  }
}

}  // namespace
}  // namespace kluis::crypto
