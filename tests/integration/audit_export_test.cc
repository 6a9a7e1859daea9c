// Issue 6: an audit log anyone can prove. A real export from a real kluisd, every tampering applied
// to it, and two verifiers — kluis audit verify and a Python one written from docs/AUDIT_FORMAT.md
// alone — that must agree: exit 0 for the good file, a failure naming the first bad record for
// each tampered one.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "auditfile/export.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "crypto/root_key.h"
#include "crypto/signing.h"
#include "server/audit/audit_log.h"
#include "tests/integration/cli_fixture.h"

namespace kluis::testing {
namespace {

const std::string kPythonVerifier = std::string(KLUIS_SOURCE_DIR) + "/tests/audit/verify_export.py";

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const std::string& line : lines) out << line << "\n";
}

// The sequence numbers of the checkpoints in an export, in order.
std::vector<int64_t> CheckpointSeqs(const std::vector<std::string>& lines) {
  std::vector<int64_t> seqs;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, "{\"type\":\"checkpoint\"")) seqs.push_back(auditfile::ParseJsonObject(line)->at("seq").number);
  }
  return seqs;
}

// The index of the line of record `seq` (or of the checkpoint on it).
size_t LineOf(const std::vector<std::string>& lines, const std::string& type, int64_t seq) {
  const std::string key = absl::StrCat("{\"type\":\"", type, "\",\"seq\":", seq, ",");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::StartsWith(lines[i], key)) return i;
  }
  ADD_FAILURE() << "no " << type << " line for " << seq;
  return 0;
}

class AuditExportTest : public CliTest {
 protected:
  // A small unit with some releases, refusals and a reason full of CSV's special characters.
  void SetUpActivity() {
    StartServer("", {"--checkpoint-every", "5"});
    ASSERT_EQ(Enroll("operator", admin_code_).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"unit", "add", "rotterdam"}).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"team", "add", "rotterdam", "ijsselmonde"}).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"account", "add", "x/WA_Lombardijen1", "--team", "ijsselmonde", "--kind",
                                 "politie-alleen"}).exit_code, 0);
    for (const char* user : {"robin.peters", "teamchef.ijsselmonde", "auditor"}) AddUser(user);
    ASSERT_EQ(Kluis("operator", {"role", "grant", "robin.peters", "beheerder", "--account", "WA_Lombardijen1"}).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"role", "grant", "teamchef.ijsselmonde", "teamchef", "--team", "ijsselmonde"}).exit_code, 0);
    ASSERT_EQ(Kluis("operator", {"role", "grant", "auditor", "auditor", "--global"}).exit_code, 0);
    ASSERT_EQ(Kluis("robin.peters", {"secret", "set", "WA_Lombardijen1"}, "Winter-2026-geheim\n").exit_code, 0);
    for (int i = 0; i < 6; ++i) ASSERT_EQ(Kluis("robin.peters", {"get", "WA_Lombardijen1"}).exit_code, 0);
    EXPECT_EQ(Kluis("teamchef.ijsselmonde", {"get", "WA_Lombardijen1"}).exit_code, 2);
    ASSERT_EQ(Kluis("teamchef.ijsselmonde", {"emergency", "WA_Lombardijen1", "--reason",
                                             "melding, \"spoed\" want\nRobin is ziek"}).exit_code, 1)
        << "a newline is a control character: refused";
    ASSERT_EQ(Kluis("teamchef.ijsselmonde", {"emergency", "WA_Lombardijen1", "--reason",
                                             "melding, \"spoed\": Robin is ziek"}).exit_code, 0);
    Result key = Kluis("auditor", {"audit", "pubkey"});
    ASSERT_EQ(key.exit_code, 0) << key.err;
    EXPECT_TRUE(absl::StrContains(key.out, "fingerprint SHA256:")) << key.out;
    key_file_ = root_ + "/audit.pub";
    std::ofstream(key_file_) << key.out;
    key_hex_ = Lines(key.out)[0];
  }

  Result Verify(const std::string& file, const std::string& key = "") {
    return RunBinary("kluis", {"audit", "verify", file, "--public-key", key.empty() ? key_file_ : key});
  }
  Result PythonVerify(const std::string& file, const std::string& key = "") {
    return RunBinary("/usr/bin/python3", {kPythonVerifier, file, key.empty() ? key_hex_ : key});
  }
  // Both verifiers on one file: the same verdict, and the failure names `want`.
  void ExpectBothFail(const std::string& name, const std::vector<std::string>& lines, const std::string& want,
                      const std::string& key = "") {
    const std::string file = root_ + "/" + name + ".jsonl";
    WriteLines(file, lines);
    Result ours = Verify(file, key);
    EXPECT_EQ(ours.exit_code, 6) << name << ": " << ours.out << ours.err;
    EXPECT_TRUE(absl::StrContains(ours.err, want)) << name << ": " << ours.err;
    EXPECT_EQ(std::count(ours.err.begin(), ours.err.end(), '\n'), 1) << ours.err;
    Result theirs = PythonVerify(file, key.empty() ? "" : key_hex_other_);
    EXPECT_EQ(theirs.exit_code, 6) << name << " (python): " << theirs.out << theirs.err;
    EXPECT_TRUE(absl::StrContains(theirs.err, want)) << name << " (python): " << theirs.err;
  }

  std::string key_file_, key_hex_, key_hex_other_;
};

