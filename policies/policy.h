#ifndef KLUIS_POLICIES_POLICY_H_
#define KLUIS_POLICIES_POLICY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "policies/roles.h"

namespace kluis::policies {

// What a caller wants to do with an account's secrets: the actions a policy file names.
enum class Action {
  kReleaseLogin,         // "release-login": password and linked e-mail
  kReleaseTotp,          // "release-totp": the current 2FA code (the seed stays in the vault)
  kReleaseRecoveryCode,  // "release-recovery-code": one backup code, then it is used
  kStoreSecret,          // "store-secret": set a password, a TOTP seed or recovery codes
  kExportTotpSeed,       // "export-totp-seed": hand the authenticator over (otpauth URI)
  kReleasePrevious,      // "release-previous": a password version that was replaced
  kHandover,             // "handover": move the beheerder binding to a successor (R6)
  kStopAccount,          // "stop-account": stop using an account; it waits for deletion (R8)
  kKabinetswissel,       // "kabinetswissel": plan and apply the change of cabinet (R13, R14)
};

enum class Mode { kAllow, kBreakGlass, kOnApprovedRequest, kNever };
enum class Notify { kBeheerders, kTeamchefs, kRegisseurs };

absl::string_view ActionName(Action action);
std::optional<Action> ParseAction(absl::string_view name);
absl::string_view ModeName(Mode mode);
absl::string_view NotifyName(Notify notify);

// One release rule (proto/kluis/policy/v1/policy.proto says what each field means).
struct Rule {
  std::string id;
  std::string description;
  Role role = Role::kBeheerder;
  std::vector<Action> actions;
  std::vector<AccountKind> account_kinds;  // empty: every kind
  // The account states the rule applies in; empty in the file means active accounts only. An
  // archived account is never named: nothing of it is released.
  std::vector<AccountState> account_states = {AccountState::kActive};
  Mode mode = Mode::kNever;
  bool reason_required = false;
  std::string required_reason_prefix;
  std::vector<Notify> notify;
  bool raise_rotation_flag = false;
  std::vector<Role> approvers;
  std::optional<Role> escalate_to;

  bool Matches(Action action, std::optional<AccountKind> kind, AccountState state) const;
};

// How a new password for a platform is made: the characters drawn from, and the classes of which
// at least one character must occur.
struct PasswordRules {
  std::string platform;
  int length = 20;
  std::string alphabet;
  std::vector<std::string> required;
};

// A validated policy: immutable once loaded, shared read-only between threads.
struct Policy {
  std::string name;
  absl::Duration grant_ttl = absl::Hours(24);
  absl::Duration max_grant_ttl = absl::Hours(24 * 7);
  absl::Duration waiting_period = absl::Hours(72);
  int min_reason_length = 10;
  std::vector<Rule> rules;
  std::vector<PasswordRules> password_rules;
  std::optional<absl::Duration> max_password_age;  // none: never due by age
  absl::Duration previous_retention = absl::Hours(24 * 90);
  // The secrets of a stopped account stay sealed this long, then are destroyed (R8).
  absl::Duration stopped_retention = absl::Hours(24 * 90);

  const Rule* FindRule(absl::string_view id) const;
  // The platform's rules, or the default: 24 characters of all four classes, each required.
  PasswordRules PasswordRulesFor(absl::string_view platform) const;
};

// Parses and validates a policy in protobuf text format. Every error names the place:
// "FILE:LINE:COLUMN: what is wrong" (1-based), for syntax errors and for meaning errors alike
// (an unknown role, action or kind, a duplicate rule id, approvers on a rule that needs none).
// No I/O here: the server reads the file.
absl::StatusOr<Policy> ParsePolicy(absl::string_view text, absl::string_view filename);

// The shipped policy, policies/default.textproto, compiled into the binary.
const Policy& DefaultPolicy();
absl::string_view DefaultPolicyText();

}  // namespace kluis::policies

#endif  // KLUIS_POLICIES_POLICY_H_
