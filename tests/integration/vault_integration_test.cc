// Through the real server: real mutual TLS on 127.0.0.1, a real SQLCipher file, the real client
// library. Time is a manual clock.
#include <gtest/gtest.h>

#include <grpcpp/generic/generic_stub.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "client/cli.h"
#include "crypto/hash.h"
#include "kluis/v1/audit.grpc.pb.h"
#include "tests/integration/organisation_fixture.h"

namespace kluis::testing {
namespace {


TEST_F(ReleaseTest, R1BeheerderGetsPasswordAndLinkedEmail) {
  auto login = Get("robin.peters", "WA_Lombardijen1");
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->password(), kPassword);
  EXPECT_EQ(login->linked_email(), kEmail);
  EXPECT_EQ(login->account(), "x/WA_Lombardijen1");
  EXPECT_EQ(login->rule(), "R1.beheerder");
  auto by_full_name = Get("robin.peters", "x/WA_Lombardijen1");
  EXPECT_TRUE(by_full_name.ok());
}

TEST_F(ReleaseTest, R1NoOtherRoleGetsTheLoginByAskingPlainly) {
  // The teamchef must break the glass; the regisseurs need an approved request; the auditor and
  // the operator never get it.
  for (const char* user : {"teamchef.ijsselmonde", "auditor"}) {
    auto login = Get(user, "WA_Lombardijen1");
    EXPECT_EQ(login.status().code(), absl::StatusCode::kPermissionDenied) << user << login.status();
  }
  for (const char* user : {"regisseur.rotterdam", "landelijk.regisseur"}) {
    auto login = Get(user, "WA_Lombardijen1");
    EXPECT_EQ(login.status().code(), absl::StatusCode::kFailedPrecondition) << user << login.status();
    EXPECT_TRUE(absl::StrContains(login.status().message(), "needs approval")) << login.status();
  }
  auto by_operator = Get(vault_.operator_client(), "WA_Lombardijen1");
  EXPECT_EQ(by_operator.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(ReleaseTest, StrangerLearnsNothingAboutExistence) {
  auto existing = Get("buitenstaander", "x/WA_Lombardijen1");
  auto missing = Get("buitenstaander", "x/Bestaat_Niet");
  EXPECT_EQ(existing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  // The same sentence, but for the name the caller typed.
  EXPECT_EQ(std::string(existing.status().message()).substr(0, 10),
            std::string(missing.status().message()).substr(0, 10));
  EXPECT_TRUE(absl::StrContains(existing.status().message(), "that you have a role on"));
}

TEST_F(ReleaseTest, OnlyTheBeheerderStoresThePassword) {
  EXPECT_EQ(SetPassword("teamchef.ijsselmonde", "WA_Lombardijen1", "x").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(SetPassword("auditor", "WA_Lombardijen1", "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(SetPassword("robin.peters", "WA_Lombardijen1", "").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetPassword("robin.peters", "WA_Lombardijen1", std::string(2000, 'p')).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(SetPassword("robin.peters", "WA_Lombardijen1", "nieuw").ok());
  EXPECT_EQ(Get("robin.peters", "WA_Lombardijen1")->version(), 2);
}

TEST_F(ReleaseTest, EveryAttemptIsAuditedWithTheDecidingRule) {
  ASSERT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok());
  ASSERT_FALSE(Get("teamchef.ijsselmonde", "WA_Lombardijen1").ok());
  ASSERT_FALSE(Get(vault_.operator_client(), "WA_Lombardijen1").ok());
  ASSERT_FALSE(Get("buitenstaander", "WA_Lombardijen1").ok());
  std::map<std::string, pb::AuditRecord> releases;
  for (const pb::AuditRecord& r : Audit()) {
    if (r.action() == "release-login") releases[r.actor()] = r;
  }
  EXPECT_EQ(releases["robin.peters"].decision(), "allow");
  EXPECT_EQ(releases["robin.peters"].rule(), "R1.beheerder");
  EXPECT_EQ(releases["teamchef.ijsselmonde"].decision(), "deny");
  EXPECT_EQ(releases["teamchef.ijsselmonde"].role(), "teamchef");
  EXPECT_EQ(releases["operator"].decision(), "deny");
  EXPECT_EQ(releases["buitenstaander"].outcome(), "not-found");
  for (const pb::AuditRecord& r : Audit()) {
    EXPECT_FALSE(absl::StrContains(r.DebugString(), kPassword));
    EXPECT_FALSE(absl::StrContains(r.DebugString(), kEmail));
  }
}

TEST_F(ReleaseTest, DisabledUserIsRefusedOnTheVeryNextCall) {
  ASSERT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok());
  pb::DisableUserRequest request;
  request.set_user("robin.peters");
  Client& op = vault_.operator_client();
  auto disabled = op.Call(op.organisation(), &pb::Organisation::Stub::DisableUser, request);
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  EXPECT_EQ(disabled->bindings_ended(), 1);
  auto refused = Get("robin.peters", "WA_Lombardijen1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "disabled"));
  bool audited = false;
  for (const pb::AuditRecord& r : Audit("robin.peters")) {
    audited |= r.rule() == "auth.user-disabled";
  }
  EXPECT_TRUE(audited);
}

// A release identifies its caller in its own transaction, before it reads the request: a refused
// caller hears "unauthenticated" (and is recorded) whatever it asked, on every release method; an
// active one with a malformed request hears what is wrong, and nothing is recorded for it.
TEST_F(ReleaseTest, ReleasesIdentifyTheCallerFirstInTheirOwnTransaction) {
  const std::string too_long(600, 'x');
  pb::ReleaseCredentialRequest malformed;
  malformed.set_account("WA_Lombardijen1");
  malformed.set_reason(too_long);
  Client& robin = *clients_["robin.peters"];
  const size_t before = Audit("robin.peters").size();
  EXPECT_EQ(robin.Call(robin.vault(), &pb::Vault::Stub::ReleaseCredential, malformed).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Audit("robin.peters").size(), before);

  pb::DisableUserRequest disable;
  disable.set_user("robin.peters");
  Client& op = vault_.operator_client();
  ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::DisableUser, disable).ok());
  pb::GetTotpCodeRequest totp;
  totp.set_account("WA_Lombardijen1");
  pb::ReleaseRecoveryCodeRequest recovery;
  recovery.set_account("WA_Lombardijen1");
  pb::ExportTotpRequest export_totp;
  export_totp.set_account("WA_Lombardijen1");
  for (const absl::Status& refused :
       {robin.Call(robin.vault(), &pb::Vault::Stub::ReleaseCredential, malformed).status(),
        robin.Call(robin.vault(), &pb::Vault::Stub::GetTotpCode, totp).status(),
        robin.Call(robin.vault(), &pb::Vault::Stub::ReleaseRecoveryCode, recovery).status(),
        robin.Call(robin.vault(), &pb::Vault::Stub::ExportTotp, export_totp).status()}) {
    EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated) << refused;
  }
  int refusals = 0, releases = 0;
  for (const pb::AuditRecord& r : Audit("robin.peters")) {
    refusals += r.rule() == "auth.user-disabled";
    releases += r.action() != "authenticate" && r.decision() == "allow" && absl::StartsWith(r.action(), "release");
  }
  EXPECT_EQ(refusals, 4);
  EXPECT_EQ(releases, 0);
}

TEST_F(ReleaseTest, R1ExpiredBindingIsRefused) {
  auto c = vault_.ClientFor(vault_.AddAndEnroll("invaller"));
  const int64_t until = absl::ToUnixSeconds(vault_.clock().Now() + absl::Hours(1));
  Grant("invaller", pb::ROLE_BEHEERDER, Scope("account", "WA_Lombardijen1"), until);
  EXPECT_TRUE(Get(*c, "WA_Lombardijen1").ok());
  vault_.clock().Advance(absl::Hours(2));
  EXPECT_EQ(Get(*c, "WA_Lombardijen1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ReleaseTest, NobodyGrantsARoleToThemselves) {
  pb::GrantRoleRequest request;
  request.set_user("operator");
  request.set_role(pb::ROLE_BEHEERDER);
  request.mutable_scope()->set_account("WA_Lombardijen1");
  Client& op = vault_.operator_client();
  auto granted = op.Call(op.organisation(), &pb::Organisation::Stub::GrantRole, request);
  EXPECT_EQ(granted.status().code(), absl::StatusCode::kPermissionDenied);
  // And a non-operator grants nothing at all.
  request.set_user("robin.peters");
  Client& robin = *clients_["robin.peters"];
  EXPECT_EQ(robin.Call(robin.organisation(), &pb::Organisation::Stub::GrantRole, request).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ReleaseTest, RoleOnTheWrongScopeKindIsRefused) {
  pb::GrantRoleRequest request;
  request.set_user("robin.peters");
  request.set_role(pb::ROLE_TEAMCHEF);
  request.mutable_scope()->set_account("WA_Lombardijen1");
  Client& op = vault_.operator_client();
  EXPECT_EQ(op.Call(op.organisation(), &pb::Organisation::Stub::GrantRole, request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReleaseTest, R7PrivateAccountIsRefusedWithTheReason) {
  pb::AddAccountRequest account;
  account.set_platform("instagram");
  account.set_handle("robin_prive");
  account.set_team("ijsselmonde");
  account.set_kind(pb::ACCOUNT_KIND_PRIVE);
  Client& op = vault_.operator_client();
  auto added = op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account);
  EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(added.status().message(), "R7"));
  account.set_kind(static_cast<pb::AccountKind>(99));
  EXPECT_EQ(op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReleaseTest, TamperedSealedSecretIsDataLossWithAClearError) {
  auto db = vault_.OpenDatabaseForTest();
  // Byte 31 changed, always: set to 0x00 it would be no change one time in 256 (a random byte of
  // the ciphertext can be 0x00 already; CI met that once).
  ASSERT_TRUE(db->ExecForTest("UPDATE secrets SET sealed = substr(sealed, 1, 30) || "
                              "CASE WHEN substr(sealed, 31, 1) = x'00' THEN x'01' ELSE x'00' END || "
                              "substr(sealed, 32) WHERE kind = 'password'")
                  .ok());
  auto login = Get("robin.peters", "WA_Lombardijen1");
  EXPECT_EQ(login.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(login.status().message(), "altered or moved"));
}

TEST_F(ReleaseTest, SealedRowMovedToAnotherAccountDoesNotOpen) {
  AddAccount("POL_IJsselmonde", "pol.ijsselmonde@politie.example");
  Grant("robin.peters", pb::ROLE_BEHEERDER, Scope("account", "POL_IJsselmonde"));
  ASSERT_TRUE(SetPassword("robin.peters", "POL_IJsselmonde", "ander-wachtwoord").ok());
  auto db = vault_.OpenDatabaseForTest();
  ASSERT_TRUE(db->ExecForTest(
                    "UPDATE secrets SET sealed = (SELECT s.sealed FROM secrets s JOIN accounts a ON "
                    "a.id = s.account_id WHERE a.handle = 'WA_Lombardijen1' AND s.kind = 'password') "
                    "WHERE kind = 'password' AND account_id = (SELECT id FROM accounts WHERE handle "
                    "= 'POL_IJsselmonde')")
                  .ok());
  EXPECT_EQ(Get("robin.peters", "POL_IJsselmonde").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok());
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(ReleaseTest, NoPlaintextSecretsOrHandlesInTheDataDirectory) {
  ASSERT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok());
  auto scan = [&] {
    int files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(vault_.data_dir())) {
      if (!entry.is_regular_file()) continue;
      ++files;
      const std::string bytes = ReadAll(entry.path());
      for (const char* needle : {kPassword, kEmail, "WA_Lombardijen1", "robin.peters"}) {
        EXPECT_FALSE(absl::StrContains(bytes, needle)) << needle << " in " << entry.path();
      }
    }
    return files;
  };
  EXPECT_GE(scan(), 3);  // root.sealed, vault.db, its WAL, ca.pem
  vault_.Stop();
  EXPECT_GE(scan(), 3);
}

// The database is real SQLCipher: the sqlcipher shell opens it with the derived raw key, and
// not without it.
TEST_F(ReleaseTest, SqlcipherShellOpensTheDatabaseOnlyWithTheKey) {
  vault_.Stop();
  const std::string db = server::DatabasePath(vault_.data_dir());
  const std::string script = vault_.data_dir() + "/../shell.sql";
  auto run_shell = [&](const std::string& commands) {
    std::ofstream(script) << commands;
    std::string output;
    FILE* pipe = popen(("sqlcipher " + db + " < " + script + " 2>&1").c_str(), "r");
    char buffer[256];
    while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
    pclose(pipe);
    std::remove(script.c_str());
    return output;
  };
  const std::string with_key =
      run_shell("PRAGMA key = \"x'" + crypto::HexEncode(vault_.DatabaseKey().Reveal()) +
                "'\";\nPRAGMA cipher_page_size = 4096;\nSELECT count(*) FROM accounts;\n"
                "SELECT handle FROM accounts;\n");
  EXPECT_TRUE(absl::StrContains(with_key, "1\nWA_Lombardijen1")) << with_key;
  const std::string without_key = run_shell("SELECT count(*) FROM accounts;\n");
  EXPECT_TRUE(absl::StrContains(without_key, "file is encrypted or is not a database")) << without_key;
}

class EnrollmentTest : public ::testing::Test {
 protected:
  std::string NewCode(const std::string& user) {
    pb::AddUserRequest request;
    request.set_user(user);
    Client& op = vault_.operator_client();
    auto added = op.Call(op.organisation(), &pb::Organisation::Stub::AddUser, request);
    EXPECT_TRUE(added.ok()) << added.status();
    return added->enrollment_code();
  }
  absl::StatusOr<client::Profile> Enroll(const std::string& user, const std::string& code) {
    return Client::Enroll(vault_.address(), vault_.ca_pem(), user, code,
                          vault_.data_dir() + "/../p-" + user);
  }
  TestVault vault_;
};

TEST_F(EnrollmentTest, ValidCodeGivesAWorkingProfile) {
  const std::string code = NewCode("sanne.devries");
  EXPECT_GE(code.size(), 26u);  // 128 bits in base32
  auto profile = Enroll("sanne.devries", code);
  ASSERT_TRUE(profile.ok()) << profile.status();
  auto client = vault_.ClientFor(*profile);
  auto me = client->Call(client->organisation(), &pb::Organisation::Stub::WhoAmI, pb::WhoAmIRequest());
  ASSERT_TRUE(me.ok()) << me.status();
  EXPECT_EQ(me->user(), "sanne.devries");
  EXPECT_TRUE(Enroll("sanne.devries", absl::AsciiStrToLower(code)).status().message() ==
              "enrollment code already used: ask the operator for a new one");
}

TEST_F(EnrollmentTest, ReusedCodeIsRefused) {
  const std::string code = NewCode("u1");
  ASSERT_TRUE(Enroll("u1", code).ok());
  auto again = Enroll("u1", code);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(again.status().message(), "already used"));
}

TEST_F(EnrollmentTest, ExpiredCodeIsRefused) {
  const std::string code = NewCode("u2");
  vault_.clock().Advance(absl::Hours(24) + absl::Seconds(1));
  auto late = Enroll("u2", code);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(late.status().message(), "expired"));
}

TEST_F(EnrollmentTest, WrongCodeIsRefusedAndLocksAfterFiveAttempts) {
  const std::string code = NewCode("u3");
  for (int i = 0; i < 5; ++i) {
    auto wrong = Enroll("u3", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG");
    EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(wrong.status().message(), "invalid enrollment code");
  }
  // Who holds the code is told it is locked.
  auto locked = Enroll("u3", code);
  EXPECT_EQ(locked.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(locked.status().message(), "locked"));
  // Unknown users get the same answer as a wrong code.
  EXPECT_EQ(Enroll("niemand", code).status().message(), "invalid enrollment code");
}

// Issue 16 (6): a locked code does not tell someone without it that the user exists.
TEST_F(EnrollmentTest, ALockedCodeLooksLikeNoCodeToWhoeverGuesses) {
  NewCode("u5");
  for (int i = 0; i < 7; ++i) {
    auto wrong = Enroll("u5", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG");
    EXPECT_EQ(wrong.status().message(), "invalid enrollment code") << "attempt " << i + 1;
    EXPECT_EQ(wrong.status().message(), Enroll("niemand", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GG").status().message());
  }
}

TEST_F(EnrollmentTest, MalformedRequestIsRefusedWithoutUsingTheCode) {
  const std::string code = NewCode("u4");
  pb::EnrollRequest request;
  request.set_user("u4");
  request.set_code(code);
  request.set_csr_pem("-----BEGIN CERTIFICATE REQUEST-----\nnonsense\n-----END CERTIFICATE REQUEST-----\n");
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = vault_.ca_pem();
  auto stub = pb::Enrollment::NewStub(grpc::CreateChannel(vault_.address(), grpc::SslCredentials(tls)));
  grpc::ClientContext context;
  pb::EnrollResponse response;
  EXPECT_EQ(stub->Enroll(&context, request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Enroll("u4", code).ok());
}

TEST_F(EnrollmentTest, EnrollmentAttemptsAreAudited) {
  const std::string code = NewCode("u5");
  ASSERT_FALSE(Enroll("u5", "AAAA").ok());
  ASSERT_TRUE(Enroll("u5", code).ok());
  auto db = vault_.OpenDatabaseForTest();
  std::vector<std::string> rules;
  ASSERT_TRUE(db->Read([&](storage::Tx& tx) -> absl::Status {
    storage::AuditFilter filter;
    filter.actor = "u5";
    auto rows = tx.ListAuditRecords(filter);
    for (const auto& row : *rows) rules.push_back(row.rule);
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(rules, (std::vector<std::string>{"enroll.wrong-code", "enroll.code-valid"}));
}

// Every method of every service refuses a call that carries no client certificate, before any
// handler runs; only enrollment and the health service answer. Walks the service descriptors, so
// a method added later is covered without touching this test.
TEST(CertificateGateTest, CallWithoutClientCertificateIsRefusedForEveryMethod) {
  TestVault vault;
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = vault.ca_pem();  // verifies the server; sends no client certificate
  auto channel = grpc::CreateChannel(vault.address(), grpc::SslCredentials(tls));
  auto call = [&](const std::string& method) { return RawUnaryCall(channel, method, ""); };
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const char* name : {"kluis.v1.Organisation", "kluis.v1.Vault", "kluis.v1.Audit"}) {
    const auto* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = "/" + std::string(name) + "/" + service->method(i)->name();
      EXPECT_EQ(call(method).error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
      ++methods;
    }
  }
  EXPECT_GE(methods, 14);
  EXPECT_EQ(call("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("/kluis.v1.Enrollment/Enroll").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // grpc.health.v1.Health/Check with an empty request: the whole server is SERVING.
  EXPECT_TRUE(call("/grpc.health.v1.Health/Check").ok());
}

TEST(CertificateGateTest, CertificateFromAnotherCaIsRefusedByTls) {
  TestVault vault;
  TestVault other;
  client::Profile foreign = other.AddAndEnroll("indringer");
  foreign.server = vault.address();
  foreign.ca_certificate_pem = vault.ca_pem();
  auto client = vault.ClientFor(foreign);
  auto me = client->Call(client->organisation(), &pb::Organisation::Stub::WhoAmI, pb::WhoAmIRequest());
  EXPECT_EQ(me.status().code(), absl::StatusCode::kUnavailable) << me.status();
}

// The server checks the chain from its last signed checkpoint before it serves (issue 6).
TEST(VaultOpenTest, BrokenAuditChainRefusesToServe) {
  TestVault vault;
  {
    auto db = vault.OpenDatabaseForTest();
    ASSERT_TRUE(db->ExecForTest("UPDATE audit_records SET reason = 'herschreven' "
                                "WHERE seq = (SELECT max(seq) FROM audit_records)")
                    .ok());
  }
  vault.Stop();
  server::SystemClock clock;
  auto reopened = server::Vault::Open(vault.data_dir(),
                                      crypto::SecretBytes::CopyFrom(TestVault::kPassphrase), clock);
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(reopened.status().message(), "refusing to serve: audit record")) << reopened.status();
}

TEST(VaultOpenTest, ForgedCheckpointRefusesToServe) {
  TestVault vault;
  {
    auto db = vault.OpenDatabaseForTest();
    ASSERT_TRUE(db->ExecForTest("UPDATE audit_checkpoints SET signature = zeroblob(64)").ok());
  }
  vault.Stop();
  server::SystemClock clock;
  auto reopened = server::Vault::Open(vault.data_dir(),
                                      crypto::SecretBytes::CopyFrom(TestVault::kPassphrase), clock);
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(reopened.status().message(), "does not carry this vault's signature"))
      << reopened.status();
}

// A call other than a release authenticates in a read and acts in a write after it. Here the
// vault is called directly with a Caller authenticated before its access changed — the gap
// between those two transactions, held open. The write identifies the caller again and refuses
// (recorded as auth.changed-during-call); an unchanged caller goes ahead (the twin).
class StaleCallerTest : public ReleaseTest {
 protected:
  void SetUp() override {
    ReleaseTest::SetUp();
    profile_ = vault_.AddAndEnroll("wisselende.beheerder");
    Grant("wisselende.beheerder", pb::ROLE_BEHEERDER, Scope("account", "x/WA_Lombardijen1"));
  }
  // The Caller the vault makes of `profile`'s certificate now.
  server::Caller Authenticated(const client::Profile& profile) {
    absl::StatusOr<server::Caller> caller =
        vault_.vault().Authenticate(server::Presented{profile.certificate_pem, "ipv4:127.0.0.1:1"});
    EXPECT_TRUE(caller.ok()) << caller.status();
    return caller.ok() ? *caller : server::Caller{};
  }
  int RefusalsRecorded(const std::string& user = "wisselende.beheerder") {
    int n = 0;
    for (const pb::AuditRecord& r : Audit(user)) {
      n += r.rule() == "auth.changed-during-call" && r.decision() == "deny";
    }
    return n;
  }
  void Revoke(const std::string& user, pb::Role role, const pb::Scope& scope) {
    pb::RevokeRoleRequest revoke;
    revoke.set_user(user);
    revoke.set_role(role);
    *revoke.mutable_scope() = scope;
    Client& op = vault_.operator_client();
    ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::RevokeRole, revoke).ok());
  }
  client::Profile profile_;
};

TEST_F(StaleCallerTest, AnUnchangedCallerActs) {
  const server::Caller caller = Authenticated(profile_);
  absl::StatusOr<server::Rotation> started = vault_.vault().StartRotation(caller, "x/WA_Lombardijen1");
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(vault_.vault().AbortRotation(caller, "x/WA_Lombardijen1").ok());
  EXPECT_EQ(RefusalsRecorded(), 0);
}

TEST_F(StaleCallerTest, ARoleRevokedAfterAuthenticatingIsNotActedOn) {
  const server::Caller stale = Authenticated(profile_);
  Revoke("wisselende.beheerder", pb::ROLE_BEHEERDER, Scope("account", "x/WA_Lombardijen1"));

  absl::StatusOr<server::Rotation> started = vault_.vault().StartRotation(stale, "x/WA_Lombardijen1");
  EXPECT_EQ(started.status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(absl::StrContains(started.status().message(), "access changed")) << started.status();
  auto current = Get("robin.peters", "WA_Lombardijen1");
  ASSERT_TRUE(current.ok());
  EXPECT_TRUE(current->pending_password().empty());  // nothing was started
  EXPECT_EQ(RefusalsRecorded(), 1);
}

// The CLI's exit code for it says "try again", as for an unavailable server (DESIGN.md §9).
TEST(StaleCallerExitCode, IsTheTransientOne) {
  EXPECT_EQ(client::ExitCodeFor(absl::AbortedError("your access changed while this call ran: run it again")),
            client::kExitUnavailable);
}

TEST_F(StaleCallerTest, AUserDisabledAfterAuthenticatingIsNotActedOn) {
  const server::Caller stale = Authenticated(profile_);
  pb::DisableUserRequest disable;
  disable.set_user("wisselende.beheerder");
  Client& op = vault_.operator_client();
  ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::DisableUser, disable).ok());

  const crypto::SecretBytes password = crypto::SecretBytes::CopyFrom("Nieuw-wachtwoord-van-een-vertrokkene-1!");
  EXPECT_EQ(vault_.vault().SetPassword(stale, "x/WA_Lombardijen1", password).status().code(),
            absl::StatusCode::kAborted);
  auto current = Get("robin.peters", "WA_Lombardijen1");
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->password(), kPassword);
  EXPECT_EQ(RefusalsRecorded(), 1);
}

// The auditor's export opens with its own record; an auditor whose role ended after
// authenticating gets the refusal recorded instead, and no records.
TEST_F(StaleCallerTest, AnAuditorRevokedAfterAuthenticatingExportsNothing) {
  client::Profile auditor = vault_.AddAndEnroll("vertrekkende.auditor");
  Grant("vertrekkende.auditor", pb::ROLE_AUDITOR, Scope("global", ""));
  const server::Caller stale = Authenticated(auditor);
  struct Counting : server::AuditSink {
    bool Header(const server::AuditExport&) override { return ++items, true; }
    bool Record(const storage::AuditRow&, const std::string&) override { return ++items, true; }
    bool Checkpoint(const storage::CheckpointRow&) override { return ++items, true; }
    int items = 0;
  };
  Counting fresh_sink;
  ASSERT_TRUE(vault_.vault().ExportAudit(stale, server::AuditQuery{}, fresh_sink).ok());  // the twin
  EXPECT_GT(fresh_sink.items, 1);

  Revoke("vertrekkende.auditor", pb::ROLE_AUDITOR, Scope("global", ""));
  Counting sink;
  EXPECT_EQ(vault_.vault().ExportAudit(stale, server::AuditQuery{}, sink).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(sink.items, 0);
  EXPECT_EQ(RefusalsRecorded("vertrekkende.auditor"), 1);
}

// A kabinetswissel apply identifies its caller again in each account's transaction: a regisseur
// whose role ended after authenticating applies nothing; a second apply by a current regisseur
// then finds every step still to do.
TEST_F(StaleCallerTest, ARegisseurRevokedAfterAuthenticatingAppliesNoKabinetswissel) {
  AddAccount("MinisterVanWijken", "", pb::ACCOUNT_KIND_CORPORATE);
  client::Profile regisseur = vault_.AddAndEnroll("regisseur.wissel");
  Grant("regisseur.wissel", pb::ROLE_REGISSEUR, Scope("unit", "rotterdam"));
  vault_.AddAndEnroll("minister.nieuw");
  const server::Caller stale = Authenticated(regisseur);
  server::KabinetswisselInput input;
  input.unit = "rotterdam";
  input.successors = {{"x/MinisterVanWijken", "minister.nieuw"}};
  input.archives = {{"x/MinisterVanWijken", "archief/2026/wijken"}};
  absl::StatusOr<server::KabinetswisselPlan> plan = vault_.vault().PlanKabinetswissel(stale, input);
  ASSERT_TRUE(plan.ok()) << plan.status();

  Revoke("regisseur.wissel", pb::ROLE_REGISSEUR, Scope("unit", "rotterdam"));
  EXPECT_EQ(vault_.vault().ApplyKabinetswissel(stale, plan->id).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(RefusalsRecorded("regisseur.wissel"), 1);

  Grant("regisseur.wissel", pb::ROLE_REGISSEUR, Scope("unit", "rotterdam"));
  absl::StatusOr<server::KabinetswisselOutcome> applied =
      vault_.vault().ApplyKabinetswissel(Authenticated(regisseur), plan->id);
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_EQ(applied->plan.accounts.size(), 1u);
  for (const server::KabinetswisselStep& step : applied->plan.accounts[0].steps) {
    EXPECT_EQ(step.state, kluis::server::StepState::kDone)
        << step.name << ": " << step.detail;  // none "done-earlier"
  }
}

}  // namespace
}  // namespace kluis::testing
