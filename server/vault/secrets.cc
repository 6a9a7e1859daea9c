// Storing secrets: passwords, the linked e-mail, TOTP keys and recovery codes.
#include "server/vault/vault.h"

#include "absl/strings/str_cat.h"
#include "crypto/password.h"
#include "crypto/totp.h"
#include "server/audit/audit_log.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/refusal.h"
#include "server/vault/resolve.h"

namespace kluis::server {

absl::StatusOr<int64_t> Vault::Store(
    const Caller& caller, absl::string_view account, absl::string_view audit_action,
    absl::FunctionRef<absl::StatusOr<int64_t>(Tx&, const AccountRow&)> store) {
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  int64_t version = 0;
  audit::AuditEvent event = ManagementEvent(caller, audit_action, "");
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<Decided> decided = ResolveAndDecide(tx, caller, *policy, account, Action::kStoreSecret,
                                                       {caller.user_id}, now, event, "store secrets of");
    if (!decided.ok()) return decided.status();
    absl::StatusOr<int64_t> stored = store(tx, decided->account);
    if (!stored.ok()) return stored.status();
    version = *stored;
    event.reason = absl::StrCat("version ", version);
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return version;
}

absl::StatusOr<int64_t> Vault::StoreCurrent(const Caller& caller, absl::string_view account,
                                            absl::string_view audit_action, storage::SecretKind kind,
                                            const crypto::SecretBytes& plaintext, bool pending) {
  return Store(caller, account, audit_action, [&](Tx& tx, const AccountRow& found) -> absl::StatusOr<int64_t> {
    if (pending) {
      absl::StatusOr<std::optional<storage::SecretRow>> waiting = tx.SecretInState(found.id, kind, storage::SecretState::kPending);
      if (!waiting.ok()) return waiting.status();
      if (waiting->has_value()) {
        return Refused(Refusal::kRotationState,
                       absl::FailedPreconditionError(absl::StrCat(
                           "a new ", storage::SecretKindName(kind), " of ", found.name(), " is already pending: kluis rotate ",
                           found.name(), " --confirm or --abort first")));
      }
    }
    return InsertVersion(tx, found, kind, plaintext, pending, caller.user);
  });
}

absl::StatusOr<int64_t> Vault::InsertVersion(Tx& tx, const AccountRow& account, storage::SecretKind kind,
                                             const crypto::SecretBytes& plaintext, bool pending,
                                             absl::string_view by) {
  absl::StatusOr<int64_t> version = tx.NextSecretVersion(account.id, kind);
  if (!version.ok()) return version.status();
  const storage::SecretRow row{0, account.id, kind, *version, pending ? storage::SecretState::kPending : storage::SecretState::kCurrent,
                               sealer_.Seal(account.id, kind, *version, plaintext.Reveal()),
                               sealer_.key_version(), std::string(by), Micros(clock_.Now())};
  if (absl::Status s = pending ? tx.InsertSecret(row) : tx.InsertCurrentSecret(row); !s.ok()) return s;
  return *version;
}

absl::StatusOr<crypto::SecretBytes> Vault::GeneratePassword(absl::string_view platform) {
  if (absl::Status s = CheckPlatform(platform); !s.ok()) return s;
  const policies::PasswordRules rules = policy()->PasswordRulesFor(platform);
  return crypto::GeneratePassword({rules.length, rules.alphabet, rules.required});
}

absl::StatusOr<int64_t> Vault::SetPassword(const Caller& caller, absl::string_view account,
                                           const crypto::SecretBytes& password) {
  if (password.empty()) return absl::InvalidArgumentError("password is empty");
  if (password.size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("password is too long: ", password.size(), " bytes, at most ", kMaxSecretBytes));
  }
  return StoreCurrent(caller, account, "set-password", kPassword, password);
}

absl::StatusOr<int64_t> Vault::SetTotp(const Caller& caller, absl::string_view account,
                                       const crypto::SecretBytes& otpauth_or_seed, bool pending) {
  // Parsed before anything is stored: bad input changes nothing.
  absl::StatusOr<crypto::TotpKey> key = crypto::ParseOtpauth(otpauth_or_seed.Reveal());
  if (!key.ok()) return key.status();
  // What is sealed is the key in its canonical otpauth form: seed and parameters together.
  return StoreCurrent(caller, account, pending ? "set-totp-pending" : "set-totp", kTotp,
                      crypto::SecretBytes::CopyFrom(crypto::FormatOtpauth(*key)), pending);
}

absl::StatusOr<int> Vault::SetRecoveryCodes(const Caller& caller, absl::string_view account,
                                            const std::vector<crypto::SecretBytes>& codes) {
  if (codes.empty() || codes.size() > 50) {
    return absl::InvalidArgumentError(absl::StrCat("give 1 to 50 recovery codes, got ", codes.size()));
  }
  for (const crypto::SecretBytes& code : codes) {
    if (code.empty() || code.size() > 100) return absl::InvalidArgumentError("a recovery code must be 1 to 100 characters");
  }
  absl::StatusOr<int64_t> stored = Store(
      caller, account, "set-recovery-codes", [&](Tx& tx, const AccountRow& found) -> absl::StatusOr<int64_t> {
        // A new set replaces the old one: platforms invalidate old codes when they issue new ones.
        if (absl::StatusOr<int> destroyed = tx.DestroyCurrentSecrets(found.id, kRecoveryCode); !destroyed.ok()) {
          return destroyed.status();
        }
        absl::StatusOr<int64_t> version = tx.NextSecretVersion(found.id, kRecoveryCode);
        if (!version.ok()) return version.status();
        for (size_t i = 0; i < codes.size(); ++i) {
          const int64_t v = *version + static_cast<int64_t>(i);
          if (absl::Status s = tx.InsertSecret({0, found.id, kRecoveryCode, v, storage::SecretState::kCurrent,
                                                sealer_.Seal(found.id, kRecoveryCode, v, codes[i].Reveal()),
                                                sealer_.key_version(), caller.user, Micros(clock_.Now())});
              !s.ok()) {
            return s;
          }
        }
        return static_cast<int64_t>(codes.size());
      });
  if (!stored.ok()) return stored.status();
  return static_cast<int>(*stored);
}

}  // namespace kluis::server
