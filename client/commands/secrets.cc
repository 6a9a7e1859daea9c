// Storing secrets, rotating them (R5) and handing an account over (R6).
#include "client/commands/common.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/client.h"
#include "crypto/secret_bytes.h"

namespace kluis::client {
namespace {

// The flags of the secret, rotation and handover commands.
struct SecretFlags {
  std::string account, actor, platform, reason, user;
  bool abort = false;
  bool confirm = false;
  bool pending = false;
};

absl::Status RunSecretSet(Client& c, const SecretFlags& a, const std::string&) {
  absl::StatusOr<crypto::SecretBytes> password = ReadSecret(absl::StrCat("password for ", a.account, ": "));
  if (!password.ok()) return password.status();
  pb::SetPasswordRequest request;
  request.set_account(a.account);
  request.set_password(std::string(password->Reveal()));
  absl::StatusOr<pb::SetPasswordResponse> r = c.Call(c.vault(), &pb::Vault::Stub::SetPassword, request);
  // The request's copy of the password is wiped before the message is freed.
  crypto::WipeString(*request.mutable_password());
  if (!r.ok()) return r.status();
  std::cout << "password of " << a.account << " stored (version " << r->version() << ")\n";
  return absl::OkStatus();
}

absl::Status RunSecretSetTotp(Client& c, const SecretFlags& a, const std::string&) {
  absl::StatusOr<crypto::SecretBytes> seed =
      ReadSecret(absl::StrCat("otpauth:// URI or base32 seed for ", a.account, ": "));
  if (!seed.ok()) return seed.status();
  pb::SetTotpRequest request;
  request.set_account(a.account);
  request.set_otpauth(std::string(seed->Reveal()));
  request.set_pending(a.pending);
  absl::StatusOr<pb::SetTotpResponse> r = c.Call(c.vault(), &pb::Vault::Stub::SetTotp, request);
  crypto::WipeString(*request.mutable_otpauth());
  if (!r.ok()) return r.status();
  if (a.pending) {
    std::cout << "new TOTP key of " << a.account << " stored as pending (version " << r->version()
              << "); kluis totp " << a.account << " shows its code for the platform's confirmation; then kluis rotate "
              << a.account << " --confirm\n";
  } else {
    std::cout << "TOTP key of " << a.account << " stored (version " << r->version()
              << "); kluis totp " << a.account << " gives the current code\n";
  }
  return absl::OkStatus();
}

absl::Status RunSecretSetRecovery(Client& c, const SecretFlags& a, const std::string&) {
  absl::StatusOr<std::vector<crypto::SecretBytes>> codes = ReadSecretLines("recovery code");
  if (!codes.ok()) return codes.status();
  pb::SetRecoveryCodesRequest request;
  request.set_account(a.account);
  for (const crypto::SecretBytes& code : *codes) request.add_codes(std::string(code.Reveal()));
  absl::StatusOr<pb::SetRecoveryCodesResponse> r = c.Call(c.vault(), &pb::Vault::Stub::SetRecoveryCodes, request);
  for (std::string& code : *request.mutable_codes()) crypto::WipeString(code);
  if (!r.ok()) return r.status();
  std::cout << r->count() << " recovery codes of " << a.account << " stored; earlier ones are gone\n";
  return absl::OkStatus();
}

absl::Status RunSecretGenerate(Client& c, const SecretFlags& a, const std::string&) {
  pb::GeneratePasswordRequest request;
  request.set_platform(a.platform);
  absl::StatusOr<pb::GeneratePasswordResponse> r = c.Call(c.vault(), &pb::Vault::Stub::GeneratePassword, request);
  if (!r.ok()) return r.status();
  std::cout << r->password() << "\n";
  crypto::WipeString(*r->mutable_password());
  return absl::OkStatus();
}

absl::Status RunRotate(Client& c, const SecretFlags& a, const std::string&) {
  if (a.confirm && a.abort) return absl::InvalidArgumentError("give --confirm or --abort, not both");
  pb::RotateRequest request;
  request.set_account(a.account);
  request.set_step(a.confirm ? pb::RotateRequest::CONFIRM : a.abort ? pb::RotateRequest::ABORT : pb::RotateRequest::START);
  absl::StatusOr<pb::RotateResponse> r = c.Call(c.vault(), &pb::Vault::Stub::Rotate, request);
  if (!r.ok()) return r.status();
  if (request.step() == pb::RotateRequest::START) {
    std::cout << "new password: " << r->new_password() << "\n"
              << "set it on the platform now, then: kluis rotate " << a.account << " --confirm"
              << " (or --abort). Until then kluis get shows both.\n";
    crypto::WipeString(*r->mutable_new_password());
  } else {
    std::cout << (a.confirm ? "confirmed" : "aborted") << " for " << r->account() << ":"
              << (r->password() ? " password" : "") << (r->totp() ? " TOTP key" : "");
    if (a.confirm) std::cout << "; " << r->flags_cleared() << " rotation flag(s) cleared";
    std::cout << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunHandover(Client& c, const SecretFlags& a, const std::string&) {
  pb::HandoverRequest request;
  request.set_account(a.account);
  request.set_to(a.user);
  request.set_reason(a.reason);
  request.set_from(a.actor);
  absl::StatusOr<pb::HandoverResponse> r = c.Call(c.vault(), &pb::Vault::Stub::Handover, request);
  if (!r.ok()) return r.status();
  std::cout << r->account() << " handed over"
            << (r->from().empty() ? "" : absl::StrCat(" from ", absl::StrJoin(r->from(), ", "))) << " to "
            << r->to() << "; their access ended now. The password is due for rotation: kluis rotate "
            << r->account() << "\n";
  return absl::OkStatus();
}

}  // namespace

void AddSecretCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Group<SecretFlags> group(commands);
  SecretFlags& a = group.flags();

  CLI::App* secret = app.add_subcommand("secret", "store secrets")->require_subcommand(1);
  CLI::App* secret_set =
      group.Add(secret, "set", "store the password (from stdin or a prompt)", "secret set");
  secret_set->add_option("ACCOUNT", a.account)->required();

  CLI::App* secret_totp = group.Add(
      secret, "set-totp", "store the 2FA key: otpauth:// URI or base32 seed (stdin or prompt)",
      "secret set-totp");
  secret_totp->add_option("ACCOUNT", a.account)->required();
  secret_totp->add_flag("--pending", a.pending, "a new key that waits for kluis rotate --confirm");
  CLI::App* secret_generate =
      group.Add(secret, "generate", "show a password made by a platform's rules (not stored)",
                "secret generate");
  secret_generate->add_option("--platform", a.platform, "x, instagram, facebook, linkedin, threads, tiktok, youtube")
      ->required();
  CLI::App* rotate =
      group.Add(&app, "rotate", "two-phase password rotation: new pending password, then --confirm",
                "rotate");
  rotate->add_option("ACCOUNT", a.account)->required();
  rotate->add_flag("--confirm", a.confirm, "the new password (or TOTP key) is set on the platform: make it current");
  rotate->add_flag("--abort", a.abort, "drop the pending password (or TOTP key)");
  CLI::App* secret_recovery =
      group.Add(secret, "set-recovery", "store recovery codes, one per line (stdin or prompt)",
                "secret set-recovery");
  secret_recovery->add_option("ACCOUNT", a.account)->required();

  CLI::App* handover =
      group.Add(&app, "handover", "hand an account to a successor (R6)", "handover");
  handover->add_option("ACCOUNT", a.account)->required();
  handover->add_option("--to", a.user, "the successor")->required();
  handover->add_option("--reason", a.reason, "ziekte, verlof, uitdienst, overlijden, functiewijziging, overig")
      ->required()
      ->check(CLI::IsMember({"ziekte", "verlof", "uitdienst", "overlijden", "functiewijziging", "overig"}));
  handover->add_option("--from", a.actor, "the beheerder who hands over (default: you, or all beheerders)");

  group.Handle("secret set", RunSecretSet);
  group.Handle("secret set-totp", RunSecretSetTotp);
  group.Handle("secret set-recovery", RunSecretSetRecovery);
  group.Handle("secret generate", RunSecretGenerate);
  group.Handle("rotate", RunRotate);
  group.Handle("handover", RunHandover);
}

}  // namespace kluis::client
