#include "kluis/wire/words.h"

namespace kluis::wire {

absl::string_view WordOf(v1::Role role) {
  for (const RoleWord& w : kRoleWords) {
    if (w.role == role) return w.word;
  }
  return "";
}

absl::string_view WordOf(v1::AccountKind kind) {
  for (const KindWord& w : kKindWords) {
    if (w.kind == kind) return w.word;
  }
  return "";
}

std::optional<v1::Role> RoleOfWord(absl::string_view word) {
  for (const RoleWord& w : kRoleWords) {
    if (w.word == word) return w.role;
  }
  return std::nullopt;
}

std::optional<v1::AccountKind> KindOfWord(absl::string_view word) {
  for (const KindWord& w : kKindWords) {
    if (w.word == word) return w.kind;
  }
  return std::nullopt;
}

}  // namespace kluis::wire
