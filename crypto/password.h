#ifndef KLUIS_CRYPTO_PASSWORD_H_
#define KLUIS_CRYPTO_PASSWORD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {

// What a generated password is made of.
struct PasswordRecipe {
  int length = 20;
  std::string alphabet;  // every character that may occur
  // Each string here is a class of which at least one character must occur.
  std::vector<std::string> required;
};

// A password from libsodium's CSPRNG: each character uniform over the alphabet
// (randombytes_uniform, no modulo bias); drawn again until every required class occurs. Refuses
// recipes that cannot be met (too short for the required classes, empty alphabet, a required
// class with characters outside the alphabet).
absl::StatusOr<SecretBytes> GeneratePassword(const PasswordRecipe& recipe);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_PASSWORD_H_
