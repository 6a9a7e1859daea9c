#include "crypto/password.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"

namespace kluis::crypto {

absl::StatusOr<SecretBytes> GeneratePassword(const PasswordRecipe& recipe) {
  if (recipe.alphabet.empty()) return absl::InvalidArgumentError("password alphabet is empty");
  if (recipe.length < 8 || recipe.length > 256) {
    return absl::InvalidArgumentError(absl::StrCat("password length must be 8 to 256, got ", recipe.length));
  }
  if (static_cast<int>(recipe.required.size()) > recipe.length) {
    return absl::InvalidArgumentError("password is too short for its required classes");
  }
  for (const std::string& required : recipe.required) {
    if (required.empty() || required.find_first_not_of(recipe.alphabet) != std::string::npos) {
      return absl::InvalidArgumentError("a required class has characters outside the alphabet");
    }
  }
  SecretBytes password(static_cast<size_t>(recipe.length));
  // With 20+ characters over four classes a draw almost always meets every class; the bound only
  // guards against a recipe whose classes are vanishingly rare.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    for (size_t i = 0; i < password.size(); ++i) {
      password.MutableData()[i] = static_cast<unsigned char>(
          recipe.alphabet[randombytes_uniform(static_cast<uint32_t>(recipe.alphabet.size()))]);
    }
    bool all = true;
    for (const std::string& required : recipe.required) {
      all = all && password.Reveal().find_first_of(required) != absl::string_view::npos;
    }
    if (all) return password;
  }
  return absl::InternalError("could not meet the password's required classes");
}

}  // namespace kluis::crypto
