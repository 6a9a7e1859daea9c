#include "server/audit/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/signing.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"

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
  auditfile::Record record{1, 2};
  record.version = 1;
  record.actor = "a";
  const std::string bytes = auditfile::CanonicalBytes(record);
  ASSERT_EQ(bytes.size(), 1 + 8 + 8 + 10 * 4 + 1u);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[8], 1);   // seq, last byte
  EXPECT_EQ(bytes[16], 2);  // time, last byte
  EXPECT_EQ(bytes.substr(17, 5), std::string("\0\0\0\1a", 5));
  // Field boundaries are unambiguous: moving a character between fields changes the bytes.
  auditfile::Record moved{1, 2};
  moved.version = 1;
  moved.role = "a";
  EXPECT_NE(auditfile::CanonicalBytes(moved), bytes);
}

// Issue 16 (1): version 2 records name the certificate the call presented, as an eleventh field.
TEST_F(AuditLogTest, VersionTwoCanonicalBytesEndWithTheCertificate) {
  auditfile::Record record{1, 2};
  record.certificate = "ab";
  const std::string bytes = auditfile::CanonicalBytes(record);
  ASSERT_EQ(bytes.size(), 1 + 8 + 8 + 11 * 4 + 2u);
  EXPECT_EQ(bytes[0], 2);
  EXPECT_EQ(bytes.substr(bytes.size() - 6), std::string("\0\0\0\2ab", 6));
}

TEST_F(AuditLogTest, VersionOneCanonicalBytesHaveNoCertificate) {
  auditfile::Record record{1, 2};
  record.version = 1;
  record.certificate = "ab";  // not part of a version 1 record
  EXPECT_EQ(auditfile::CanonicalBytes(record).size(), 1 + 8 + 8 + 10 * 4u);
}

TEST_F(AuditLogTest, ChainHashIsBlake2bOverTagPreviousAndRecord) {
  const std::string previous = auditfile::GenesisHash();
  EXPECT_EQ(auditfile::ChainHash(previous, "x"),
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
  auditfile::Record forged{3, absl::ToUnixMicros(t_), "mallory", "", "release", "", "allow", "", "", "", "", "ok"};
  const std::string canonical = auditfile::CanonicalBytes(forged);
  ASSERT_TRUE(db_->ExecForTest("UPDATE audit_records SET actor = 'mallory', role = '', account = '', "
                               "rule = '', reason = '', peer = '', unit_id = NULL, time_us = " +
                               std::to_string(absl::ToUnixMicros(t_)) + ", canonical = x'" +
                               crypto::HexEncode(canonical) + "' WHERE seq = 3")
                  .ok());
  EXPECT_EQ(Verify().status().code(), absl::StatusCode::kDataLoss);
}

class CheckpointTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    auto signer = crypto::Ed25519Signer::FromSeed(crypto::RandomSecret(32));
    ASSERT_TRUE(signer.ok());
    checkpointer_ = std::make_unique<Checkpointer>(*std::move(signer), 10, absl::Seconds(60));
  }
  void AppendSigned(int n, absl::Duration step = absl::Seconds(1)) {
    for (int i = 0; i < n; ++i) {
      AuditEvent event{"robin.peters", "beheerder", "release", "x/WA_Lombardijen1", "allow",
                       "R1.beheerder-release", "dienst", "", "ipv4:127.0.0.1:1", "ok", 2};
      ASSERT_TRUE(db_->Write([&](storage::Tx& tx) { return Append(tx, event, t_, checkpointer_.get()).status(); }).ok());
      t_ += step;
    }
  }
  std::vector<storage::CheckpointRow> Checkpoints() {
    std::vector<storage::CheckpointRow> rows;
    EXPECT_TRUE(db_->Read([&](storage::Tx& tx) -> absl::Status {
      auto listed = tx.ListCheckpoints(0, 1'000'000);
      if (!listed.ok()) return listed.status();
      rows = *listed;
      return absl::OkStatus();
    }).ok());
    return rows;
  }
  absl::StatusOr<int64_t> VerifyAtStart(absl::string_view key) {
    absl::StatusOr<int64_t> result;
    EXPECT_TRUE(db_->Read([&](storage::Tx& tx) {
      result = VerifyFromLastCheckpoint(tx, key);
      return absl::OkStatus();
    }).ok());
    return result;
  }
  std::unique_ptr<Checkpointer> checkpointer_;
};

TEST_F(CheckpointTest, EveryNRecordsIsSignedWithTheVaultKey) {
  AppendSigned(25);
  std::vector<storage::CheckpointRow> rows = Checkpoints();
  // The first record is signed (nothing was before it), then every tenth after the last.
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].seq, 1);
  EXPECT_EQ(rows[1].seq, 11);
  EXPECT_EQ(rows[2].seq, 21);
  for (const storage::CheckpointRow& c : rows) {
    EXPECT_TRUE(crypto::Ed25519Verify(checkpointer_->public_key(),
                                      auditfile::CheckpointMessage(c.seq, c.chain_hash, c.time_us), c.signature));
  }
  auto checked = VerifyAtStart(checkpointer_->public_key());
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(*checked, 5) << "from the last checkpointed record on";
}

TEST_F(CheckpointTest, AfterTSecondsTheNextRecordIsSigned) {
  AppendSigned(3, absl::Seconds(61));
  EXPECT_EQ(Checkpoints().size(), 3u);
}

TEST_F(CheckpointTest, StartRefusesAForgedCheckpointOrAChangedSignedRecordOrABrokenTail) {
  AppendSigned(15);
  const auto other = crypto::Ed25519Signer::FromSeed(crypto::RandomSecret(32));
  auto wrong_key = VerifyAtStart(other->public_key());
  EXPECT_EQ(wrong_key.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(wrong_key.status().message().find("checkpoint at record 11"), absl::string_view::npos) << wrong_key.status();
  ASSERT_TRUE(db_->ExecForTest("UPDATE audit_records SET reason = 'weg' WHERE seq = 12").ok());
  auto tail = VerifyAtStart(checkpointer_->public_key());
  EXPECT_NE(tail.status().message().find("record 12"), absl::string_view::npos) << tail.status();
  ASSERT_TRUE(db_->ExecForTest("UPDATE audit_records SET reason = 'ook weg' WHERE seq = 11").ok());
  auto signed_bytes = VerifyAtStart(checkpointer_->public_key());
  EXPECT_NE(signed_bytes.status().message().find("record 11"), absl::string_view::npos) << signed_bytes.status();
  ASSERT_TRUE(db_->ExecForTest("UPDATE audit_records SET chain_hash = zeroblob(32) WHERE seq = 11").ok());
  auto signed_hash = VerifyAtStart(checkpointer_->public_key());
  EXPECT_NE(signed_hash.status().message().find("record 11"), absl::string_view::npos) << signed_hash.status();
}

}  // namespace
}  // namespace kluis::audit
