// Issue 7, hostile input: whatever a caller sends, the answer is a clear one-line error and
// nothing changes. Walks every method of every service from the descriptors, so a method added
// later is attacked without touching this test.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "crypto/aead.h"
#include "crypto/certificates.h"
#include "crypto/kdf.h"
#include "crypto/root_key.h"
#include "kluis/wire/error_details.h"
#include "tests/integration/organisation_fixture.h"

namespace kluis::testing {
namespace {

using google::protobuf::FieldDescriptor;

const std::vector<std::pair<std::string, std::string>>& HostileTexts() {
  static const auto* texts = new std::vector<std::pair<std::string, std::string>>{
      {"empty", ""},
      {"huge", std::string(60 * 1024, 'A')},
      {"nul", std::string("x/WA\0Lombardijen1", 17)},
      {"invalid utf-8", "\xff\xfe\xfd"},
      {"control characters", "a\nb\r\x01\x1b[31m"},
      {"sql", "x'; DROP TABLE accounts; --"},
      {"path", "../../../../etc/passwd"},
      {"format string", "%s%s%s%n"},
  };
  return *texts;
}

class HostileTest : public ReleaseTest {
 protected:
  // A new account in team ijsselmonde, as the operator would add it.
  static pb::AddAccountRequest NewAccount(const std::string& platform, const std::string& handle) {
    pb::AddAccountRequest account;
    account.set_platform(platform);
    account.set_handle(handle);
    account.set_team("ijsselmonde");
    account.set_kind(pb::ACCOUNT_KIND_POLITIE_ALLEEN);
    return account;
  }
  // Every table's rows, as text: what must not change.
  std::string Snapshot() {
    std::string all;
    auto db = vault_.OpenDatabaseForTest();
    EXPECT_TRUE(db->Read([&](storage::Tx& tx) -> absl::Status {
      auto accounts = tx.ListAccounts();
      auto bindings = tx.ListBindings(std::nullopt);
      auto requests = tx.ListRequests(std::nullopt, 100000);
      auto flags = tx.OpenRotationFlags(std::nullopt);
      if (!accounts.ok() || !bindings.ok() || !requests.ok() || !flags.ok()) return absl::InternalError("read");
      for (const auto& a : *accounts)
        absl::StrAppend(&all, a.name(), a.state_name(), a.archive_ref, ";");
      for (const auto& b : *bindings)
        absl::StrAppend(&all, b.user_name, policies::RoleName(b.role), b.scope_id,
                        b.ended_us.value_or(0), ";");
      absl::StrAppend(&all, requests->size(), "/", flags->size(), ";");
      for (const auto& a : *accounts) {
        for (storage::SecretKind kind :
             {storage::SecretKind::kPassword, storage::SecretKind::kLinkedEmail, storage::SecretKind::kTotp}) {
          auto secret = tx.CurrentSecret(a.id, kind);
          if (secret.ok() && secret->has_value()) {
            absl::StrAppend(&all, a.id, storage::SecretKindName(kind), (*secret)->version, ";");
          }
        }
      }
      return absl::OkStatus();
    }).ok());
    return all;
  }
};

TEST_F(HostileTest, EveryStringFieldOfEveryMethodRefusesHostileTextClearlyAndChangesNothing) {
  const std::string before = Snapshot();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int calls = 0;
  for (const char* caller : {"operator", "robin.peters"}) {
    Client& c = std::string(caller) == "operator" ? vault_.operator_client() : *clients_[caller];
    for (const char* name : {"kluis.v1.Enrollment", "kluis.v1.Organisation", "kluis.v1.Vault", "kluis.v1.Audit"}) {
      const auto* service = pool->FindServiceByName(name);
      ASSERT_NE(service, nullptr);
      for (int m = 0; m < service->method_count(); ++m) {
        const auto* method = service->method(m);
        const auto* input = method->input_type();
        for (int f = 0; f < input->field_count(); ++f) {
          const FieldDescriptor* field = input->field(f);
          if (field->type() != FieldDescriptor::TYPE_STRING && field->type() != FieldDescriptor::TYPE_BYTES) continue;
          for (const auto& [what, text] : HostileTexts()) {
            // A stream's replies do not fit a unary call: only the refusal before any reply does.
            if (method->server_streaming() && what != "invalid utf-8") continue;
            // Serialized by hand: protobuf would refuse to build a string that is not UTF-8.
            std::string bytes;
            // tag (field number, wire type 2), length, then the bytes.
            uint32_t tag = (static_cast<uint32_t>(field->number()) << 3) | 2;
            for (uint64_t v : {uint64_t{tag}, uint64_t{text.size()}}) {
              while (v >= 0x80) {
                bytes.push_back(static_cast<char>((v & 0x7f) | 0x80));
                v >>= 7;
              }
              bytes.push_back(static_cast<char>(v));
            }
            bytes += text;
            const std::string full = absl::StrCat("/", name, "/", method->name());
            const grpc::Status status = RawUnaryCall(c.channel(), full, bytes);
            ++calls;
            const std::string where = absl::StrCat(caller, " ", full, " ", field->name(), " = ", what, ": ",
                                                   status.error_code(), " ", status.error_message().substr(0, 200));
            EXPECT_NE(status.error_code(), grpc::StatusCode::UNKNOWN) << where;
            EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE) << where << " (server gone?)";
            EXPECT_EQ(status.error_message().find('\n'), std::string::npos) << where;
            EXPECT_LE(status.error_message().size(), 600u) << where;
            EXPECT_EQ(status.error_message().find('\0'), std::string::npos) << where;
            EXPECT_EQ(status.error_message().find("\xff"), std::string::npos) << where;
            EXPECT_EQ(status.error_message().find('\x1b'), std::string::npos) << where;
            EXPECT_NE(status.error_code(), grpc::StatusCode::INTERNAL) << where;
            if (what == "invalid utf-8" && field->type() == FieldDescriptor::TYPE_STRING) {
              // protobuf refuses it before any handler runs; the answer names the field.
              EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << where;
              EXPECT_EQ(status.error_message(), absl::StrCat("field ", field->name(), " is not valid UTF-8"))
                  << where;
              EXPECT_EQ(wire::ErrorReason(status), "INPUT_INVALID") << where;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(calls, 500);
  EXPECT_EQ(Snapshot(), before) << "a hostile call changed something";
  // Still serving, still whole.
  auto login = Get("robin.peters", "WA_Lombardijen1");
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->password(), kPassword);
}

// Issue 16 (5): text a reader trusts shows what it says. Bidi overrides and isolates and the
// invisible format characters are refused as the ASCII control characters are.
TEST_F(HostileTest, BidiAndInvisibleCharactersInFreeTextAreRefusedLikeControlCharacters) {
  const std::string before = Snapshot();
  Client& teamchef = *clients_["teamchef.ijsselmonde"];
  Client& op = vault_.operator_client();
  for (const auto& [name, character, code] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"RLO", "\u202e", "U+202E"},
                                                                      {"LRE", "\u202a", "U+202A"},
                                                                      {"FSI", "\u2068", "U+2068"},
                                                                      {"PDI", "\u2069", "U+2069"},
                                                                      {"ZWSP", "\u200b", "U+200B"},
                                                                      {"ZWJ", "\u200d", "U+200D"},
                                                                      {"BOM", "\ufeff", "U+FEFF"}}) {
    pb::ReleaseCredentialRequest emergency;
    emergency.set_account("WA_Lombardijen1");
    emergency.set_break_glass(true);
    emergency.set_reason("Robin is ziek" + character + "kt nee");
    auto refused = teamchef.Call(teamchef.vault(), &pb::Vault::Stub::ReleaseCredential, emergency);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "reason contains an invisible or direction-changing "
                                                              "character (" + code + ")"))
        << name << ": " << refused.status();
    pb::AddUserRequest user;
    user.set_user("nieuw");
    user.set_display_name("Nieuw" + character);
    auto added = op.Call(op.organisation(), &pb::Organisation::Stub::AddUser, user);
    EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_TRUE(absl::StrContains(added.status().message(), "display name contains")) << added.status();
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(HostileTest, AccentsAndDashesInFreeTextAreAccepted) {
  Client& teamchef = *clients_["teamchef.ijsselmonde"];
  pb::ReleaseCredentialRequest emergency;
  emergency.set_account("WA_Lombardijen1");
  emergency.set_break_glass(true);
  emergency.set_reason("Zoë is ziek — melding “spoed”, café dicht");
  auto released = teamchef.Call(teamchef.vault(), &pb::Vault::Stub::ReleaseCredential, emergency);
  ASSERT_TRUE(released.ok()) << released.status();
  Client& op = vault_.operator_client();
  pb::AddUserRequest user;
  user.set_user("zoe.dejong");
  user.set_display_name("Zoë de Jong");
  EXPECT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddUser, user).ok());
}

TEST_F(HostileTest, DotAndDotDotAreNotNames) {
  const std::string before = Snapshot();
  Client& op = vault_.operator_client();
  for (const char* name : {".", ".."}) {
    pb::AddUnitRequest unit;
    unit.set_unit(name);
    EXPECT_EQ(op.Call(op.organisation(), &pb::Organisation::Stub::AddUnit, unit).status().code(),
              absl::StatusCode::kInvalidArgument) << name;
    pb::AddTeamRequest team;
    team.set_unit("rotterdam");
    team.set_team(name);
    EXPECT_EQ(op.Call(op.organisation(), &pb::Organisation::Stub::AddTeam, team).status().code(),
              absl::StatusCode::kInvalidArgument) << name;
    pb::AddUserRequest user;
    user.set_user(name);
    auto refused = op.Call(op.organisation(), &pb::Organisation::Stub::AddUser, user);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "may not be \".\" or \"..\"")) << refused.status();
    const pb::AddAccountRequest account = NewAccount("x", name);
    EXPECT_EQ(op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account).status().code(),
              absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(HostileTest, NamesWithDotsInsideAreAccepted) {
  Client& op = vault_.operator_client();
  pb::AddUnitRequest unit;
  unit.set_unit("a.b");
  EXPECT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddUnit, unit).ok());
  pb::AddUserRequest user;
  user.set_user("...drie");
  EXPECT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddUser, user).ok());
}

