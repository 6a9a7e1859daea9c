// The release rules of policies/default.textproto, decided by the pure function. Rule numbers are
// those of DESIGN.md §2.
#include "policies/decide.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "policies/policy.h"

namespace kluis::policies {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
constexpr int64_t kMe = 42;
constexpr int64_t kSomeoneElse = 7;

// Account 7 in team 3 of unit 2.
Resource AccountOfKind(AccountKind kind, AccountState state = AccountState::kActive) {
  return Resource{7, 3, 2, kind, state};
}
const Resource kPolitieAccount = AccountOfKind(AccountKind::kPolitieAlleen);

Binding Bound(Role role) {
  switch (AllowedScopes(role).front()) {
    case ScopeKind::kAccount: return Binding{role, ScopeKind::kAccount, 7};
    case ScopeKind::kTeam: return Binding{role, ScopeKind::kTeam, 3};
    case ScopeKind::kUnit: return Binding{role, ScopeKind::kUnit, 2};
    case ScopeKind::kGlobal: return Binding{role, ScopeKind::kGlobal, 0};
  }
  return {};
}

const Policy& Default() { return DefaultPolicy(); }

// ---- request states: facts that derive each state at kNow ----

enum class Req { kNone, kPending, kApproved, kExpired, kUsed, kDenied, kEscalated, kAutoApproved };
constexpr Req kAllRequestStates[] = {Req::kNone,   Req::kPending, Req::kApproved,  Req::kExpired,
                                     Req::kUsed,   Req::kDenied,  Req::kEscalated, Req::kAutoApproved};
const char* Name(Req r) {
  switch (r) {
    case Req::kNone: return "none";
    case Req::kPending: return "pending";
    case Req::kApproved: return "approved";
    case Req::kExpired: return "expired";
    case Req::kUsed: return "used";
    case Req::kDenied: return "denied";
    case Req::kEscalated: return "escalated";
    case Req::kAutoApproved: return "auto-approved";
  }
  return "?";
}

RequestDecision Decided(bool approve, absl::Time at) { return RequestDecision{approve, "someone", at, "reden", {}}; }

AccessRequest RequestIn(Req state, const std::string& rule_id) {
  AccessRequest r;
  r.id = 99;
  r.account_id = 7;
  r.requester_id = kMe;
  r.rule_id = rule_id;
  r.created = kNow - absl::Hours(1);
  switch (state) {
    case Req::kNone:
    case Req::kPending:
      break;
    case Req::kApproved:
      r.decision = Decided(true, kNow - absl::Minutes(30));
      break;
    case Req::kExpired:
      r.created = kNow - absl::Hours(30);
      r.decision = Decided(true, kNow - absl::Hours(25));
      break;
    case Req::kUsed:
      r.decision = Decided(true, kNow - absl::Minutes(30));
      r.used = kNow - absl::Minutes(10);
      break;
    case Req::kDenied:
      r.decision = Decided(false, kNow - absl::Minutes(30));
      break;
    case Req::kEscalated:
      r.decision = Decided(false, kNow - absl::Minutes(30));
      r.escalated = kNow - absl::Minutes(20);
      break;
    case Req::kAutoApproved:
      r.created = kNow - absl::Hours(73);  // past the 72 h waiting period, within the 24 h grant
      break;
  }
  return r;
}

// ---- the oracle: DESIGN.md §6 written out independently of the policy file ----

enum class Via { kGet, kEmergency };

Verdict Expected(Role role, Action action, AccountKind kind, AccountState state, Req req, Via via) {
  const bool corporate = kind == AccountKind::kCorporate, hybrid = kind == AccountKind::kHybrid;
  const bool release_action = action == Action::kReleaseLogin || action == Action::kReleaseTotp ||
                              action == Action::kReleaseRecoveryCode;
  // An archived account (left custody, R14) releases nothing to anybody.
  if (state == AccountState::kArchived) return Verdict::kDeny;
  // A stopped account (R8, 000 §4.10) is released to delete it on the platform: to the regisseur
  // who leads, the beheerder (preferably) and the landelijk regisseur (if the beheerder cannot).
  if (state == AccountState::kStopped) {
    const bool deletes = role == Role::kRegisseur || role == Role::kBeheerder || role == Role::kLandelijkRegisseur;
    return deletes && release_action ? Verdict::kAllow : Verdict::kDeny;
  }
  if (action == Action::kStopAccount) {  // R8: the beheerder stops, or the regisseur decides
    return role == Role::kBeheerder || role == Role::kRegisseur ? Verdict::kAllow : Verdict::kDeny;
  }
  if (action == Action::kKabinetswissel) {  // R13, R14: the regisseur, on minister accounts
    return role == Role::kRegisseur && (corporate || hybrid) ? Verdict::kAllow : Verdict::kDeny;
  }
  // Handing the authenticator over: the beheerder only, with a reason (the table gives one).
  if (action == Action::kHandover) {  // R6
    return role == Role::kBeheerder || role == Role::kTeamchef || role == Role::kRegisseur ? Verdict::kAllow
                                                                                           : Verdict::kDeny;
  }
  if (action == Action::kExportTotpSeed || action == Action::kReleasePrevious) {
    return role == Role::kBeheerder ? Verdict::kAllow : Verdict::kDeny;
  }
  // A 2FA code and a recovery code are released under the same rules as the login.
  const bool release = action == Action::kReleaseLogin || action == Action::kReleaseTotp ||
                       action == Action::kReleaseRecoveryCode;
  auto by_request = [&] {
    if (via == Via::kEmergency) return Verdict::kDeny;
    switch (req) {
      case Req::kApproved:
      case Req::kAutoApproved:
        return Verdict::kAllow;
      default:  // none yet, waiting, or one that cannot be used: a (new) approval is needed
        return Verdict::kNeedsApproval;
    }
  };
  switch (role) {
    case Role::kAuditor:
    case Role::kOperator:
      return Verdict::kDeny;  // separation of duties
    case Role::kBeheerder:
      return Verdict::kAllow;  // R1
    case Role::kPolitiekAssistent:  // R11, R12
      return hybrid && release ? Verdict::kAllow : Verdict::kDeny;
    case Role::kBewindspersoon:  // R11, R12
      if (hybrid) return Verdict::kAllow;
      if (corporate && release) return by_request();
      return Verdict::kDeny;
    case Role::kTeamchef:  // R2
    case Role::kCommunicatieadviseur:  // R10
      if (!release) return Verdict::kDeny;
      return via == Via::kEmergency ? Verdict::kAllow : Verdict::kDeny;
    case Role::kRegisseur:  // R3
    case Role::kLandelijkRegisseur:  // R9
      return release ? by_request() : Verdict::kDeny;
  }
  return Verdict::kDeny;
}

const char* VerdictName(Verdict v) {
  return v == Verdict::kAllow ? "allow" : v == Verdict::kNeedsApproval ? "needs-approval" : "deny";
}

// Every role × action × account kind × account state × request state × way of asking.
TEST(DefaultPolicyTest, EveryRoleActionKindAndRequestState) {
  const Role roles[] = {Role::kBeheerder,          Role::kTeamchef,          Role::kRegisseur,
                        Role::kLandelijkRegisseur, Role::kCommunicatieadviseur, Role::kBewindspersoon,
                        Role::kPolitiekAssistent,  Role::kAuditor,           Role::kOperator};
  const AccountKind kinds[] = {AccountKind::kPolitieAlleen, AccountKind::kPolitieSamen,
                               AccountKind::kCorporate, AccountKind::kHybrid, AccountKind::kOrganisatie};
  int cases = 0;
  for (Role role : roles) {
    for (Action action : {Action::kReleaseLogin, Action::kReleaseTotp, Action::kReleaseRecoveryCode,
                          Action::kStoreSecret, Action::kExportTotpSeed, Action::kReleasePrevious,
                          Action::kHandover, Action::kStopAccount, Action::kKabinetswissel}) {
      for (AccountKind kind : kinds) {
       for (AccountState state : {AccountState::kActive, AccountState::kStopped, AccountState::kArchived}) {
        for (Req req : kAllRequestStates) {
          for (Via via : {Via::kGet, Via::kEmergency}) {
            // The request is made under whichever request rule applies; its id does not matter
            // to the verdict, only the requester, account and state.
            const AccessRequest request = RequestIn(req, "R3.regisseur-request");
            ReleaseContext context{kMe, via == Via::kEmergency, "crisis: noodgeval in de wijk",
                                   req == Req::kNone ? nullptr : &request};
            const Decision d =
                Decide(Default(), {Bound(role)}, AccountOfKind(kind, state), action, context, kNow);
            const Verdict want = Expected(role, action, kind, state, req, via);
            EXPECT_EQ(VerdictName(d.verdict), VerdictName(want))
                << RoleName(role) << " " << ActionName(action) << " " << AccountKindName(kind) << " "
                << AccountStateName(state)
                << " request=" << Name(req) << (via == Via::kEmergency ? " emergency" : " get")
                << " rule=" << d.rule << " " << d.explanation;
            ++cases;
          }
        }
       }
      }
    }
  }
  EXPECT_EQ(cases, 9 * 9 * 5 * 3 * 8 * 2);
}

TEST(RequestStateTest, FactsDeriveEachState) {
  const std::pair<Req, RequestState> expected[] = {
      {Req::kPending, RequestState::kPending},     {Req::kApproved, RequestState::kApproved},
      {Req::kExpired, RequestState::kExpired},     {Req::kUsed, RequestState::kUsed},
      {Req::kDenied, RequestState::kDenied},       {Req::kEscalated, RequestState::kEscalated},
      {Req::kAutoApproved, RequestState::kAutoApproved}};
  for (auto [req, state] : expected) {
    EXPECT_EQ(RequestStateName(DeriveStatus(RequestIn(req, "x"), Default(), kNow).state),
              RequestStateName(state))
        << Name(req);
  }
}

// ---- one named test per rule, each with its negative twin ----

Decision Release(Role role, const ReleaseContext& context, const Resource& account = kPolitieAccount) {
  return Decide(Default(), {Bound(role)}, account, Action::kReleaseLogin, context, kNow);
}

TEST(DefaultPolicyTest, R1BeheerderReleasesTheLogin) {
  const Decision d = Release(Role::kBeheerder, {kMe});
  EXPECT_TRUE(d.allows());
  EXPECT_EQ(d.rule, "R1.beheerder");
}

TEST(DefaultPolicyTest, R1BeheerderOfAnotherAccountIsDenied) {
  const Decision d = Decide(Default(), {Binding{Role::kBeheerder, ScopeKind::kAccount, 8}},
                            kPolitieAccount, Action::kReleaseLogin, {kMe}, kNow);
  EXPECT_FALSE(d.allows());
  EXPECT_EQ(d.rule, "deny-by-default");
}

TEST(DefaultPolicyTest, R2TeamchefTakesTheLoginAtAnyTimeAsBreakGlass) {
  const Decision d = Release(Role::kTeamchef, {kMe, true, "beheerder ziek, account gehackt"});
  ASSERT_TRUE(d.allows()) << d.explanation;
  EXPECT_EQ(d.rule, "R2.teamchef-break-glass");
  EXPECT_TRUE(d.obligations.break_glass);
  EXPECT_TRUE(d.obligations.raise_rotation_flag);
  EXPECT_EQ(d.obligations.notify, (std::vector<Notify>{Notify::kBeheerders, Notify::kRegisseurs}));
}

TEST(DefaultPolicyTest, R2TeamchefWithoutBreakGlassOrMeaningfulReasonIsDenied) {
  EXPECT_FALSE(Release(Role::kTeamchef, {kMe, false, "beheerder ziek, account gehackt"}).allows());
  const Decision short_reason = Release(Role::kTeamchef, {kMe, true, "nood"});
  EXPECT_FALSE(short_reason.allows());
  EXPECT_TRUE(absl::StrContains(short_reason.explanation, "at least 10 characters"));
  // A teamchef of another team has no rule at all.
  EXPECT_EQ(Decide(Default(), {Binding{Role::kTeamchef, ScopeKind::kTeam, 4}}, kPolitieAccount,
                   Action::kReleaseLogin, {kMe, true, "beheerder ziek, account gehackt"}, kNow)
                .rule,
            "deny-by-default");
}

// "Could the rules release it to them?" (rotation flags when someone leaves) is asked whatever
// reason they would give: no invented reason to pass the length check.
TEST(DefaultPolicyTest, R2AskedWhateverTheReasonTheTeamchefCouldTakeTheLogin) {
  ReleaseContext could{kMe, true, ""};
  could.whatever_reason = true;
  EXPECT_TRUE(Release(Role::kTeamchef, could).allows());
  EXPECT_FALSE(Release(Role::kTeamchef, {kMe, true, ""}).allows()) << "a real release still needs the reason";
}

TEST(DefaultPolicyTest, R2AskedWhateverTheReasonNoRuleStillMeansNo) {
  ReleaseContext could{kMe, true, ""};
  could.whatever_reason = true;
  EXPECT_FALSE(Release(Role::kAuditor, could).allows());
  EXPECT_FALSE(Release(Role::kRegisseur, could).allows()) << "a request is not a reason";
}

TEST(DefaultPolicyTest, R3RegisseurReleasesOnceWithAnApprovedRequest) {
  const AccessRequest approved = RequestIn(Req::kApproved, "R3.regisseur-request");
  const Decision d = Release(Role::kRegisseur, {kMe, false, "", &approved});
  ASSERT_TRUE(d.allows()) << d.explanation;
  EXPECT_EQ(d.rule, "R3.regisseur-request");
  EXPECT_EQ(d.obligations.consume_request, 99);
}

TEST(DefaultPolicyTest, R3RegisseurWithoutApprovalNeedsIt) {
  EXPECT_EQ(Release(Role::kRegisseur, {kMe}).verdict, Verdict::kNeedsApproval);
  const AccessRequest used = RequestIn(Req::kUsed, "R3.regisseur-request");
  EXPECT_EQ(Release(Role::kRegisseur, {kMe, false, "", &used}).verdict, Verdict::kNeedsApproval);
  AccessRequest someone_elses = RequestIn(Req::kApproved, "R3.regisseur-request");
  someone_elses.requester_id = kSomeoneElse;
  EXPECT_EQ(Release(Role::kRegisseur, {kMe, false, "", &someone_elses}).verdict, Verdict::kDeny);
}

TEST(DefaultPolicyTest, R3UndecidedRequestIsApprovedAfterTheWaitingPeriod) {
  AccessRequest request = RequestIn(Req::kPending, "R3.regisseur-request");
  request.created = kNow - absl::Hours(72);
  EXPECT_EQ(DeriveStatus(request, Default(), kNow).state, RequestState::kAutoApproved);
  EXPECT_TRUE(Release(Role::kRegisseur, {kMe, false, "", &request}).allows());
}

TEST(DefaultPolicyTest, R3RequestWithinTheWaitingPeriodIsStillPending) {
  AccessRequest request = RequestIn(Req::kPending, "R3.regisseur-request");
  request.created = kNow - absl::Hours(72) + absl::Seconds(1);
  EXPECT_EQ(DeriveStatus(request, Default(), kNow).state, RequestState::kPending);
  EXPECT_EQ(Release(Role::kRegisseur, {kMe, false, "", &request}).verdict, Verdict::kNeedsApproval);
}

TEST(DefaultPolicyTest, R3ApproversAreBeheerderAndTeamchefNeverTheRequester) {
  const AccessRequest request = RequestIn(Req::kPending, "R3.regisseur-request");
  for (Role approver : {Role::kBeheerder, Role::kTeamchef}) {
    EXPECT_TRUE(DecideOnRequest(Default(), {Bound(approver)}, kPolitieAccount, request, kSomeoneElse,
                                false, kNow)
                    .allows())
        << RoleName(approver);
  }
  EXPECT_FALSE(DecideOnRequest(Default(), {Bound(Role::kAuditor)}, kPolitieAccount, request,
                               kSomeoneElse, false, kNow)
                   .allows());
  const Decision self = DecideOnRequest(Default(), {Bound(Role::kBeheerder)}, kPolitieAccount,
                                        request, kMe, false, kNow);
  EXPECT_FALSE(self.allows());
  EXPECT_EQ(self.rule, "sod.no-self-approval");
}

TEST(DefaultPolicyTest, R9LandelijkRegisseurDecidesAnEscalation) {
  const AccessRequest escalated = RequestIn(Req::kEscalated, "R3.regisseur-request");
  const Decision d = DecideOnRequest(Default(), {Bound(Role::kLandelijkRegisseur)}, kPolitieAccount,
                                     escalated, kSomeoneElse, true, kNow);
  EXPECT_TRUE(d.allows());
  EXPECT_EQ(d.rule, "R3.regisseur-request/escalation");
  AccessRequest approved = escalated;
  approved.escalation_decision = Decided(true, kNow - absl::Minutes(1));
  EXPECT_TRUE(Release(Role::kRegisseur, {kMe, false, "", &approved}).allows());
}

TEST(DefaultPolicyTest, R9TeamchefCannotDecideAnEscalationAndTheLandelijkDenialStands) {
  const AccessRequest escalated = RequestIn(Req::kEscalated, "R3.regisseur-request");
  EXPECT_FALSE(DecideOnRequest(Default(), {Bound(Role::kTeamchef)}, kPolitieAccount, escalated,
                               kSomeoneElse, true, kNow)
                   .allows());
  AccessRequest denied = escalated;
  denied.escalation_decision = Decided(false, kNow - absl::Minutes(1));
  EXPECT_EQ(DeriveStatus(denied, Default(), kNow + absl::Hours(200)).state,
            RequestState::kEscalationDenied);
  EXPECT_EQ(Release(Role::kRegisseur, {kMe, false, "", &denied}).verdict, Verdict::kNeedsApproval);
}

TEST(DefaultPolicyTest, R10CommunicatieadviseurUsesAnAccountInACrisis) {
  const Decision d = Release(Role::kCommunicatieadviseur, {kMe, true, "crisis: explosie Rotterdam CS"});
  ASSERT_TRUE(d.allows()) << d.explanation;
  EXPECT_EQ(d.rule, "R10.communicatieadviseur-crisis");
  EXPECT_TRUE(d.obligations.raise_rotation_flag);
}

TEST(DefaultPolicyTest, R10CommunicatieadviseurWithoutACrisisIsDenied) {
  const Decision d = Release(Role::kCommunicatieadviseur, {kMe, true, "even een tweet plaatsen"});
  EXPECT_FALSE(d.allows());
  EXPECT_TRUE(absl::StrContains(d.explanation, "crisis"));
  EXPECT_FALSE(Release(Role::kCommunicatieadviseur, {kMe, false, "crisis: explosie"}).allows());
}

TEST(DefaultPolicyTest, R11BewindspersoonGetsTemporaryAccessToACorporateAccountOnRequest) {
  const Resource corporate = AccountOfKind(AccountKind::kCorporate);
  EXPECT_EQ(Release(Role::kBewindspersoon, {kMe}, corporate).verdict, Verdict::kNeedsApproval);
  const AccessRequest approved = RequestIn(Req::kApproved, "R11.bewindspersoon-corporate-request");
  const Decision d = Release(Role::kBewindspersoon, {kMe, false, "", &approved}, corporate);
  EXPECT_TRUE(d.allows());
  EXPECT_EQ(d.rule, "R11.bewindspersoon-corporate-request");
  // Only the ministry's beheerder approves it.
  const AccessRequest pending = RequestIn(Req::kPending, "R11.bewindspersoon-corporate-request");
  EXPECT_FALSE(DecideOnRequest(Default(), {Bound(Role::kTeamchef)}, corporate, pending, kSomeoneElse,
                               false, kNow)
                   .allows());
}

TEST(DefaultPolicyTest, R11PolitiekAssistentNeverOnACorporateAccount) {
  const Resource corporate = AccountOfKind(AccountKind::kCorporate);
  const Decision d = Release(Role::kPolitiekAssistent, {kMe}, corporate);
  EXPECT_FALSE(d.allows());
  EXPECT_EQ(d.rule, "R11.politiek-assistent-corporate-never");
  // Not even when the assistant also holds the beheerder role on it.
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kPolitiekAssistent), Bound(Role::kBeheerder)}, corporate,
                      Action::kReleaseLogin, {kMe}, kNow)
                   .allows());
}

