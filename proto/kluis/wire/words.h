// The API's enums as the words people use: the roles and account kinds of DESIGN.md §5, spelled as
// the policy spells them ("beheerder", "politie-alleen"). One table, used by the server's
// conversions and the CLI's arguments and output; tests/wire/words_test.cc checks it against the
// policy's own names, both ways.
#ifndef KLUIS_WIRE_WORDS_H_
#define KLUIS_WIRE_WORDS_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "kluis/v1/common.pb.h"

namespace kluis::wire {

struct RoleWord {
  absl::string_view word;
  v1::Role role;
};

struct KindWord {
  absl::string_view word;
  v1::AccountKind kind;
};

inline constexpr RoleWord kRoleWords[] = {
    {"beheerder", v1::ROLE_BEHEERDER},
    {"teamchef", v1::ROLE_TEAMCHEF},
    {"regisseur", v1::ROLE_REGISSEUR},
    {"landelijk-regisseur", v1::ROLE_LANDELIJK_REGISSEUR},
    {"communicatieadviseur", v1::ROLE_COMMUNICATIEADVISEUR},
    {"bewindspersoon", v1::ROLE_BEWINDSPERSOON},
    {"politiek-assistent", v1::ROLE_POLITIEK_ASSISTENT},
    {"auditor", v1::ROLE_AUDITOR},
    {"operator", v1::ROLE_OPERATOR},
};

// The first word of a kind is its name; the others are what people also type for it. "prive"
// (types 3 and 4 of seed 000) is named only so the vault can refuse it with the reason (R7).
inline constexpr KindWord kKindWords[] = {
    {"politie-alleen", v1::ACCOUNT_KIND_POLITIE_ALLEEN},
    {"politie-samen", v1::ACCOUNT_KIND_POLITIE_SAMEN},
    {"corporate", v1::ACCOUNT_KIND_CORPORATE},
    {"hybrid", v1::ACCOUNT_KIND_HYBRID},
    {"organisatie", v1::ACCOUNT_KIND_ORGANISATIE},
    {"prive", v1::ACCOUNT_KIND_PRIVE},
    {"privé", v1::ACCOUNT_KIND_PRIVE},
    {"private", v1::ACCOUNT_KIND_PRIVE},
};

// "" for ROLE_UNSPECIFIED or a value this build does not know.
absl::string_view WordOf(v1::Role role);
absl::string_view WordOf(v1::AccountKind kind);
std::optional<v1::Role> RoleOfWord(absl::string_view word);
std::optional<v1::AccountKind> KindOfWord(absl::string_view word);

}  // namespace kluis::wire

#endif  // KLUIS_WIRE_WORDS_H_
