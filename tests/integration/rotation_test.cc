// Issue 5, rotation: two phases, both passwords while pending, previous versions kept for the
// retention period, rotation flags cleared by a confirmed rotation, a pending TOTP key.
#include <gtest/gtest.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/organisation_fixture.h"

namespace kluis::testing {
namespace {

class RotationTest : public ReleaseTest {
 protected:
  absl::StatusOr<pb::RotateResponse> Rotate(pb::RotateRequest::Step step, const std::string& user = "robin.peters") {
    pb::RotateRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_step(step);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::Rotate, request);
  }
  absl::StatusOr<pb::ReleaseCredentialResponse> Previous(int version, const std::string& reason) {
    pb::ReleaseCredentialRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_previous_version(version);
    request.set_reason(reason);
    Client& c = *clients_["robin.peters"];
    return c.Call(c.vault(), &pb::Vault::Stub::ReleaseCredential, request);
  }
  std::vector<pb::RotationFlag> Due() {
    Client& c = *clients_["regisseur.rotterdam"];
    auto due = c.Call(c.vault(), &pb::Vault::Stub::ListDue, pb::ListDueRequest());
    EXPECT_TRUE(due.ok()) << due.status();
    return {due->flags().begin(), due->flags().end()};
  }
};

TEST_F(RotationTest, RotateShowsBothUntilConfirmThenTheOldOneIsOnlyHistory) {
  auto started = Rotate(pb::RotateRequest::START);
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string fresh = started->new_password();
  EXPECT_EQ(fresh.size(), 24u);  // x: 24 characters, every class
  EXPECT_NE(fresh.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), std::string::npos);
  EXPECT_NE(fresh.find_first_of("0123456789"), std::string::npos);
  auto both = Get("robin.peters", "WA_Lombardijen1");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->password(), kPassword);
  EXPECT_EQ(both->pending_password(), fresh);
  // A second rotation while one is pending is refused.
  EXPECT_EQ(Rotate(pb::RotateRequest::START).status().code(), absl::StatusCode::kFailedPrecondition);

  auto confirmed = Rotate(pb::RotateRequest::CONFIRM);
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_TRUE(confirmed->password());
  auto after = Get("robin.peters", "WA_Lombardijen1");
  EXPECT_EQ(after->password(), fresh);
  EXPECT_TRUE(after->pending_password().empty());
  // The old one is history: the beheerder may have it back with a reason, nobody else.
  EXPECT_EQ(Previous(1, "").status().code(), absl::StatusCode::kInvalidArgument);
  auto old = Previous(1, "rotatie pakte niet op het platform");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->password(), kPassword);
  EXPECT_EQ(old->rule(), "R1.beheerder-previous");
  pb::ReleaseCredentialRequest by_teamchef;
  by_teamchef.set_account("WA_Lombardijen1");
  by_teamchef.set_previous_version(1);
  by_teamchef.set_reason("rotatie pakte niet op het platform");
  Client& teamchef = *clients_["teamchef.ijsselmonde"];
  EXPECT_EQ(teamchef.Call(teamchef.vault(), &pb::Vault::Stub::ReleaseCredential, by_teamchef).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(RotationTest, AbortDropsThePendingPassword) {
  ASSERT_TRUE(Rotate(pb::RotateRequest::START).ok());
  auto aborted = Rotate(pb::RotateRequest::ABORT);
  ASSERT_TRUE(aborted.ok()) << aborted.status();
  EXPECT_TRUE(aborted->password());
  auto login = Get("robin.peters", "WA_Lombardijen1");
  EXPECT_EQ(login->password(), kPassword);
  EXPECT_TRUE(login->pending_password().empty());
  EXPECT_EQ(Rotate(pb::RotateRequest::CONFIRM).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Previous(2, "de afgebroken versie terug").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RotationTest, OnlyTheBeheerderRotates) {
  EXPECT_EQ(Rotate(pb::RotateRequest::START, "teamchef.ijsselmonde").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Rotate(pb::RotateRequest::START, "auditor").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Rotate(pb::RotateRequest::START, "buitenstaander").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RotationTest, PreviousVersionsAreDestroyedAfterTheRetentionPeriod) {
  ASSERT_TRUE(Rotate(pb::RotateRequest::START).ok());
  ASSERT_TRUE(Rotate(pb::RotateRequest::CONFIRM).ok());
  vault_.clock().Advance(absl::Hours(24 * 90) + absl::Seconds(1));
  EXPECT_EQ(Previous(1, "nog eens het oude wachtwoord").status().code(), absl::StatusCode::kNotFound);
  // The next confirmed rotation wipes the sealed value itself.
  ASSERT_TRUE(Rotate(pb::RotateRequest::START).ok());
  ASSERT_TRUE(Rotate(pb::RotateRequest::CONFIRM).ok());
  auto db = vault_.OpenDatabaseForTest();
  int64_t wiped = -1;
  ASSERT_TRUE(db->Read([&](storage::Tx& tx) -> absl::Status {
    auto row = tx.SecretVersion(1, storage::SecretKind::kPassword, 1);
    if (!row.ok()) return row.status();
    wiped = (*row)->state == storage::SecretState::kDestroyed && (*row)->sealed.empty();
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(wiped, 1);
}

TEST_F(RotationTest, AConfirmedRotationClearsTheRotationFlag) {
  pb::ReleaseCredentialRequest emergency;
  emergency.set_account("WA_Lombardijen1");
  emergency.set_break_glass(true);
  emergency.set_reason("Robin ziek, account gehackt");
  Client& teamchef = *clients_["teamchef.ijsselmonde"];
  ASSERT_TRUE(teamchef.Call(teamchef.vault(), &pb::Vault::Stub::ReleaseCredential, emergency).ok());
  ASSERT_EQ(Due().size(), 1u);
  ASSERT_TRUE(Rotate(pb::RotateRequest::START).ok());
  EXPECT_EQ(Due().size(), 1u) << "a pending rotation does not clear the flag";
  auto confirmed = Rotate(pb::RotateRequest::CONFIRM);
  EXPECT_EQ(confirmed->flags_cleared(), 1);
  EXPECT_TRUE(Due().empty());
}

std::string Oathtool(const std::string& seed, absl::Time at) {
  FILE* pipe = popen(absl::StrCat("oathtool --totp --now='@", absl::ToUnixSeconds(at), "' --base32 ", seed).c_str(), "r");
  char line[32] = {0};
  fgets(line, sizeof(line), pipe);
  pclose(pipe);
  return std::string(absl::StripTrailingAsciiWhitespace(line));
}

TEST_F(RotationTest, PendingTotpKeyGivesCodesForThePlatformsConfirmation) {
  const std::string old_seed = "KRUGKIDPNRSCA23FPEQGS4ZAN5WGI";
  const std::string new_seed = "KRUGKIDOMV3SA23FPEQGS4ZANZSXO";
  Client& robin = *clients_["robin.peters"];
  pb::SetTotpRequest set;
  set.set_account("WA_Lombardijen1");
  set.set_otpauth(old_seed);
  ASSERT_TRUE(robin.Call(robin.vault(), &pb::Vault::Stub::SetTotp, set).ok());
  set.set_otpauth(new_seed);
  set.set_pending(true);
  ASSERT_TRUE(robin.Call(robin.vault(), &pb::Vault::Stub::SetTotp, set).ok());
  pb::GetTotpCodeRequest get;
  get.set_account("WA_Lombardijen1");
  auto code = robin.Call(robin.vault(), &pb::Vault::Stub::GetTotpCode, get);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->code(), Oathtool(old_seed, vault_.clock().Now()));
  EXPECT_EQ(code->pending_code(), Oathtool(new_seed, vault_.clock().Now()));
  auto confirmed = Rotate(pb::RotateRequest::CONFIRM);
  ASSERT_TRUE(confirmed.ok());
  EXPECT_TRUE(confirmed->totp());
  EXPECT_FALSE(confirmed->password());
  auto after = robin.Call(robin.vault(), &pb::Vault::Stub::GetTotpCode, get);
  EXPECT_EQ(after->code(), Oathtool(new_seed, vault_.clock().Now()));
  EXPECT_TRUE(after->pending_code().empty());
}

}  // namespace
}  // namespace kluis::testing
