// Issue 5, accounts outlive the people who run them (R6, R8): handover for every reason, every cause
// of a rotation flag, a person who leaves, and stopping an account. Through the real server over
// mutual TLS with the real client library.
#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/secret_bytes.h"
#include "tests/integration/organisation_fixture.h"

namespace kluis::testing {
namespace {

class LifecycleTest : public ReleaseTest {
 protected:
  absl::StatusOr<pb::HandoverResponse> Handover(const std::string& by, const std::string& to,
                                                const std::string& reason) {
    pb::HandoverRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_to(to);
    request.set_reason(reason);
    Client& c = *clients_[by];
    return c.Call(c.vault(), &pb::Vault::Stub::Handover, request);
  }
  std::vector<pb::RotationFlag> Due(const std::string& user = "regisseur.rotterdam") {
    Client& c = *clients_[user];
    auto due = c.Call(c.vault(), &pb::Vault::Stub::ListDue, pb::ListDueRequest());
    EXPECT_TRUE(due.ok()) << due.status();
    return {due->flags().begin(), due->flags().end()};
  }
  bool DueFor(const std::string& cause_part) {
    std::vector<pb::RotationFlag> flags = Due();
    return std::any_of(flags.begin(), flags.end(),
                       [&](const pb::RotationFlag& f) { return absl::StrContains(f.cause(), cause_part); });
  }
  std::vector<pb::Notice> Notices(const std::string& user) {
    Client& c = *clients_[user];
    auto inbox = c.Call(c.vault(), &pb::Vault::Stub::GetInbox, pb::GetInboxRequest());
    EXPECT_TRUE(inbox.ok()) << inbox.status();
    return {inbox->notices().begin(), inbox->notices().end()};
  }
  absl::StatusOr<pb::StopAccountResponse> Stop(const std::string& by, const std::string& account,
                                               const std::string& reason) {
    pb::StopAccountRequest request;
    request.set_account(account);
    request.set_reason(reason);
    Client& c = *clients_[by];
    return c.Call(c.organisation(), &pb::Organisation::Stub::StopAccount, request);
  }
  absl::StatusOr<pb::ReleaseCredentialResponse> GetWithReason(const std::string& user, const std::string& reason) {
    pb::ReleaseCredentialRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_reason(reason);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::ReleaseCredential, request);
  }
};

TEST_F(LifecycleTest, R6HandoverForEachReasonEndsThePredecessorsAccessOnTheVeryNextCall) {
  std::string holder = "robin.peters";
  int n = 0;
  for (const char* reason : {"ziekte", "verlof", "uitdienst", "overlijden", "functiewijziging", "overig"}) {
    const std::string successor = absl::StrCat("opvolger", ++n);
    clients_[successor] = vault_.ClientFor(vault_.AddAndEnroll(successor));
    ASSERT_TRUE(Get(holder, "WA_Lombardijen1").ok()) << reason;
    auto handed = Handover(holder, successor, reason);
    ASSERT_TRUE(handed.ok()) << reason << ": " << handed.status();
    EXPECT_EQ(handed->to(), successor);
    ASSERT_EQ(handed->from_size(), 1);
    EXPECT_EQ(handed->from(0), holder);
    // The very next call of the predecessor: the account is no longer theirs to see.
    EXPECT_EQ(Get(holder, "WA_Lombardijen1").status().code(), absl::StatusCode::kNotFound) << reason;
    auto theirs = Get(successor, "WA_Lombardijen1");
    ASSERT_TRUE(theirs.ok()) << reason << ": " << theirs.status();
    EXPECT_EQ(theirs->password(), kPassword);
    EXPECT_TRUE(DueFor(absl::StrCat("handover by ", holder))) << reason;
    holder = successor;
  }
  // The regisseur was told of each one; the audit log names reason, predecessor and successor.
  std::vector<pb::Notice> notices = Notices("regisseur.rotterdam");
  EXPECT_EQ(std::count_if(notices.begin(), notices.end(), [](const pb::Notice& n) { return n.kind() == "handover"; }), 6);
  std::vector<pb::AuditRecord> records = Audit();
  EXPECT_TRUE(std::any_of(records.begin(), records.end(), [](const pb::AuditRecord& r) {
    return r.action() == "handover" && r.rule() == "R6.handover" && r.reason() == "overlijden: opvolger3 -> opvolger4";
  }));
}

TEST_F(LifecycleTest, R6TeamchefAndRegisseurHandOverOthersMayNot) {
  clients_["sanne.devries"] = vault_.ClientFor(vault_.AddAndEnroll("sanne.devries"));
  auto by_teamchef = Handover("teamchef.ijsselmonde", "sanne.devries", "ziekte");
  ASSERT_TRUE(by_teamchef.ok()) << by_teamchef.status();
  EXPECT_EQ(by_teamchef->from(0), "robin.peters");
  EXPECT_FALSE(Notices("robin.peters").empty()) << "the predecessor is told";
  auto by_regisseur = Handover("regisseur.rotterdam", "robin.peters", "overig");
  ASSERT_TRUE(by_regisseur.ok()) << by_regisseur.status();
  EXPECT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok());
  EXPECT_EQ(Get("sanne.devries", "WA_Lombardijen1").status().code(), absl::StatusCode::kNotFound);
  // Nobody else, not to yourself, and only the six reasons.
  EXPECT_EQ(Handover("auditor", "sanne.devries", "overig").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Handover("buitenstaander", "sanne.devries", "overig").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Handover("teamchef.ijsselmonde", "teamchef.ijsselmonde", "overig").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Handover("robin.peters", "sanne.devries", "zomaar").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Handover("robin.peters", "niemand", "overig").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok()) << "a refused handover changes nothing";
}

