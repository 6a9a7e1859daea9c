// The export format on its own: flat JSON lines written and read back byte for byte, the
// checkpoint message layout, and a verifier that refuses what is not an export.
#include "auditfile/export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include <sstream>

#include "auditfile/format.h"
#include "auditfile/verify.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/signing.h"

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

// The verifier reads lines as RecordLine writes them in one pass, and anything else (escaped text,
// members in another order) through the general parser. Both must accept a true export and both
// must catch a change.
class VerifyPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Initialize().ok());
    signer_ = std::make_unique<crypto::Ed25519Signer>(*crypto::Ed25519Signer::FromSeed(crypto::RandomSecret(32)));
  }
  // A full export of `records`, chained, closed by the export's own record and a signed
  // checkpoint on it, as the vault writes one.
  std::vector<std::string> Export(std::vector<Record> records) {
    const int64_t head = static_cast<int64_t>(records.size()) + 1;
    Record own = Plain(head);
    own.actor = "auditor";
    own.action = kExportAction;
    own.reason = ExportRecordReason(head, "none");
    records.push_back(own);
    std::vector<std::string> lines = {HeaderLine({signer_->public_key(), 1, head, "none"})};
    std::string previous = GenesisHash();
    for (const Record& r : records) {
      const std::string hash = ChainHash(previous, CanonicalBytes(r));
      lines.push_back(RecordLine(r, previous, hash));
      previous = hash;
    }
    const int64_t last = records.back().seq;
    lines.push_back(CheckpointLine({last, 9, previous, signer_->Sign(CheckpointMessage(last, previous, 9))}));
    return lines;
  }
  absl::StatusOr<Verification> Verify(const std::vector<std::string>& lines) {
    std::stringstream in;
    for (const std::string& l : lines) in << l;
    return VerifyExport(in, signer_->public_key());
  }
  static Record Plain(int64_t seq) {
    return {seq, 100 + seq, "robin.peters", "beheerder", "release-login", "x/A", "allow", "R1", "", "", "ipv4:1", "ok"};
  }
  std::unique_ptr<crypto::Ed25519Signer> signer_;
};

TEST_F(VerifyPathsTest, EscapedLinesVerifyLikePlainOnes) {
  Record escaped = Plain(2);
  escaped.reason = "quote \" backslash \\ newline \n é";
  std::vector<std::string> lines = Export({Plain(1), escaped, Plain(3)});
  ASSERT_NE(lines[2].find("\\\""), std::string::npos);  // record 2 really is escaped on its line
  absl::StatusOr<Verification> v = Verify(lines);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->records, 4);
  EXPECT_EQ(v->checkpoints, 1);
  EXPECT_EQ(v->head_seq, 4);
}

// Issue 16 (3): one canonical line syntax. The same JSON object written otherwise is refused.
TEST_F(VerifyPathsTest, LinesNotWrittenAsKluisWritesThemAreRefused) {
  const std::vector<std::string> good = Export({Plain(1), Plain(2), Plain(3)});
  const std::string head = "{\"type\":\"record\",\"seq\":3,\"time_us\":103,";
  ASSERT_TRUE(absl::StartsWith(good[3], head));
  struct Case {
    const char* what;
    std::function<void(std::vector<std::string>&)> change;
    const char* want;
  };
  const Case cases[] = {
      {"reordered keys", [&](auto& t) { t[3] = absl::StrCat("{\"time_us\":103,\"seq\":3,\"type\":\"record\",", t[3].substr(head.size())); },
       "line 4 is not in the export's canonical form"},
      {"unknown key", [](auto& t) { t[3].insert(t[3].size() - 2, ",\"x\":1"); }, "line 4 is not in the export's canonical form"},
      {"a space", [](auto& t) { t[3] = absl::StrReplaceAll(t[3], {{",\"seq\":3", ", \"seq\":3"}}); },
       "line 4 is not in the export's canonical form"},
      {"blank line", [](auto& t) { t.insert(t.begin() + 2, "\n"); }, "line 3 is blank"},
      {"CRLF", [](auto& t) { t[2].insert(t[2].size() - 1, "\r"); }, "line 3"},
      {"upper-case hex", [](auto& t) {
         const size_t at = t[2].find("\"hash\":\"") + 8;
         for (size_t i = at; i < at + 64; ++i) t[2][i] = absl::ascii_toupper(t[2][i]);
       }, "line 3"},
      {"not an integer", [](auto& t) { t[2] = absl::StrReplaceAll(t[2], {{"\"seq\":2,", "\"seq\":2.0,"}}); },
       "line 3 is not a JSON object"},
      {"leading zero", [](auto& t) { t[2] = absl::StrReplaceAll(t[2], {{"\"seq\":2,", "\"seq\":02,"}}); }, "line 3"},
      {"no final newline", [](auto& t) { t.back().pop_back(); }, "does not end in a newline"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> t = good;
    c.change(t);
    absl::StatusOr<Verification> v = Verify(t);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss) << c.what << ": " << v.status();
    EXPECT_THAT(std::string(v.status().message()), ::testing::HasSubstr(c.want)) << c.what;
  }
}

TEST_F(VerifyPathsTest, ALineLongerThanTheLimitIsRefusedWithoutHoldingIt) {
  std::vector<std::string> lines = Export({Plain(1)});
  lines.insert(lines.begin() + 1, std::string(kMaxLineBytes + 1, 'x') + "\n");
  absl::StatusOr<Verification> v = Verify(lines);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(v.status().message()), ::testing::HasSubstr("line 2 is longer than 65536 bytes"));
}

