// The vault core on its own: kluis::vault without gRPC, without generated proto, without a
// network. This binary links only that library (tests/CMakeLists.txt), so a use case that reached
// for gRPC would not link; and the rules are exercised at the layer that enforces them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crypto/certificates.h"
#include "crypto/kdf.h"
#include "crypto/secret_bytes.h"
#include "policies/roles.h"
#include "server/vault/clock.h"
#include "server/vault/vault.h"

namespace kluis::server {
namespace {

constexpr char kPassword[] = "Winter-2026-geheim";

class VaultCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kluis-core-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    InitOptions options;
    options.data_dir = dir_.string();
    options.admin_user = "operator";
    options.argon2 = crypto::Argon2Params::Interactive();
    auto init = Vault::Init(options, passphrase_, clock_);
    ASSERT_TRUE(init.ok()) << init.status();
    auto opened = Vault::Open(dir_.string(), passphrase_, clock_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    vault_ = *std::move(opened);
    operator_ = EnrollAs("operator", init->admin_code.code);
    Caller op = Who(operator_);
    ASSERT_TRUE(vault_->AddUnit(op, "rotterdam", "Eenheid Rotterdam").ok());
    ASSERT_TRUE(vault_->AddTeam(op, "rotterdam", "ijsselmonde", "").ok());
    ASSERT_TRUE(vault_->AddAccount(op, "x", "WA_Lombardijen1", "ijsselmonde", "politie-alleen", "wa@politie.example").ok());
    auto code = vault_->AddUser(op, "robin.peters", "Robin Peters");
    ASSERT_TRUE(code.ok()) << code.status();
    robin_ = EnrollAs("robin.peters", code->code);
    auto granted = vault_->GrantRole(op, "robin.peters", policies::Role::kBeheerder, policies::ScopeKind::kAccount,
                                     "WA_Lombardijen1", std::nullopt);
    ASSERT_TRUE(granted.ok()) << granted.status();
    auto set = vault_->SetPassword(Who(robin_), "WA_Lombardijen1", crypto::SecretBytes::CopyFrom(kPassword));
    ASSERT_TRUE(set.ok()) << set.status();
  }
  void TearDown() override {
    vault_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Enrolls `user` with `code` as a client would, and returns what its calls present.
  Presented EnrollAs(const std::string& user, const std::string& code) {
    auto key = crypto::GenerateKeyAndRequest(user);
    EXPECT_TRUE(key.ok()) << key.status();
    auto enrolled = vault_->Enroll(user, code, key->request_pem, "core-test");
    EXPECT_TRUE(enrolled.ok()) << enrolled.status();
    return Presented{enrolled.ok() ? enrolled->certificate_pem : "", "core-test"};
  }
  Caller Who(const Presented& presented) {
    auto caller = vault_->Authenticate(presented);
    EXPECT_TRUE(caller.ok()) << caller.status();
    return caller.ok() ? *caller : Caller{};
  }
  int64_t AuditRecords(const std::string& action, const std::string& decision) {
    int64_t n = 0;
    for (const auto& row : AuditRows()) n += row.action == action && row.decision == decision;
    return n;
  }
  std::vector<storage::AuditRow> AuditRows() {
    Caller op = Who(operator_);
    // The operator reads no audit log (separation of duties): an auditor is made for it.
    auto code = vault_->AddUser(op, "auditor" + std::to_string(++auditors_), "");
    EXPECT_TRUE(code.ok()) << code.status();
    if (!code.ok()) return {};
    Presented auditor = EnrollAs("auditor" + std::to_string(auditors_), code->code);
    EXPECT_TRUE(vault_
                    ->GrantRole(op, "auditor" + std::to_string(auditors_), policies::Role::kAuditor,
                                policies::ScopeKind::kGlobal, "", std::nullopt)
                    .ok());
    auto rows = vault_->ListAudit(Who(auditor), AuditQuery{});
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? rows->records : std::vector<storage::AuditRow>{};
  }

  std::filesystem::path dir_;
  ManualClock clock_{absl::FromUnixSeconds(1795000000)};
  crypto::SecretBytes passphrase_ = crypto::SecretBytes::CopyFrom("correct horse battery staple");
  std::unique_ptr<Vault> vault_;
  Presented operator_, robin_;
  int auditors_ = 0;
};

TEST_F(VaultCoreTest, R1BeheerderGetsTheLoginThroughTheCoreAlone) {
  auto login = vault_->ReleaseCredential(robin_, "WA_Lombardijen1", ReleaseOptions{});
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->password.Reveal(), kPassword);
  EXPECT_EQ(login->linked_email.Reveal(), "wa@politie.example");
  EXPECT_EQ(AuditRecords("release-login", "allow"), 1);
}

TEST_F(VaultCoreTest, R1OperatorIsRefusedTheLoginAndTheRefusalIsRecorded) {
  auto login = vault_->ReleaseCredential(operator_, "WA_Lombardijen1", ReleaseOptions{});
  EXPECT_EQ(login.status().code(), absl::StatusCode::kPermissionDenied) << login.status();
  EXPECT_EQ(AuditRecords("release-login", "deny"), 1);
  EXPECT_EQ(AuditRecords("release-login", "allow"), 0);
}

// The audited-attempt pipeline (server/vault/attempt.h), one test per way an attempt ends.

TEST_F(VaultCoreTest, AttemptRefusedEnrollmentKeepsItsCounterWithItsRecord) {
  // Refuse: the step's change (the attempt counter) commits with the record of the refusal.
  auto code = vault_->AddUser(Who(operator_), "sam.devries", "");
  ASSERT_TRUE(code.ok()) << code.status();
  auto key = crypto::GenerateKeyAndRequest("sam.devries");
  ASSERT_TRUE(key.ok());
  for (int i = 0; i < Vault::kEnrollmentAttempts; ++i) {
    EXPECT_EQ(
        vault_->Enroll("sam.devries", "wrong-code", key->request_pem, "core-test").status().code(),
        absl::StatusCode::kUnauthenticated);
  }
  auto locked = vault_->Enroll("sam.devries", code->code, key->request_pem, "core-test");
  EXPECT_EQ(locked.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(locked.status().message().find("locked"), std::string::npos) << locked.status();
  int wrong = 0, after_lock = 0;
  for (const auto& row : AuditRows()) {
    if (row.action != "enroll" || row.actor != "sam.devries") continue;
    EXPECT_EQ(row.decision, "deny");
    EXPECT_EQ(row.outcome, "unauthenticated");
    wrong += row.rule == "enroll.wrong-code";
    after_lock += row.rule == "enroll.locked";
  }
  EXPECT_EQ(wrong, Vault::kEnrollmentAttempts);
  EXPECT_EQ(after_lock, 1);
}

TEST_F(VaultCoreTest, AttemptAllowedEnrollmentIsRecordedAsAllowed) {
  int allowed = 0;
  for (const auto& row : AuditRows()) {
    if (row.action != "enroll") continue;
    EXPECT_EQ(row.decision, "allow") << row.actor;
    EXPECT_EQ(row.rule, "enroll.code-valid");
    EXPECT_EQ(row.outcome, "ok");
    allowed += row.actor == "operator" || row.actor == "robin.peters";  // in SetUp
  }
  EXPECT_EQ(allowed, 2);
}

TEST_F(VaultCoreTest, AttemptUndoneRefusalChangesNothingAndIsRecorded) {
  // RefuseAndUndo (RunAudited): a beheerder may not add accounts; nothing is added, the try is
  // recorded.
  auto added =
      vault_->AddAccount(Who(robin_), "x", "WA_Nieuw", "ijsselmonde", "politie-alleen", "");
  EXPECT_EQ(added.status().code(), absl::StatusCode::kPermissionDenied) << added.status();
  auto accounts = vault_->ListAccounts(Who(operator_), "", "");
  ASSERT_TRUE(accounts.ok()) << accounts.status();
  for (const auto& account : accounts->accounts) EXPECT_NE(account.account.handle, "WA_Nieuw");
  EXPECT_EQ(AuditRecords("add-account", "deny"), 1);
}

TEST_F(VaultCoreTest, AttemptCallerWhoseAccessChangedMidCallIsRefusedAndRecorded) {
  // Step 1 for an authenticated caller: checked still current inside the write.
  const Caller robin = Who(robin_);
  auto revoked = vault_->RevokeRole(Who(operator_), "robin.peters", policies::Role::kBeheerder,
                                    policies::ScopeKind::kAccount, "WA_Lombardijen1");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  auto set = vault_->SetPassword(robin, "WA_Lombardijen1",
                                 crypto::SecretBytes::CopyFrom("Ander-wachtwoord-1"));
  EXPECT_EQ(set.status().code(), absl::StatusCode::kAborted) << set.status();
  int changed = 0;
  for (const auto& row : AuditRows())
    changed += row.rule == "auth.changed-during-call" && row.actor == "robin.peters";
  EXPECT_EQ(changed, 1);
}

TEST_F(VaultCoreTest, AttemptMalformedReasonOnAReleaseIsRefusedUnrecordedAfterIdentifying) {
  // RefuseInput: the caller is identified first (a stranger learns only that it is unknown), then
  // malformed input is refused as if before the call, with no record.
  ReleaseOptions options;
  options.reason = std::string(600, 'x');
  auto login = vault_->ReleaseCredential(robin_, "WA_Lombardijen1", options);
  EXPECT_EQ(login.status().code(), absl::StatusCode::kInvalidArgument) << login.status();
  EXPECT_EQ(AuditRecords("release-login", "allow") + AuditRecords("release-login", "deny"), 0);
  // A disabled user is told only that, and that refusal is recorded.
  auto code = vault_->AddUser(Who(operator_), "kim.jansen", "");
  ASSERT_TRUE(code.ok()) << code.status();
  const Presented kim = EnrollAs("kim.jansen", code->code);
  ASSERT_TRUE(vault_->DisableUser(Who(operator_), "kim.jansen").ok());
  auto refused = vault_->ReleaseCredential(kim, "WA_Lombardijen1", options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  int recorded = 0;
  for (const auto& row : AuditRows())
    recorded += row.actor == "kim.jansen" && row.rule == "auth.user-disabled";
  EXPECT_EQ(recorded, 1);
}

// The layer the build enforces, checked in the sources too: the core names neither gRPC nor the
// generated proto, and its public header compiles without SQLite.
TEST(VaultLayeringTest, TheCoreIncludesNeitherGrpcNorProtoAndItsHeaderNoSqlite) {
  const std::filesystem::path core = std::filesystem::path(KLUIS_SOURCE_DIR) / "server" / "vault";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(core)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cc") continue;
    ++files;
    std::ifstream in(entry.path());
    std::string includes;  // the #include lines only: comments may name the proto
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("#include", 0) == 0) includes += line + "\n";
    }
    for (const char* forbidden : {"<grpc", "\"grpc", "kluis/v1/", ".pb.h\"", "kluis/wire/"}) {
      EXPECT_EQ(includes.find(forbidden), std::string::npos) << entry.path() << " includes " << forbidden;
    }
    if (entry.path().filename() == "vault.h") {
      for (const char* forbidden : {"sqlite3.h", "storage/tx.h", "storage/database.h"}) {
        EXPECT_EQ(includes.find(forbidden), std::string::npos) << "vault.h includes " << forbidden;
      }
    }
  }
  EXPECT_GT(files, 20);
}

}  // namespace
}  // namespace kluis::server