TEST_F(LifecycleTest, EveryCauseRaisesARotationFlagAndAConfirmedRotationClearsThem) {
  Client& teamchef = *clients_["teamchef.ijsselmonde"];
  Client& robin = *clients_["robin.peters"];
  // Break-glass release.
  pb::ReleaseCredentialRequest emergency;
  emergency.set_account("WA_Lombardijen1");
  emergency.set_break_glass(true);
  emergency.set_reason("Robin ziek, melding nodig");
  ASSERT_TRUE(teamchef.Call(teamchef.vault(), &pb::Vault::Stub::ReleaseCredential, emergency).ok());
  EXPECT_TRUE(DueFor("break-glass release by teamchef.ijsselmonde"));
  // Seed export.
  pb::SetTotpRequest totp;
  totp.set_account("WA_Lombardijen1");
  totp.set_otpauth("KRUGKIDPNRSCA23FPEQGS4ZAN5WGI");
  ASSERT_TRUE(robin.Call(robin.vault(), &pb::Vault::Stub::SetTotp, totp).ok());
  pb::ExportTotpRequest exported;
  exported.set_account("WA_Lombardijen1");
  exported.set_reason("nieuwe telefoon voor de wijkagent");
  ASSERT_TRUE(robin.Call(robin.vault(), &pb::Vault::Stub::ExportTotp, exported).ok());
  EXPECT_TRUE(DueFor("R14.beheerder-exports-authenticator"));
  // The end of a role binding that could release the account.
  pb::RevokeRoleRequest revoke;
  revoke.set_user("teamchef.ijsselmonde");
  revoke.set_role(pb::ROLE_TEAMCHEF);
  *revoke.mutable_scope() = Scope("team", "rotterdam/ijsselmonde");
  Client& op = vault_.operator_client();
  ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::RevokeRole, revoke).ok());
  EXPECT_TRUE(DueFor("teamchef binding of teamchef.ijsselmonde ended"));
  // A handover.
  clients_["sanne.devries"] = vault_.ClientFor(vault_.AddAndEnroll("sanne.devries"));
  ASSERT_TRUE(Handover("robin.peters", "sanne.devries", "functiewijziging").ok());
  EXPECT_TRUE(DueFor("handover by robin.peters"));
  // A disabled user who could release it.
  pb::DisableUserRequest disable;
  disable.set_user("sanne.devries");
  ASSERT_TRUE(op.Call(op.organisation(), &pb::Organisation::Stub::DisableUser, disable).ok());
  EXPECT_TRUE(DueFor("user sanne.devries disabled"));
  // Each flag carries its cause and date; the regisseur sees the unit's flags.
  for (const pb::RotationFlag& flag : Due()) {
    EXPECT_EQ(flag.account(), "x/WA_Lombardijen1");
    EXPECT_GT(flag.raised_unix(), 0);
    EXPECT_FALSE(flag.raised_by().empty());
  }
  EXPECT_EQ(Due().size(), 5u);

  // A confirmed rotation by the new beheerder clears every flag.
  clients_["opvolger"] = vault_.ClientFor(vault_.AddAndEnroll("opvolger"));
  Grant("opvolger", pb::ROLE_BEHEERDER, Scope("account", "x/WA_Lombardijen1"));
  Client& successor = *clients_["opvolger"];
  pb::RotateRequest rotate;
  rotate.set_account("WA_Lombardijen1");
  rotate.set_step(pb::RotateRequest::START);
  ASSERT_TRUE(successor.Call(successor.vault(), &pb::Vault::Stub::Rotate, rotate).ok());
  rotate.set_step(pb::RotateRequest::CONFIRM);
  auto confirmed = successor.Call(successor.vault(), &pb::Vault::Stub::Rotate, rotate);
  ASSERT_TRUE(confirmed.ok()) << confirmed.status();
  EXPECT_EQ(confirmed->flags_cleared(), 5);
  EXPECT_TRUE(Due().empty());
}