// Issue 16 (6): an error quotes at most 64 characters of what was sent.
TEST_F(HostileTest, ErrorsQuoteAtMostSixtyFourCharactersOfTheInput) {
  Client& op = vault_.operator_client();
  const pb::AddAccountRequest account = NewAccount(std::string(100 * 1024, 'p'), "Nieuw");
  auto refused = op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(refused.status().message().size(), 250u) << refused.status().message().substr(0, 300);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), std::string(64, 'p') + "…\" (102400 bytes)"))
      << refused.status().message().substr(0, 300);
}

TEST_F(HostileTest, ErrorsQuoteShortInputWhole) {
  Client& op = vault_.operator_client();
  const pb::AddAccountRequest account = NewAccount("myspace", "Nieuw");
  auto refused = op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "unknown platform \"myspace\":")) << refused.status();
}

TEST_F(HostileTest, OversizedMessageIsRefusedAndChangesNothing) {
  const std::string before = Snapshot();
  pb::SetPasswordRequest request;
  request.set_account("WA_Lombardijen1");
  request.set_password(std::string(400 * 1024, 'x'));
  Client& robin = *clients_["robin.peters"];
  EXPECT_EQ(robin.Call(robin.vault(), &pb::Vault::Stub::SetPassword, request).status().code(),
            absl::StatusCode::kResourceExhausted);
  request.set_password(std::string(2000, 'x'));  // under the transport limit, over the vault's
  auto refused = robin.Call(robin.vault(), &pb::Vault::Stub::SetPassword, request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "2000 bytes")) << refused.status();
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(Get("robin.peters", "WA_Lombardijen1")->password(), kPassword);
}

