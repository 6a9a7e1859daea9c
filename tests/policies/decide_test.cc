#include "policies/decide.h"

#include <gtest/gtest.h>

namespace kluis::policies {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

// Account 7 in team 3 of unit 2.
const Resource kAccount{7, 3, 2, AccountKind::kPolitieAlleen};

Binding Bound(Role role) {
  switch (AllowedScopes(role).front()) {
    case ScopeKind::kAccount: return Binding{role, ScopeKind::kAccount, 7};
    case ScopeKind::kTeam: return Binding{role, ScopeKind::kTeam, 3};
    case ScopeKind::kUnit: return Binding{role, ScopeKind::kUnit, 2};
    case ScopeKind::kGlobal: return Binding{role, ScopeKind::kGlobal, 0};
  }
  return {};
}

Verdict VerdictFor(Role role, Action action) {
  return Decide({Bound(role)}, kAccount, action, kNow).verdict;
}

// Every role against every account action: only the beheerder releases and stores (for now:
// issue 3 adds teamchef break-glass and regisseur requests), everyone in scope may see.
TEST(DecideTest, RoleByActionTable) {
  const Role all[] = {Role::kBeheerder,      Role::kTeamchef,           Role::kRegisseur,
                      Role::kLandelijkRegisseur, Role::kCommunicatieadviseur, Role::kBewindspersoon,
                      Role::kPolitiekAssistent,  Role::kAuditor,            Role::kOperator};
  for (Role role : all) {
    const bool beheerder = role == Role::kBeheerder;
    EXPECT_EQ(VerdictFor(role, Action::kReleaseLogin), beheerder ? Verdict::kAllow : Verdict::kDeny)
        << RoleName(role);
    EXPECT_EQ(VerdictFor(role, Action::kStoreSecret), beheerder ? Verdict::kAllow : Verdict::kDeny)
        << RoleName(role);
    EXPECT_EQ(VerdictFor(role, Action::kViewAccount), Verdict::kAllow) << RoleName(role);
    EXPECT_EQ(VerdictFor(role, Action::kManageOrganisation),
              role == Role::kOperator ? Verdict::kAllow : Verdict::kDeny)
        << RoleName(role);
  }
}

TEST(DecideTest, R1BeheerderReleasesTheLogin) {
  const Decision d = Decide({Bound(Role::kBeheerder)}, kAccount, Action::kReleaseLogin, kNow);
  EXPECT_TRUE(d.allows());
  EXPECT_EQ(d.rule, "R1.beheerder-release");
  EXPECT_EQ(d.role, Role::kBeheerder);
}

TEST(DecideTest, R1BeheerderOfAnotherAccountIsDenied) {
  const Decision d =
      Decide({Binding{Role::kBeheerder, ScopeKind::kAccount, 8}}, kAccount, Action::kReleaseLogin, kNow);
  EXPECT_FALSE(d.allows());
  EXPECT_EQ(d.rule, "deny-by-default");
  EXPECT_FALSE(d.role.has_value());
}

TEST(DecideTest, SeparationOfDutiesAuditorAndOperatorNeverRelease) {
  const Decision d = Decide({Bound(Role::kAuditor), Bound(Role::kOperator)}, kAccount,
                            Action::kReleaseLogin, kNow);
  EXPECT_FALSE(d.allows());
  EXPECT_TRUE(Decide({Bound(Role::kAuditor)}, kAccount, Action::kReadAudit, kNow).allows());
  EXPECT_FALSE(Decide({Bound(Role::kOperator)}, kAccount, Action::kReadAudit, kNow).allows());
}

TEST(DecideTest, DenyByDefaultWithNoBindings) {
  for (Action action : {Action::kReleaseLogin, Action::kStoreSecret, Action::kViewAccount,
                        Action::kRegisterAccount, Action::kManageOrganisation, Action::kReadAudit}) {
    EXPECT_FALSE(Decide({}, kAccount, action, kNow).allows());
  }
}

TEST(DecideTest, ExpiredBindingGrantsNothing) {
  Binding binding = Bound(Role::kBeheerder);
  binding.valid_until = kNow;
  EXPECT_FALSE(Decide({binding}, kAccount, Action::kReleaseLogin, kNow).allows());
  binding.valid_until = kNow + absl::Seconds(1);
  EXPECT_TRUE(Decide({binding}, kAccount, Action::kReleaseLogin, kNow).allows());
  binding.valid_from = kNow + absl::Seconds(1);
  EXPECT_FALSE(Decide({binding}, kAccount, Action::kReleaseLogin, kNow).allows());
}

TEST(DecideTest, R5RegisseurRegistersAccountsInTheUnit) {
  const Resource team_in_unit{0, 3, 2, std::nullopt};
  EXPECT_TRUE(Decide({Bound(Role::kRegisseur)}, team_in_unit, Action::kRegisterAccount, kNow).allows());
  const Resource other_unit{0, 4, 9, std::nullopt};
  EXPECT_FALSE(Decide({Bound(Role::kRegisseur)}, other_unit, Action::kRegisterAccount, kNow).allows());
  EXPECT_FALSE(Decide({Bound(Role::kTeamchef)}, team_in_unit, Action::kRegisterAccount, kNow).allows());
}

TEST(DecideTest, ReadableAuditFollowsAuditorScope) {
  EXPECT_TRUE(ReadableAudit({Binding{Role::kAuditor, ScopeKind::kGlobal, 0}}, kNow).everything);
  const AuditReadScope unit = ReadableAudit({Binding{Role::kAuditor, ScopeKind::kUnit, 2}}, kNow);
  EXPECT_FALSE(unit.everything);
  EXPECT_EQ(unit.units, std::vector<int64_t>{2});
  EXPECT_FALSE(ReadableAudit({Bound(Role::kOperator)}, kNow).any());
}

TEST(RolesTest, NamesRoundTrip) {
  for (Role role : {Role::kBeheerder, Role::kLandelijkRegisseur, Role::kPolitiekAssistent}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_FALSE(ParseRole("root").has_value());
  EXPECT_FALSE(ParseAccountKind("prive").has_value()) << "R7: private accounts are not a kind";
}

}  // namespace
}  // namespace kluis::policies