TEST(DefaultPolicyTest, R12HybridAccountIsSharedByBinding) {
  const Resource hybrid = AccountOfKind(AccountKind::kHybrid);
  EXPECT_EQ(Release(Role::kPolitiekAssistent, {kMe}, hybrid).rule, "R12.politiek-assistent-hybrid");
  EXPECT_TRUE(Release(Role::kPolitiekAssistent, {kMe}, hybrid).allows());
  EXPECT_TRUE(Release(Role::kBewindspersoon, {kMe}, hybrid).allows());
}

TEST(DefaultPolicyTest, R12WithoutABindingOnTheHybridAccountNothingIsShared) {
  const Resource hybrid = AccountOfKind(AccountKind::kHybrid);
  EXPECT_FALSE(Decide(Default(), {Binding{Role::kPolitiekAssistent, ScopeKind::kAccount, 8}}, hybrid,
                      Action::kReleaseLogin, {kMe}, kNow)
                   .allows());
  // And the assistant stores nothing.
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kPolitiekAssistent)}, hybrid, Action::kStoreSecret, {kMe}, kNow)
                   .allows());
}

TEST(DefaultPolicyTest, SeparationOfDutiesAuditorAndOperatorNeverRelease) {
  EXPECT_EQ(Release(Role::kAuditor, {kMe}).rule, "sod.auditor-never");
  EXPECT_EQ(Release(Role::kOperator, {kMe}).rule, "sod.operator-never");
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kOperator), Bound(Role::kBeheerder)}, kPolitieAccount,
                      Action::kReleaseLogin, {kMe}, kNow)
                   .allows());
}