TEST_F(HostileTest, UnknownEnumValuesAreRefused) {
  Client& op = vault_.operator_client();
  pb::GrantRoleRequest grant;
  grant.set_user("robin.peters");
  grant.set_role(static_cast<pb::Role>(99));
  grant.mutable_scope()->set_global(true);
  EXPECT_EQ(op.Call(op.organisation(), &pb::Organisation::Stub::GrantRole, grant).status().code(),
            absl::StatusCode::kInvalidArgument);
  pb::AddAccountRequest account;
  account.set_platform("x");
  account.set_handle("Nieuw");
  account.set_team("ijsselmonde");
  account.set_kind(static_cast<pb::AccountKind>(77));
  EXPECT_EQ(op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account).status().code(),
            absl::StatusCode::kInvalidArgument);
  pb::RotateRequest rotate;
  rotate.set_account("WA_Lombardijen1");
  rotate.set_step(static_cast<pb::RotateRequest::Step>(42));
  Client& robin = *clients_["robin.peters"];
  EXPECT_EQ(robin.Call(robin.vault(), &pb::Vault::Stub::Rotate, rotate).status().code(),
            absl::StatusCode::kInvalidArgument);
  pb::GrantRoleRequest no_scope;
  no_scope.set_user("robin.peters");
  no_scope.set_role(pb::ROLE_AUDITOR);
  EXPECT_EQ(op.Call(op.organisation(), &pb::Organisation::Stub::GrantRole, no_scope).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HostileTest, AnotherUnitsAccountLooksExactlyLikeAMissingOne) {
  Client& op = vault_.operator_client();
  pb::AddUnitRequest unit;
  unit.set_unit("utrecht");
  ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddUnit, unit).ok());
  pb::AddTeamRequest team;
  team.set_unit("utrecht");
  team.set_team("centrum");
  ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddTeam, team).ok());
  pb::AddAccountRequest account;
  account.set_platform("x");
  account.set_handle("UT_Centrum");
  account.set_team("utrecht/centrum");
  account.set_kind(pb::ACCOUNT_KIND_POLITIE_ALLEEN);
  ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account).ok());
  Client& regisseur = *clients_["regisseur.rotterdam"];
  // For each way in: the same code and the same words, whether the account exists elsewhere or not.
  auto answer = [&](const std::string& name) -> std::vector<std::string> {
    std::vector<absl::Status> statuses;
    pb::ReleaseCredentialRequest get;
    get.set_account(name);
    statuses.push_back(regisseur.Call(regisseur.vault(), &pb::Vault::Stub::ReleaseCredential, get).status());
    pb::ShowAccountRequest show;
    show.set_account(name);
    statuses.push_back(regisseur.Call(regisseur.organisation(), &pb::Organisation::Stub::ShowAccount, show).status());
    pb::RequestAccessRequest request;
    request.set_account(name);
    request.set_purpose("koppelen");
    request.set_reason("koppelen aan de landelijke tool");
    statuses.push_back(regisseur.Call(regisseur.vault(), &pb::Vault::Stub::RequestAccess, request).status());
    pb::HandoverRequest handover;
    handover.set_account(name);
    handover.set_to("robin.peters");
    handover.set_reason("overig");
    statuses.push_back(regisseur.Call(regisseur.vault(), &pb::Vault::Stub::Handover, handover).status());
    pb::StopAccountRequest stop;
    stop.set_account(name);
    stop.set_reason("account verwijderen");
    statuses.push_back(regisseur.Call(regisseur.organisation(), &pb::Organisation::Stub::StopAccount, stop).status());
    std::vector<std::string> out;
    for (const absl::Status& s : statuses) {
      out.push_back(absl::StrCat(absl::StatusCodeToString(s.code()), " ", absl::StrReplaceAll(s.message(), {{name, "NAME"}})));
    }
    return out;
  };
  const std::vector<std::string> elsewhere = answer("x/UT_Centrum"), missing = answer("x/Bestaat_Niet");
  EXPECT_EQ(elsewhere, missing);
  for (const std::string& a : elsewhere) EXPECT_TRUE(absl::StartsWith(a, "NOT_FOUND ")) << a;
}

