// Issue 3 through the real server: break-glass, requests with approval and escalation, the
// waiting period, and policy reloads. Time is the fixture's manual clock.
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "policies/policy.h"
#include "tests/integration/organisation_fixture.h"

namespace kluis::testing {
namespace {

class RequestTest : public ReleaseTest {
 protected:
  absl::StatusOr<pb::ReleaseCredentialResponse> Emergency(const std::string& user,
                                                          const std::string& reason) {
    pb::ReleaseCredentialRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_reason(reason);
    request.set_break_glass(true);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::ReleaseCredential, request);
  }
  absl::StatusOr<pb::ReleaseCredentialResponse> GetWith(const std::string& user, int64_t id) {
    pb::ReleaseCredentialRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_request_id(id);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::ReleaseCredential, request);
  }
  absl::StatusOr<pb::AccessRequest> Ask(const std::string& user, const std::string& purpose = "ziekte",
                                        const std::string& reason = "beheerder langdurig ziek") {
    pb::RequestAccessRequest request;
    request.set_account("WA_Lombardijen1");
    request.set_purpose(purpose);
    request.set_reason(reason);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::RequestAccess, request);
  }
  absl::StatusOr<pb::AccessRequest> Decide(const std::string& user, int64_t id, bool approve,
                                           const std::string& reason = "") {
    pb::DecideRequestRequest request;
    request.set_id(id);
    request.set_approve(approve);
    request.set_reason(reason);
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::DecideRequest, request);
  }
  absl::StatusOr<pb::AccessRequest> Escalate(const std::string& user, int64_t id) {
    pb::EscalateRequestRequest request;
    request.set_id(id);
    request.set_reason("regisseur gaat voor, R9");
    Client& c = *clients_[user];
    return c.Call(c.vault(), &pb::Vault::Stub::EscalateRequest, request);
  }
  pb::Inbox InboxOf(const std::string& user) {
    Client& c = *clients_[user];
    auto inbox = c.Call(c.vault(), &pb::Vault::Stub::GetInbox, pb::GetInboxRequest());
    EXPECT_TRUE(inbox.ok()) << inbox.status();
    return *inbox;
  }
  std::vector<pb::RotationFlag> DueFor(const std::string& user) {
    Client& c = *clients_[user];
    auto due = c.Call(c.vault(), &pb::Vault::Stub::ListDue, pb::ListDueRequest());
    EXPECT_TRUE(due.ok()) << due.status();
    return {due->flags().begin(), due->flags().end()};
  }
  bool HasNotice(const std::string& user, const std::string& kind, const std::string& text) {
    const pb::Inbox inbox = InboxOf(user);
    for (const pb::Notice& n : inbox.notices()) {
      if (n.kind() == kind && absl::StrContains(n.text(), text)) return true;
    }
    return false;
  }
};

TEST_F(RequestTest, R2TeamchefBreakGlassReleasesNotifiesFlagsAndRecords) {
  auto login = Emergency("teamchef.ijsselmonde", "Robin ziek, melding via webcare nodig");
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->password(), kPassword);
  EXPECT_EQ(login->rule(), "R2.teamchef-break-glass");
  // Everyone concerned is told: the beheerder and the unit's regisseur.
  EXPECT_TRUE(HasNotice("robin.peters", "break-glass", "Robin ziek"));
  EXPECT_TRUE(HasNotice("regisseur.rotterdam", "break-glass", "teamchef.ijsselmonde"));
  EXPECT_FALSE(HasNotice("auditor", "break-glass", ""));
  // The password is due for rotation.
  const std::vector<pb::RotationFlag> due = DueFor("robin.peters");
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].account(), "x/WA_Lombardijen1");
  EXPECT_TRUE(absl::StrContains(due[0].cause(), "break-glass"));
  // And the log says who, why and under which rule.
  bool recorded = false;
  for (const pb::AuditRecord& r : Audit("teamchef.ijsselmonde")) {
    recorded |= r.action() == "break-glass:release-login" && r.decision() == "allow" &&
                r.rule() == "R2.teamchef-break-glass" && r.reason() == "Robin ziek, melding via webcare nodig";
  }
  EXPECT_TRUE(recorded);
}

