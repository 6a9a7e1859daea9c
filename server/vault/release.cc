// Releasing secrets: the login, TOTP codes, the TOTP key and recovery codes. Identify, decide and
// record in one write; open only after the commit.
#include "server/vault/vault.h"

#include "absl/strings/str_cat.h"
#include "crypto/totp.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/keys.h"
#include "server/vault/obligations.h"
#include "server/vault/resolve.h"
#include "server/vault/views.h"

namespace kluis::server {
namespace {

// What a login release reads, sealed, before its record commits; opened only after.
struct SealedLogin {
  storage::SecretRow password;
  std::optional<storage::SecretRow> email;    // the linked e-mail address
  std::optional<storage::SecretRow> pending;  // a new password whose rotation is not yet confirmed
  std::optional<storage::SecretRow> totp;     // when the rules release the 2FA code too
};

}  // namespace

absl::StatusOr<Vault::Released> Vault::Release(const Presented& presented, absl::string_view account,
                                               Action action, std::optional<Action> also,
                                               const ReleaseOptions& options, Fetch fetch) {
  absl::StatusOr<std::string> fingerprint = FingerprintOf(presented);
  if (!fingerprint.ok()) return fingerprint.status();
  const absl::Status input =
      CheckText("reason", options.reason, 500, false);  // told after identifying
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  audit::AuditEvent asked;
  asked.action =
      absl::StrCat(options.break_glass ? "break-glass:" : "", policies::ActionName(action));
  asked.account = std::string(account);
  asked.reason = options.reason;
  if (options.request_id != 0) asked.request_id = absl::StrCat(options.request_id);
  Attempt attempt(std::move(asked), clock_.Now());
  const absl::Time now = attempt.now();
  Released released;
  released.decision = DeniedBy("account-not-visible");

  // 0. Who is calling is identified by Run in the same write as the decision and the record:
  //    nothing about the caller can change between them (a disabled user, a revoked role).
  auto step = [&](Tx& tx, Attempt& self) -> absl::Status {
    if (!input.ok()) return self.RefuseInput(input);  // malformed: as before any call, unrecorded
    const Caller& caller = *self.caller();
    // 1. Which account: only among those the caller has a role on, so a stranger learns nothing.
    absl::StatusOr<AccountRow> resolved = ResolveVisibleAccount(tx, caller, account, now);
    if (!resolved.ok()) {
      self.Decide(released.decision);
      return self.Refuse(resolved.status());
    }
    released.account = *resolved;
    self.event().account = released.account.name();
    self.event().unit_id = released.account.unit_id;
    std::optional<policies::AccessRequest> request;
    if (options.request_id != 0) {
      absl::StatusOr<std::optional<storage::RequestRow>> row = tx.FindRequest(options.request_id);
      if (!row.ok()) return row.status();
      // Another's request, or one for another account, reads as one that does not exist.
      if (row->has_value() && (*row)->requester_id == caller.user_id &&
          (*row)->account_id == released.account.id) {
        request = RequestOf(**row);
      }
      if (!request) {
        self.Decide(released.decision);
        return self.Refuse(absl::NotFoundError(absl::StrCat("no request ", options.request_id)));
      }
    }
    // 2. Decide, before anything secret is touched.
    const policies::ReleaseContext context{caller.user_id, options.break_glass, options.reason,
                                           request ? &*request : nullptr};
    released.decision = policies::Decide(*policy, caller.policy_bindings,
                                         ResourceOf(released.account), action, context, now);
    released.also_allowed =
        also.has_value() && policies::Decide(*policy, caller.policy_bindings,
                                             ResourceOf(released.account), *also, context, now)
                                .allows();
    if (!self.Decide(released.decision)) {
      return self.Refuse(DeniedError(
          released.decision,
          absl::StrCat(policies::ActionName(action), " for ", released.account.name())));
    }
    // A stopped account's secrets last only its retention period (R8), even before the sweep.
    if (released.account.stopped_us.has_value() &&
        now >= absl::FromUnixMicros(*released.account.stopped_us) + policy->stopped_retention) {
      return self.Refuse(absl::NotFoundError(
          absl::StrCat("the secrets of stopped account ", released.account.name(),
                       " were destroyed after the retention period")));
    }
    // 3. Fetch the sealed rows; nothing is opened before the record commits.
    if (absl::Status fetched = fetch(tx, released.account, released.also_allowed); !fetched.ok()) {
      if (absl::IsNotFound(fetched)) return self.Refuse(fetched);
      return fetched;
    }
    // 4. What must follow a release happens in the same write: spend the single-use grant, tell
    //    whoever the rule names, flag the secret for rotation.
    return ApplyObligations(tx, caller, released.account, released.decision, options.reason, now);
  };
  // 5. Run records the attempt, in the same write: no audit record, no release. It commits before
  //    any secret opens.
  if (absl::Status s = Run(attempt, presented, *fingerprint, step); !s.ok()) return s;
  return released;
}

absl::StatusOr<TotpCode> Vault::CodeFrom(const AccountRow& account, const storage::SecretRow& sealed,
                                         const std::string& rule) {
  absl::StatusOr<crypto::SecretBytes> uri = sealer_.Open(account.id, kTotp, sealed.version, sealed.sealed);
  if (!uri.ok()) return uri.status();
  absl::StatusOr<crypto::TotpKey> key = crypto::ParseOtpauth(uri->Reveal());
  if (!key.ok()) return absl::DataLossError(absl::StrCat("the stored TOTP key of ", account.name(), " is unreadable"));
  const absl::Time now = clock_.Now();
  absl::StatusOr<uint32_t> code = crypto::Totp(*key, now);
  if (!code.ok()) return code.status();
  TotpCode out;
  out.account = account.name();
  out.code = crypto::FormatOtp(*code, key->digits);
  out.digits = key->digits;
  out.period = key->period;
  out.seconds_left = key->period - static_cast<int>(absl::ToUnixSeconds(now) % key->period);
  out.rule = rule;
  // With few seconds left, the next code too: a person may not type the first in time.
  if (out.seconds_left <= 10) {
    absl::StatusOr<uint32_t> next = crypto::Totp(*key, now + absl::Seconds(key->period));
    if (next.ok()) out.next_code = crypto::FormatOtp(*next, key->digits);
  }
  return out;
}

absl::StatusOr<Login> Vault::ReleaseCredential(const Presented& presented, absl::string_view account,
                                               const ReleaseOptions& options) {
  SealedLogin sealed;
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kReleaseLogin, Action::kReleaseTotp, options,
      [&](Tx& tx, const AccountRow& found, bool with_totp) -> absl::Status {
        sealed = SealedLogin{};
        auto newest = [&](storage::SecretKind kind, storage::SecretState state) {
          return tx.SecretInState(found.id, kind, state);
        };
        absl::StatusOr<std::optional<storage::SecretRow>> password = newest(kPassword, storage::SecretState::kCurrent);
        if (!password.ok()) return password.status();
        if (!password->has_value()) return absl::NotFoundError(absl::StrCat("no password is stored for ", found.name()));
        sealed.password = **password;
        for (auto [row, kind, state] :
             {std::tuple{&sealed.email, kLinkedEmail, storage::SecretState::kCurrent},
              std::tuple{&sealed.pending, kPassword, storage::SecretState::kPending},
              std::tuple{&sealed.totp, kTotp, storage::SecretState::kCurrent}}) {
          if (row == &sealed.totp && !with_totp) break;
          absl::StatusOr<std::optional<storage::SecretRow>> found_row = newest(kind, state);
          if (!found_row.ok()) return found_row.status();
          *row = *std::move(found_row);
        }
        return absl::OkStatus();
      });
  if (!released.ok()) return released.status();
  const AccountRow& found = released->account;
  Login login;
  login.account = found.name();
  login.handle = found.handle;
  login.version = sealed.password.version;
  login.set_at = absl::FromUnixMicros(sealed.password.created_us);
  login.rule = released->decision.rule;
  // Open. A seal that does not open was altered or moved: say so, release nothing.
  absl::StatusOr<crypto::SecretBytes> opened =
      sealer_.Open(found.id, kPassword, sealed.password.version, sealed.password.sealed);
  if (!opened.ok()) return opened.status();
  login.password = *std::move(opened);
  if (sealed.email) {
    absl::StatusOr<crypto::SecretBytes> email = sealer_.Open(found.id, kLinkedEmail, sealed.email->version, sealed.email->sealed);
    if (!email.ok()) return email.status();
    login.linked_email = *std::move(email);
  }
  if (sealed.pending) {
    absl::StatusOr<crypto::SecretBytes> pending =
        sealer_.Open(found.id, kPassword, sealed.pending->version, sealed.pending->sealed);
    if (!pending.ok()) return pending.status();
    login.pending_password = *std::move(pending);
    login.pending_version = sealed.pending->version;
  }
  if (sealed.totp) {
    absl::StatusOr<TotpCode> code = CodeFrom(found, *sealed.totp, login.rule);
    if (!code.ok()) return code.status();
    login.totp = *std::move(code);
  }
  return login;
}