TEST_F(LifecycleTest, APasswordOlderThanThePolicyMaximumIsDueAndANewOneIsNot) {
  EXPECT_FALSE(DueFor("password older than"));
  vault_.clock().Advance(absl::Hours(24 * 364));
  EXPECT_FALSE(DueFor("password older than"));
  vault_.clock().Advance(absl::Hours(24 * 2));
  EXPECT_TRUE(DueFor("password older than 365 days"));
  ASSERT_TRUE(SetPassword("robin.peters", "WA_Lombardijen1", "Een-nieuw-wachtwoord-2027").ok());
  EXPECT_FALSE(DueFor("password older than"));
}

TEST_F(LifecycleTest, APersonLeavesBindingsEndAccountsAreFlaggedAndTheAccessReportShowsWhatTheyReleased) {
  ASSERT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok());
  ASSERT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok());
  EXPECT_FALSE(Get("robin.peters", "x/Bestaat_Niet").ok());  // an attempt, not a release
  Client& op = vault_.operator_client();
  pb::DisableUserRequest disable;
  disable.set_user("robin.peters");
  auto disabled = op.Call(op.organisation(), &pb::Organisation::Stub::DisableUser, disable);
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  EXPECT_EQ(disabled->bindings_ended(), 1);
  EXPECT_EQ(Get("robin.peters", "WA_Lombardijen1").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(DueFor("user robin.peters disabled"));

  pb::ListAuditRequest access;
  access.set_actor("robin.peters");
  access.set_releases_only(true);
  Client& auditor = *clients_["auditor"];
  auto released = auditor.Call(auditor.audit(), &pb::Audit::Stub::ListAudit, access);
  ASSERT_TRUE(released.ok()) << released.status();
  ASSERT_EQ(released->records_size(), 2);
  for (const pb::AuditRecord& r : released->records()) {
    EXPECT_EQ(r.action(), "release-login");
    EXPECT_EQ(r.account(), "x/WA_Lombardijen1");
    EXPECT_EQ(r.rule(), "R1.beheerder");
  }
  // Without releases_only the refused attempts show too.
  access.set_releases_only(false);
  auto everything = auditor.Call(auditor.audit(), &pb::Audit::Stub::ListAudit, access);
  EXPECT_GT(everything->records_size(), 2);
}

