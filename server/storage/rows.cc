#include "server/storage/rows.h"

namespace kluis::storage {
namespace {

constexpr std::pair<SecretKind, absl::string_view> kKindNames[] = {
    {SecretKind::kPassword, "password"},
    {SecretKind::kLinkedEmail, "email"},
    {SecretKind::kTotp, "totp"},
    {SecretKind::kRecoveryCode, "recovery-code"},
};

constexpr std::pair<SecretState, absl::string_view> kStateNames[] = {
    {SecretState::kPending, "pending"},
    {SecretState::kCurrent, "current"},
    {SecretState::kPrevious, "previous"},
    {SecretState::kDestroyed, "destroyed"},
};

}  // namespace

absl::string_view SecretKindName(SecretKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return "";
}

std::optional<SecretKind> ParseSecretKind(absl::string_view name) {
  for (const auto& [value, word] : kKindNames) {
    if (word == name) return value;
  }
  return std::nullopt;
}

absl::string_view SecretStateName(SecretState state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "";
}

std::optional<SecretState> ParseSecretState(absl::string_view name) {
  for (const auto& [value, word] : kStateNames) {
    if (word == name) return value;
  }
  return std::nullopt;
}

}  // namespace kluis::storage
