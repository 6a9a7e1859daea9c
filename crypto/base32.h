#ifndef KLUIS_CRYPTO_BASE32_H_
#define KLUIS_CRYPTO_BASE32_H_

#include "absl/strings/string_view.h"
#include <optional>
#include <string>


namespace kluis::crypto {

// RFC 4648 §6 base32 (alphabet A-Z2-7), without padding on output.
std::string Base32Encode(absl::string_view bytes);
// Accepts upper or lower case and optional trailing '=' padding; rejects any other character and
// lengths that no byte string encodes to.
std::optional<std::string> Base32Decode(absl::string_view text);

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_BASE32_H_