TEST(DefaultPolicyTest, ExpiredBindingGrantsNothing) {
  Binding binding = Bound(Role::kBeheerder);
  binding.valid_until = kNow;
  EXPECT_FALSE(Decide(Default(), {binding}, kPolitieAccount, Action::kReleaseLogin, {kMe}, kNow).allows());
  binding.valid_until = kNow + absl::Seconds(1);
  EXPECT_TRUE(Decide(Default(), {binding}, kPolitieAccount, Action::kReleaseLogin, {kMe}, kNow).allows());
}

TEST(DefaultPolicyTest, R14BeheerderHandsTheAuthenticatorOverWithAReason) {
  const Decision d = Decide(Default(), {Bound(Role::kBeheerder)}, kPolitieAccount, Action::kExportTotpSeed,
                            {kMe, false, "overdracht aan opvolger Sanne"}, kNow);
  ASSERT_TRUE(d.allows()) << d.explanation;
  EXPECT_EQ(d.rule, "R14.beheerder-exports-authenticator");
  EXPECT_TRUE(d.obligations.raise_rotation_flag);
  EXPECT_EQ(d.obligations.notify, std::vector<Notify>{Notify::kRegisseurs});
}

TEST(DefaultPolicyTest, R14AuthenticatorExportWithoutReasonOrByOthersIsDenied) {
  const Decision no_reason =
      Decide(Default(), {Bound(Role::kBeheerder)}, kPolitieAccount, Action::kExportTotpSeed, {kMe}, kNow);
  EXPECT_FALSE(no_reason.allows());
  EXPECT_TRUE(absl::StrContains(no_reason.explanation, "reason")) << no_reason.explanation;
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kTeamchef)}, kPolitieAccount, Action::kExportTotpSeed,
                      {kMe, true, "overdracht aan opvolger Sanne"}, kNow)
                   .allows());
}