// Issue 16 (6): a unit outside one's scope, or a request of someone else, reads as one that does not exist.
TEST_F(HostileTest, AnotherUnitsCustodyReportLooksExactlyLikeAMissingUnit) {
  Client& op = vault_.operator_client();
  pb::AddUnitRequest unit;
  unit.set_unit("utrecht");
  ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::AddUnit, unit).ok());
  Client& regisseur = *clients_["regisseur.rotterdam"];
  auto answer = [&](const std::string& name) {
    pb::CustodyReportRequest request;
    request.set_unit(name);
    absl::Status s = regisseur.Call(regisseur.audit(), &pb::Audit::Stub::CustodyReport, request).status();
    return absl::StrCat(absl::StatusCodeToString(s.code()), " ", absl::StrReplaceAll(s.message(), {{name, "NAME"}}));
  };
  const std::string elsewhere = answer("utrecht"), missing = answer("bestaatniet");
  EXPECT_EQ(elsewhere, missing);
  EXPECT_TRUE(absl::StartsWith(elsewhere, "NOT_FOUND ")) << elsewhere;
}

TEST_F(HostileTest, OwnUnitsCustodyReportIsGiven) {
  Client& regisseur = *clients_["regisseur.rotterdam"];
  pb::CustodyReportRequest request;
  request.set_unit("rotterdam");
  EXPECT_TRUE(regisseur.Call(regisseur.audit(), &pb::Audit::Stub::CustodyReport, request).ok());
}

