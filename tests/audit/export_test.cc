// The export format on its own: flat JSON lines written and read back byte for byte, the
// checkpoint message layout, and a verifier that refuses what is not an export.
#include "auditfile/export.h"

#include <gtest/gtest.h>

#include <sstream>

#include "auditfile/format.h"
#include "auditfile/verify.h"
#include "crypto/hash.h"

namespace kluis::auditfile {
namespace {

TEST(JsonLineTest, EveryByteOfARecordSurvivesTheRoundTrip) {
  Record r{7, -3, "robin.peters", "beheerder", "release-login", "x/WA_Lombardijen1", "allow", "R1.beheerder",
           std::string("quote \" backslash \\ tab \t newline \n nul \0 del \x7f é 😀", 54), "", "ipv4:127.0.0.1:5", "ok"};
  const std::string line = RecordLine(r, GenesisHash(), "hash");
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line, whatever the reason holds";
  auto object = ParseJsonObject(line);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ((*object)["reason"].text, r.reason);
  EXPECT_EQ((*object)["time_us"].number, -3);
  EXPECT_EQ((*object)["canonical"].text, crypto::HexEncode(CanonicalBytes(r)));
}

TEST(JsonLineTest, MalformedLinesAreRefusedWithTheirColumn) {
  for (const char* bad : {"", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":\"x\"} trailing", "{\"a\":1,\"a\":2}",
                          "{\"a\":\"\\q\"}", "{\"a\":[1]}", "{\"a\":\"unterminated}"}) {
    auto object = ParseJsonObject(bad);
    EXPECT_FALSE(object.ok()) << bad;
    if (!object.ok()) EXPECT_NE(object.status().message().find("column "), std::string::npos) << bad;
  }
  auto escaped = ParseJsonObject("{\"a\":\"\\u00e9\\ud83d\\ude00\"}");
  ASSERT_TRUE(escaped.ok());
  EXPECT_EQ((*escaped)["a"].text, "é😀");
}

TEST(FormatTest, CheckpointMessageIsTagSeqHashTime) {
  const std::string hash(32, '\x11');
  const std::string message = CheckpointMessage(258, hash, 1);
  EXPECT_EQ(message, std::string("kluis/audit-checkpoint/v1") + std::string("\0\0\0\0\0\0\x01\x02", 8) + hash +
                         std::string("\0\0\0\0\0\0\0\x01", 8));
}

TEST(VerifyTest, SomethingThatIsNotAnExportIsRefused) {
  const std::string key(32, '\0');
  std::istringstream empty("");
  EXPECT_EQ(VerifyExport(empty, key).status().code(), absl::StatusCode::kInvalidArgument);
  std::istringstream csv("SEQ,TIME\n1,2\n");
  EXPECT_EQ(VerifyExport(csv, key).status().code(), absl::StatusCode::kInvalidArgument);
  std::istringstream short_key(HeaderLine({key, 0, 0, "none"}));
  EXPECT_EQ(VerifyExport(short_key, "short").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kluis::auditfile