TEST(DefaultPolicyTest, R6BeheerderTeamchefAndRegisseurHandOverAndTheRegisseurIsTold) {
  for (Role role : {Role::kBeheerder, Role::kTeamchef, Role::kRegisseur}) {
    const Decision d = Decide(Default(), {Bound(role)}, kPolitieAccount, Action::kHandover, {kMe, false, "ziekte"}, kNow);
    ASSERT_TRUE(d.allows()) << RoleName(role);
    EXPECT_TRUE(d.obligations.raise_rotation_flag) << RoleName(role);
  }
  const Decision by_beheerder =
      Decide(Default(), {Bound(Role::kBeheerder)}, kPolitieAccount, Action::kHandover, {kMe, false, "verlof"}, kNow);
  EXPECT_EQ(by_beheerder.rule, "R6.handover");
  EXPECT_EQ(by_beheerder.obligations.notify, std::vector<Notify>{Notify::kRegisseurs});
}

TEST(DefaultPolicyTest, R6NobodyElseHandsOverAndAStoppedAccountIsNotHandedOver) {
  for (Role role : {Role::kAuditor, Role::kOperator, Role::kLandelijkRegisseur, Role::kPolitiekAssistent,
                    Role::kCommunicatieadviseur}) {
    EXPECT_FALSE(Decide(Default(), {Bound(role)}, kPolitieAccount, Action::kHandover, {kMe, false, "overig"}, kNow)
                     .allows())
        << RoleName(role);
  }
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kBeheerder)}, AccountOfKind(AccountKind::kPolitieAlleen, AccountState::kStopped),
                      Action::kHandover, {kMe, false, "overig"}, kNow)
                   .allows());
}