TEST_F(HostileTest, SomeoneElsesRequestLooksExactlyLikeAMissingOne) {
  Client& regisseur = *clients_["regisseur.rotterdam"];
  pb::RequestAccessRequest ask;
  ask.set_account("WA_Lombardijen1");
  ask.set_purpose("koppelen");
  ask.set_reason("koppelen aan de landelijke tool");
  auto asked = regisseur.Call(regisseur.vault(), &pb::Vault::Stub::RequestAccess, ask);
  ASSERT_TRUE(asked.ok()) << asked.status();
  const int64_t id = asked->id();
  Client& landelijk = *clients_["landelijk.regisseur"];
  auto answer = [&](int64_t request_id) {
    std::vector<std::string> out;
    pb::ReleaseCredentialRequest get;
    get.set_account("WA_Lombardijen1");
    get.set_request_id(request_id);
    absl::Status s = landelijk.Call(landelijk.vault(), &pb::Vault::Stub::ReleaseCredential, get).status();
    out.push_back(absl::StrCat(absl::StatusCodeToString(s.code()), " ",
                               absl::StrReplaceAll(s.message(), {{absl::StrCat(request_id), "N"}})));
    pb::EscalateRequestRequest escalate;
    escalate.set_id(request_id);
    s = landelijk.Call(landelijk.vault(), &pb::Vault::Stub::EscalateRequest, escalate).status();
    out.push_back(absl::StrCat(absl::StatusCodeToString(s.code()), " ",
                               absl::StrReplaceAll(s.message(), {{absl::StrCat(request_id), "N"}})));
    return out;
  };
  const std::vector<std::string> others = answer(id), missing = answer(id + 1000);
  EXPECT_EQ(others, missing);
  for (const std::string& a : others) EXPECT_TRUE(absl::StartsWith(a, "NOT_FOUND ")) << a;
}

TEST_F(HostileTest, OwnRequestIsFoundByItsRequester) {
  Client& regisseur = *clients_["regisseur.rotterdam"];
  pb::RequestAccessRequest ask;
  ask.set_account("WA_Lombardijen1");
  ask.set_purpose("koppelen");
  ask.set_reason("koppelen aan de landelijke tool");
  auto asked = regisseur.Call(regisseur.vault(), &pb::Vault::Stub::RequestAccess, ask);
  ASSERT_TRUE(asked.ok()) << asked.status();
  pb::ReleaseCredentialRequest get;
  get.set_account("WA_Lombardijen1");
  get.set_request_id(asked->id());
  auto pending = regisseur.Call(regisseur.vault(), &pb::Vault::Stub::ReleaseCredential, get);
  EXPECT_NE(pending.status().code(), absl::StatusCode::kNotFound) << pending.status();  // pending: not yet approved
}