TEST_F(AuditExportTest, FullExportVerifiesAndEveryTamperingIsNamedByBothVerifiers) {
  SetUpActivity();
  const std::string file = root_ + "/export.jsonl";
  Result exported = Kluis("auditor", {"audit", "export", "--format", "jsonl", "--out", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(absl::StrContains(exported.out, "checkpoints")) << exported.out;
  Result ours = Verify(file);
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  EXPECT_TRUE(absl::StartsWith(ours.out, "ok: records 1 to ")) << ours.out;
  Result theirs = PythonVerify(file);
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  // Verification needs nothing but the file and the key: no profile, no server.
  EXPECT_EQ(StopServer(), 0);
  EXPECT_EQ(Verify(file).exit_code, 0);

  const std::vector<std::string> good = Lines(Slurp(file));
  ASSERT_GT(good.size(), 30u);
  std::vector<std::string> t;

  t = good;  // a modified record: the reason changed, canonical bytes left alone
  t[LineOf(t, "record", 12)] = absl::StrReplaceAll(t[LineOf(t, "record", 12)], {{"\"peer\":\"", "\"peer\":\"x"}});
  ExpectBothFail("modified", t, "record 12 was modified");

  t = good;  // a deleted record
  t.erase(t.begin() + LineOf(t, "record", 9));
  ExpectBothFail("deleted", t, "record 9 is missing");

  t = good;  // reordered records
  std::swap(t[LineOf(t, "record", 7)], t[LineOf(t, "record", 8)]);
  ExpectBothFail("reordered", t, "record 7 is missing");

  t = good;  // an inserted record: a copy of record 13 after itself
  t.insert(t.begin() + LineOf(t, "record", 13) + 1, t[LineOf(t, "record", 13)]);
  ExpectBothFail("inserted", t, "record 13 is out of place");

  t = good;  // a rewritten record with recomputed canonical bytes and hashes all the way down
  {
    int64_t seq = 14;
    std::string previous;
    for (size_t i = LineOf(t, "record", seq); i < t.size(); ++i) {
      if (!absl::StartsWith(t[i], "{\"type\":\"record\"")) continue;
      auditfile::JsonObject o = *auditfile::ParseJsonObject(t[i]);
      auditfile::Record r{o["seq"].number, o["time_us"].number, o["actor"].text,  o["role"].text,
                          o["action"].text, o["account"].text, o["decision"].text, o["rule"].text,
                          o["reason"].text, o["request_id"].text, o["peer"].text, o["outcome"].text,
                          o["certificate"].text};
      if (r.seq == seq) r.actor = "mallory";
      std::string prev;
      crypto::HexDecode(o["prev_hash"].text, &prev);
      if (!previous.empty()) prev = previous;
      const std::string canonical = auditfile::CanonicalBytes(r);
      previous = auditfile::ChainHash(prev, canonical);
      t[i] = std::string(absl::StripTrailingAsciiWhitespace(auditfile::RecordLine(r, prev, previous)));
    }
  }
  ExpectBothFail("rehashed", t, "the signed chain hash differs");

  const std::vector<int64_t> checkpoints = CheckpointSeqs(good);
  ASSERT_GE(checkpoints.size(), 3u);
  const int64_t second = checkpoints[1];
  t = good;  // a forged checkpoint signature
  {
    std::string& line = t[LineOf(t, "checkpoint", second)];
    const size_t at = line.find("\"signature\":\"") + 13;
    line[at] = line[at] == '0' ? '1' : '0';
  }
  ExpectBothFail("forged", t, absl::StrCat("checkpoint at record ", second, ": the signature does not verify"));

  t = good;  // a checkpoint whose signature was removed
  t[LineOf(t, "checkpoint", second)] =
      absl::StrReplaceAll(t[LineOf(t, "checkpoint", second)], {{"\"signature\":\"", "\"signature\":\"\",\"x\":\""}});
  ExpectBothFail("unsigned", t, absl::StrCat("checkpoint at record ", second, " has no signature"));

  // The wrong key: the first checkpoint fails.
  const std::string other = crypto::HexEncode(crypto::Ed25519Signer::FromSeed(crypto::RandomSecret(32))->public_key());
  key_hex_other_ = other;
  ExpectBothFail("wrong-key", good, "the header names another public key than the one you trust", other);
  key_hex_other_.clear();

  t = good;  // records cut off after the last checkpoint, the closing checkpoint removed too
  const int64_t last = auditfile::ParseJsonObject(good[good.size() - 2])->at("seq").number;
  t.resize(t.size() - 1);  // the closing checkpoint
  ExpectBothFail("tail", t, absl::StrCat("come after the last checkpoint"));
  t.resize(t.size() - 1);  // and the record it was on: an earlier checkpoint is now the last
  t.push_back(good.back());
  ExpectBothFail("cut-off", t, absl::StrCat("checkpoint at record ", last, " names a record that is not in the export"));

  // Issue 16 (3): the three ways the version 1 format could be cheated, refused by both.
  t = good;  // (a) relabelled as filtered, a record deleted, the checkpoints that no longer fit dropped
  t[0] = absl::StrReplaceAll(t[0], {{"\"filter\":\"none\"", "\"filter\":\"actor=robin.peters\""}});
  t.erase(t.begin() + LineOf(t, "record", 9));
  t.erase(std::remove_if(t.begin() + 1, t.end() - 1,
                         [](const std::string& line) { return absl::StartsWith(line, "{\"type\":\"checkpoint\""); }),
          t.end() - 1);
  ExpectBothFail("relabelled", t, "does not match the header");
  t = good;  // (b) cut after an earlier checkpoint
  t.resize(LineOf(t, "checkpoint", second) + 1);
  ExpectBothFail("cut-at-checkpoint", t, absl::StrCat("not at its own record ", last));
  ExpectBothFail("header-only", {good[0]}, "holds no records");  // (c)

  // One canonical line syntax (record 2 is line 3): both refuse, neither crashes.
  const size_t two = LineOf(good, "record", 2);
  ASSERT_EQ(two, 2u);
  for (const auto& [name, from, to, want] : std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"float-seq", "\"seq\":2,", "\"seq\":2.0,", "line 3 is not"},
           {"unknown-key", "\"type\":\"record\",", "\"type\":\"record\",\"x\":\"y\",", "line 3 is not in the export's canonical form"},
           {"spaced", "\"seq\":2,", "\"seq\": 2,", "line 3 is not in the export's canonical form"},
           {"crlf", "}", "}\r", "line 3 is not in the export's canonical form"}}) {
    t = good;
    t[two] = absl::StrReplaceAll(t[two], {{from, to}});
    ASSERT_NE(t[two], good[two]) << name;
    ExpectBothFail(name, t, want);
  }
  t = good;
  {
    const size_t at = t[two].find("\"hash\":\"") + 8;
    for (size_t i = at; i < at + 64; ++i) t[two][i] = absl::ascii_toupper(t[two][i]);
  }
  ExpectBothFail("upper-hex", t, "line 3");
  t = good;
  t.insert(t.begin() + two, "");
  ExpectBothFail("blank", t, "line 3 is blank");

  // Not an export at all: exit 1, one line.
  std::ofstream(root_ + "/not.jsonl") << "hallo\n";
  Result garbage = Verify(root_ + "/not.jsonl");
  EXPECT_EQ(garbage.exit_code, 1) << garbage.err;
  EXPECT_EQ(PythonVerify(root_ + "/not.jsonl").exit_code, 1);
  EXPECT_EQ(Verify(file, "abcd").exit_code, 1);
}

