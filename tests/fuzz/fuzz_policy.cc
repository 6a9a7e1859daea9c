// libFuzzer target: the policy loader (policies/policy.h), which reads a file an operator edits.
// Any input: a policy or an error with FILE:LINE:COLUMN, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "policies/decide.h"
#include "policies/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // kluisd refuses policy files over 1 MiB before parsing
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kluis::policies::Policy> policy = kluis::policies::ParsePolicy(text, "fuzz.textproto");
  if (policy.ok()) {
    // Whatever loaded must decide without fault.
    using namespace kluis::policies;
    const Resource account{7, 3, 2, AccountKind::kCorporate};
    for (Role role : {Role::kBeheerder, Role::kTeamchef, Role::kRegisseur, Role::kAuditor}) {
      (void)Decide(*policy, {Binding{role, ScopeKind::kGlobal, 0, absl::InfinitePast(), std::nullopt}}, account, Action::kReleaseLogin,
                   {1, true, "een reden van genoeg tekens"}, absl::FromUnixSeconds(1'800'000'000));
    }
  } else if (policy.status().message().find("fuzz.textproto") == std::string::npos) {
    __builtin_trap();  // every refusal names the file
  }
  return 0;
}