TEST_F(LifecycleTest, R8StoppedAccountGoesOnlyToTheRegisseurAndItsSecretsAreDestroyedAfterRetention) {
  EXPECT_EQ(Stop("robin.peters", "WA_Lombardijen1", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Stop("teamchef.ijsselmonde", "WA_Lombardijen1", "wijk wordt opgeheven").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Stop("auditor", "WA_Lombardijen1", "wijk wordt opgeheven").status().code(),
            absl::StatusCode::kPermissionDenied);
  auto stopped = Stop("robin.peters", "WA_Lombardijen1", "wijk wordt opgeheven");
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->account().status(), "stopped");
  EXPECT_EQ(stopped->secrets_destroyed_after_unix(), absl::ToUnixSeconds(vault_.clock().Now() + absl::Hours(24 * 90)));
  std::vector<pb::Notice> told = Notices("regisseur.rotterdam");
  EXPECT_TRUE(std::any_of(told.begin(), told.end(), [](const pb::Notice& n) { return n.kind() == "stop"; }));
  EXPECT_EQ(Stop("robin.peters", "WA_Lombardijen1", "nog een keer stoppen").status().code(),
            absl::StatusCode::kPermissionDenied);

  // The teamchef no longer gets it; the regisseur (and the beheerder) do, with a reason, to delete it.
  auto beheerder = Get("robin.peters", "WA_Lombardijen1");  // only with a reason, to delete it (issue 16)
  EXPECT_EQ(beheerder.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(beheerder.status().message(), "is stopped")) << beheerder.status();
  pb::ReleaseCredentialRequest emergency;
  emergency.set_account("WA_Lombardijen1");
  emergency.set_break_glass(true);
  emergency.set_reason("toch nog even inloggen");
  Client& teamchef = *clients_["teamchef.ijsselmonde"];
  EXPECT_EQ(teamchef.Call(teamchef.vault(), &pb::Vault::Stub::ReleaseCredential, emergency).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(GetWithReason("regisseur.rotterdam", "").status().code(), absl::StatusCode::kInvalidArgument);
  auto for_deletion = GetWithReason("regisseur.rotterdam", "account verwijderen op X");
  ASSERT_TRUE(for_deletion.ok()) << for_deletion.status();
  EXPECT_EQ(for_deletion->password(), kPassword);
  EXPECT_EQ(for_deletion->rule(), "R8.regisseur-deletes-stopped");

  // After the retention period nothing is left to release, and a restarted vault wipes the seals.
  vault_.clock().Advance(absl::Hours(24 * 90) + absl::Seconds(1));
  EXPECT_EQ(GetWithReason("regisseur.rotterdam", "account verwijderen op X").status().code(),
            absl::StatusCode::kNotFound);
  vault_.Stop();
  auto reopened = server::Vault::Open(vault_.data_dir(), crypto::SecretBytes::CopyFrom(TestVault::kPassphrase),
                                      vault_.clock());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  reopened->reset();
  auto db = vault_.OpenDatabaseForTest();
  int live = -1;
  ASSERT_TRUE(db->Read([&](storage::Tx& tx) -> absl::Status {
                  auto password = tx.CurrentSecret(1, storage::SecretKind::kPassword);
                  auto email = tx.CurrentSecret(1, storage::SecretKind::kLinkedEmail);
                  if (!password.ok() || !email.ok()) return absl::InternalError("read failed");
                  live = password->has_value() + email->has_value();
                  return absl::OkStatus();
                }).ok());
  EXPECT_EQ(live, 0);
}

// Issue 16 (9), 000 §4.10: deleted "bij voorkeur door de beheerder zelf en als dat niet lukt door
// de landelijke socialmedia-regisseur"; the regisseur leads and is told.
TEST_F(LifecycleTest, R8TheBeheerderOrTheLandelijkRegisseurReleasesAStoppedAccountToDeleteIt) {
  ASSERT_TRUE(Stop("regisseur.rotterdam", "WA_Lombardijen1", "wijk wordt opgeheven").ok());
  EXPECT_EQ(GetWithReason("robin.peters", "").status().code(), absl::StatusCode::kInvalidArgument) << "a reason";
  auto beheerder = GetWithReason("robin.peters", "account verwijderen op X");
  ASSERT_TRUE(beheerder.ok()) << beheerder.status();
  EXPECT_EQ(beheerder->rule(), "R8.beheerder-deletes-stopped");
  std::vector<pb::Notice> told = Notices("regisseur.rotterdam");
  EXPECT_TRUE(std::any_of(told.begin(), told.end(), [](const pb::Notice& n) {
    return absl::StrContains(n.text(), "account verwijderen op X");
  })) << "the regisseur is told";
  auto landelijk = GetWithReason("landelijk.regisseur", "beheerder lukt het niet, ik verwijder het");
  ASSERT_TRUE(landelijk.ok()) << landelijk.status();
  EXPECT_EQ(landelijk->rule(), "R8.landelijk-regisseur-deletes-stopped");
}

TEST_F(LifecycleTest, R8TheTeamchefAndOthersDoNotGetAStoppedAccount) {
  ASSERT_TRUE(Stop("regisseur.rotterdam", "WA_Lombardijen1", "wijk wordt opgeheven").ok());
  for (const char* user : {"teamchef.ijsselmonde", "auditor", "buitenstaander"}) {
    auto refused = GetWithReason(user, "account verwijderen op X");
    EXPECT_FALSE(refused.ok()) << user;
  }
}

TEST_F(LifecycleTest, R8ADeletedAccountIsRecordedItsSecretsDestroyedAndItReleasesNothing) {
  ASSERT_TRUE(Stop("robin.peters", "WA_Lombardijen1", "wijk wordt opgeheven").ok());
  Client& robin = *clients_["robin.peters"];
  pb::RecordAccountDeletedRequest deleted;
  deleted.set_account("WA_Lombardijen1");
  deleted.set_reference("X support ticket 0451");
  auto recorded = robin.Call(robin.organisation(), &pb::Organisation::Stub::RecordAccountDeleted, deleted);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->account().status(), "archived");
  EXPECT_FALSE(recorded->account().has_password());
  EXPECT_FALSE(GetWithReason("regisseur.rotterdam", "account verwijderen op X").ok());
  std::vector<pb::Notice> told = Notices("regisseur.rotterdam");
  EXPECT_TRUE(std::any_of(told.begin(), told.end(), [](const pb::Notice& n) { return n.kind() == "deleted"; }));
  bool audited = false;
  for (const pb::AuditRecord& r : Audit("robin.peters")) {
    audited |= r.action() == "account-deleted" && absl::StrContains(r.reason(), "X support ticket 0451");
  }
  EXPECT_TRUE(audited);
}