absl::StatusOr<TotpCode> Vault::ReleaseTotpCode(const Presented& presented, absl::string_view account,
                                                const ReleaseOptions& options) {
  // The current key (or, while 2FA is first being set up, only a pending one), and a pending one.
  std::optional<storage::SecretRow> current, pending;
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kReleaseTotp, std::nullopt, options,
      [&](Tx& tx, const AccountRow& found, bool) -> absl::Status {
        absl::StatusOr<std::optional<storage::SecretRow>> now_current = tx.CurrentSecret(found.id, kTotp);
        if (!now_current.ok()) return now_current.status();
        absl::StatusOr<std::optional<storage::SecretRow>> now_pending =
            tx.SecretInState(found.id, kTotp, storage::SecretState::kPending);
        if (!now_pending.ok()) return now_pending.status();
        if (!now_current->has_value() && !now_pending->has_value()) {
          return absl::NotFoundError(absl::StrCat("no TOTP key is stored for ", found.name()));
        }
        current = *std::move(now_current);
        pending = *std::move(now_pending);
        return absl::OkStatus();
      });
  if (!released.ok()) return released.status();
  if (!current) {
    absl::StatusOr<TotpCode> only_pending = CodeFrom(released->account, *pending, released->decision.rule);
    if (!only_pending.ok()) return only_pending.status();
    only_pending->pending_code = only_pending->code;
    return only_pending;
  }
  absl::StatusOr<TotpCode> code = CodeFrom(released->account, *current, released->decision.rule);
  if (!code.ok()) return code.status();
  if (pending) {
    absl::StatusOr<TotpCode> next = CodeFrom(released->account, *pending, released->decision.rule);
    if (!next.ok()) return next.status();
    code->pending_code = next->code;
  }
  return code;
}