TEST(DefaultPolicyTest, R8BeheerderStopsAnAccountAndTheRegisseurIsTold) {
  const Decision d = Decide(Default(), {Bound(Role::kBeheerder)}, kPolitieAccount, Action::kStopAccount,
                            {kMe, false, "wijk opgeheven per 1 januari"}, kNow);
  ASSERT_TRUE(d.allows()) << d.explanation;
  EXPECT_EQ(d.rule, "R8.beheerder-stops");
  EXPECT_EQ(d.obligations.notify, std::vector<Notify>{Notify::kRegisseurs});
  EXPECT_TRUE(Decide(Default(), {Bound(Role::kRegisseur)}, kPolitieAccount, Action::kStopAccount,
                     {kMe, false, "wijk opgeheven per 1 januari"}, kNow)
                  .allows());
}

TEST(DefaultPolicyTest, R8StopNeedsAReasonAndAStoppedAccountGoesOnlyToTheRegisseur) {
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kBeheerder)}, kPolitieAccount, Action::kStopAccount, {kMe}, kNow).allows());
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kTeamchef)}, kPolitieAccount, Action::kStopAccount,
                      {kMe, false, "wijk opgeheven per 1 januari"}, kNow)
                   .allows());
  const Resource stopped = AccountOfKind(AccountKind::kPolitieAlleen, AccountState::kStopped);
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kBeheerder)}, stopped, Action::kReleaseLogin, {kMe}, kNow).allows())
      << "not without a reason";
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kTeamchef)}, stopped, Action::kReleaseLogin,
                      {kMe, true, "account verwijderen op het platform"}, kNow)
                   .allows());
  const Decision regisseur = Decide(Default(), {Bound(Role::kRegisseur)}, stopped, Action::kReleaseLogin,
                                    {kMe, false, "account verwijderen op het platform"}, kNow);
  ASSERT_TRUE(regisseur.allows()) << regisseur.explanation;
  EXPECT_EQ(regisseur.rule, "R8.regisseur-deletes-stopped");
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kRegisseur)}, stopped, Action::kReleaseLogin, {kMe}, kNow).allows());
}

