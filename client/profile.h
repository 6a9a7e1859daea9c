#ifndef KLUIS_CLIENT_PROFILE_H_
#define KLUIS_CLIENT_PROFILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/secret_bytes.h"

namespace kluis::client {

// A user's client profile: a directory (mode 0700) holding key.pem (0600, made on this machine
// and never sent anywhere), cert.pem (issued by the vault at enrollment), ca.pem (the vault CA)
// and server (the vault's address).
struct Profile {
  std::string dir;
  std::string server;
  crypto::SecretBytes private_key_pem;
  std::string certificate_pem;
  std::string ca_certificate_pem;

  // --profile, else $KLUIS_PROFILE, else ~/.config/kluis.
  static std::string DefaultDir(const std::string& flag);
  static absl::StatusOr<Profile> Load(const std::string& dir);
  absl::Status Save() const;
};

}  // namespace kluis::client

#endif  // KLUIS_CLIENT_PROFILE_H_
