#include "server/audit/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "crypto/hash.h"
#include "crypto/random.h"

namespace kluis::audit {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Initialize().ok());
    char tmpl[] = "/tmp/kluis-audit-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto db = storage::Database::Open(dir_ + "/vault.db", key_, storage::Database::Mode::kCreate);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void AppendN(int n) {
    for (int i = 0; i < n; ++i) {
      AuditEvent event{"robin.peters", "beheerder", "release", "x/WA_Lombardijen1", "allow",
                       "R1.beheerder-release", "dienst", "", "ipv4:127.0.0.1:1", "ok", 2};
      ASSERT_TRUE(db_->Write([&](storage::Tx& tx) { return Append(tx, event, t_).status(); }).ok());
      t_ += absl::Seconds(1);
    }
  }
  absl::StatusOr<int64_t> Verify() {
    absl::StatusOr<int64_t> result;
    EXPECT_TRUE(db_->Read([&](storage::Tx& tx) {
      result = VerifyChain(tx);
      return absl::OkStatus();
    }).ok());
    return result;
  }

  std::string dir_;
  crypto::SecretBytes key_ = crypto::RandomSecret(32);
  std::unique_ptr<storage::Database> db_;
  absl::Time t_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST_F(AuditLogTest, ChainOfAppendsVerifies) {
  AppendN(25);
  auto checked = Verify();
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(*checked, 25);
}

TEST_F(AuditLogTest, EmptyLogVerifies) { EXPECT_EQ(Verify().value_or(-1), 0); }

TEST_F(AuditLogTest, CanonicalBytesAreLengthPrefixedBigEndian) {
  AuditEvent event;
  event.actor = "a";
  const std::string bytes = CanonicalBytes(1, 2, event);
  ASSERT_EQ(bytes.size(), 1 + 8 + 8 + 10 * 4 + 1u);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[8], 1);   // seq, last byte
  EXPECT_EQ(bytes[16], 2);  // time, last byte
  EXPECT_EQ(bytes.substr(17, 5), std::string("\0\0\0\1a", 5));
  // Field boundaries are unambiguous: moving a character between fields changes the bytes.
  AuditEvent moved;
  moved.role = "a";
  EXPECT_NE(CanonicalBytes(1, 2, moved), bytes);
}

TEST_F(AuditLogTest, ChainHashIsBlake2bOverTagPreviousAndRecord) {
  const std::string previous = GenesisHash();
  EXPECT_EQ(ChainHash(previous, "x"),
            crypto::Blake2b256().Update("kluis/audit/v1").Update(previous).Update("x").Finish());
}

TEST_F(AuditLogTest, ModifiedRecordIsNamed) {
  AppendN(10);
  ASSERT_TRUE(db_->ExecForTest("UPDATE audit_records SET reason = 'niets' WHERE seq = 4").ok());
  auto checked = Verify();
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(checked.status().message().find("record 4"), absl::string_view::npos);
}

TEST_F(AuditLogTest, DeletedRecordIsNamed) {
  AppendN(10);
  ASSERT_TRUE(db_->ExecForTest("DELETE FROM audit_records WHERE seq = 6").ok());
  auto checked = Verify();
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(checked.status().message().find("record 6"), absl::string_view::npos);
}

TEST_F(AuditLogTest, RecomputedCanonicalBytesWithoutChainStillFail) {
  AppendN(5);
  // An attacker who rewrites a record and its canonical bytes still breaks the hash chain.
  AuditEvent forged{"mallory", "", "release", "", "allow", "", "", "", "", "ok", {}};
  const std::string canonical = CanonicalBytes(3, absl::ToUnixMicros(t_), forged);
  ASSERT_TRUE(db_->ExecForTest("UPDATE audit_records SET actor = 'mallory', role = '', account = '', "
                               "rule = '', reason = '', peer = '', unit_id = NULL, time_us = " +
                               std::to_string(absl::ToUnixMicros(t_)) + ", canonical = x'" +
                               crypto::HexEncode(canonical) + "' WHERE seq = 3")
                  .ok());
  EXPECT_EQ(Verify().status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kluis::audit