// Issue 16 (9): "bij voorkeur door de beheerder zelf en als dat niet lukt door de landelijke
// socialmedia-regisseur" (000 §4.10).
TEST(DefaultPolicyTest, R8TheBeheerderAndTheLandelijkRegisseurMayDeleteAStoppedAccount) {
  const Resource stopped = AccountOfKind(AccountKind::kPolitieAlleen, AccountState::kStopped);
  const ReleaseContext deleting{kMe, false, "account verwijderen op het platform"};
  const Decision beheerder = Decide(Default(), {Bound(Role::kBeheerder)}, stopped, Action::kReleaseLogin, deleting, kNow);
  ASSERT_TRUE(beheerder.allows()) << beheerder.explanation;
  EXPECT_EQ(beheerder.rule, "R8.beheerder-deletes-stopped");
  const Decision landelijk =
      Decide(Default(), {Bound(Role::kLandelijkRegisseur)}, stopped, Action::kReleaseLogin, deleting, kNow);
  ASSERT_TRUE(landelijk.allows()) << landelijk.explanation;
  EXPECT_EQ(landelijk.rule, "R8.landelijk-regisseur-deletes-stopped");
}

TEST(DefaultPolicyTest, R8NobodyElseGetsAStoppedAccount) {
  const Resource stopped = AccountOfKind(AccountKind::kPolitieAlleen, AccountState::kStopped);
  const ReleaseContext deleting{kMe, false, "account verwijderen op het platform"};
  for (Role role : {Role::kTeamchef, Role::kCommunicatieadviseur, Role::kBewindspersoon, Role::kAuditor, Role::kOperator}) {
    EXPECT_FALSE(Decide(Default(), {Bound(role)}, stopped, Action::kReleaseLogin, deleting, kNow).allows())
        << RoleName(role);
  }
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kBeheerder)}, stopped, Action::kStoreSecret, deleting, kNow).allows());
}

