#include "client/profile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace kluis::client {
namespace {

absl::StatusOr<std::string> ReadProfileFile(const std::string& dir, const char* name) {
  const std::string path = absl::StrCat(dir, "/", name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("no usable profile in ", dir, " (missing ", name, "): run kluis enroll"));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::Status WriteProfileFile(const std::string& dir, const char* name, absl::string_view data,
                              mode_t mode) {
  return WriteFileAtomically(absl::StrCat(dir, "/", name), data, mode);
}

}  // namespace

std::string Profile::DefaultDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("KLUIS_PROFILE"); env != nullptr && *env != '\0') return env;
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : ".", "/.config/kluis");
}

absl::StatusOr<Profile> Profile::Load(const std::string& dir) {
  Profile profile;
  profile.dir = dir;
  absl::StatusOr<std::string> server = ReadProfileFile(dir, "server");
  if (!server.ok()) return server.status();
  profile.server = std::string(absl::StripAsciiWhitespace(*server));
  absl::StatusOr<std::string> key = ReadProfileFile(dir, "key.pem");
  if (!key.ok()) return key.status();
  profile.private_key_pem = crypto::SecretBytes::CopyFrom(*key);
  crypto::WipeString(*key);
  absl::StatusOr<std::string> cert = ReadProfileFile(dir, "cert.pem");
  if (!cert.ok()) return cert.status();
  profile.certificate_pem = *cert;
  absl::StatusOr<std::string> ca = ReadProfileFile(dir, "ca.pem");
  if (!ca.ok()) return ca.status();
  profile.ca_certificate_pem = *ca;
  return profile;
}

absl::Status Profile::Save() const {
  // Parents of a default ~/.config/kluis may be missing; the profile itself is private.
  std::string partial;
  for (const std::string& part : {dir}) {
    for (size_t i = 1; i <= part.size(); ++i) {
      if (i == part.size() || part[i] == '/') {
        partial = part.substr(0, i);
        if (::mkdir(partial.c_str(), i == part.size() ? 0700 : 0755) != 0 && errno != EEXIST) {
          return absl::InternalError(absl::StrCat("cannot create ", partial, ": ", std::strerror(errno)));
        }
      }
    }
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("cannot protect ", dir, ": ", std::strerror(errno)));
  }
  if (absl::Status s = WriteProfileFile(dir, "key.pem", private_key_pem.Reveal(), 0600); !s.ok()) return s;
  if (absl::Status s = WriteProfileFile(dir, "cert.pem", certificate_pem, 0644); !s.ok()) return s;
  if (absl::Status s = WriteProfileFile(dir, "ca.pem", ca_certificate_pem, 0644); !s.ok()) return s;
  return WriteProfileFile(dir, "server", server + "\n", 0644);
}

}  // namespace kluis::client