// Issue 16 (6): one record per attempt, also for an attempt refused for its input; the record
// holds the error, never the raw input.
TEST_F(HostileTest, AnAttemptRefusedForItsInputIsRecorded) {
  Client& robin = *clients_["robin.peters"];
  pb::StopAccountRequest stop;
  stop.set_account("WA_Lombardijen1");
  stop.set_reason("gestopt\x1b[31m rood");
  EXPECT_EQ(robin.Call(robin.organisation(), &pb::Organisation::Stub::StopAccount, stop).status().code(),
            absl::StatusCode::kInvalidArgument);
  pb::RequestAccessRequest ask;
  ask.set_account("WA_Lombardijen1");
  ask.set_purpose("koppelen");
  ask.set_reason("kort");
  Client& regisseur = *clients_["regisseur.rotterdam"];
  EXPECT_EQ(regisseur.Call(regisseur.vault(), &pb::Vault::Stub::RequestAccess, ask).status().code(),
            absl::StatusCode::kInvalidArgument);
  int refused = 0;
  for (const pb::AuditRecord& r : Audit()) {
    if (r.rule() != "input.invalid") continue;
    ++refused;
    EXPECT_EQ(r.decision(), "deny");
    EXPECT_EQ(r.outcome(), "invalid-argument");
    EXPECT_EQ(r.reason().find('\x1b'), std::string::npos) << r.reason();
    EXPECT_TRUE(r.action() == "stop-account" || r.action() == "request-access") << r.action();
    EXPECT_FALSE(r.certificate().empty());
  }
  EXPECT_EQ(refused, 2);
}

TEST_F(HostileTest, AnAttemptWithGoodInputIsRecordedAsDecided) {
  Client& regisseur = *clients_["regisseur.rotterdam"];
  pb::RequestAccessRequest ask;
  ask.set_account("WA_Lombardijen1");
  ask.set_purpose("koppelen");
  ask.set_reason("koppelen aan de landelijke tool");
  ASSERT_TRUE(regisseur.Call(regisseur.vault(), &pb::Vault::Stub::RequestAccess, ask).ok());
  int requests = 0;
  for (const pb::AuditRecord& r : Audit("regisseur.rotterdam")) {
    EXPECT_NE(r.rule(), "input.invalid");
    requests += r.action() == "request-access" && r.decision() == "allow";
  }
  EXPECT_EQ(requests, 1);
}

TEST_F(HostileTest, AnExpiredClientCertificateIsRefusedByTls) {
  // Issue robin a certificate from the vault's own CA that expired yesterday.
  std::ifstream sealed_in(server::RootKeyPath(vault_.data_dir()), std::ios::binary);
  std::stringstream sealed;
  sealed << sealed_in.rdbuf();
  auto root = crypto::RootKey::Open(sealed.str(), crypto::SecretBytes::CopyFrom(TestVault::kPassphrase));
  ASSERT_TRUE(root.ok());
  auto sealer = crypto::XChaCha20Poly1305::Create(*crypto::DeriveSubkey(*root, crypto::SubkeyPurpose::kPrivateKeySeal));
  ASSERT_TRUE(sealer.ok());
  std::optional<storage::PkiRow> ca_row;
  ASSERT_TRUE(vault_.OpenDatabaseForTest()->Read([&](storage::Tx& tx) -> absl::Status {
    auto row = tx.GetPki("ca");
    if (!row.ok()) return row.status();
    ca_row = **row;
    return absl::OkStatus();
  }).ok());
  auto ca_key = sealer->Open(ca_row->sealed_key, "kluis/pki/v1/ca");
  ASSERT_TRUE(ca_key.ok());
  auto ca = crypto::CertificateAuthority::Create(*std::move(ca_key), ca_row->certificate_pem);
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto request = crypto::GenerateKeyAndRequest("robin.peters");
  ASSERT_TRUE(request.ok());
  auto expired = ca->IssueClientCertificate(request->request_pem, "robin.peters",
                                            absl::Now() - absl::Hours(24 * 400), absl::Hours(24));
  ASSERT_TRUE(expired.ok()) << expired.status();
  client::Profile profile;
  profile.server = vault_.address();
  profile.private_key_pem = request->private_key_pem.Clone();
  profile.certificate_pem = *expired;
  profile.ca_certificate_pem = vault_.ca_pem();
  auto client = vault_.ClientFor(profile);
  auto me = client->Call(client->organisation(), &pb::Organisation::Stub::WhoAmI, pb::WhoAmIRequest());
  EXPECT_EQ(me.status().code(), absl::StatusCode::kUnavailable) << me.status();
}

}  // namespace
}  // namespace kluis::testing