TEST(DefaultPolicyTest, R13R14RegisseurCarriesOutTheKabinetswisselOfMinisterAccounts) {
  EXPECT_EQ(Decide(Default(), {Bound(Role::kRegisseur)}, AccountOfKind(AccountKind::kCorporate),
                   Action::kKabinetswissel, {kMe}, kNow).rule,
            "R13.kabinetswissel-corporate");
  EXPECT_EQ(Decide(Default(), {Bound(Role::kRegisseur)}, AccountOfKind(AccountKind::kHybrid),
                   Action::kKabinetswissel, {kMe}, kNow).rule,
            "R14.kabinetswissel-hybrid");
}

TEST(DefaultPolicyTest, R13R14NoKabinetswisselOfPoliceAccountsOrByOthers) {
  EXPECT_FALSE(Decide(Default(), {Bound(Role::kRegisseur)}, kPolitieAccount, Action::kKabinetswissel, {kMe}, kNow).allows());
  for (Role role : {Role::kBeheerder, Role::kBewindspersoon, Role::kPolitiekAssistent, Role::kOperator}) {
    EXPECT_FALSE(Decide(Default(), {Bound(role)}, AccountOfKind(AccountKind::kCorporate), Action::kKabinetswissel,
                        {kMe}, kNow)
                     .allows())
        << RoleName(role);
  }
}

TEST(DefaultPolicyTest, DenyByDefaultWithNoBindings) {
  for (Action action : {Action::kReleaseLogin, Action::kStoreSecret}) {
    const Decision d = Decide(Default(), {}, kPolitieAccount, action, {kMe, true, "crisis: alles"}, kNow);
    EXPECT_FALSE(d.allows());
    EXPECT_EQ(d.rule, "deny-by-default");
  }
}

TEST(DefaultPolicyTest, OnlyRequestRolesOpenRequests) {
  EXPECT_TRUE(DecideNewRequest(Default(), {Bound(Role::kRegisseur)}, kPolitieAccount, kNow).allows());
  EXPECT_TRUE(DecideNewRequest(Default(), {Bound(Role::kLandelijkRegisseur)}, kPolitieAccount, kNow).allows());
  EXPECT_FALSE(DecideNewRequest(Default(), {Bound(Role::kBeheerder)}, kPolitieAccount, kNow).allows());
  EXPECT_FALSE(DecideNewRequest(Default(), {Bound(Role::kAuditor)}, kPolitieAccount, kNow).allows());
}

