// One table of the API's words (kluis/wire/words.h), checked against the policy's own names: a role
// or kind added to the proto or the policy without its word fails here, not in a user's terminal.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>

#include "kluis/wire/words.h"
#include "policies/roles.h"

namespace kluis::wire {
namespace {

TEST(WordsTest, EveryApiRoleIsAPolicyRoleByTheSameWordAndBack) {
  const google::protobuf::EnumDescriptor* roles = v1::Role_descriptor();
  for (int i = 0; i < roles->value_count(); ++i) {
    const auto role = static_cast<v1::Role>(roles->value(i)->number());
    if (role == v1::ROLE_UNSPECIFIED) continue;
    const absl::string_view word = WordOf(role);
    ASSERT_FALSE(word.empty()) << roles->value(i)->name() << " has no word";
    const std::optional<policies::Role> policy_role = policies::ParseRole(word);
    ASSERT_TRUE(policy_role.has_value()) << word << " is not a role of the policy";
    EXPECT_EQ(policies::RoleName(*policy_role), word);
    EXPECT_EQ(RoleOfWord(word), role);
  }
  // And every role of the policy has its word in the API.
  for (const RoleWord& w : kRoleWords) EXPECT_TRUE(policies::ParseRole(w.word).has_value()) << w.word;
  EXPECT_EQ(std::size(kRoleWords), static_cast<size_t>(roles->value_count() - 1));
}

TEST(WordsTest, EveryApiKindIsAPolicyKindByItsFirstWordExceptTheRefusedPrivateOne) {
  const google::protobuf::EnumDescriptor* kinds = v1::AccountKind_descriptor();
  for (int i = 0; i < kinds->value_count(); ++i) {
    const auto kind = static_cast<v1::AccountKind>(kinds->value(i)->number());
    if (kind == v1::ACCOUNT_KIND_UNSPECIFIED) continue;
    const absl::string_view word = WordOf(kind);
    ASSERT_FALSE(word.empty()) << kinds->value(i)->name() << " has no word";
    EXPECT_EQ(KindOfWord(word), kind);
    if (kind == v1::ACCOUNT_KIND_PRIVE) {
      EXPECT_FALSE(policies::ParseAccountKind(word).has_value()) << "private accounts are not a kind Kluis stores (R7)";
      continue;
    }
    const std::optional<policies::AccountKind> policy_kind = policies::ParseAccountKind(word);
    ASSERT_TRUE(policy_kind.has_value()) << word << " is not a kind of the policy";
    EXPECT_EQ(policies::AccountKindName(*policy_kind), word);
  }
}

TEST(WordsTest, UnknownWordsAndValuesHaveNoWord) {
  EXPECT_EQ(RoleOfWord("koning"), std::nullopt);
  EXPECT_EQ(RoleOfWord("Beheerder"), std::nullopt) << "words are exact";
  EXPECT_EQ(KindOfWord(""), std::nullopt);
  EXPECT_EQ(WordOf(v1::ROLE_UNSPECIFIED), "");
  EXPECT_EQ(WordOf(static_cast<v1::AccountKind>(99)), "");
  EXPECT_EQ(KindOfWord("privé"), v1::ACCOUNT_KIND_PRIVE) << "what people also type for it";
}

}  // namespace
}  // namespace kluis::wire