TEST_F(AuditExportTest, FilteredExportVerifiesForWhatItHoldsAndCsvFollowsRfc4180) {
  SetUpActivity();
  const std::string file = root_ + "/robin.jsonl";
  Result exported = Kluis("auditor", {"audit", "export", "--format", "jsonl", "--actor", "robin.peters", "--out", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(absl::StrContains(exported.out, "filtered: actor=robin.peters")) << exported.out;
  Result ours = Verify(file);
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  EXPECT_TRUE(absl::StrContains(ours.out, "filtered export")) << ours.out;
  EXPECT_EQ(PythonVerify(file).exit_code, 0);
  std::vector<std::string> t = Lines(Slurp(file));
  for (std::string& line : t) {
    if (absl::StrContains(line, "\"decision\":\"allow\"")) {
      line = absl::StrReplaceAll(line, {{"\"decision\":\"allow\"", "\"decision\":\"deny\""}});
      break;
    }
  }
  ExpectBothFail("filtered-modified", t, "was modified");

  const std::string csv = root_ + "/log.csv";
  ASSERT_EQ(Kluis("auditor", {"audit", "export", "--format", "csv", "--out", csv}).exit_code, 0);
  const std::string text = Slurp(csv);
  EXPECT_TRUE(absl::StartsWith(text, "seq,time_utc,time_us,actor,role,action,account,decision,rule,reason,")) << text;
  EXPECT_TRUE(absl::StrContains(text, "\"melding, \"\"spoed\"\": Robin is ziek\"")) << text;
  EXPECT_TRUE(absl::StrContains(text, "\r\n"));
  EXPECT_EQ(Kluis("robin.peters", {"audit", "export", "--format", "csv", "--out", csv}).exit_code, 2)
      << "only auditors export";
  // Access report: what robin actually released, nothing else.
  Result access = Kluis("auditor", {"audit", "access", "--actor", "robin.peters", "--format", "csv"});
  EXPECT_EQ(std::count(access.out.begin(), access.out.end(), '\n'), 7) << access.out;  // header + 6 releases
}

// 100,000 records: appended straight into the vault's database (as the vault would, with its own
// checkpoint key) while it serves, exported through the real client, verified by both verifiers.
TEST(AuditScaleTest, AnExportOfAHundredThousandRecordsVerifies) {
  TestVault vault;
  client::Profile auditor = vault.AddAndEnroll("auditor");
  ASSERT_TRUE(auditor.Save().ok());
  {
    kluis::v1::GrantRoleRequest grant;
    grant.set_user("auditor");
    grant.set_role(kluis::v1::ROLE_AUDITOR);
    grant.mutable_scope()->set_global(true);
    client::Client& op = vault.operator_client();
    ASSERT_TRUE(op.Call(op.organisation(), &kluis::v1::Organisation::Stub::GrantRole, grant).ok());
  }
  std::ifstream sealed_in(server::RootKeyPath(vault.data_dir()), std::ios::binary);
  std::stringstream sealed;
  sealed << sealed_in.rdbuf();
  auto root = crypto::RootKey::Open(sealed.str(), crypto::SecretBytes::CopyFrom(TestVault::kPassphrase));
  ASSERT_TRUE(root.ok());
  auto signer = crypto::Ed25519Signer::FromSeed(*crypto::DeriveSubkey(*root, crypto::SubkeyPurpose::kAuditSigning));
  ASSERT_TRUE(signer.ok());
  const std::string key_hex = crypto::HexEncode(signer->public_key());
  const audit::Checkpointer checkpointer(*std::move(signer), 100, absl::Seconds(60));
  {
    auto db = vault.OpenDatabaseForTest();
    absl::Time t = vault.clock().Now();
    ASSERT_TRUE(db->Write([&](storage::Tx& tx) -> absl::Status {
                    for (int i = 0; i < 100000; ++i) {
                      audit::AuditEvent event{"robin.peters", "beheerder", "release-login", "x/WA_Lombardijen1",
                                              "allow", "R1.beheerder", absl::StrCat("dienst ", i), "",
                                              "ipv4:127.0.0.1:1", "ok", 1};
                      if (absl::Status s = audit::Append(tx, event, t, &checkpointer).status(); !s.ok()) return s;
                      t += absl::Milliseconds(1);
                    }
                    return absl::OkStatus();
                  }).ok());
  }
  const std::string file = vault.data_dir() + "/../big.jsonl";
  Result exported = RunBinary("kluis", {"--profile", vault.data_dir() + "/../auditor", "audit", "export", "--format",
                                        "jsonl", "--out", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  Result ours = RunBinary("kluis", {"audit", "verify", file, "--public-key", key_hex});
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  EXPECT_TRUE(absl::StrContains(ours.out, "ok: records 1 to 1000")) << ours.out;
  Result theirs = RunBinary("/usr/bin/python3", {kPythonVerifier, file, key_hex});
  EXPECT_EQ(theirs.exit_code, 0) << theirs.err;
}

}  // namespace
}  // namespace kluis::testing