TEST_F(RequestTest, R2BreakGlassWithoutAMeaningfulReasonIsRefusedAndChangesNothing) {
  auto refused = Emergency("teamchef.ijsselmonde", "nood");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "at least 10 characters")) << refused.status();
  EXPECT_TRUE(DueFor("robin.peters").empty());
  EXPECT_FALSE(HasNotice("robin.peters", "break-glass", ""));
  // The regisseur has no break-glass at all.
  EXPECT_EQ(Emergency("regisseur.rotterdam", "ik wil het nu meteen hebben").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(RequestTest, R3RequestApprovedByTheBeheerderReleasesExactlyOnce) {
  auto asked = Ask("regisseur.rotterdam", "koppelen", "koppelen aan de landelijke webcare-tool");
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->state(), "pending");
  EXPECT_EQ(GetWith("regisseur.rotterdam", asked->id()).status().code(), absl::StatusCode::kFailedPrecondition);
  // The approvers see it waiting for them.
  const pb::Inbox robin = InboxOf("robin.peters");
  ASSERT_EQ(robin.to_decide_size(), 1);
  EXPECT_EQ(robin.to_decide(0).id(), asked->id());
  EXPECT_EQ(InboxOf("teamchef.ijsselmonde").to_decide_size(), 1);
  EXPECT_EQ(InboxOf("auditor").to_decide_size(), 0);

  auto approved = Decide("robin.peters", asked->id(), true);
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(approved->state(), "approved");
  EXPECT_EQ(InboxOf("regisseur.rotterdam").grants_size(), 1);
  auto login = GetWith("regisseur.rotterdam", asked->id());
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->password(), kPassword);
  EXPECT_EQ(login->rule(), "R3.regisseur-request");
  auto again = GetWith("regisseur.rotterdam", asked->id());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(again.status().message(), "used")) << again.status();
  // A second decision on a decided request is refused.
  EXPECT_EQ(Decide("teamchef.ijsselmonde", asked->id(), false, "te laat maar toch nee").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Issue 16 (11): the code alone (FAILED_PRECONDITION) does not say why; the error's details do,
// as common.proto's ErrorInfo, and the CLI picks its exit code from them.
TEST_F(RequestTest, RefusalsCarryTheirReasonInTheErrorDetails) {
  auto asked = Ask("regisseur.rotterdam", "koppelen", "koppelen aan de landelijke webcare-tool");
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(client::RefusalOf(GetWith("regisseur.rotterdam", asked->id()).status()), "NEEDS_APPROVAL");
  ASSERT_TRUE(Decide("robin.peters", asked->id(), true).ok());
  ASSERT_TRUE(GetWith("regisseur.rotterdam", asked->id()).ok());
  auto used = GetWith("regisseur.rotterdam", asked->id());
  EXPECT_EQ(used.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client::RefusalOf(used.status()), "GRANT_NOT_USABLE");
  EXPECT_EQ(client::RefusalOf(Decide("teamchef.ijsselmonde", asked->id(), false, "te laat maar toch nee").status()),
            "REQUEST_STATE");
  auto short_reason = Emergency("teamchef.ijsselmonde", "nood");
  EXPECT_EQ(short_reason.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client::RefusalOf(short_reason.status()), "REASON_REQUIRED");
  auto asked_again = Ask("regisseur.rotterdam", "koppelen", "koppelen aan de landelijke webcare-tool");
  ASSERT_TRUE(asked_again.ok()) << asked_again.status();
  auto terse_denial = Decide("robin.peters", asked_again->id(), false, "nee");
  EXPECT_EQ(terse_denial.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client::RefusalOf(terse_denial.status()), "REASON_REQUIRED");
}

TEST_F(RequestTest, APlainDenialCarriesNoReasonBeyondItsCode) {
  auto refused = Emergency("regisseur.rotterdam", "ik wil het nu meteen hebben");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(client::RefusalOf(refused.status()), std::nullopt);
  EXPECT_TRUE(Emergency("teamchef.ijsselmonde", "beheerder onbereikbaar, dreiging").ok());
  EXPECT_EQ(client::RefusalOf(absl::OkStatus()), std::nullopt);
}

TEST_F(RequestTest, R3GrantExpiresAfterItsTimeToLive) {
  auto asked = Ask("regisseur.rotterdam");
  ASSERT_TRUE(Decide("robin.peters", asked->id(), true).ok());
  vault_.clock().Advance(absl::Hours(24) + absl::Seconds(1));
  auto late = GetWith("regisseur.rotterdam", asked->id());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(late.status().message(), "expired")) << late.status();
}

