// Input checks: a precise one-line error naming the field, nothing changed.
#ifndef KLUIS_SERVER_VAULT_CHECKS_H_
#define KLUIS_SERVER_VAULT_CHECKS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/vault/vault.h"

namespace kluis::server {

inline constexpr absl::string_view kPlatforms[] = {"x",       "instagram", "facebook", "linkedin",
                                                  "threads", "tiktok",    "youtube"};
inline constexpr storage::SecretKind kPassword = storage::SecretKind::kPassword;
inline constexpr storage::SecretKind kLinkedEmail = storage::SecretKind::kLinkedEmail;
inline constexpr storage::SecretKind kTotp = storage::SecretKind::kTotp;
inline constexpr storage::SecretKind kRecoveryCode = storage::SecretKind::kRecoveryCode;
inline constexpr size_t kMaxSecretBytes = 1024;

inline int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// Input quoted in an error message: escaped, and at most 64 bytes of it (a message travels in the
// reply's metadata, and the caller knows what they sent).
std::string Quoted(absl::string_view input);

absl::Status CheckName(absl::string_view what, absl::string_view name);

absl::Status CheckText(absl::string_view what, absl::string_view text, size_t max, bool required);

// A reason that means something: at least the policy's minimum length, spaces aside.
absl::Status CheckMeaningfulReason(absl::string_view reason, const policies::Policy& policy,
                                   absl::string_view what);

absl::Status CheckPlatform(absl::string_view platform);

absl::Status CheckHandle(absl::string_view handle);

absl::Status CheckEmail(absl::string_view email);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_CHECKS_H_