TEST_F(LifecycleTest, R8AnActiveAccountCannotBeRecordedAsDeleted) {
  Client& robin = *clients_["robin.peters"];
  pb::RecordAccountDeletedRequest deleted;
  deleted.set_account("WA_Lombardijen1");
  deleted.set_reference("X support ticket 0451");
  auto refused = robin.Call(robin.organisation(), &pb::Organisation::Stub::RecordAccountDeleted, deleted);
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(Get("robin.peters", "WA_Lombardijen1").ok()) << "nothing destroyed";
  Client& teamchef = *clients_["teamchef.ijsselmonde"];
  ASSERT_TRUE(Stop("robin.peters", "WA_Lombardijen1", "wijk wordt opgeheven").ok());
  EXPECT_EQ(teamchef.Call(teamchef.organisation(), &pb::Organisation::Stub::RecordAccountDeleted, deleted).status().code(),
            absl::StatusCode::kPermissionDenied)
      << "only who may delete it records it";
}

TEST_F(LifecycleTest, R8MandatoryAccountCannotBeStoppedOnlyHandedOver) {
  pb::AddAccountRequest account;
  account.set_platform("x");
  account.set_handle("POL_IJsselmonde");
  account.set_team("ijsselmonde");
  account.set_kind(pb::ACCOUNT_KIND_POLITIE_SAMEN);
  account.set_mandatory(true);
  Client& op = vault_.operator_client();
  auto added = op.Call(op.organisation(), &pb::Organisation::Stub::AddAccount, account);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE(added->account().mandatory());
  auto refused = Stop("regisseur.rotterdam", "POL_IJsselmonde", "basisteam gaat op in een ander");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "only handed over")) << refused.status();
  pb::ShowAccountRequest show;
  show.set_account("POL_IJsselmonde");
  Client& regisseur = *clients_["regisseur.rotterdam"];
  EXPECT_EQ(regisseur.Call(regisseur.organisation(), &pb::Organisation::Stub::ShowAccount, show)->account().status(),
            "active");
  std::vector<pb::AuditRecord> records = Audit("regisseur.rotterdam");
  EXPECT_TRUE(std::any_of(records.begin(), records.end(), [](const pb::AuditRecord& r) {
    return r.action() == "stop-account" && r.rule() == "R8.mandatory-account" && r.decision() == "deny";
  }));
  // The regisseur can stop an ordinary account.
  EXPECT_TRUE(Stop("regisseur.rotterdam", "WA_Lombardijen1", "wijk wordt opgeheven").ok());
}

}  // namespace
}  // namespace kluis::testing
