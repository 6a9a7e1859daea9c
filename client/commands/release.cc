// Releasing: the login (get, emergency), 2FA codes, the authenticator hand-over and recovery codes.
#include "client/commands/common.h"

#include <unistd.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "client/client.h"
#include "client/qr.h"
#include "crypto/secret_bytes.h"

namespace kluis::client {
namespace {

// The flags of the release commands.
struct ReleaseFlags {
  std::string account, field, reason;
  bool emergency = false;
  int64_t request_id = 0;
  int previous = 0;
};

absl::Status RunGet(Client& c, const ReleaseFlags& a, const std::string& command) {
  pb::ReleaseCredentialRequest request;
  request.set_account(a.account);
  request.set_reason(a.reason);
  request.set_request_id(a.request_id);
  request.set_break_glass(command == "emergency");
  request.set_previous_version(a.previous);
  absl::StatusOr<pb::ReleaseCredentialResponse> r = c.Call(c.vault(), &pb::Vault::Stub::ReleaseCredential, request);
  if (!r.ok()) return r.status();
  if (a.field == "password") {
    std::cout << r->password() << "\n";
  } else if (a.field == "email") {
    std::cout << r->linked_email() << "\n";
  } else {
    std::cout << "account:  " << r->account() << "\n"
              << "login:    " << r->handle() << "\n"
              << "password: " << r->password() << "\n"
              << "e-mail:   " << (r->linked_email().empty() ? "-" : r->linked_email()) << "\n"
              << "version:  " << r->version() << " (set " << FormatTime(r->set_unix()) << ")\n";
    if (r->has_totp()) PrintTotp(r->totp());
    if (!r->pending_password().empty()) {
      std::cout << "pending:  " << r->pending_password() << "  (version " << r->pending_version()
                << ", not yet confirmed: kluis rotate " << r->account() << " --confirm)\n";
    }
  }
  crypto::WipeString(*r->mutable_pending_password());
  crypto::WipeString(*r->mutable_password());
  return absl::OkStatus();
}

absl::Status RunTotp(Client& c, const ReleaseFlags& a, const std::string&) {
  pb::GetTotpCodeRequest request;
  request.set_account(a.account);
  request.set_reason(a.reason);
  request.set_request_id(a.request_id);
  request.set_break_glass(a.emergency);
  absl::StatusOr<pb::TotpCode> r = c.Call(c.vault(), &pb::Vault::Stub::GetTotpCode, request);
  if (!r.ok()) return r.status();
  if (a.field == "code") {
    std::cout << r->code() << "\n";
  } else {
    std::cout << "account:  " << r->account() << "\n";
    PrintTotp(*r);
  }
  return absl::OkStatus();
}

absl::Status RunTotpExport(Client& c, const ReleaseFlags& a, const std::string&) {
  pb::ExportTotpRequest request;
  request.set_account(a.account);
  request.set_reason(a.reason);
  absl::StatusOr<pb::ExportTotpResponse> r = c.Call(c.vault(), &pb::Vault::Stub::ExportTotp, request);
  if (!r.ok()) return r.status();
  std::cout << r->otpauth_uri() << "\n";
  if (::isatty(STDOUT_FILENO) || a.field == "qr") {
    absl::StatusOr<std::string> qr = TerminalQr(r->otpauth_uri());
    if (qr.ok()) std::cout << "\n" << *qr << "\n";
  }
  std::cerr << "the authenticator has left the vault: the 2FA of " << a.account
            << " is due to be set up anew (kluis due)" << std::endl;
  crypto::WipeString(*r->mutable_otpauth_uri());
  return absl::OkStatus();
}

absl::Status RunRecovery(Client& c, const ReleaseFlags& a, const std::string&) {
  pb::ReleaseRecoveryCodeRequest request;
  request.set_account(a.account);
  request.set_reason(a.reason);
  request.set_request_id(a.request_id);
  request.set_break_glass(a.emergency);
  absl::StatusOr<pb::RecoveryCode> r = c.Call(c.vault(), &pb::Vault::Stub::ReleaseRecoveryCode, request);
  if (!r.ok()) return r.status();
  std::cout << "recovery code: " << r->code() << "  (now used; " << r->remaining() << " left)\n";
  crypto::WipeString(*r->mutable_code());
  return absl::OkStatus();
}

}  // namespace

void AddReleaseCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Group<ReleaseFlags> group(commands);
  ReleaseFlags& a = group.flags();

  CLI::App* totp = group.Add(
      &app, "totp", "the current 2FA code of an account (the seed stays in the vault)", "totp");
  totp->add_option("ACCOUNT", a.account);
  totp->add_option("--reason", a.reason, "why (recorded)");
  totp->add_option("--request", a.request_id, "use the grant of this approved request");
  totp->add_flag("--emergency", a.emergency, "break-glass, for roles whose rule is break-glass (needs --reason)");
  totp->add_option("--field", a.field, "print only the code")->check(CLI::IsMember({"code"}));
  CLI::App* totp_export = group.Add(
      totp, "export", "hand the authenticator over: otpauth URI and QR code", "totp export");
  totp_export->add_option("ACCOUNT", a.account)->required();
  totp_export->add_option("--reason", a.reason, "why (recorded; the regisseur is told)")->required();
  totp_export->add_flag("--qr{qr}", a.field, "draw the QR code even when not on a terminal");

  CLI::App* recovery =
      group.Add(&app, "recovery", "release one recovery code (it is used up)", "recovery");
  recovery->add_option("ACCOUNT", a.account)->required();
  recovery->add_option("--reason", a.reason, "why (recorded)");
  recovery->add_option("--request", a.request_id, "use the grant of this approved request");
  recovery->add_flag("--emergency", a.emergency, "break-glass (needs --reason)");

  CLI::App* get = group.Add(&app, "get", "release the login of an account", "get");
  get->add_option("ACCOUNT", a.account, "PLATFORM/HANDLE, or the bare handle when only one platform has it")->required();
  get->footer(
      "The beheerder gets the login at any time. --reason is needed where the rules ask for one: a replaced\n"
      "version (--previous), a stopped account (to delete it), a regisseur's request. A regisseur or\n"
      "minister first asks (kluis request), and once it is approved uses --request ID; the grant works once.\n"
      "A teamchef (or the communicatieadviseur in a crisis) takes it as break-glass: kluis emergency.");
  get->add_option("--reason", a.reason, "why (recorded in the audit log)");
  get->add_option("--field", a.field, "print only this field")->check(CLI::IsMember({"password", "email"}));
  get->add_option("--request", a.request_id, "use the grant of this approved request");
  get->add_option("--previous", a.previous, "a replaced version (beheerder, with --reason)");

  CLI::App* emergency =
      group.Add(&app, "emergency", "break-glass release, with a reason; everyone concerned is told",
                "emergency");
  emergency->add_option("ACCOUNT", a.account)->required();
  emergency->add_option("--reason", a.reason, "why (recorded, and sent to the beheerders and regisseur)")->required();
  emergency->add_option("--field", a.field, "print only this field")->check(CLI::IsMember({"password", "email"}));

  group.Handle("get", RunGet);
  group.Handle("emergency", RunGet);
  group.Handle("totp", RunTotp);
  group.Handle("totp export", RunTotpExport);
  group.Handle("recovery", RunRecovery);
}

}  // namespace kluis::client