// Issue 16 (3): the header is held to the export's own signed record.
TEST_F(VerifyPathsTest, TheHeaderMustAgreeWithTheExportsOwnSignedRecord) {
  const std::vector<std::string> good = Export({Plain(1), Plain(2), Plain(3)});
  ASSERT_TRUE(Verify(good).ok());
  std::vector<std::string> t = good;  // a full export relabelled as filtered
  t[0] = HeaderLine({signer_->public_key(), 1, 4, "actor=robin.peters"});
  EXPECT_THAT(std::string(Verify(t).status().message()), ::testing::HasSubstr("does not match the header"));
  t = good;  // the header's head moved
  t[0] = HeaderLine({signer_->public_key(), 1, 3, "none"});
  EXPECT_EQ(Verify(t).status().code(), absl::StatusCode::kDataLoss);
  t = good;  // cut after an earlier record: nothing ends it
  t.resize(3);
  EXPECT_THAT(std::string(Verify(t).status().message()), ::testing::HasSubstr("not at its own record 4"));
  t = {good[0]};  // a header and no records
  EXPECT_THAT(std::string(Verify(t).status().message()), ::testing::HasSubstr("holds no records"));
  t = good;  // another vault's key in the header
  t[0] = HeaderLine({std::string(32, 'k'), 1, 4, "none"});
  EXPECT_THAT(std::string(Verify(t).status().message()), ::testing::HasSubstr("another public key"));
  t = good;  // a line after the closing checkpoint
  t.push_back(good[1]);
  EXPECT_THAT(std::string(Verify(t).status().message()), ::testing::HasSubstr("follows the export's closing checkpoint"));
}

TEST_F(VerifyPathsTest, VersionOneExportsAreRefusedAsNoLongerProvable) {
  std::vector<std::string> lines = Export({Plain(1)});
  lines[0] = absl::StrReplaceAll(lines[0], {{kExportFormat, "kluis-audit-export/1"}});
  absl::StatusOr<Verification> v = Verify(lines);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(v.status().message()), ::testing::HasSubstr("no longer accepted"));
}

TEST_F(VerifyPathsTest, AChangeIsCaughtOnEitherPath) {
  Record escaped = Plain(2);
  escaped.reason = "quote \" here";
  const std::vector<std::string> good = Export({Plain(1), escaped, Plain(3)});
  ASSERT_TRUE(Verify(good).ok());
  for (int line : {1, 2}) {  // record 1 is read in one pass, record 2 by the general parser
    std::vector<std::string> bad = good;
    bad[line] = absl::StrReplaceAll(bad[line], {{"robin.peters", "robin.petera"}});
    absl::StatusOr<Verification> v = Verify(bad);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss) << line;
    EXPECT_THAT(std::string(v.status().message()), ::testing::HasSubstr(absl::StrCat("record ", line, " was modified")));
  }
  // A record line with a space after a comma is still JSON: the general path reads it, and the
  // change it hides is still caught.
  std::vector<std::string> spaced = good;
  spaced[3] = absl::StrReplaceAll(spaced[3], {{",\"actor\":\"robin.peters\"", ", \"actor\":\"robin.petera\""}});
  EXPECT_EQ(Verify(spaced).status().code(), absl::StatusCode::kDataLoss);
}

// Issue 16 (1): a log begun before record version 2 holds version 1 records, then version 2 ones
// naming the presented certificate; both verify in one export, on both parsing paths.
TEST_F(VerifyPathsTest, VersionOneRecordsFollowedByVersionTwoRecordsVerify) {
  std::vector<Record> records = {Plain(1), Plain(2), Plain(3), Plain(4)};
  records[0].version = records[1].version = 1;
  records[2].certificate = records[3].certificate = std::string(64, 'c');
  records[3].reason = "escaped \" reason";  // the general parser's path
  const std::vector<std::string> lines = Export(records);
  EXPECT_EQ(lines[1].find("certificate"), std::string::npos) << "a version 1 line has no certificate key";
  EXPECT_NE(lines[3].find(",\"certificate\":\"cccc"), std::string::npos) << lines[3];
  absl::StatusOr<Verification> v = Verify(lines);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->records, 5);
}

TEST_F(VerifyPathsTest, ACertificateChangedOrDroppedIsCaughtOnEitherPath) {
  std::vector<Record> records = {Plain(1), Plain(2)};
  records[0].certificate = records[1].certificate = std::string(64, 'c');
  records[1].reason = "escaped \" reason";
  const std::vector<std::string> good = Export(records);
  for (int line : {1, 2}) {
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {",\"certificate\":\"" + std::string(64, 'c') + "\"", ",\"certificate\":\"" + std::string(64, 'd') + "\""},
             {",\"certificate\":\"" + std::string(64, 'c') + "\"", ""}}) {
      std::vector<std::string> bad = good;
      bad[line] = absl::StrReplaceAll(bad[line], {{from, to}});
      ASSERT_NE(bad[line], good[line]);
      absl::StatusOr<Verification> v = Verify(bad);
      EXPECT_EQ(v.status().code(), absl::StatusCode::kDataLoss) << line << " " << to;
      EXPECT_THAT(std::string(v.status().message()), ::testing::HasSubstr(absl::StrCat("record ", line, " was modified")));
    }
  }
}

}  // namespace
}  // namespace kluis::auditfile