absl::StatusOr<crypto::SecretBytes> Vault::ExportTotp(const Presented& presented, absl::string_view account,
                                                      absl::string_view reason) {
  ReleaseOptions options;
  options.reason = std::string(reason);
  storage::SecretRow sealed;
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kExportTotpSeed, std::nullopt, options,
      [&](Tx& tx, const AccountRow& found, bool) -> absl::Status {
        absl::StatusOr<std::optional<storage::SecretRow>> row = tx.CurrentSecret(found.id, kTotp);
        if (!row.ok()) return row.status();
        if (!row->has_value()) return absl::NotFoundError(absl::StrCat("no TOTP key is stored for ", found.name()));
        sealed = **row;
        return absl::OkStatus();
      });
  if (!released.ok()) return released.status();
  return sealer_.Open(released->account.id, kTotp, sealed.version, sealed.sealed);
}

absl::StatusOr<RecoveryCode> Vault::ReleaseRecoveryCode(const Presented& presented, absl::string_view account,
                                                        const ReleaseOptions& options) {
  int remaining = 0;
  storage::SecretRow sealed;
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kReleaseRecoveryCode, std::nullopt, options,
      [&](Tx& tx, const AccountRow& found, bool) -> absl::Status {
        absl::StatusOr<std::vector<storage::SecretRow>> codes = tx.CurrentSecrets(found.id, kRecoveryCode);
        if (!codes.ok()) return codes.status();
        if (codes->empty()) return absl::NotFoundError(absl::StrCat("no recovery codes are left for ", found.name()));
        // One at a time, oldest first; it is used up in the same transaction as its record.
        if (absl::Status s = tx.DestroySecret(codes->front().id); !s.ok()) return s;
        remaining = static_cast<int>(codes->size()) - 1;
        sealed = codes->front();
        return absl::OkStatus();
      });
  if (!released.ok()) return released.status();
  absl::StatusOr<crypto::SecretBytes> code =
      sealer_.Open(released->account.id, kRecoveryCode, sealed.version, sealed.sealed);
  if (!code.ok()) return code.status();
  return RecoveryCode{released->account.name(), *std::move(code), remaining, released->decision.rule};
}

}  // namespace kluis::server