// ---- the vault's own structure ----

TEST(AdminTest, R5RegisseurRegistersAccountsInTheUnit) {
  const Resource team_in_unit{0, 3, 2, std::nullopt};
  EXPECT_TRUE(DecideAdmin({Bound(Role::kRegisseur)}, team_in_unit, AdminAction::kRegisterAccount, kNow).allows());
  const Resource other_unit{0, 4, 9, std::nullopt};
  EXPECT_FALSE(DecideAdmin({Bound(Role::kRegisseur)}, other_unit, AdminAction::kRegisterAccount, kNow).allows());
  EXPECT_FALSE(DecideAdmin({Bound(Role::kTeamchef)}, team_in_unit, AdminAction::kRegisterAccount, kNow).allows());
}

TEST(AdminTest, OnlyTheOperatorManagesAndOnlyAuditorsReadTheLog) {
  EXPECT_TRUE(DecideAdmin({Bound(Role::kOperator)}, {}, AdminAction::kManageOrganisation, kNow).allows());
  EXPECT_FALSE(DecideAdmin({Bound(Role::kLandelijkRegisseur)}, {}, AdminAction::kManageOrganisation, kNow).allows());
  EXPECT_TRUE(ReadableAudit({Binding{Role::kAuditor, ScopeKind::kGlobal, 0}}, kNow).everything);
  const AuditReadScope unit = ReadableAudit({Binding{Role::kAuditor, ScopeKind::kUnit, 2}}, kNow);
  EXPECT_EQ(unit.units, std::vector<int64_t>{2});
  EXPECT_FALSE(ReadableAudit({Bound(Role::kOperator)}, kNow).any());
}

// ---- the policy file ----

TEST(PolicyFileTest, ShippedPolicyParses) {
  auto policy = ParsePolicy(DefaultPolicyText(), "default.textproto");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->name, "default");
  EXPECT_EQ(policy->grant_ttl, absl::Hours(24));
  EXPECT_EQ(policy->waiting_period, absl::Hours(72));
  EXPECT_NE(policy->FindRule("R2.teamchef-break-glass"), nullptr);
}

TEST(PolicyFileTest, SyntaxErrorNamesFileLineAndColumn) {
  auto policy = ParsePolicy("name: \"x\"\nrule {\n  id: \"a\"\n  role \"beheerder\"\n}\n", "p.textproto");
  ASSERT_FALSE(policy.ok());
  EXPECT_TRUE(absl::StartsWith(policy.status().message(), "p.textproto:4:8: ")) << policy.status();
}

TEST(PolicyFileTest, MeaningErrorsNameTheirPlace) {
  const std::pair<const char*, const char*> cases[] = {
      {"rule {\n  id: \"a\"\n  role: \"koning\"\n  actions: [\"release-login\"]\n  mode: ALLOW\n}\n",
       "p:3:3: unknown role \"koning\""},
      {"rule {\n  id: \"a\"\n  role: \"beheerder\"\n  actions: [\"release-login\", \"fly\"]\n  mode: ALLOW\n}\n",
       "p:4:3: unknown action \"fly\""},
      {"rule {\n  id: \"a\"\n  role: \"regisseur\"\n  actions: [\"release-login\"]\n  mode: ON_APPROVED_REQUEST\n}\n",
       "p:5:3: rule a is ON_APPROVED_REQUEST but names no approvers"},
      {"rule { id: \"a\" role: \"beheerder\" actions: \"release-login\" mode: ALLOW }\n"
       "rule {\n  id: \"a\" role: \"beheerder\" actions: \"release-login\" mode: ALLOW }\n",
       "p:3:3: duplicate rule id \"a\""},
      {"rule {\n  id: \"a\" role: \"regisseur\" actions: \"release-login\" mode: ALLOW\n"
       "  account_states: [\"stopped\", \"archived\"]\n}\n",
       "p:3:3: unknown account state \"archived\""},
      {"grant_ttl_seconds: -5\n", "p:1:1: grant_ttl_seconds must not be negative"},
      {"name: \"leeg\"\n", "the policy has no rules"},
  };
  for (auto [text, want] : cases) {
    auto policy = ParsePolicy(text, "p");
    ASSERT_FALSE(policy.ok()) << text;
    EXPECT_TRUE(absl::StrContains(policy.status().message(), want)) << policy.status() << "\nwant: " << want;
  }
}

}  // namespace
}  // namespace kluis::policies