TEST_F(RequestTest, R9DeniedRequestEscalatesAndTheLandelijkRegisseurDecides) {
  auto asked = Ask("regisseur.rotterdam", "stopzetten", "account houdt zich niet aan de kaders");
  ASSERT_TRUE(asked.ok());
  ASSERT_TRUE(Decide("teamchef.ijsselmonde", asked->id(), false, "nog in gesprek met de beheerder").ok());
  EXPECT_EQ(GetWith("regisseur.rotterdam", asked->id()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(HasNotice("regisseur.rotterdam", "decision", "denied"));
  // The teamchef cannot decide the escalation; the landelijk regisseur can.
  auto escalated = Escalate("regisseur.rotterdam", asked->id());
  ASSERT_TRUE(escalated.ok()) << escalated.status();
  EXPECT_EQ(escalated->state(), "escalated");
  EXPECT_TRUE(HasNotice("landelijk.regisseur", "escalation", "nog in gesprek"));
  EXPECT_EQ(Decide("teamchef.ijsselmonde", asked->id(), true).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto decided = Decide("landelijk.regisseur", asked->id(), true);
  ASSERT_TRUE(decided.ok()) << decided.status();
  EXPECT_EQ(decided->state(), "escalation-approved");
  EXPECT_TRUE(GetWith("regisseur.rotterdam", asked->id()).ok());
}

TEST_F(RequestTest, R9LandelijkDenialStandsAndOnlyTheRequesterEscalates) {
  auto asked = Ask("regisseur.rotterdam");
  ASSERT_TRUE(Decide("robin.peters", asked->id(), false, "niet nodig, ik ben terug").ok());
  EXPECT_EQ(Escalate("teamchef.ijsselmonde", asked->id()).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(Escalate("regisseur.rotterdam", asked->id()).ok());
  ASSERT_TRUE(Decide("landelijk.regisseur", asked->id(), false, "de beheerder is terug, geen reden").ok());
  vault_.clock().Advance(absl::Hours(24 * 30));  // waiting does not overturn a final decision
  EXPECT_EQ(GetWith("regisseur.rotterdam", asked->id()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Escalate("regisseur.rotterdam", asked->id()).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RequestTest, R3RequestLeftAlonePastTheWaitingPeriodIsApproved) {
  auto asked = Ask("regisseur.rotterdam", "overlijden", "beheerder overleden, account overnemen");
  vault_.clock().Advance(absl::Hours(71));
  EXPECT_EQ(GetWith("regisseur.rotterdam", asked->id()).status().code(), absl::StatusCode::kFailedPrecondition);
  vault_.clock().Advance(absl::Hours(1));
  auto login = GetWith("regisseur.rotterdam", asked->id());
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->password(), kPassword);
}

TEST_F(RequestTest, NobodyApprovesTheirOwnRequest) {
  auto asked = Ask("regisseur.rotterdam");
  ASSERT_TRUE(asked.ok());
  // The regisseur later also becomes teamchef, an approver role: still not for their own request.
  Grant("regisseur.rotterdam", pb::ROLE_TEAMCHEF, Scope("team", "rotterdam/ijsselmonde"));
  auto self = Decide("regisseur.rotterdam", asked->id(), true);
  EXPECT_EQ(self.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(self.status().message(), "own request")) << self.status();
}

TEST_F(RequestTest, ExpiredBindingRefusesEvenWithAGrant) {
  auto c = vault_.ClientFor(vault_.AddAndEnroll("tijdelijk.regisseur"));
  clients_["tijdelijk.regisseur"] = std::move(c);
  Grant("tijdelijk.regisseur", pb::ROLE_REGISSEUR, Scope("unit", "rotterdam"),
        absl::ToUnixSeconds(vault_.clock().Now() + absl::Hours(2)));
  auto asked = Ask("tijdelijk.regisseur");
  ASSERT_TRUE(asked.ok()) << asked.status();
  ASSERT_TRUE(Decide("robin.peters", asked->id(), true).ok());
  vault_.clock().Advance(absl::Hours(3));
  EXPECT_FALSE(GetWith("tijdelijk.regisseur", asked->id()).ok());
}

TEST_F(RequestTest, RequestsNeedAKnownPurposeAndAReason) {
  EXPECT_EQ(Ask("regisseur.rotterdam", "nieuwsgierig").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ask("regisseur.rotterdam", "ziekte", "kort").status().code(), absl::StatusCode::kInvalidArgument);
  // Those who need no request are told so.
  auto beheerder = Ask("robin.peters");
  EXPECT_EQ(beheerder.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(beheerder.status().message(), "no request")) << beheerder.status();
  EXPECT_EQ(Ask("buitenstaander").status().code(), absl::StatusCode::kNotFound);
  // Denials need a reason too.
  auto asked = Ask("regisseur.rotterdam");
  EXPECT_EQ(Decide("robin.peters", asked->id(), false).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RequestTest, EveryRequestDecisionIsAuditedWithRulePurposeAndReason) {
  auto asked = Ask("regisseur.rotterdam", "verlof", "beheerder drie weken op vakantie");
  ASSERT_TRUE(Decide("robin.peters", asked->id(), true).ok());
  ASSERT_TRUE(GetWith("regisseur.rotterdam", asked->id()).ok());
  std::map<std::string, pb::AuditRecord> by_action;
  for (const pb::AuditRecord& r : Audit()) {
    if (r.request_id() == std::to_string(asked->id())) by_action[r.action()] = r;
  }
  EXPECT_EQ(by_action["request-access"].rule(), "R3.regisseur-request");
  EXPECT_EQ(by_action["request-access"].reason(), "verlof: beheerder drie weken op vakantie");
  EXPECT_EQ(by_action["approve-request"].rule(), "R3.regisseur-request/approver");
  EXPECT_EQ(by_action["approve-request"].actor(), "robin.peters");
  EXPECT_EQ(by_action["release-login"].rule(), "R3.regisseur-request");
  EXPECT_EQ(by_action["release-login"].decision(), "allow");
}

TEST_F(RequestTest, MalformedPolicyIsRefusedWithLineAndColumnAndTheOldPolicyStays) {
  const std::string path = vault_.data_dir() + "/../broken.textproto";
  std::ofstream(path) << "name: \"kapot\"\nrule {\n  id: \"x\"\n  role: \"koning\"\n}\n";
  absl::Status reloaded = vault_.vault().ReloadPolicy(path);
  EXPECT_EQ(reloaded.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(reloaded.message(), "broken.textproto:4:3: unknown role")) << reloaded;
  EXPECT_EQ(vault_.vault().policy()->name, "default");
  EXPECT_TRUE(Emergency("teamchef.ijsselmonde", "Robin ziek, melding via webcare nodig").ok());

  // A valid policy takes over: here one without break-glass for the teamchef.
  std::string text(policies::DefaultPolicyText());
  const size_t start = text.find("rule {\n  id: \"R2.teamchef-break-glass\"");
  text.erase(start, text.find("}\n", start) + 2 - start);
  std::ofstream(path, std::ios::trunc) << "# strenger\n" << text;
  ASSERT_TRUE(vault_.vault().ReloadPolicy(path).ok());
  EXPECT_EQ(Emergency("teamchef.ijsselmonde", "Robin ziek, melding via webcare nodig").status().code(),
            absl::StatusCode::kPermissionDenied);
  int reloads = 0;
  for (const pb::AuditRecord& r : Audit("kluisd")) reloads += r.action() == "policy-reload";
  EXPECT_EQ(reloads, 2);
}

// Issue 16 (12): after a request, the requester is told who can decide it for that account.
TEST_F(RequestTest, R3ARequestNamesWhoCanDecideIt) {
  auto asked = Ask("regisseur.rotterdam");
  ASSERT_TRUE(asked.ok()) << asked.status();
  const std::string deciders = absl::StrJoin(asked->deciders(), ", ");
  EXPECT_TRUE(absl::StrContains(deciders, "robin.peters (beheerder)")) << deciders;
  EXPECT_TRUE(absl::StrContains(deciders, "teamchef.ijsselmonde (teamchef)")) << deciders;
}

TEST_F(RequestTest, R3OnlyThoseWhoCanDecideAreNamed) {
  auto asked = Ask("landelijk.regisseur");
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_FALSE(asked->deciders().empty());
  for (const std::string& d : asked->deciders()) {
    EXPECT_TRUE(absl::StartsWith(d, "robin.peters") || absl::StartsWith(d, "teamchef.ijsselmonde")) << d;
  }
}

}  // namespace
}  // namespace kluis::testing
