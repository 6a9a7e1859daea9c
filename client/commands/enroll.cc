// Enrolling this machine: the one command that runs before a profile exists.
#include "client/commands/common.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "client/client.h"
#include "client/profile.h"
#include "crypto/secret_bytes.h"

namespace kluis::client {
namespace {

// The flags of enroll.
struct EnrollFlags {
  std::string ca_cert, code, server, user;
};

absl::Status Enroll(const EnrollFlags& a, const Session& session) {
  absl::StatusOr<std::string> ca = ReadTextFile(a.ca_cert);
  if (!ca.ok()) return ca.status();
  std::string code = a.code;
  if (code.empty()) {
    absl::StatusOr<crypto::SecretBytes> typed = ReadSecret("enrollment code: ");
    if (!typed.ok()) return typed.status();
    code = std::string(typed->Reveal());
  }
  const std::string dir = Profile::DefaultDir(session.profile);
  int earlier_revoked = 0;
  absl::StatusOr<Profile> profile = Client::Enroll(a.server, *ca, a.user, code, dir, &earlier_revoked);
  if (!profile.ok()) return profile.status();
  if (absl::Status s = profile->Save(); !s.ok()) return s;
  std::cout << "enrolled " << a.user << "; profile saved in " << dir << "\n";
  if (earlier_revoked > 0) {
    std::cout << "your earlier certificate" << (earlier_revoked > 1 ? "s (" + std::to_string(earlier_revoked) + ")" : "")
              << " no longer work" << (earlier_revoked > 1 ? "" : "s") << ": a new enrollment revokes them\n";
  }
  return absl::OkStatus();
}

}  // namespace

void AddEnrollCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Group<EnrollFlags> group(commands);
  EnrollFlags& a = group.flags();

  CLI::App* enroll =
      group.Add(&app, "enroll", "enroll this machine with a one-time code", "enroll");
  enroll->add_option("--server", a.server, "vault address, host:port")->required();
  enroll->add_option("--ca-cert", a.ca_cert, "the vault's CA certificate (PEM)")->required();
  enroll->add_option("--user", a.user, "your user name")->required();
  enroll->add_option("--code", a.code, "one-time enrollment code (omit to be prompted)");

  group.HandleOffline("enroll", Enroll);
}

}  // namespace kluis::client
