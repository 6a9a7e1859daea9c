#include "server/vault.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auditfile/export.h"
#include "crypto/aead.h"
#include "crypto/base32.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/password.h"
#include "crypto/random.h"
#include "crypto/signing.h"
#include "crypto/totp.h"
#include "server/audit/audit_log.h"
#include "server/files.h"
#include "server/refusal.h"

namespace kluis::server {

using policies::Action;
using policies::AdminAction;
using policies::Decision;
using storage::AccountRow;
using storage::Tx;

std::string RootKeyPath(const std::string& data_dir) { return data_dir + "/root.sealed"; }
std::string DatabasePath(const std::string& data_dir) { return data_dir + "/vault.db"; }
std::string CaCertificatePath(const std::string& data_dir) { return data_dir + "/ca.pem"; }

namespace {

constexpr absl::string_view kPlatforms[] = {"x",       "instagram", "facebook", "linkedin",
                                           "threads", "tiktok",    "youtube"};
constexpr char kPassword[] = "password";
constexpr char kLinkedEmail[] = "email";
constexpr char kTotp[] = "totp";
constexpr char kRecoveryCode[] = "recovery-code";
constexpr size_t kMaxSecretBytes = 1024;

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// ---- input checks: a precise one-line error, nothing changed ----

// Input quoted in an error message: escaped, and at most 64 bytes of it (a message travels in the
// reply's metadata, and the caller knows what they sent).
std::string Quoted(absl::string_view input) {
  constexpr size_t kShown = 64;
  if (input.size() <= kShown) return absl::StrCat("\"", absl::CHexEscape(input), "\"");
  return absl::StrCat("\"", absl::CHexEscape(input.substr(0, kShown)), "…\" (", input.size(), " bytes)");
}

// The code point of well-formed UTF-8 at `at` (advanced past it), or nothing when the bytes there
// are not UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
std::optional<char32_t> NextCodePoint(absl::string_view text, size_t& at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) {
    ++at;
    return lead;
  }
  int length = 0;
  char32_t c = 0, min = 0;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, c = lead & 0x1f, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, c = lead & 0x0f, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, c = lead & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (text.size() - at < static_cast<size_t>(length)) return std::nullopt;
  for (int i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xc0) != 0x80) return std::nullopt;
    c = (c << 6) | (byte(at + i) & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return std::nullopt;
  at += length;
  return c;
}

// C1 controls, the Unicode bidi embeddings, overrides and isolates, and the zero-width and other
// invisible format characters (Unicode category Cf as far as it hides or reorders text).
bool IsInvisibleOrBidi(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0xad || c == 0x61c || c == 0x180e ||
         (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x2064) ||
         (c >= 0x2066 && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

absl::Status CheckName(absl::string_view what, absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name must be 1 to 64 characters"));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat(what, " name may not be \".\" or \"..\""));
  }
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '-' || c == '_')) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " name may contain only a-z, 0-9, '.', '-' and '_': ", Quoted(name),
          ""));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view what, absl::string_view text, size_t max, bool required) {
  if (required && text.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is required"));
  if (text.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is too long: ", text.size(), " bytes, at most ", max));
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(what, " contains a control character"));
    }
  }
  // Text a reader trusts must show what it says: no invalid UTF-8, and none of the characters that
  // reverse or hide what follows them (a reason that reads "ziek" but sorts or prints otherwise).
  size_t at = 0;
  while (at < text.size()) {
    const std::optional<char32_t> c = NextCodePoint(text, at);
    if (!c.has_value()) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
    if (IsInvisibleOrBidi(*c)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s contains an invisible or direction-changing character (U+%04X)", what, static_cast<uint32_t>(*c)));
    }
  }
  return absl::OkStatus();
}

// A reason that means something: at least the policy's minimum length, spaces aside.
absl::Status CheckMeaningfulReason(absl::string_view reason, const policies::Policy& policy,
                                   absl::string_view what) {
  if (static_cast<int>(absl::StripAsciiWhitespace(reason).size()) < policy.min_reason_length) {
    return Refused(Refusal::kReasonRequired,
                   absl::InvalidArgumentError(absl::StrCat(what, " needs a reason of at least ",
                                                           policy.min_reason_length, " characters")));
  }
  return absl::OkStatus();
}

absl::Status CheckPlatform(absl::string_view platform) {
  for (absl::string_view known : kPlatforms) {
    if (platform == known) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown platform ", Quoted(platform),
      ": use x, instagram, facebook, linkedin, threads, tiktok or youtube"));
}

absl::Status CheckHandle(absl::string_view handle) {
  if (handle.empty() || handle.size() > 64) {
    return absl::InvalidArgumentError("account handle must be 1 to 64 characters");
  }
  if (handle == "." || handle == "..") return absl::InvalidArgumentError("account handle may not be \".\" or \"..\"");
  for (char c : handle) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-')) {
      return absl::InvalidArgumentError(
          absl::StrCat("account handle may contain only letters, digits, '_', '.' and '-': ",
                       Quoted(handle)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEmail(absl::string_view email) {
  if (absl::Status s = CheckText("linked e-mail address", email, 254, true); !s.ok()) return s;
  const size_t at = email.find('@');
  if (at == absl::string_view::npos || at == 0 || at + 1 >= email.size() ||
      email.find('@', at + 1) != absl::string_view::npos || email.find(' ') != absl::string_view::npos) {
    return absl::InvalidArgumentError("linked e-mail address must look like name@domain");
  }
  return absl::OkStatus();
}

// ---- keys ----

absl::StatusOr<crypto::XChaCha20Poly1305> PrivateKeySealer(const crypto::SecretBytes& root) {
  absl::StatusOr<crypto::SecretBytes> key =
      crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kPrivateKeySeal);
  if (!key.ok()) return key.status();
  return crypto::XChaCha20Poly1305::Create(*std::move(key));
}

std::string PkiAssociatedData(absl::string_view name) { return absl::StrCat("kluis/pki/v1/", name); }

// Enrollment codes: 128 random bits, base32 in groups of four for reading aloud.
std::string NormaliseCode(absl::string_view code) {
  std::string normalised;
  for (char c : code) {
    if (c != '-' && c != ' ') normalised.push_back(absl::ascii_toupper(c));
  }
  return normalised;
}

std::string HashCode(absl::string_view code) {
  return crypto::Blake2b256().Update("kluis/enroll/v1").Update(NormaliseCode(code)).Finish();
}

std::string NewCode() {
  const std::string plain = crypto::Base32Encode(crypto::RandomBytes(16));
  std::string grouped;
  for (size_t i = 0; i < plain.size(); ++i) {
    if (i > 0 && i % 4 == 0) grouped.push_back('-');
    grouped.push_back(plain[i]);
  }
  return grouped;
}

// ---- policy inputs ----

std::vector<policies::Binding> PolicyBindings(const std::vector<storage::BindingRow>& rows) {
  std::vector<policies::Binding> bindings;
  for (const storage::BindingRow& row : rows) {
    std::optional<policies::Role> role = policies::ParseRole(row.role);
    std::optional<policies::ScopeKind> scope = policies::ParseScopeKind(row.scope_kind);
    if (!role || !scope) continue;  // an unknown word grants nothing
    policies::Binding binding{*role, *scope, row.scope_id, absl::FromUnixMicros(row.valid_from_us)};
    if (row.valid_until_us) binding.valid_until = absl::FromUnixMicros(*row.valid_until_us);
    bindings.push_back(binding);
  }
  return bindings;
}

policies::Resource ResourceOf(const AccountRow& account) {
  return policies::Resource{account.id, account.team_id, account.unit_id,
                            policies::ParseAccountKind(account.kind),
                            // An unknown state is treated as archived: it releases nothing.
                            policies::ParseAccountState(account.status).value_or(policies::AccountState::kArchived)};
}

std::string RoleOf(const Decision& decision) {
  return decision.role ? std::string(policies::RoleName(*decision.role)) : "";
}

// Notes what the rules decided in the event that records the attempt.
void NoteDecision(audit::AuditEvent& event, const Decision& decision) {
  event.role = RoleOf(decision);
  event.rule = decision.rule;
  event.decision = decision.allows() ? "allow" : "deny";
  event.outcome = decision.allows() ? "ok" : "permission-denied";
}

audit::AuditEvent Event(const Caller& caller, absl::string_view action, absl::string_view account,
                        const Decision& decision, absl::string_view reason,
                        std::optional<int64_t> unit_id) {
  audit::AuditEvent event;
  event.actor = caller.user;
  event.certificate = caller.fingerprint;
  event.action = std::string(action);
  event.account = std::string(account);
  event.reason = std::string(reason);
  event.peer = caller.peer;
  event.unit_id = unit_id;
  NoteDecision(event, decision);
  return event;
}

absl::StatusOr<std::unique_ptr<audit::Checkpointer>> MakeCheckpointer(const crypto::SecretBytes& root,
                                                                       int64_t every_records, absl::Duration every) {
  absl::StatusOr<crypto::SecretBytes> seed = crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kAuditSigning);
  if (!seed.ok()) return seed.status();
  absl::StatusOr<crypto::Ed25519Signer> signer = crypto::Ed25519Signer::FromSeed(*seed);
  if (!signer.ok()) return signer.status();
  return std::make_unique<audit::Checkpointer>(*std::move(signer), every_records, every);
}

absl::Status DeniedError(const Decision& decision, absl::string_view what) {
  // Exit codes by class (DESIGN.md §9): a missing reason is bad input (1), not a denial (2).
  if (decision.reason_too_short) {
    return Refused(Refusal::kReasonRequired, absl::InvalidArgumentError(decision.explanation));
  }
  if (!decision.explanation.empty()) {
    const std::string& text = decision.explanation;
    if (decision.verdict == policies::Verdict::kNeedsApproval) {
      return Refused(decision.grant_not_usable ? Refusal::kGrantNotUsable : Refusal::kNeedsApproval,
                     absl::FailedPreconditionError(absl::StrCat("needs approval: ", text)));
    }
    return absl::PermissionDeniedError(absl::StrCat("you may not ", what, ": ", text));
  }
  return absl::PermissionDeniedError(
      absl::StrCat(decision.role ? absl::StrCat("as ", policies::RoleName(*decision.role), ", you")
                                 : std::string("you"),
                   " may not ", what, " (rule ", decision.rule, ")"));
}

Decision DeniedBy(std::string rule) { return Decision{policies::Verdict::kDeny, std::move(rule), {}}; }

absl::Status UserDisabled(absl::string_view user) {
  return Refused(Refusal::kUserDisabled, absl::FailedPreconditionError(absl::StrCat("user ", user, " is disabled")));
}

// Finds the account named `name` ("platform/handle" or a bare handle) among the accounts the
// caller may see. A missing account and one outside the caller's scope get the same answer.
absl::StatusOr<AccountRow> ResolveVisibleAccount(Tx& tx, const Caller& caller,
                                                 absl::string_view name, absl::Time now) {
  if (name.empty()) return absl::InvalidArgumentError("account is required (PLATFORM/HANDLE)");
  if (name.size() > 200) return absl::InvalidArgumentError("account name is too long");
  std::optional<absl::string_view> platform;
  absl::string_view handle = name;
  if (const size_t slash = name.find('/'); slash != absl::string_view::npos) {
    platform = name.substr(0, slash);
    handle = name.substr(slash + 1);
  }
  const absl::Status not_found = absl::NotFoundError(
      absl::StrCat("no account ", Quoted(name), " that you have a role on"));
  if (!CheckHandle(handle).ok() || (platform && !CheckPlatform(*platform).ok())) return not_found;
  absl::StatusOr<std::vector<AccountRow>> found = tx.FindAccounts(handle, platform);
  if (!found.ok()) return found.status();
  std::vector<AccountRow> visible;
  for (AccountRow& account : *found) {
    if (policies::DecideAdmin(caller.policy_bindings, ResourceOf(account), AdminAction::kViewAccount, now)
            .allows()) {
      visible.push_back(std::move(account));
    }
  }
  if (visible.empty()) return not_found;
  if (visible.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("handle \"", handle,
                                                   "\" is on several platforms: name it as "
                                                   "PLATFORM/",
                                                   handle));
  }
  return visible.front();
}

// The opening of every use case on one account: find it among the accounts the caller may see,
// note it in the event, and decide `action` by the release rules. A refusal is the error (and
// the decision stays noted in the event, which RunAudited records).
struct Decided {
  AccountRow account;
  Decision decision;
};
absl::StatusOr<Decided> ResolveAndDecide(Tx& tx, const Caller& caller, const policies::Policy& policy,
                                         absl::string_view account, Action action,
                                         const policies::ReleaseContext& context, absl::Time now,
                                         audit::AuditEvent& event, absl::string_view verb) {
  absl::StatusOr<AccountRow> found = ResolveVisibleAccount(tx, caller, account, now);
  if (!found.ok()) return found.status();
  event.account = found->name();
  event.unit_id = found->unit_id;
  Decision decision = policies::Decide(policy, caller.policy_bindings, ResourceOf(*found), action, context, now);
  NoteDecision(event, decision);
  if (!decision.allows()) return DeniedError(decision, absl::StrCat(verb, " ", found->name()));
  return Decided{*std::move(found), std::move(decision)};
}

absl::StatusOr<AccountView> ViewOf(Tx& tx, const AccountRow& account, absl::Time now) {
  AccountView view;
  view.account = account;
  absl::StatusOr<std::optional<storage::SecretRow>> password = tx.CurrentSecret(account.id, kPassword);
  if (!password.ok()) return password.status();
  if (password->has_value()) {
    view.has_password = true;
    view.password_set_at = absl::FromUnixMicros((*password)->created_us);
  }
  absl::StatusOr<std::optional<storage::SecretRow>> email = tx.CurrentSecret(account.id, kLinkedEmail);
  if (!email.ok()) return email.status();
  view.has_linked_email = email->has_value();
  absl::StatusOr<std::optional<storage::SecretRow>> totp = tx.CurrentSecret(account.id, kTotp);
  if (!totp.ok()) return totp.status();
  view.has_totp = totp->has_value();
  absl::StatusOr<std::vector<storage::SecretRow>> codes = tx.CurrentSecrets(account.id, kRecoveryCode);
  if (!codes.ok()) return codes.status();
  view.recovery_codes_left = static_cast<int>(codes->size());
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> beheerders =
      tx.UsersWithRole("account", account.id, "beheerder", Micros(now));
  if (!beheerders.ok()) return beheerders.status();
  for (auto& [id, name] : *beheerders) view.beheerders.push_back(std::move(name));
  return view;
}

std::string OutcomeName(const absl::Status& status) {
  std::string code = absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
  std::replace(code.begin(), code.end(), '_', '-');
  return code;
}

// Notes in `event` that the attempt failed with `why`: denied unless a decision says otherwise,
// by the rule that refused it ("input" when no rule did), and how it ended.
void NoteFailure(audit::AuditEvent& event, const absl::Status& why) {
  if (event.decision.empty()) event.decision = "deny";
  if (event.rule.empty()) event.rule = "input";
  event.outcome = OutcomeName(why);
}

// Notes in `event` that the call was refused by Vault::StillCurrent with `why`.
void NoteChangedDuringCall(audit::AuditEvent& event, const absl::Status& why) {
  if (absl::IsAborted(why)) {  // otherwise a storage error, recorded as such
    event.decision = "deny";
    event.rule = "auth.changed-during-call";
  }
  NoteFailure(event, why);
}

// The fingerprint a release or an authentication looks the caller up by.
absl::StatusOr<std::string> FingerprintOf(const Presented& presented) {
  absl::StatusOr<std::string> fingerprint = crypto::CertificateFingerprint(presented.certificate_pem);
  if (!fingerprint.ok()) return absl::UnauthenticatedError("client certificate is unreadable");
  return fingerprint;
}

std::optional<policies::RequestDecision> DecisionOf(const std::optional<std::string>& decision,
                                                    const std::string& by,
                                                    std::optional<int64_t> at_us,
                                                    const std::string& reason,
                                                    std::optional<int64_t> ttl_us) {
  if (!decision.has_value() || !at_us.has_value()) return std::nullopt;
  policies::RequestDecision d;
  d.approve = *decision == "approve";
  d.by = by;
  d.at = absl::FromUnixMicros(*at_us);
  d.reason = reason;
  if (ttl_us.has_value()) d.ttl = absl::Microseconds(*ttl_us);
  return d;
}

policies::AccessRequest RequestOf(const storage::RequestRow& row) {
  policies::AccessRequest r;
  r.id = row.id;
  r.account_id = row.account_id;
  r.requester_id = row.requester_id;
  r.requester = row.requester;
  r.rule_id = row.rule_id;
  r.purpose = row.purpose;
  r.reason = row.reason;
  r.created = absl::FromUnixMicros(row.created_us);
  r.decision = DecisionOf(row.decision, row.decided_by, row.decided_us, row.decision_reason,
                          row.grant_ttl_us);
  if (row.escalated_us) r.escalated = absl::FromUnixMicros(*row.escalated_us);
  r.escalation_decision =
      DecisionOf(row.escalation_decision, row.escalation_decided_by, row.escalation_decided_us,
                 row.escalation_reason, row.escalation_ttl_us);
  if (row.used_us) r.used = absl::FromUnixMicros(*row.used_us);
  return r;
}

RequestView ViewOfRequest(const storage::RequestRow& row, const std::string& account,
                          const policies::Policy& policy, absl::Time now) {
  policies::AccessRequest request = RequestOf(row);
  const policies::RequestStatus status = policies::DeriveStatus(request, policy, now);
  return RequestView{std::move(request), account, status};
}

// The active users who hold `role` on the account: on the account itself, its team, its unit, or
// globally, as the role is granted.
absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> UsersHolding(Tx& tx, policies::Role role,
                                                                          const AccountRow& account,
                                                                          absl::Time now) {
  std::vector<std::pair<int64_t, std::string>> users;
  for (policies::ScopeKind scope : policies::AllowedScopes(role)) {
    const int64_t id = scope == policies::ScopeKind::kAccount ? account.id
                       : scope == policies::ScopeKind::kTeam  ? account.team_id
                       : scope == policies::ScopeKind::kUnit  ? account.unit_id
                                                              : 0;
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> found = tx.UsersWithRole(
        policies::ScopeKindName(scope), id, policies::RoleName(role), Micros(now));
    if (!found.ok()) return found.status();
    for (auto& user : *found) {
      if (std::find(users.begin(), users.end(), user) == users.end()) users.push_back(std::move(user));
    }
  }
  return users;
}

// Puts a notice in the inbox of everyone who holds one of `roles` on the account.
absl::Status NotifyHolders(Tx& tx, const AccountRow& account, const std::vector<policies::Role>& roles,
                           absl::string_view kind, std::optional<int64_t> request_id,
                           const std::string& text, absl::Time now) {
  std::vector<int64_t> told;
  for (policies::Role role : roles) {
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> users = UsersHolding(tx, role, account, now);
    if (!users.ok()) return users.status();
    for (const auto& [id, name] : *users) {
      if (std::find(told.begin(), told.end(), id) != told.end()) continue;
      told.push_back(id);
      if (absl::Status s = tx.InsertNotification({0, id, std::string(kind), account.name(), request_id,
                                                  text, Micros(now)});
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

// Carries out what an allowing decision obliges, inside the transaction of the act itself: spend
// the single-use grant, tell whoever the rule names, flag the account for rotation. `what` names
// the act for the notice and the flag ("handover"); by default a (break-glass) release.
absl::Status ApplyObligations(Tx& tx, const Caller& caller, const AccountRow& account,
                              const Decision& decision, absl::string_view reason, absl::Time now,
                              absl::string_view what = {}) {
  const policies::Obligations& o = decision.obligations;
  if (o.consume_request != 0) {
    if (absl::Status s = tx.MarkRequestUsed(o.consume_request, Micros(now)); !s.ok()) return s;
  }
  const std::string act = !what.empty() ? std::string(what) : o.break_glass ? "break-glass release" : "release";
  std::vector<policies::Role> roles;
  for (policies::Notify notify : o.notify) {
    roles.push_back(notify == policies::Notify::kBeheerders ? policies::Role::kBeheerder
                    : notify == policies::Notify::kTeamchefs ? policies::Role::kTeamchef
                                                             : policies::Role::kRegisseur);
  }
  if (!roles.empty()) {
    if (absl::Status s = NotifyHolders(
            tx, account, roles, !what.empty() ? what : o.break_glass ? "break-glass" : "release",
            o.consume_request != 0 ? std::optional<int64_t>(o.consume_request) : std::nullopt,
            absl::StrCat(act, " of ", account.name(), " by ", caller.user, " (",
                         decision.role ? policies::RoleName(*decision.role) : "", ", rule ",
                         decision.rule, "): ", reason),
            now);
        !s.ok()) {
      return s;
    }
  }
  if (o.raise_rotation_flag) {
    return tx.RaiseRotationFlag(account.id, absl::StrCat(act, " by ", caller.user, " (", decision.rule, ")"),
                                caller.user, Micros(now));
  }
  return absl::OkStatus();
}

// Raises a rotation flag on every account that `bindings` could have released a login of, with
// `cause`: someone who could release it is gone, so the password may be known outside.
absl::Status FlagReleasable(Tx& tx, const policies::Policy& policy,
                            const std::vector<policies::Binding>& bindings, absl::string_view cause,
                            absl::string_view raised_by, absl::Time now) {
  if (bindings.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<AccountRow>> accounts = tx.ListAccounts();
  if (!accounts.ok()) return accounts.status();
  const policies::ReleaseContext plain{0, false, std::string(policy.min_reason_length + 8, 'x')};
  const policies::ReleaseContext emergency{0, true, plain.reason};
  for (const AccountRow& account : *accounts) {
    const bool could = policies::Decide(policy, bindings, ResourceOf(account), Action::kReleaseLogin, plain, now).allows() ||
                       policies::Decide(policy, bindings, ResourceOf(account), Action::kReleaseLogin, emergency, now).allows();
    if (!could) continue;
    if (absl::Status s = tx.RaiseRotationFlag(account.id, cause, raised_by, Micros(now)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The active user named `name`: not found, or refused when disabled.
absl::StatusOr<storage::UserRow> FindActiveUser(Tx& tx, absl::string_view name) {
  absl::StatusOr<std::optional<storage::UserRow>> user = tx.FindUser(name);
  if (!user.ok()) return user.status();
  if (!user->has_value()) return absl::NotFoundError(absl::StrCat("no user ", Quoted(name)));
  if (!(*user)->active) return UserDisabled(name);
  return **user;
}

// Binds `user_id` as `role` on the account, unless that binding is there already.
absl::Status BindOnAccount(Tx& tx, int64_t user_id, absl::string_view role, const AccountRow& account,
                           absl::Time now, absl::string_view by) {
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders =
      tx.UsersWithRole("account", account.id, role, Micros(now));
  if (!holders.ok()) return holders.status();
  if (std::any_of(holders->begin(), holders->end(), [&](const auto& h) { return h.first == user_id; })) {
    return absl::OkStatus();
  }
  storage::BindingRow binding;
  binding.user_id = user_id;
  binding.role = std::string(role);
  binding.scope_kind = "account";
  binding.scope_id = account.id;
  binding.valid_from_us = Micros(now);
  binding.granted_by = std::string(by);
  return tx.InsertBinding(binding).status();
}

// Finds the scope object of a role binding by name; its id and unit for the audit record.
struct ScopeTarget {
  int64_t id = 0;
  std::optional<int64_t> unit_id;
  std::string name;
};

absl::StatusOr<ScopeTarget> ResolveScope(Tx& tx, const Caller& caller, policies::ScopeKind scope,
                                         absl::string_view name, absl::Time now) {
  switch (scope) {
    case policies::ScopeKind::kGlobal:
      return ScopeTarget{0, std::nullopt, "global"};
    case policies::ScopeKind::kUnit: {
      absl::StatusOr<std::optional<storage::UnitRow>> unit = tx.FindUnit(name);
      if (!unit.ok()) return unit.status();
      if (!unit->has_value()) return absl::NotFoundError(absl::StrCat("no unit ", Quoted(name)));
      return ScopeTarget{(*unit)->id, (*unit)->id, (*unit)->name};
    }
    case policies::ScopeKind::kTeam: {
      absl::string_view unit_name, team_name = name;
      if (const size_t slash = name.find('/'); slash != absl::string_view::npos) {
        unit_name = name.substr(0, slash);
        team_name = name.substr(slash + 1);
      }
      absl::StatusOr<std::vector<storage::TeamRow>> teams = tx.FindTeams(team_name);
      if (!teams.ok()) return teams.status();
      std::vector<storage::TeamRow> matching;
      for (storage::TeamRow& team : *teams) {
        if (unit_name.empty() || team.unit_name == unit_name) matching.push_back(std::move(team));
      }
      if (matching.empty()) return absl::NotFoundError(absl::StrCat("no team ", Quoted(name)));
      if (matching.size() > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("team \"", name, "\" exists in several units: name it as UNIT/", name));
      }
      return ScopeTarget{matching[0].id, matching[0].unit_id,
                         absl::StrCat(matching[0].unit_name, "/", matching[0].name)};
    }
    case policies::ScopeKind::kAccount: {
      absl::StatusOr<AccountRow> account = ResolveVisibleAccount(tx, caller, name, now);
      if (!account.ok()) return account.status();
      return ScopeTarget{account->id, account->unit_id, account->name()};
    }
  }
  return absl::InvalidArgumentError("unknown scope");
}

}  // namespace

// ===================================================================================== lifecycle

absl::StatusOr<InitResult> Vault::Init(const InitOptions& options,
                                       const crypto::SecretBytes& passphrase, Clock& clock) {
  if (absl::Status s = CheckName("admin user", options.admin_user); !s.ok()) return s;
  if (Exists(RootKeyPath(options.data_dir)) || Exists(DatabasePath(options.data_dir))) {
    return absl::AlreadyExistsError(absl::StrCat("a vault already exists in ", options.data_dir,
                                                 "; refusing to overwrite it"));
  }
  if (::mkdir(options.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.data_dir, ": ", std::strerror(errno)));
  }
  absl::StatusOr<DataDirLock> lock = DataDirLock::Acquire(options.data_dir);
  if (!lock.ok()) return lock.status();
  const absl::Time now = clock.Now();

  crypto::SecretBytes root;
  absl::StatusOr<std::string> sealed_root =
      crypto::RootKey::CreateSealed(passphrase, options.argon2, &root);
  if (!sealed_root.ok()) return sealed_root.status();
  absl::StatusOr<crypto::SecretBytes> db_key =
      crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kDatabase);
  if (!db_key.ok()) return db_key.status();

  // The certificate authority and the server's TLS identity, their keys sealed under the root.
  absl::StatusOr<crypto::KeyAndCertificate> ca_material =
      crypto::CertificateAuthority::CreateNew("Kluis vault CA", now);
  if (!ca_material.ok()) return ca_material.status();
  absl::StatusOr<crypto::CertificateAuthority> ca = crypto::CertificateAuthority::Create(
      ca_material->private_key_pem.Clone(), ca_material->certificate_pem);
  if (!ca.ok()) return ca.status();
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  if (const size_t colon = options.listen.rfind(':'); colon != std::string::npos) {
    std::string host = options.listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    // A wildcard listen address (all zeros, IPv4 or IPv6) names no host to put in a certificate.
    const bool wildcard = host.find_first_not_of("0.:") == std::string::npos;
    if (!host.empty() && !wildcard) names.push_back(host);
  }
  names.insert(names.end(), options.server_names.begin(), options.server_names.end());
  std::sort(names.begin() + 3, names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  absl::StatusOr<crypto::KeyAndCertificate> server_material = ca->IssueServerCertificate(names, now);
  if (!server_material.ok()) return server_material.status();
  absl::StatusOr<crypto::XChaCha20Poly1305> pki_sealer = PrivateKeySealer(root);
  if (!pki_sealer.ok()) return pki_sealer.status();

  absl::StatusOr<std::unique_ptr<storage::Database>> db =
      storage::Database::Open(DatabasePath(options.data_dir), *db_key, storage::Database::Mode::kCreate);
  if (!db.ok()) return db.status();

  const EnrollmentCode admin_code{NewCode(), now + kEnrollmentCodeLifetime};
  absl::Status stored = (*db)->Write([&](Tx& tx) -> absl::Status {
    for (auto [name, material] : {std::pair{"ca", &*ca_material}, std::pair{"server", &*server_material}}) {
      if (absl::Status s = tx.PutPki(name, material->certificate_pem,
                                     pki_sealer->Seal(material->private_key_pem.Reveal(),
                                                      PkiAssociatedData(name)));
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = tx.PutMeta("listen", options.listen); !s.ok()) return s;
    if (absl::Status s = tx.PutMeta("created", absl::FormatTime(now)); !s.ok()) return s;
    // The first operator: the only binding nobody grants, because nobody exists yet.
    absl::StatusOr<int64_t> admin = tx.InsertUser(options.admin_user, options.admin_user, Micros(now));
    if (!admin.ok()) return admin.status();
    storage::BindingRow binding;
    binding.user_id = *admin;
    binding.role = "operator";
    binding.scope_kind = "global";
    binding.valid_from_us = Micros(now);
    binding.granted_by = "kluisd-init";
    if (absl::StatusOr<int64_t> id = tx.InsertBinding(binding); !id.ok()) return id.status();
    if (absl::Status s = tx.InsertEnrollmentCode(*admin, HashCode(admin_code.code), Micros(now),
                                                 Micros(admin_code.expires_at));
        !s.ok()) {
      return s;
    }
    audit::AuditEvent event;
    event.actor = "kluisd-init";
    event.action = "init";
    event.decision = "allow";
    event.rule = "init.first-operator";
    event.reason = absl::StrCat("vault created; operator ", options.admin_user);
    event.outcome = "ok";
    return audit::Append(tx, event, now).status();
  });
  if (stored.ok()) {
    stored = WriteFileAtomically(CaCertificatePath(options.data_dir), ca_material->certificate_pem, 0644);
  }
  // The sealed root key is written last: a vault without it is not a vault, and a failed init
  // leaves nothing that a second init would refuse.
  if (stored.ok()) stored = WriteFileAtomically(RootKeyPath(options.data_dir), *sealed_root, 0600);
  if (!stored.ok()) {
    db->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      ::unlink((DatabasePath(options.data_dir) + suffix).c_str());
    }
    return stored;
  }
  absl::StatusOr<std::string> fingerprint = crypto::CertificateFingerprint(ca_material->certificate_pem);
  if (!fingerprint.ok()) return fingerprint.status();
  return InitResult{admin_code, *fingerprint, CaCertificatePath(options.data_dir)};
}

absl::StatusOr<std::unique_ptr<storage::Database>> OpenVaultDatabase(const std::string& data_dir,
                                                                     const crypto::SecretBytes& root) {
  absl::StatusOr<crypto::SecretBytes> db_key = crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kDatabase);
  if (!db_key.ok()) return db_key.status();
  absl::StatusOr<std::unique_ptr<storage::Database>> db =
      storage::Database::Open(DatabasePath(data_dir), *db_key, storage::Database::Mode::kOpenExisting);
  // The root key opened, so the passphrase is right: a database that does not open with the key
  // derived from it is damaged (its first page, say) or another vault's, not a wrong passphrase.
  if (!db.ok() && db.status().code() == absl::StatusCode::kPermissionDenied) {
    return absl::DataLossError(absl::StrCat(
        DatabasePath(data_dir), " does not open with this vault's key although the passphrase is right: "
        "the database is damaged, or it is another vault's (restore it from a backup)"));
  }
  return db;
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::Open(const std::string& data_dir,
                                                   const crypto::SecretBytes& passphrase,
                                                   Clock& clock, policies::Policy policy) {
  if (!Exists(RootKeyPath(data_dir))) {
    return absl::NotFoundError(absl::StrCat("no vault in ", data_dir, " (run kluisd init first)"));
  }
  absl::StatusOr<std::string> sealed_root = ReadWholeFile(RootKeyPath(data_dir));
  if (!sealed_root.ok()) return sealed_root.status();
  absl::StatusOr<crypto::SecretBytes> root = crypto::RootKey::Open(*sealed_root, passphrase);
  if (!root.ok()) return root.status();
  // One process at a time serves a data directory: taken before the database is opened, so a
  // second server does not even sweep (and after the passphrase, so a wrong one leaves no file).
  absl::StatusOr<DataDirLock> lock = DataDirLock::Acquire(data_dir);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<std::unique_ptr<storage::Database>> db = OpenVaultDatabase(data_dir, *root);
  if (!db.ok()) return db.status();
  // Damage anywhere in the file is named now, not in the middle of somebody's call.
  if (absl::Status s = (*db)->CheckIntegrity(/*quick=*/true); !s.ok()) return s;
  absl::StatusOr<SecretSealer> sealer = SecretSealer::Create(*root, /*key_version=*/1);
  if (!sealer.ok()) return sealer.status();
  absl::StatusOr<std::unique_ptr<audit::Checkpointer>> checkpointer =
      MakeCheckpointer(*root, kCheckpointEveryRecords, kCheckpointEvery);
  if (!checkpointer.ok()) return checkpointer.status();
  // A broken chain means the log was altered behind the vault's back: refuse to serve on it. The
  // last signed checkpoint vouches for what comes before it.
  absl::Status chain = (*db)->Read([&](Tx& tx) {
    return audit::VerifyFromLastCheckpoint(tx, (*checkpointer)->public_key()).status();
  });
  if (!chain.ok()) {
    return absl::DataLossError(absl::StrCat("refusing to serve: ", chain.message()));
  }
  // Previous versions past their retention are destroyed at start (and after each rotation).
  const int64_t cutoff = Micros(clock.Now() - policy.previous_retention);
  // So are the secrets of accounts stopped longer ago than their retention (R8).
  const int64_t stopped_cutoff = Micros(clock.Now() - policy.stopped_retention);
  if (absl::Status swept = (*db)->Write([&](Tx& tx) -> absl::Status {
        if (absl::Status s = tx.DestroyPreviousBefore(cutoff).status(); !s.ok()) return s;
        return tx.DestroyStoppedBefore(stopped_cutoff).status();
      });
      !swept.ok()) {
    return swept;
  }
  return std::unique_ptr<Vault>(new Vault(*std::move(lock), *std::move(db), *std::move(root),
                                          *std::move(sealer), *std::move(checkpointer), clock,
                                          std::move(policy)));
}

absl::StatusOr<ServerIdentity> Vault::Identity() {
  ServerIdentity identity;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::PkiRow>> server = tx.GetPki("server");
    if (!server.ok()) return server.status();
    absl::StatusOr<std::optional<storage::PkiRow>> ca = tx.GetPki("ca");
    if (!ca.ok()) return ca.status();
    if (!server->has_value() || !ca->has_value()) {
      return absl::DataLossError("the vault has no TLS identity");
    }
    absl::StatusOr<crypto::XChaCha20Poly1305> sealer = PrivateKeySealer(root_);
    if (!sealer.ok()) return sealer.status();
    absl::StatusOr<crypto::SecretBytes> key =
        sealer->Open((*server)->sealed_key, PkiAssociatedData("server"));
    if (!key.ok()) return absl::DataLossError("the server's sealed TLS key does not open");
    identity.private_key_pem = *std::move(key);
    identity.certificate_pem = (*server)->certificate_pem;
    identity.ca_certificate_pem = (*ca)->certificate_pem;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return identity;
}

absl::StatusOr<std::string> Vault::DefaultListenAddress() {
  std::string listen = "127.0.0.1:7443";
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<std::string>> value = tx.GetMeta("listen");
    if (!value.ok()) return value.status();
    if (value->has_value()) listen = **value;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return listen;
}

std::shared_ptr<const policies::Policy> Vault::policy() const {
  absl::MutexLock lock(&policy_mu_);
  return policy_;
}

absl::Status Vault::ReloadPolicy(const std::string& path) {
  const absl::Time now = clock_.Now();
  absl::StatusOr<policies::Policy> loaded = absl::NotFoundError(absl::StrCat("cannot read policy file ", path));
  if (std::ifstream in(path, std::ios::binary); in) {
    std::ostringstream text;
    text << in.rdbuf();
    loaded = text.str().size() > 1024 * 1024
                 ? absl::InvalidArgumentError(absl::StrCat(path, ": policy file larger than 1 MiB"))
                 : policies::ParsePolicy(text.str(), path);
  }
  audit::AuditEvent event;
  event.actor = "kluisd";
  event.action = "policy-reload";
  event.decision = loaded.ok() ? "allow" : "deny";
  event.rule = loaded.ok() ? "policy.valid" : "policy.invalid";
  event.reason = loaded.ok() ? absl::StrCat(path, ": policy \"", loaded->name, "\", ",
                                            loaded->rules.size(), " rules")
                             : std::string(loaded.status().message());
  event.outcome = loaded.ok() ? "ok" : OutcomeName(loaded.status());
  // The new rules count from the moment the record of them is durable.
  if (absl::Status s = db_->Write([&](Tx& tx) { return Record(tx, event, now); }); !s.ok()) return s;
  if (!loaded.ok()) return loaded.status();
  absl::MutexLock lock(&policy_mu_);
  policy_ = std::make_shared<const policies::Policy>(*std::move(loaded));
  return absl::OkStatus();
}

// ====================================================================================== identity

absl::StatusOr<Vault::Identified> Vault::Identify(Tx& tx, absl::string_view fingerprint, const Presented& presented,
                                                  absl::Time now) {
  Identified who;
  who.caller.fingerprint = std::string(fingerprint);
  who.caller.peer = presented.peer;
  absl::StatusOr<std::optional<storage::CertificateRow>> certificate = tx.FindCertificate(fingerprint);
  if (!certificate.ok()) return certificate.status();
  std::optional<storage::UserRow> user;
  if (certificate->has_value()) {
    absl::StatusOr<std::optional<storage::UserRow>> found = tx.FindUserById((*certificate)->user_id);
    if (!found.ok()) return found.status();
    user = *found;
  }
  if (user.has_value() && !(*certificate)->revoked_us.has_value() && user->active) {
    who.caller.user_id = user->id;
    who.caller.user = user->name;
    absl::StatusOr<std::vector<storage::BindingRow>> bindings = tx.ActiveBindings(user->id, Micros(now));
    if (!bindings.ok()) return bindings.status();
    who.caller.bindings = *std::move(bindings);
    who.caller.policy_bindings = PolicyBindings(who.caller.bindings);
    return who;  // a successful authentication is not a record of its own
  }
  // A refused caller is recorded, with the user when the certificate names one we know.
  audit::AuditEvent& refusal = who.refusal;
  if (!user.has_value()) {
    absl::StatusOr<std::string> cn = crypto::CertificateCommonName(presented.certificate_pem);
    refusal.actor = absl::StrCat("unknown:", cn.ok() ? *cn : "?");
    refusal.rule = "auth.unknown-certificate";
    who.refused = absl::UnauthenticatedError("client certificate is not known to this vault");
  } else {
    refusal.actor = user->name;
    refusal.rule = user->active ? "auth.certificate-revoked" : "auth.user-disabled";
    who.refused = absl::UnauthenticatedError(
        absl::StrCat("user ", user->name, user->active ? ": certificate revoked" : " is disabled"));
  }
  refusal.certificate = std::string(fingerprint);
  refusal.action = "authenticate";
  refusal.decision = "deny";
  refusal.peer = presented.peer;
  refusal.outcome = "unauthenticated";
  return who;
}

absl::StatusOr<Caller> Vault::Authenticate(const Presented& presented) {
  absl::StatusOr<std::string> fingerprint = FingerprintOf(presented);
  if (!fingerprint.ok()) return fingerprint.status();
  const absl::Time now = clock_.Now();
  // A read: only a refusal (rare) takes a write, to record it. (Releases identify their caller in
  // their own write instead, see Release.)
  std::optional<Identified> who;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<Identified> identified = Identify(tx, *fingerprint, presented, now);
    if (!identified.ok()) return identified.status();
    who = *std::move(identified);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (who->refused.ok()) return std::move(who->caller);
  absl::Status stored = db_->Write([&](Tx& tx) { return Record(tx, who->refusal, now); },
                                   storage::Database::Failure::kBeforeChanging);
  if (!stored.ok()) return stored;
  return who->refused;
}

absl::StatusOr<Enrolled> Vault::Enroll(absl::string_view user_name, absl::string_view code,
                                       absl::string_view request_pem, absl::string_view peer) {
  if (absl::Status s = CheckName("user", user_name); !s.ok()) return s;
  if (code.empty() || code.size() > 64) return absl::InvalidArgumentError("enrollment code is malformed");
  if (request_pem.empty() || request_pem.size() > 16 * 1024) {
    return absl::InvalidArgumentError("certificate request is missing or too large");
  }
  const absl::Time now = clock_.Now();
  Enrolled enrolled;
  absl::Status outcome;
  absl::Status stored = db_->Write([&](Tx& tx) -> absl::Status {
    audit::AuditEvent event;
    event.actor = std::string(user_name);
    event.action = "enroll";
    event.peer = std::string(peer);
    // Refusals commit too: the attempt counter and the audit record must survive the refusal.
    auto refuse = [&](std::string rule, absl::Status error) {
      outcome = std::move(error);
      event.decision = "deny";
      event.rule = std::move(rule);
      event.outcome = "unauthenticated";
      return Record(tx, event, now);
    };
    absl::StatusOr<std::optional<storage::UserRow>> user = tx.FindUser(user_name);
    if (!user.ok()) return user.status();
    std::optional<storage::EnrollmentCodeRow> stored_code;
    if (user->has_value() && (*user)->active) {
      absl::StatusOr<std::optional<storage::EnrollmentCodeRow>> latest =
          tx.LatestEnrollmentCode((*user)->id);
      if (!latest.ok()) return latest.status();
      stored_code = *latest;
    }
    // Until the caller proves the code, every failure reads the same: nothing about whether the
    // user exists or has a code.
    const absl::Status invalid = absl::UnauthenticatedError("invalid enrollment code");
    if (!stored_code.has_value() || stored_code->revoked_us.has_value()) {
      return refuse("enroll.no-valid-code", invalid);
    }
    const bool locked = stored_code->attempts >= kEnrollmentAttempts;
    if (!crypto::SecretBytes::CopyFrom(HashCode(code))
             .Equals(crypto::SecretBytes::CopyFrom(stored_code->code_hash))) {
      if (absl::Status s = tx.CountEnrollmentAttempt(stored_code->id); !s.ok()) return s;
      return refuse(locked ? "enroll.locked" : "enroll.wrong-code", invalid);
    }
    // Only who holds the code learns that it is locked: to anyone else a locked code, a wrong one
    // and a user without one read the same.
    if (locked) {
      return refuse("enroll.locked", absl::UnauthenticatedError("enrollment code locked after too many wrong "
                                                                "attempts: ask the operator for a new one"));
    }
    if (stored_code->used_us.has_value()) {
      return refuse("enroll.code-used", absl::UnauthenticatedError(
                                            "enrollment code already used: ask the operator for a new one"));
    }
    if (Micros(now) >= stored_code->expires_us) {
      return refuse("enroll.code-expired", absl::UnauthenticatedError(
                                               "enrollment code expired: ask the operator for a new one"));
    }
    absl::StatusOr<crypto::CertificateAuthority> ca = LoadCa(tx);
    if (!ca.ok()) return ca.status();
    absl::StatusOr<std::string> certificate =
        ca->IssueClientCertificate(request_pem, user_name, now, kClientCertificateLifetime);
    if (!certificate.ok()) {
      // A bad request does not use up the code: the user can try again with a good one.
      return refuse("enroll.bad-request", certificate.status());
    }
    absl::StatusOr<std::string> fingerprint = crypto::CertificateFingerprint(*certificate);
    if (!fingerprint.ok()) return fingerprint.status();
    // A new enrollment replaces the user's earlier certificates: a laptop that was replaced (or
    // lost, and the user enrolled anew) no longer gets in.
    absl::StatusOr<int> revoked = tx.RevokeCertificates((*user)->id, Micros(now), "replaced by a new enrollment");
    if (!revoked.ok()) return revoked.status();
    if (absl::Status s = tx.InsertCertificate({*fingerprint, (*user)->id, Micros(now),
                                               Micros(now + kClientCertificateLifetime), {}});
        !s.ok()) {
      return s;
    }
    if (absl::Status s = tx.MarkEnrollmentCodeUsed(stored_code->id, Micros(now)); !s.ok()) return s;
    enrolled = Enrolled{(*user)->name, *certificate, ca->certificate_pem(), *fingerprint, *revoked};
    event.decision = "allow";
    event.rule = "enroll.code-valid";
    event.reason = absl::StrCat("certificate ", *fingerprint, "; earlier certificates revoked: ", *revoked);
    event.outcome = "ok";
    return Record(tx, event, now);
  });
  if (!stored.ok()) return stored;
  if (!outcome.ok()) return outcome;
  return enrolled;
}

absl::StatusOr<crypto::CertificateAuthority> Vault::LoadCa(Tx& tx) {
  absl::StatusOr<std::optional<storage::PkiRow>> row = tx.GetPki("ca");
  if (!row.ok()) return row.status();
  if (!row->has_value()) return absl::DataLossError("the vault has no certificate authority");
  absl::StatusOr<crypto::XChaCha20Poly1305> sealer = PrivateKeySealer(root_);
  if (!sealer.ok()) return sealer.status();
  absl::StatusOr<crypto::SecretBytes> key = sealer->Open((*row)->sealed_key, PkiAssociatedData("ca"));
  if (!key.ok()) return absl::DataLossError("the CA's sealed key does not open");
  return crypto::CertificateAuthority::Create(*std::move(key), (*row)->certificate_pem);
}

absl::Status Vault::Record(Tx& tx, const audit::AuditEvent& event, absl::Time now) {
  return audit::Append(tx, event, now, checkpointer_.get()).status();
}

absl::Status Vault::ScheduleCheckpoints(int64_t every_records, absl::Duration every) {
  if (every_records < 1 || every <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("checkpoints need a positive number of records and of seconds");
  }
  absl::StatusOr<std::unique_ptr<audit::Checkpointer>> checkpointer = MakeCheckpointer(root_, every_records, every);
  if (!checkpointer.ok()) return checkpointer.status();
  checkpointer_ = *std::move(checkpointer);
  return absl::OkStatus();
}

absl::Status Vault::StillCurrent(Tx& tx, const Caller& caller, absl::Time now) {
  absl::StatusOr<Identified> again = Identify(tx, caller.fingerprint, Presented{"", caller.peer}, now);
  if (!again.ok()) return again.status();
  // Both lists come from Tx::ActiveBindings, ordered by id.
  const auto same = [](const storage::BindingRow& a, const storage::BindingRow& b) { return a.id == b.id; };
  if (again->refused.ok() && again->caller.user_id == caller.user_id &&
      std::equal(again->caller.bindings.begin(), again->caller.bindings.end(), caller.bindings.begin(),
                 caller.bindings.end(), same)) {
    return absl::OkStatus();
  }
  return absl::AbortedError("your access changed while this call ran: run it again");
}

absl::Status Vault::RunAudited(const Caller& caller, audit::AuditEvent& event, absl::Time now,
                               absl::FunctionRef<absl::Status(Tx&)> body) {
  absl::Status outcome;
  absl::Status stored = db_->Write([&](Tx& tx) -> absl::Status {
    outcome = StillCurrent(tx, caller, now);
    if (!outcome.ok()) {
      NoteChangedDuringCall(event, outcome);
      return outcome;
    }
    outcome = body(tx);
    if (!outcome.ok()) return outcome;  // roll back whatever the body changed
    return Record(tx, event, now);
  });
  if (outcome.ok()) return stored;  // committed with its record, or failed closed
  NoteFailure(event, outcome);
  absl::Status recorded = db_->Write([&](Tx& tx) { return Record(tx, event, now); });
  if (!recorded.ok()) return recorded;
  return outcome;
}

// ================================================================================== organisation

namespace {

// The event for an operator action; the decision fills in role and rule.
audit::AuditEvent ManagementEvent(const Caller& caller, absl::string_view action,
                                  absl::string_view subject) {
  audit::AuditEvent event;
  event.actor = caller.user;
  event.certificate = caller.fingerprint;
  event.action = std::string(action);
  event.reason = std::string(subject);
  event.peer = caller.peer;
  return event;
}

// Decides an operator action on the whole vault and notes it in the event.
absl::Status DecideManagement(const Caller& caller, audit::AuditEvent& event, absl::Time now,
                              absl::string_view what) {
  const Decision decision =
      policies::DecideAdmin(caller.policy_bindings, policies::Resource{}, AdminAction::kManageOrganisation, now);
  NoteDecision(event, decision);
  if (!decision.allows()) return DeniedError(decision, what);
  return absl::OkStatus();
}

}  // namespace

absl::Status Vault::RefuseInput(const Caller& caller, absl::string_view action, const absl::Status& error) {
  // The message, not the input: it names the field and quotes at most a bounded, escaped part.
  audit::AuditEvent event = ManagementEvent(caller, action, error.message());
  event.decision = "deny";
  event.rule = "input.invalid";
  event.outcome = OutcomeName(error);
  if (absl::Status recorded = db_->Write([&](Tx& tx) { return Record(tx, event, clock_.Now()); }); !recorded.ok()) {
    return recorded;
  }
  return error;
}

absl::Status Vault::AddUnit(const Caller& caller, absl::string_view unit,
                            absl::string_view display_name) {
  if (absl::Status s = CheckName("unit", unit); !s.ok()) return RefuseInput(caller, "add-unit", s);
  if (absl::Status s = CheckText("display name", display_name, 200, false); !s.ok()) return RefuseInput(caller, "add-unit", s);
  const absl::Time now = clock_.Now();
  audit::AuditEvent event = ManagementEvent(caller, "add-unit", unit);
  return RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "add units"); !s.ok()) return s;
    absl::StatusOr<int64_t> id = tx.InsertUnit(unit, display_name.empty() ? unit : display_name, Micros(now));
    if (!id.ok()) {
      return id.status().code() == absl::StatusCode::kAlreadyExists
                 ? absl::AlreadyExistsError(absl::StrCat("unit ", unit, " already exists"))
                 : id.status();
    }
    event.unit_id = *id;
    return absl::OkStatus();
  });
}

absl::Status Vault::AddTeam(const Caller& caller, absl::string_view unit, absl::string_view team,
                            absl::string_view display_name) {
  if (absl::Status s = CheckName("unit", unit); !s.ok()) return RefuseInput(caller, "add-team", s);
  if (absl::Status s = CheckName("team", team); !s.ok()) return RefuseInput(caller, "add-team", s);
  if (absl::Status s = CheckText("display name", display_name, 200, false); !s.ok()) return RefuseInput(caller, "add-team", s);
  const absl::Time now = clock_.Now();
  audit::AuditEvent event = ManagementEvent(caller, "add-team", absl::StrCat(unit, "/", team));
  return RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "add teams"); !s.ok()) return s;
    absl::StatusOr<std::optional<storage::UnitRow>> found = tx.FindUnit(unit);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError(absl::StrCat("no unit ", Quoted(unit)));
    event.unit_id = (*found)->id;
    absl::StatusOr<int64_t> id =
        tx.InsertTeam((*found)->id, team, display_name.empty() ? team : display_name, Micros(now));
    if (!id.ok() && id.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(absl::StrCat("team ", unit, "/", team, " already exists"));
    }
    return id.status();
  });
}

absl::StatusOr<EnrollmentCode> Vault::AddUser(const Caller& caller, absl::string_view user,
                                              absl::string_view display_name) {
  return IssueEnrollmentCode(caller, user, /*create=*/true, display_name);
}

absl::StatusOr<EnrollmentCode> Vault::NewEnrollmentCode(const Caller& caller, absl::string_view user) {
  return IssueEnrollmentCode(caller, user, /*create=*/false, "");
}

absl::StatusOr<EnrollmentCode> Vault::IssueEnrollmentCode(const Caller& caller,
                                                          absl::string_view user, bool create,
                                                          absl::string_view display_name) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return RefuseInput(caller, create ? "add-user" : "new-enrollment-code", s);
  if (absl::Status s = CheckText("display name", display_name, 200, false); !s.ok()) return RefuseInput(caller, create ? "add-user" : "new-enrollment-code", s);
  const absl::Time now = clock_.Now();
  const EnrollmentCode code{NewCode(), now + kEnrollmentCodeLifetime};
  audit::AuditEvent event =
      ManagementEvent(caller, create ? "add-user" : "new-enrollment-code", user);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "manage users"); !s.ok()) return s;
    int64_t user_id = 0;
    if (create) {
      absl::StatusOr<int64_t> id = tx.InsertUser(user, display_name.empty() ? user : display_name, Micros(now));
      if (!id.ok() && id.status().code() == absl::StatusCode::kAlreadyExists) {
        return absl::AlreadyExistsError(absl::StrCat("user ", user, " already exists"));
      }
      if (!id.ok()) return id.status();
      user_id = *id;
    } else {
      absl::StatusOr<std::optional<storage::UserRow>> found = tx.FindUser(user);
      if (!found.ok()) return found.status();
      if (!found->has_value()) return absl::NotFoundError(absl::StrCat("no user ", Quoted(user)));
      if (!(*found)->active) {
        return UserDisabled(user);
      }
      user_id = (*found)->id;
    }
    // The code itself is never stored or recorded: only its hash.
    return tx.InsertEnrollmentCode(user_id, HashCode(code.code), Micros(now), Micros(code.expires_at));
  });
  if (!done.ok()) return done;
  return code;
}

absl::StatusOr<Vault::Disabled> Vault::DisableUser(const Caller& caller, absl::string_view user) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return RefuseInput(caller, "disable-user", s);
  const absl::Time now = clock_.Now();
  Disabled disabled;
  audit::AuditEvent event = ManagementEvent(caller, "disable-user", user);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "disable users"); !s.ok()) return s;
    if (user == caller.user) {
      event.rule = "sod.not-yourself";
      return absl::PermissionDeniedError("you cannot disable yourself: ask another operator");
    }
    absl::StatusOr<std::optional<storage::UserRow>> found = tx.FindUser(user);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError(absl::StrCat("no user ", Quoted(user)));
    const int64_t id = (*found)->id;
    // Every account this user could release is due for rotation.
    absl::StatusOr<std::vector<storage::BindingRow>> held = tx.ActiveBindings(id, Micros(now));
    if (!held.ok()) return held.status();
    if (absl::Status s = FlagReleasable(tx, *policy(), PolicyBindings(*held),
                                        absl::StrCat("user ", user, " disabled"), caller.user, now);
        !s.ok()) {
      return s;
    }
    // All in one transaction: the very next call of this user is refused.
    absl::StatusOr<int> ended = tx.EndBindings(id, {}, {}, {}, Micros(now), caller.user);
    if (!ended.ok()) return ended.status();
    absl::StatusOr<int> revoked = tx.RevokeCertificates(id, Micros(now), "user disabled");
    if (!revoked.ok()) return revoked.status();
    if (absl::Status s = tx.DeactivateUser(id, Micros(now)); !s.ok()) return s;
    if (absl::Status s = tx.InsertEnrollmentCode(id, crypto::RandomBytes(32), Micros(now), Micros(now));
        !s.ok()) {
      return s;  // replaces any open code with one that can never match and is already expired
    }
    disabled = Disabled{*ended, *revoked};
    event.reason = absl::StrCat(user, ": ", *ended, " bindings ended, ", *revoked,
                                " certificates revoked");
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return disabled;
}

absl::StatusOr<storage::BindingRow> Vault::GrantRole(const Caller& caller, absl::string_view user,
                                                     policies::Role role, policies::ScopeKind scope,
                                                     absl::string_view scope_name,
                                                     std::optional<absl::Time> valid_until) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return RefuseInput(caller, "grant-role", s);
  const std::vector<policies::ScopeKind> allowed = policies::AllowedScopes(role);
  if (std::find(allowed.begin(), allowed.end(), scope) == allowed.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "role ", policies::RoleName(role), " is granted on ",
        policies::ScopeKindName(allowed.front()),
        allowed.size() > 1 ? absl::StrCat(" or ", policies::ScopeKindName(allowed.back())) : "",
        " scope, not on ", policies::ScopeKindName(scope)));
  }
  const absl::Time now = clock_.Now();
  if (valid_until.has_value() && *valid_until <= now) {
    return absl::InvalidArgumentError("valid-until lies in the past");
  }
  storage::BindingRow binding;
  audit::AuditEvent event = ManagementEvent(
      caller, "grant-role",
      absl::StrCat(user, " ", policies::RoleName(role), " on ", policies::ScopeKindName(scope), " ",
                   scope_name));
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "grant roles"); !s.ok()) return s;
    if (user == caller.user) {
      event.rule = "sod.no-self-grant";
      return absl::PermissionDeniedError("nobody grants a role to themselves");
    }
    absl::StatusOr<std::optional<storage::UserRow>> target = tx.FindUser(user);
    if (!target.ok()) return target.status();
    if (!target->has_value()) return absl::NotFoundError(absl::StrCat("no user ", Quoted(user)));
    if (!(*target)->active) {
      return UserDisabled(user);
    }
    absl::StatusOr<ScopeTarget> resolved = ResolveScope(tx, caller, scope, scope_name, now);
    if (!resolved.ok()) return resolved.status();
    event.unit_id = resolved->unit_id;
    if (scope == policies::ScopeKind::kAccount) event.account = resolved->name;
    binding.user_id = (*target)->id;
    binding.user_name = (*target)->name;
    binding.role = std::string(policies::RoleName(role));
    binding.scope_kind = std::string(policies::ScopeKindName(scope));
    binding.scope_id = resolved->id;
    binding.scope_name = resolved->name;
    binding.valid_from_us = Micros(now);
    if (valid_until.has_value()) binding.valid_until_us = Micros(*valid_until);
    binding.granted_by = caller.user;
    absl::StatusOr<int64_t> id = tx.InsertBinding(binding);
    if (!id.ok()) return id.status();
    binding.id = *id;
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return binding;
}

absl::StatusOr<int> Vault::RevokeRole(const Caller& caller, absl::string_view user,
                                      policies::Role role, policies::ScopeKind scope,
                                      absl::string_view scope_name) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return RefuseInput(caller, "revoke-role", s);
  const absl::Time now = clock_.Now();
  int ended = 0;
  audit::AuditEvent event = ManagementEvent(
      caller, "revoke-role",
      absl::StrCat(user, " ", policies::RoleName(role), " on ", policies::ScopeKindName(scope), " ",
                   scope_name));
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "revoke roles"); !s.ok()) return s;
    absl::StatusOr<std::optional<storage::UserRow>> target = tx.FindUser(user);
    if (!target.ok()) return target.status();
    if (!target->has_value()) return absl::NotFoundError(absl::StrCat("no user ", Quoted(user)));
    absl::StatusOr<ScopeTarget> resolved = ResolveScope(tx, caller, scope, scope_name, now);
    if (!resolved.ok()) return resolved.status();
    event.unit_id = resolved->unit_id;
    // The accounts the ending binding could release are due for rotation.
    const std::vector<policies::Binding> ending = {policies::Binding{role, scope, resolved->id}};
    if (absl::Status s = FlagReleasable(tx, *policy(), ending,
                                        absl::StrCat(policies::RoleName(role), " binding of ", user, " ended"),
                                        caller.user, now);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<int> count =
        tx.EndBindings((*target)->id, policies::RoleName(role), policies::ScopeKindName(scope),
                       resolved->id, Micros(now), caller.user);
    if (!count.ok()) return count.status();
    if (*count == 0) {
      return absl::NotFoundError(absl::StrCat(user, " has no active ", policies::RoleName(role),
                                              " binding on ", resolved->name));
    }
    ended = *count;
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return ended;
}

absl::StatusOr<std::vector<storage::BindingRow>> Vault::ListRoles(const Caller& caller,
                                                                  absl::string_view user) {
  if (!user.empty()) {
    if (absl::Status s = CheckName("user", user); !s.ok()) return s;
  }
  const absl::Time now = clock_.Now();
  const Decision decision =
      policies::DecideAdmin(caller.policy_bindings, policies::Resource{}, AdminAction::kManageOrganisation, now);
  // Everyone may list their own bindings; the operator may list anyone's.
  if (!decision.allows() && !user.empty() && user != caller.user) {
    return DeniedError(decision, "list other users' roles");
  }
  std::vector<storage::BindingRow> bindings;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    std::optional<int64_t> user_id;
    if (!decision.allows()) {
      user_id = caller.user_id;
    } else if (!user.empty()) {
      absl::StatusOr<std::optional<storage::UserRow>> found = tx.FindUser(user);
      if (!found.ok()) return found.status();
      if (!found->has_value()) return absl::NotFoundError(absl::StrCat("no user ", Quoted(user)));
      user_id = (*found)->id;
    }
    absl::StatusOr<std::vector<storage::BindingRow>> rows = tx.ListBindings(user_id);
    if (!rows.ok()) return rows.status();
    bindings = *std::move(rows);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return bindings;
}

absl::StatusOr<CertificateList> Vault::ListCertificates(const Caller& caller, absl::string_view user) {
  if (absl::Status s = CheckName("user", user); !s.ok()) return s;
  const absl::Time now = clock_.Now();
  const Decision decision =
      policies::DecideAdmin(caller.policy_bindings, policies::Resource{}, AdminAction::kManageOrganisation, now);
  // Everyone may list their own certificates; the operator anyone's.
  if (!decision.allows() && user != caller.user) return DeniedError(decision, "list other users' certificates");
  CertificateList list;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::UserRow>> found = tx.FindUser(user);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError(absl::StrCat("no user ", Quoted(user)));
    absl::StatusOr<std::vector<storage::CertificateRow>> rows = tx.ListCertificates((*found)->id);
    if (!rows.ok()) return rows.status();
    list.user = (*found)->name;
    list.certificates = *std::move(rows);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  list.current = caller.fingerprint;
  return list;
}

absl::StatusOr<storage::CertificateRow> Vault::RevokeCertificate(const Caller& caller, absl::string_view fingerprint,
                                                                 absl::string_view reason) {
  // As `kluis user certs` prints it, with or without "SHA256:", in either case.
  std::string wanted = absl::AsciiStrToLower(fingerprint);
  if (absl::StartsWith(wanted, "sha256:")) wanted.erase(0, 7);
  if (wanted.size() != 64 || wanted.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("a certificate fingerprint is 64 hex characters (kluis user certs USER), got ", Quoted(fingerprint)));
  }
  if (absl::Status s = CheckText("reason", reason, 500, true); !s.ok()) return RefuseInput(caller, "revoke-certificate", s);
  if (absl::Status s = CheckMeaningfulReason(reason, *policy(), "revoking a certificate"); !s.ok()) return RefuseInput(caller, "revoke-certificate", s);
  const absl::Time now = clock_.Now();
  storage::CertificateRow revoked;
  audit::AuditEvent event = ManagementEvent(caller, "revoke-certificate", absl::StrCat(wanted, ": ", reason));
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    if (absl::Status s = DecideManagement(caller, event, now, "revoke certificates"); !s.ok()) return s;
    if (wanted == caller.fingerprint) {
      event.rule = "sod.not-yourself";
      return absl::PermissionDeniedError(
          "you cannot revoke the certificate you are calling with: ask another operator");
    }
    absl::StatusOr<std::optional<storage::CertificateRow>> found = tx.FindCertificate(wanted);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError(absl::StrCat("no certificate SHA256:", wanted));
    if ((*found)->revoked_us.has_value()) {
      return Refused(Refusal::kCertificateState,
                     absl::FailedPreconditionError(absl::StrCat("certificate SHA256:", wanted,
                                                                " was revoked already (", (*found)->revoke_reason, ")")));
    }
    absl::StatusOr<bool> changed = tx.RevokeCertificate(wanted, Micros(now), reason);
    if (!changed.ok()) return changed.status();
    revoked = **found;
    revoked.revoked_us = Micros(now);
    revoked.revoke_reason = std::string(reason);
    absl::StatusOr<std::optional<storage::UserRow>> holder = tx.FindUserById(revoked.user_id);
    if (!holder.ok()) return holder.status();
    if (holder->has_value()) event.reason = absl::StrCat((*holder)->name, " ", wanted, ": ", reason);
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return revoked;
}

// ====================================================================================== accounts

absl::StatusOr<AccountView> Vault::AddAccount(const Caller& caller, absl::string_view platform,
                                              absl::string_view handle, absl::string_view team,
                                              absl::string_view kind,
                                              absl::string_view linked_email, bool mandatory) {
  if (kind == "prive") {
    // R7 (policy 2020 §3.3, §3.4, §5): private accounts are the officer's own business.
    return absl::InvalidArgumentError(
        "private accounts (types 3 and 4) are not facilitated by the organisation, so Kluis does "
        "not store them (rule R7)");
  }
  if (!policies::ParseAccountKind(kind).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown account kind ", Quoted(kind),
        ": use politie-alleen, politie-samen, corporate, hybrid or organisatie"));
  }
  if (absl::Status s = CheckPlatform(platform); !s.ok()) return RefuseInput(caller, "add-account", s);
  if (absl::Status s = CheckHandle(handle); !s.ok()) return RefuseInput(caller, "add-account", s);
  if (!linked_email.empty()) {
    if (absl::Status s = CheckEmail(linked_email); !s.ok()) return RefuseInput(caller, "add-account", s);
  }
  const absl::Time now = clock_.Now();
  const std::string name = absl::StrCat(platform, "/", handle);
  AccountView view;
  audit::AuditEvent event = ManagementEvent(caller, "add-account", kind);
  event.account = name;
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<ScopeTarget> target = ResolveScope(tx, caller, policies::ScopeKind::kTeam, team, now);
    if (!target.ok()) return target.status();
    event.unit_id = target->unit_id;
    const Decision decision = policies::DecideAdmin(
        caller.policy_bindings, policies::Resource{0, target->id, target->unit_id.value_or(0)},
        AdminAction::kRegisterAccount, now);
    NoteDecision(event, decision);
    if (!decision.allows()) return DeniedError(decision, absl::StrCat("register accounts in ", target->name));
    absl::StatusOr<int64_t> id = tx.InsertAccount(target->id, platform, handle, kind, Micros(now), caller.user);
    if (!id.ok() && id.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(absl::StrCat("account ", name, " already exists"));
    }
    if (!id.ok()) return id.status();
    if (mandatory) {
      if (absl::Status s = tx.SetAccountMandatory(*id, true); !s.ok()) return s;
      event.reason = absl::StrCat(kind, ", mandatory");
    }
    if (!linked_email.empty()) {
      storage::SecretRow email{0, *id, kLinkedEmail, 1, "current",
                               sealer_.Seal(*id, kLinkedEmail, 1, linked_email),
                               sealer_.key_version(), caller.user, Micros(now)};
      if (absl::Status s = tx.InsertCurrentSecret(email); !s.ok()) return s;
    }
    absl::StatusOr<std::optional<AccountRow>> row = tx.FindAccountById(*id);
    if (!row.ok()) return row.status();
    absl::StatusOr<AccountView> added = ViewOf(tx, **row, now);
    if (!added.ok()) return added.status();
    view = *std::move(added);
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<std::vector<AccountView>> Vault::ListAccounts(const Caller& caller,
                                                             absl::string_view unit,
                                                             absl::string_view team) {
  const absl::Time now = clock_.Now();
  std::vector<AccountView> views;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::vector<AccountRow>> accounts = tx.ListAccounts();
    if (!accounts.ok()) return accounts.status();
    for (const AccountRow& account : *accounts) {
      if (!unit.empty() && account.unit_name != unit) continue;
      if (!team.empty() && account.team_name != team &&
          absl::StrCat(account.unit_name, "/", account.team_name) != team) {
        continue;
      }
      if (!policies::DecideAdmin(caller.policy_bindings, ResourceOf(account), AdminAction::kViewAccount, now)
               .allows()) {
        continue;
      }
      absl::StatusOr<AccountView> view = ViewOf(tx, account, now);
      if (!view.ok()) return view.status();
      views.push_back(*std::move(view));
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return views;
}

absl::StatusOr<AccountView> Vault::ShowAccount(const Caller& caller, absl::string_view account) {
  const absl::Time now = clock_.Now();
  AccountView view;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<AccountRow> found = ResolveVisibleAccount(tx, caller, account, now);
    if (!found.ok()) return found.status();
    absl::StatusOr<AccountView> shown = ViewOf(tx, *found, now);
    if (!shown.ok()) return shown.status();
    view = *std::move(shown);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return view;
}

// ======================================================================================= secrets

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
                                            absl::string_view audit_action, const char* kind,
                                            const crypto::SecretBytes& plaintext, bool pending) {
  return Store(caller, account, audit_action, [&](Tx& tx, const AccountRow& found) -> absl::StatusOr<int64_t> {
    if (pending) {
      absl::StatusOr<std::optional<storage::SecretRow>> waiting = tx.SecretInState(found.id, kind, "pending");
      if (!waiting.ok()) return waiting.status();
      if (waiting->has_value()) {
        return Refused(Refusal::kRotationState,
                       absl::FailedPreconditionError(absl::StrCat(
                           "a new ", kind, " of ", found.name(), " is already pending: kluis rotate ",
                           found.name(), " --confirm or --abort first")));
      }
    }
    return InsertVersion(tx, found, kind, plaintext, pending, caller.user);
  });
}

absl::StatusOr<int64_t> Vault::InsertVersion(Tx& tx, const AccountRow& account, const char* kind,
                                             const crypto::SecretBytes& plaintext, bool pending,
                                             absl::string_view by) {
  absl::StatusOr<int64_t> version = tx.NextSecretVersion(account.id, kind);
  if (!version.ok()) return version.status();
  const storage::SecretRow row{0, account.id, kind, *version, pending ? "pending" : "current",
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

absl::StatusOr<Rotation> Vault::StartRotation(const Caller& caller, absl::string_view account) {
  // The platform is known only once the account is resolved: generate for the name given, then
  // store under the decision (a generated password that is never stored is harmless).
  std::string platform = "x";
  if (const size_t slash = account.find('/'); slash != absl::string_view::npos) {
    platform = std::string(account.substr(0, slash));
  } else {
    absl::StatusOr<AccountView> shown = ShowAccount(caller, account);
    if (!shown.ok()) return shown.status();
    platform = shown->account.platform;
  }
  absl::StatusOr<crypto::SecretBytes> password = GeneratePassword(platform);
  if (!password.ok()) return password.status();
  absl::StatusOr<int64_t> version = StoreCurrent(caller, account, "rotate-start", kPassword, *password, true);
  if (!version.ok()) return version.status();
  return Rotation{std::string(account), *std::move(password), *version};
}

absl::StatusOr<RotationOutcome> Vault::ConfirmRotation(const Caller& caller, absl::string_view account) {
  return FinishRotation(caller, account, /*confirm=*/true);
}

absl::StatusOr<RotationOutcome> Vault::AbortRotation(const Caller& caller, absl::string_view account) {
  return FinishRotation(caller, account, /*confirm=*/false);
}

absl::StatusOr<RotationOutcome> Vault::FinishRotation(const Caller& caller, absl::string_view account,
                                                      bool confirm) {
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  RotationOutcome outcome;
  absl::StatusOr<int64_t> done = Store(
      caller, account, confirm ? "rotate-confirm" : "rotate-abort",
      [&](Tx& tx, const AccountRow& found) -> absl::StatusOr<int64_t> {
        outcome.account = found.name();
        for (const char* kind : {kPassword, kTotp}) {
          absl::StatusOr<bool> changed =
              confirm ? tx.ConfirmPending(found.id, kind, Micros(now)) : tx.AbortPending(found.id, kind);
          if (!changed.ok()) return changed.status();
          (kind == kPassword ? outcome.password : outcome.totp) = *changed;
        }
        if (!outcome.password && !outcome.totp) {
          return Refused(Refusal::kRotationState,
                         absl::FailedPreconditionError(absl::StrCat("nothing is pending for ", found.name(),
                                                                    ": start with kluis rotate ", found.name())));
        }
        if (confirm) {
          // A confirmed rotation is what a rotation flag asks for.
          absl::StatusOr<int> cleared = tx.ClearRotationFlags(found.id, caller.user, Micros(now));
          if (!cleared.ok()) return cleared.status();
          outcome.flags_cleared = *cleared;
          // Versions past their retention are destroyed now.
          absl::StatusOr<int> destroyed = tx.DestroyPreviousBefore(Micros(now - policy->previous_retention));
          if (!destroyed.ok()) return destroyed.status();
        }
        return 0;
      });
  if (!done.ok()) return done.status();
  return outcome;
}

absl::StatusOr<Login> Vault::ReleasePrevious(const Presented& presented, absl::string_view account,
                                             int64_t version, absl::string_view reason) {
  const absl::Time now = clock_.Now();
  const absl::Duration retention = policy()->previous_retention;
  ReleaseOptions options;
  options.reason = std::string(reason);
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kReleasePrevious, std::nullopt, options,
      [&](Tx& tx, const AccountRow& found, bool) -> absl::StatusOr<std::vector<storage::SecretRow>> {
        absl::StatusOr<std::optional<storage::SecretRow>> row = tx.SecretVersion(found.id, kPassword, version);
        if (!row.ok()) return row.status();
        if (!row->has_value() || (*row)->state != "previous" || !(*row)->retired_us.has_value() ||
            absl::FromUnixMicros(*(*row)->retired_us) + retention <= now) {
          return absl::NotFoundError(absl::StrCat("no previous password version ", version, " of ", found.name(),
                                                  " is kept (versions are kept ",
                                                  absl::FormatDuration(retention), " after they were replaced)"));
        }
        return std::vector<storage::SecretRow>{**row};
      });
  if (!released.ok()) return released.status();
  const storage::SecretRow& sealed = released->sealed[0];
  absl::StatusOr<crypto::SecretBytes> opened = sealer_.Open(released->account.id, kPassword, sealed.version, sealed.sealed);
  if (!opened.ok()) return opened.status();
  Login login;
  login.account = released->account.name();
  login.handle = released->account.handle;
  login.password = *std::move(opened);
  login.version = sealed.version;
  login.set_at = absl::FromUnixMicros(sealed.created_us);
  login.rule = released->decision.rule;
  return login;
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
          if (absl::Status s = tx.InsertSecret({0, found.id, kRecoveryCode, v, "current",
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

absl::StatusOr<Vault::Released> Vault::Release(const Presented& presented, absl::string_view account,
                                               Action action, std::optional<Action> also,
                                               const ReleaseOptions& options, Fetch fetch) {
  absl::StatusOr<std::string> fingerprint = FingerprintOf(presented);
  if (!fingerprint.ok()) return fingerprint.status();
  const absl::Status input = CheckText("reason", options.reason, 500, false);  // told after identifying
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  Released released;
  released.decision = DeniedBy("account-not-visible");
  absl::Status unauthenticated;
  absl::Status refusal;

  absl::Status recorded = db_->Write([&](Tx& tx) -> absl::Status {
    // 0. Who is calling, in the same transaction as the decision and the record: nothing about
    //    the caller can change between them (a disabled user, a revoked role).
    absl::StatusOr<Identified> who = Identify(tx, *fingerprint, presented, now);
    if (!who.ok()) return who.status();
    if (!who->refused.ok()) {
      unauthenticated = who->refused;
      return Record(tx, who->refusal, now);
    }
    if (!input.ok()) return absl::OkStatus();  // malformed: refused, as before any call, unrecorded
    const Caller& caller = who->caller;
    // 1. Which account: only among those the caller has a role on, so a stranger learns nothing.
    absl::StatusOr<AccountRow> resolved = ResolveVisibleAccount(tx, caller, account, now);
    if (resolved.ok()) {
      released.account = *resolved;
      std::optional<policies::AccessRequest> request;
      if (options.request_id != 0) {
        absl::StatusOr<std::optional<storage::RequestRow>> row = tx.FindRequest(options.request_id);
        if (!row.ok()) return row.status();
        // Another's request, or one for another account, reads as one that does not exist.
        if (row->has_value() && (*row)->requester_id == caller.user_id &&
            (*row)->account_id == released.account.id) {
          request = RequestOf(**row);
        }
      }
      // 2. Decide, before anything secret is touched.
      const policies::ReleaseContext context{caller.user_id, options.break_glass, options.reason,
                                             request ? &*request : nullptr};
      if (options.request_id != 0 && !request) {
        refusal = absl::NotFoundError(absl::StrCat("no request ", options.request_id));
      } else {
        released.decision = policies::Decide(*policy, caller.policy_bindings, ResourceOf(released.account),
                                             action, context, now);
        released.also_allowed =
            also.has_value() && policies::Decide(*policy, caller.policy_bindings,
                                                 ResourceOf(released.account), *also, context, now)
                                    .allows();
      }
    } else {
      refusal = resolved.status();
    }
    // A stopped account's secrets last only its retention period (R8), even before the sweep.
    if (released.decision.allows() && released.account.stopped_us.has_value() &&
        now >= absl::FromUnixMicros(*released.account.stopped_us) + policy->stopped_retention) {
      refusal = absl::NotFoundError(absl::StrCat("the secrets of stopped account ", released.account.name(),
                                                 " were destroyed after the retention period"));
    }
    // 3. Fetch the sealed rows; nothing is opened before the record commits.
    if (released.decision.allows() && refusal.ok()) {
      absl::StatusOr<std::vector<storage::SecretRow>> sealed = fetch(tx, released.account, released.also_allowed);
      if (sealed.ok()) {
        released.sealed = *std::move(sealed);
      } else if (sealed.status().code() == absl::StatusCode::kNotFound) {
        refusal = sealed.status();
      } else {
        return sealed.status();
      }
    } else if (refusal.ok()) {
      refusal = DeniedError(released.decision,
                            absl::StrCat(policies::ActionName(action), " for ", released.account.name()));
    }
    // 4. What must follow a release happens in the same transaction: spend the single-use grant,
    //    tell whoever the rule names, flag the secret for rotation.
    if (refusal.ok()) {
      if (absl::Status s = ApplyObligations(tx, caller, released.account, released.decision,
                                            options.reason, now);
          !s.ok()) {
        return s;
      }
    }
    // 5. Record the attempt. No audit record, no release: this commits before any secret opens.
    audit::AuditEvent event = Event(
        caller,
        absl::StrCat(options.break_glass ? "break-glass:" : "", policies::ActionName(action)),
        resolved.ok() ? released.account.name() : std::string(account), released.decision,
        options.reason, resolved.ok() ? std::optional<int64_t>(released.account.unit_id) : std::nullopt);
    if (options.request_id != 0) event.request_id = absl::StrCat(options.request_id);
    if (!refusal.ok()) event.outcome = OutcomeName(refusal);
    return Record(tx, event, now);
  }, storage::Database::Failure::kBeforeChanging);  // after step 3 only storage errors fail it
  if (!recorded.ok()) return recorded;
  if (!unauthenticated.ok()) return unauthenticated;
  if (!input.ok()) return input;
  if (!refusal.ok()) return refusal;
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
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kReleaseLogin, Action::kReleaseTotp, options,
      [&](Tx& tx, const AccountRow& found, bool with_totp) -> absl::StatusOr<std::vector<storage::SecretRow>> {
        // [0] password, [1] linked e-mail, [2] pending password, [3] TOTP key: id 0 when none.
        std::vector<storage::SecretRow> rows;
        for (auto [kind, state] : {std::pair{kPassword, "current"}, std::pair{kLinkedEmail, "current"},
                                   std::pair{kPassword, "pending"}, std::pair{kTotp, "current"}}) {
          if (kind == kTotp && !with_totp) break;
          absl::StatusOr<std::optional<storage::SecretRow>> row = tx.SecretInState(found.id, kind, state);
          if (!row.ok()) return row.status();
          if (!row->has_value() && rows.empty()) {
            return absl::NotFoundError(absl::StrCat("no password is stored for ", found.name()));
          }
          rows.push_back(row->value_or(storage::SecretRow{}));
        }
        return rows;
      });
  if (!released.ok()) return released.status();
  const AccountRow& found = released->account;
  const storage::SecretRow& password = released->sealed[0];
  Login login;
  login.account = found.name();
  login.handle = found.handle;
  login.version = password.version;
  login.set_at = absl::FromUnixMicros(password.created_us);
  login.rule = released->decision.rule;
  // Open. A seal that does not open was altered or moved: say so, release nothing.
  absl::StatusOr<crypto::SecretBytes> opened = sealer_.Open(found.id, kPassword, password.version, password.sealed);
  if (!opened.ok()) return opened.status();
  login.password = *std::move(opened);
  if (const storage::SecretRow& email = released->sealed[1]; email.id != 0) {
    absl::StatusOr<crypto::SecretBytes> opened_email = sealer_.Open(found.id, kLinkedEmail, email.version, email.sealed);
    if (!opened_email.ok()) return opened_email.status();
    login.linked_email = *std::move(opened_email);
  }
  if (const storage::SecretRow& pending = released->sealed[2]; pending.id != 0) {
    absl::StatusOr<crypto::SecretBytes> opened_pending =
        sealer_.Open(found.id, kPassword, pending.version, pending.sealed);
    if (!opened_pending.ok()) return opened_pending.status();
    login.pending_password = *std::move(opened_pending);
    login.pending_version = pending.version;
  }
  if (released->sealed.size() > 3 && released->sealed[3].id != 0) {
    absl::StatusOr<TotpCode> code = CodeFrom(found, released->sealed[3], login.rule);
    if (!code.ok()) return code.status();
    login.totp = *std::move(code);
  }
  return login;
}

absl::StatusOr<TotpCode> Vault::ReleaseTotpCode(const Presented& presented, absl::string_view account,
                                                const ReleaseOptions& options) {
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kReleaseTotp, std::nullopt, options,
      [&](Tx& tx, const AccountRow& found, bool) -> absl::StatusOr<std::vector<storage::SecretRow>> {
        // [0] the current key (or, while 2FA is first being set up, only a pending one), [1] pending.
        absl::StatusOr<std::optional<storage::SecretRow>> current = tx.CurrentSecret(found.id, kTotp);
        if (!current.ok()) return current.status();
        absl::StatusOr<std::optional<storage::SecretRow>> pending = tx.SecretInState(found.id, kTotp, "pending");
        if (!pending.ok()) return pending.status();
        if (!current->has_value() && !pending->has_value()) {
          return absl::NotFoundError(absl::StrCat("no TOTP key is stored for ", found.name()));
        }
        return std::vector<storage::SecretRow>{current->value_or(storage::SecretRow{}),
                                               pending->value_or(storage::SecretRow{})};
      });
  if (!released.ok()) return released.status();
  const std::vector<storage::SecretRow>& rows = released->sealed;
  if (rows[0].id == 0) {
    absl::StatusOr<TotpCode> only_pending = CodeFrom(released->account, rows[1], released->decision.rule);
    if (!only_pending.ok()) return only_pending.status();
    only_pending->pending_code = only_pending->code;
    return only_pending;
  }
  absl::StatusOr<TotpCode> code = CodeFrom(released->account, rows[0], released->decision.rule);
  if (!code.ok()) return code.status();
  if (rows[1].id != 0) {
    absl::StatusOr<TotpCode> pending = CodeFrom(released->account, rows[1], released->decision.rule);
    if (!pending.ok()) return pending.status();
    code->pending_code = pending->code;
  }
  return code;
}

absl::StatusOr<crypto::SecretBytes> Vault::ExportTotp(const Presented& presented, absl::string_view account,
                                                      absl::string_view reason) {
  ReleaseOptions options;
  options.reason = std::string(reason);
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kExportTotpSeed, std::nullopt, options,
      [&](Tx& tx, const AccountRow& found, bool) -> absl::StatusOr<std::vector<storage::SecretRow>> {
        absl::StatusOr<std::optional<storage::SecretRow>> row = tx.CurrentSecret(found.id, kTotp);
        if (!row.ok()) return row.status();
        if (!row->has_value()) return absl::NotFoundError(absl::StrCat("no TOTP key is stored for ", found.name()));
        return std::vector<storage::SecretRow>{**row};
      });
  if (!released.ok()) return released.status();
  const storage::SecretRow& sealed = released->sealed[0];
  return sealer_.Open(released->account.id, kTotp, sealed.version, sealed.sealed);
}

absl::StatusOr<RecoveryCode> Vault::ReleaseRecoveryCode(const Presented& presented, absl::string_view account,
                                                        const ReleaseOptions& options) {
  int remaining = 0;
  absl::StatusOr<Released> released = Release(
      presented, account, Action::kReleaseRecoveryCode, std::nullopt, options,
      [&](Tx& tx, const AccountRow& found, bool) -> absl::StatusOr<std::vector<storage::SecretRow>> {
        absl::StatusOr<std::vector<storage::SecretRow>> codes = tx.CurrentSecrets(found.id, kRecoveryCode);
        if (!codes.ok()) return codes.status();
        if (codes->empty()) return absl::NotFoundError(absl::StrCat("no recovery codes are left for ", found.name()));
        // One at a time, oldest first; it is used up in the same transaction as its record.
        if (absl::Status s = tx.DestroySecret(codes->front().id); !s.ok()) return s;
        remaining = static_cast<int>(codes->size()) - 1;
        return std::vector<storage::SecretRow>{codes->front()};
      });
  if (!released.ok()) return released.status();
  const storage::SecretRow& sealed = released->sealed[0];
  absl::StatusOr<crypto::SecretBytes> code =
      sealer_.Open(released->account.id, kRecoveryCode, sealed.version, sealed.sealed);
  if (!code.ok()) return code.status();
  return RecoveryCode{released->account.name(), *std::move(code), remaining, released->decision.rule};
}

absl::StatusOr<HandoverResult> Vault::Handover(const Caller& caller, absl::string_view account,
                                               absl::string_view to, absl::string_view reason,
                                               absl::string_view from) {
  constexpr absl::string_view kReasons[] = {"ziekte", "verlof", "uitdienst", "overlijden", "functiewijziging", "overig"};
  if (std::find(std::begin(kReasons), std::end(kReasons), reason) == std::end(kReasons)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "handover reason must be ziekte, verlof, uitdienst, overlijden, functiewijziging or overig, got ",
        Quoted(reason)));
  }
  if (absl::Status s = CheckName("user", to); !s.ok()) return RefuseInput(caller, "handover", s);
  if (!from.empty()) {
    if (absl::Status s = CheckName("user", from); !s.ok()) return RefuseInput(caller, "handover", s);
  }
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  HandoverResult result;
  result.to = std::string(to);
  audit::AuditEvent event = ManagementEvent(caller, "handover", reason);
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<Decided> decided = ResolveAndDecide(tx, caller, *policy, account, Action::kHandover,
                                                       {caller.user_id, false, std::string(reason)}, now, event,
                                                       "hand over");
    if (!decided.ok()) return decided.status();
    const AccountRow* found = &decided->account;
    const Decision& decision = decided->decision;
    result.account = found->name();
    absl::StatusOr<storage::UserRow> successor = FindActiveUser(tx, to);
    if (!successor.ok()) return successor.status();
    if (successor->id == caller.user_id) {
      event.rule = "sod.no-self-grant";
      return absl::PermissionDeniedError("nobody hands an account to themselves");
    }
    // Who hands over: the named beheerder, else the caller if a beheerder, else all of them.
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> current =
        tx.UsersWithRole("account", found->id, "beheerder", Micros(now));
    if (!current.ok()) return current.status();
    const bool caller_is_beheerder =
        std::any_of(current->begin(), current->end(), [&](const auto& b) { return b.first == caller.user_id; });
    std::vector<std::pair<int64_t, std::string>> predecessors;
    for (const auto& [id, name] : *current) {
      const bool hands_over = !from.empty() ? name == from : !caller_is_beheerder || id == caller.user_id;
      if (hands_over && id != successor->id) predecessors.emplace_back(id, name);
    }
    if (!from.empty() && predecessors.empty()) {
      return absl::NotFoundError(absl::StrCat(from, " is not a beheerder of ", found->name()));
    }
    // The rule's obligations first, while the predecessors still hold the account: they, and
    // whoever else the rule names, are told; the password is flagged for rotation.
    if (absl::Status s = ApplyObligations(tx, caller, *found, decision, absl::StrCat(reason, ", to ", to), now,
                                          "handover");
        !s.ok()) {
      return s;
    }
    for (const auto& [id, name] : predecessors) {
      absl::StatusOr<int> ended = tx.EndBindings(id, "beheerder", "account", found->id, Micros(now), caller.user);
      if (!ended.ok()) return ended.status();
      result.from.push_back(name);
    }
    if (absl::Status s = BindOnAccount(tx, successor->id, "beheerder", *found, now, caller.user); !s.ok()) return s;
    event.reason = absl::StrCat(reason, ": ", result.from.empty() ? "-" : absl::StrJoin(result.from, ","), " -> ", to);
    // The successor is told what to do first.
    if (absl::Status s = tx.InsertNotification({0, successor->id, "handover", found->name(), std::nullopt,
                                                absl::StrCat(caller.user, " handed ", found->name(), " to you (",
                                                             reason, "); change the password: kluis rotate ",
                                                             found->name()),
                                                Micros(now)});
        !s.ok()) {
      return s;
    }
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return result;
}

// ========================================================================================= stop

absl::StatusOr<AccountView> Vault::StopAccount(const Caller& caller, absl::string_view account,
                                               absl::string_view reason) {
  if (absl::Status s = CheckText("reason", reason, 500, true); !s.ok()) return RefuseInput(caller, "stop-account", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  AccountView view;
  audit::AuditEvent event = ManagementEvent(caller, "stop-account", reason);
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<Decided> decided = ResolveAndDecide(tx, caller, *policy, account, Action::kStopAccount,
                                                       {caller.user_id, false, std::string(reason)}, now, event, "stop");
    if (!decided.ok()) return decided.status();
    const AccountRow* found = &decided->account;
    const Decision& decision = decided->decision;
    // R8: a mandatory geographic account is never deleted; it passes to someone else instead.
    if (found->mandatory) {
      event.decision = "deny";
      event.rule = "R8.mandatory-account";
      return absl::PermissionDeniedError(absl::StrCat(
          found->name(), " is a mandatory account: it cannot be stopped, only handed over (kluis handover ",
          found->name(), " --to USER --reason R; rule R8)"));
    }
    if (found->status != "active") {
      return Refused(Refusal::kAccountState,
                     absl::FailedPreconditionError(absl::StrCat(found->name(), " is already ", found->status)));
    }
    if (absl::Status s = tx.StopAccount(found->id, reason, Micros(now)); !s.ok()) return s;
    // Pending rotations end with the account: nothing new is set on a platform account that goes.
    for (const char* kind : {kPassword, kTotp}) {
      if (absl::StatusOr<bool> aborted = tx.AbortPending(found->id, kind); !aborted.ok()) return aborted.status();
    }
    if (absl::Status s = ApplyObligations(tx, caller, *found, decision, reason, now, "stop"); !s.ok()) return s;
    absl::StatusOr<std::optional<AccountRow>> stopped = tx.FindAccountById(found->id);
    if (!stopped.ok()) return stopped.status();
    absl::StatusOr<AccountView> shown = ViewOf(tx, **stopped, now);
    if (!shown.ok()) return shown.status();
    view = *std::move(shown);
    event.reason = absl::StrCat(reason, " (secrets destroyed after ",
                                absl::FormatDuration(policy->stopped_retention), ")");
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<AccountView> Vault::RecordAccountDeleted(const Caller& caller, absl::string_view account,
                                                        absl::string_view reference) {
  if (absl::Status s = CheckText("platform reference", reference, 200, true); !s.ok()) {
    return RefuseInput(caller, "account-deleted", s);
  }
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  AccountView view;
  audit::AuditEvent event = ManagementEvent(caller, "account-deleted", reference);
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    // Who may release a stopped account to delete it may record that it is gone (R8).
    absl::StatusOr<Decided> decided =
        ResolveAndDecide(tx, caller, *policy, account, Action::kReleaseLogin,
                         {caller.user_id, false, absl::StrCat("deleted on the platform: ", reference)}, now, event,
                         "record the deletion of");
    if (!decided.ok()) return decided.status();
    const AccountRow& found = decided->account;
    if (found.status != "stopped") {
      event.decision = "deny";
      return Refused(Refusal::kAccountState,
                     absl::FailedPreconditionError(absl::StrCat(found.name(), " is ", found.status,
                                                                ": only a stopped account is deleted "
                                                                "(kluis account stop first; R8)")));
    }
    // Gone from the platform: nothing of it is kept, and it releases nothing from now on.
    absl::StatusOr<int> destroyed = tx.DestroyAllSecrets(found.id);
    if (!destroyed.ok()) return destroyed.status();
    if (absl::Status s = tx.MarkDeleted(found.id, reference, Micros(now)); !s.ok()) return s;
    if (absl::Status s = NotifyHolders(tx, found, {policies::Role::kRegisseur, policies::Role::kBeheerder}, "deleted",
                                       std::nullopt,
                                       absl::StrCat(found.name(), " was deleted on the platform (", reference, "), by ",
                                                    caller.user),
                                       now);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::optional<AccountRow>> archived = tx.FindAccountById(found.id);
    if (!archived.ok()) return archived.status();
    absl::StatusOr<AccountView> shown = ViewOf(tx, **archived, now);
    if (!shown.ok()) return shown.status();
    view = *std::move(shown);
    event.reason = absl::StrCat("deleted on the platform: ", reference, "; ", *destroyed, " sealed secrets destroyed");
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return view;
}

// ================================================================================ kabinetswissel

namespace {

constexpr char kHandback[] = "handback";
constexpr char kKeepRemoved[] = "keep-2fa-removed";

// The steps of one minister account, in the order they run. Corporate (R13): archive before the
// wipe, end the predecessor's access, change the password and the authenticator, bind the
// successor. Hybrid (R14): the authenticator goes with the minister or is marked for removal,
// the ministry's access ends, the vault lets go of the account.
std::vector<KabinetswisselStep> StepsFor(const KabinetswisselAccount& a) {
  const std::string who = a.predecessors.empty() ? "nobody is bound" : absl::StrJoin(a.predecessors, ", ");
  if (a.kind == "corporate") {
    return {
        {"archive", absl::StrCat("record where the predecessor's posts are archived: ",
                                 a.archive_ref.empty() ? "(none given: record one before apply)" : a.archive_ref),
         "todo", ""},
        {"wipe", "the predecessor's posts may be removed on the platform (only once archived)", "todo", ""},
        {"end-predecessor", absl::StrCat("end the bewindspersoon and politiek-assistent access (and grants) of: ", who),
         "todo", ""},
        {"rotate-password", absl::StrCat("a new password, pending: set it on the platform, then kluis rotate ",
                                         a.account, " --confirm"),
         "todo", ""},
        {"renew-2fa", absl::StrCat("set up the authenticator anew: kluis secret set-totp ", a.account,
                                   " --pending, then kluis rotate ", a.account, " --confirm"),
         "todo", ""},
        {"bind-successor", absl::StrCat(a.successor, " becomes bewindspersoon of the account"), "todo", ""},
    };
  }
  return {
      a.hybrid == kHandback
          ? KabinetswisselStep{"handback-2fa",
                               absl::StrCat("hand the authenticator (otpauth URI and QR) to the departing minister: ",
                                            a.departing.empty() ? "(no bewindspersoon bound)" : absl::StrJoin(a.departing, ", ")),
                               "todo", ""}
          : KabinetswisselStep{"remove-2fa", "the minister removes the ministry's authenticator from the account",
                               "todo", ""},
      {"end-ministry-bindings", absl::StrCat("end the ministry's access: ", who), "todo", ""},
      {"release-custody", "destroy the vault's copy of the secrets; the account stays read-only for the audit trail",
       "todo", ""},
  };
}

// The stored form of a plan: the unit, then one line per account, tab-separated, in plan order.
// Every field was checked by CheckName or CheckText, so none holds a tab or a newline.
std::string EncodePlan(const KabinetswisselPlan& plan) {
  std::string body = absl::StrCat("unit\t", plan.unit, "\n");
  for (const KabinetswisselAccount& a : plan.accounts) {
    absl::StrAppend(&body, a.account, "\t", a.kind, "\t", a.successor, "\t", a.hybrid, "\t", a.archive_ref,
                    "\t", absl::StrJoin(a.predecessors, ","), "\t", absl::StrJoin(a.departing, ","), "\n");
  }
  return body;
}

std::vector<KabinetswisselAccount> DecodePlan(absl::string_view body, std::string* unit) {
  std::vector<KabinetswisselAccount> accounts;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() == 2 && f[0] == "unit") {
      *unit = f[1];
      continue;
    }
    f.resize(7);
    KabinetswisselAccount a{f[0], f[1], f[2], f[3], f[4],
                            absl::StrSplit(f[5], ',', absl::SkipEmpty()),
                            absl::StrSplit(f[6], ',', absl::SkipEmpty()), {}};
    a.steps = StepsFor(a);
    accounts.push_back(std::move(a));
  }
  return accounts;
}

// Ends the account-scoped bindings of `roles` on the account, except those of `keep`; returns
// "user (role)" for each.
absl::StatusOr<std::vector<std::string>> EndAccountBindings(Tx& tx, const AccountRow& account,
                                                            const std::vector<const char*>& roles,
                                                            absl::string_view keep, absl::Time now,
                                                            absl::string_view by) {
  std::vector<std::string> ended;
  for (const char* role : roles) {
    absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders =
        tx.UsersWithRole("account", account.id, role, Micros(now));
    if (!holders.ok()) return holders.status();
    for (const auto& [id, name] : *holders) {
      if (name == keep) continue;
      absl::StatusOr<int> count = tx.EndBindings(id, role, "account", account.id, Micros(now), by);
      if (!count.ok()) return count.status();
      ended.push_back(absl::StrCat(name, " (", role, ")"));
    }
  }
  return ended;
}

// The one entry of `pairs` that names `account` (PLATFORM/HANDLE, or the bare handle).
const std::string* ValueFor(const std::vector<std::pair<std::string, std::string>>& pairs,
                            const AccountRow& account) {
  for (const auto& [name, value] : pairs) {
    if (name == account.name()) return &value;
  }
  for (const auto& [name, value] : pairs) {
    if (name.find('/') == std::string::npos && absl::EqualsIgnoreCase(name, account.handle)) return &value;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<KabinetswisselPlan> Vault::PlanKabinetswissel(const Caller& caller,
                                                             const KabinetswisselInput& input) {
  if (absl::Status s = CheckName("unit", input.unit); !s.ok()) return RefuseInput(caller, "kabinetswissel-plan", s);
  for (const auto* pairs : {&input.successors, &input.hybrid, &input.archives}) {
    for (const auto& [account, value] : *pairs) {
      if (absl::Status s = CheckText("account", account, 200, true); !s.ok()) return RefuseInput(caller, "kabinetswissel-plan", s);
      if (absl::Status s = CheckText(absl::StrCat("the value for ", account), value, 200, true); !s.ok()) return RefuseInput(caller, "kabinetswissel-plan", s);
    }
  }
  for (const auto& [account, choice] : input.hybrid) {
    if (choice != kHandback && choice != kKeepRemoved) {
      return absl::InvalidArgumentError(absl::StrCat("--hybrid ", Quoted(account), "=", Quoted(choice),
                                                     ": the choice is handback or keep-2fa-removed"));
    }
  }
  for (const auto& [account, user] : input.successors) {
    if (absl::Status s = CheckName("successor", user); !s.ok()) return RefuseInput(caller, "kabinetswissel-plan", s);
  }
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  KabinetswisselPlan plan;
  plan.id = absl::StrCat("kw-", absl::FormatTime("%Y%m%d", now, absl::UTCTimeZone()), "-",
                         absl::BytesToHexString(crypto::RandomBytes(4)));
  plan.unit = input.unit;
  plan.created = now;
  plan.created_by = caller.user;
  audit::AuditEvent event = ManagementEvent(caller, "kabinetswissel-plan", plan.id);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::UnitRow>> unit = tx.FindUnit(input.unit);
    if (!unit.ok()) return unit.status();
    const absl::Status no_unit = absl::NotFoundError(
        absl::StrCat("no minister accounts in unit \"", input.unit, "\" that you have a role on"));
    if (!unit->has_value()) return no_unit;
    event.unit_id = (*unit)->id;
    absl::StatusOr<std::vector<AccountRow>> accounts = tx.ListAccounts();
    if (!accounts.ok()) return accounts.status();
    std::vector<std::string> used;  // every name given must be one of the unit's minister accounts
    for (const AccountRow& account : *accounts) {
      if (account.unit_id != (*unit)->id || account.status != "active" ||
          (account.kind != "corporate" && account.kind != "hybrid")) {
        continue;
      }
      if (!policies::DecideAdmin(caller.policy_bindings, ResourceOf(account), AdminAction::kViewAccount, now).allows()) {
        continue;
      }
      const Decision decision = policies::Decide(*policy, caller.policy_bindings, ResourceOf(account),
                                                 Action::kKabinetswissel, {caller.user_id}, now);
      NoteDecision(event, decision);
      if (!decision.allows()) return DeniedError(decision, absl::StrCat("plan the kabinetswissel of ", account.name()));
      KabinetswisselAccount entry;
      entry.account = account.name();
      entry.kind = account.kind;
      const std::string* successor = ValueFor(input.successors, account);
      const std::string* choice = ValueFor(input.hybrid, account);
      const std::string* archive = ValueFor(input.archives, account);
      for (const std::string* given : {successor, choice, archive}) {
        if (given != nullptr) used.push_back(account.name());
      }
      if (account.kind == "corporate") {
        if (successor == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(account.name(), " is corporate and passes to the successor: "
                                                         "give --successor ", account.name(), "=USER (R13)"));
        }
        if (choice != nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(account.name(), " is corporate: --hybrid is for hybrid accounts"));
        }
        if (absl::StatusOr<storage::UserRow> user = FindActiveUser(tx, *successor); !user.ok()) return user.status();
        entry.successor = *successor;
        entry.archive_ref = archive != nullptr ? *archive : account.archive_ref;
        for (const char* role : {"bewindspersoon", "politiek-assistent"}) {
          absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders =
              tx.UsersWithRole("account", account.id, role, Micros(now));
          if (!holders.ok()) return holders.status();
          for (const auto& [id, name] : *holders) {
            if (name == entry.successor) continue;
            entry.predecessors.push_back(name);
            if (std::string(role) == "bewindspersoon") entry.departing.push_back(name);
          }
        }
      } else {
        if (choice == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(
              account.name(), " is hybrid and leaves with the minister: give --hybrid ", account.name(),
              "=handback (the authenticator goes to the minister) or =keep-2fa-removed (R14)"));
        }
        if (successor != nullptr || archive != nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(
              account.name(), " is hybrid: it has no successor and no archive in the ministry's care (R14)"));
        }
        entry.hybrid = *choice;
        for (const char* role : {"beheerder", "bewindspersoon", "politiek-assistent"}) {
          absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders =
              tx.UsersWithRole("account", account.id, role, Micros(now));
          if (!holders.ok()) return holders.status();
          for (const auto& [id, name] : *holders) {
            if (std::find(entry.predecessors.begin(), entry.predecessors.end(), name) == entry.predecessors.end()) {
              entry.predecessors.push_back(name);
            }
            if (std::string(role) == "bewindspersoon") entry.departing.push_back(name);
          }
        }
      }
      entry.steps = StepsFor(entry);
      plan.accounts.push_back(std::move(entry));
    }
    if (plan.accounts.empty()) return no_unit;
    for (const auto* pairs : {&input.successors, &input.hybrid, &input.archives}) {
      for (const auto& pair : *pairs) {
        const std::string& name = pair.first;  // not a structured binding: a lambda captures it
        const auto matches = std::count_if(plan.accounts.begin(), plan.accounts.end(), [&](const KabinetswisselAccount& a) {
          return a.account == name || absl::EqualsIgnoreCase(a.account.substr(a.account.find('/') + 1), name);
        });
        if (matches == 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              Quoted(name), " is not a corporate or hybrid account of unit ", input.unit));
        }
        if (matches > 1) {
          return absl::InvalidArgumentError(absl::StrCat("handle \"", name,
                                                         "\" is on several platforms: name it as PLATFORM/", name));
        }
      }
    }
    event.reason = absl::StrCat(plan.id, ": ", plan.accounts.size(), " minister accounts");
    return tx.InsertPlan({plan.id, (*unit)->id, EncodePlan(plan), Micros(now), caller.user});
  });
  if (!done.ok()) return done;
  return plan;
}

absl::StatusOr<KabinetswisselOutcome> Vault::ApplyKabinetswissel(const Caller& caller,
                                                                 absl::string_view plan_id) {
  if (absl::Status s = CheckName("plan id", plan_id); !s.ok()) return RefuseInput(caller, "kabinetswissel:apply", s);
  KabinetswisselOutcome outcome;
  // The vault's own copy of the plan is what runs.
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::PlanRow>> row = tx.FindPlan(plan_id);
    if (!row.ok()) return row.status();
    if (!row->has_value()) return absl::NotFoundError(absl::StrCat("no kabinetswissel plan ", Quoted(plan_id)));
    outcome.plan.id = (*row)->id;
    outcome.plan.created = absl::FromUnixMicros((*row)->created_us);
    outcome.plan.created_by = (*row)->created_by;
    outcome.plan.accounts = DecodePlan((*row)->body, &outcome.plan.unit);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;

  outcome.complete = true;
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  for (KabinetswisselAccount& entry : outcome.plan.accounts) {
    // One transaction per account. Each step runs in a savepoint with its own audit record and
    // done-mark, so a failing step undoes only itself (and is recorded), the steps before it stay,
    // the account's later steps are skipped, and a second apply does nothing twice.
    const absl::Time now = clock_.Now();
    std::vector<KabinetswisselStep> steps = entry.steps;
    std::optional<AccountRow> account;
    std::optional<storage::SecretRow> handback;
    // When nothing of the account could run: its first step failed with `why`, the rest skipped.
    auto none_ran = [&](const absl::Status& why) {
      steps = entry.steps;
      for (KabinetswisselStep& step : steps) step.state = "skipped";
      if (!steps.empty()) {
        steps.front().state = "failed";
        steps.front().detail = std::string(why.message());
      }
      handback.reset();
    };
    absl::Status current;
    absl::Status stored = db_->Write([&](Tx& tx) -> absl::Status {
      current = StillCurrent(tx, caller, now);
      if (!current.ok()) return current;
      absl::StatusOr<AccountRow> found = ResolveVisibleAccount(tx, caller, entry.account, now);
      if (!found.ok()) {
        none_ran(found.status());
        return absl::OkStatus();
      }
      account = *found;
      bool failed = false;
      for (KabinetswisselStep& step : steps) {
        if (failed) {
          step.state = "skipped";
          continue;
        }
        absl::StatusOr<bool> done = tx.StepDone(outcome.plan.id, account->id, step.name);
        if (!done.ok()) return done.status();
        if (*done) {
          step.state = "done-earlier";
          continue;
        }
        audit::AuditEvent event = ManagementEvent(caller, absl::StrCat("kabinetswissel:", step.name), "");
        event.account = entry.account;
        event.unit_id = account->unit_id;
        const absl::Status ran = tx.Savepoint([&]() -> absl::Status {
          absl::StatusOr<std::optional<AccountRow>> fresh = tx.FindAccountById(account->id);
          if (!fresh.ok()) return fresh.status();
          // Decide each step afresh, on the account as the steps before left it.
          const Decision decision = policies::Decide(*policy, caller.policy_bindings, ResourceOf(**fresh),
                                                     Action::kKabinetswissel, {caller.user_id}, now);
          NoteDecision(event, decision);
          if (!decision.allows()) return DeniedError(decision, absl::StrCat("change ", entry.account, " at a kabinetswissel"));
          if (absl::Status s = RunKabinetswisselStep(tx, caller, entry, **fresh, step.name, now, step.detail, handback);
              !s.ok()) {
            return s;
          }
          event.reason = absl::StrCat(outcome.plan.id, ": ", step.detail);
          return tx.MarkStepDone(outcome.plan.id, account->id, step.name, Micros(now), caller.user);
        });
        if (ran.ok()) {
          step.state = "done";
        } else {
          NoteFailure(event, ran);
          step.state = "failed";
          step.detail = std::string(ran.message());
          failed = true;
        }
        if (absl::Status r = Record(tx, event, now); !r.ok()) return r;
      }
      return absl::OkStatus();
    });
    if (!current.ok()) {
      // The caller's access changed since it authenticated: the accounts applied so far stay
      // applied (a second apply goes on from there), nothing more runs, and the refusal is recorded.
      audit::AuditEvent refusal = ManagementEvent(caller, "kabinetswissel:apply", outcome.plan.id);
      NoteChangedDuringCall(refusal, current);
      if (absl::Status r = db_->Write([&](Tx& tx) { return Record(tx, refusal, now); }); !r.ok()) return r;
      return current;
    }
    if (!stored.ok()) none_ran(stored);  // nothing of this account committed
    entry.steps = std::move(steps);
    for (const KabinetswisselStep& step : entry.steps) {
      if (step.state == "failed") outcome.complete = false;
    }
    // The authenticator opens only after its record committed, like every release.
    if (handback.has_value()) {
      absl::StatusOr<crypto::SecretBytes> uri = sealer_.Open(account->id, kTotp, handback->version, handback->sealed);
      if (!uri.ok()) return uri.status();
      outcome.handed_back.push_back({entry.account, absl::StrJoin(entry.departing, ", "), *std::move(uri)});
    }
  }
  return outcome;
}

absl::Status Vault::RunKabinetswisselStep(Tx& tx, const Caller& caller, const KabinetswisselAccount& entry,
                                          const AccountRow& account, absl::string_view step, absl::Time now,
                                          std::string& detail, std::optional<storage::SecretRow>& handback) {
  const std::string name = account.name();
  auto tell_beheerders = [&](const std::string& text) {
    return NotifyHolders(tx, account, {policies::Role::kBeheerder}, "kabinetswissel", std::nullopt, text, now);
  };
  if (step == "archive") {
    const std::string reference = !entry.archive_ref.empty() ? entry.archive_ref : account.archive_ref;
    if (reference.empty()) {
      return Refused(Refusal::kArchiveMissing,
                     absl::FailedPreconditionError(absl::StrCat(
                         "no archive reference for ", name, ": record one (kluis kabinetswissel archive ",
                         name, " --ref REF) and apply again; nothing is wiped before it is archived (R13)")));
    }
    detail = absl::StrCat("archived at ", reference);
    return tx.SetArchiveReference(account.id, reference);
  }
  if (step == "wipe") {
    // Checked again here, not only trusted from the step before: no wipe without an archive.
    if (account.archive_ref.empty()) {
      return Refused(Refusal::kArchiveMissing, absl::FailedPreconditionError(absl::StrCat(
                                                  "refusing to wipe ", name, ": no archive reference (R13)")));
    }
    detail = absl::StrCat("the predecessor's posts may be removed; archive ", account.archive_ref);
    return tell_beheerders(absl::StrCat("kabinetswissel: ", name, " is archived at ", account.archive_ref,
                                        "; the predecessor's posts may be removed on the platform now"));
  }
  if (step == "end-predecessor") {
    absl::StatusOr<std::vector<std::string>> ended =
        EndAccountBindings(tx, account, {"bewindspersoon", "politiek-assistent"}, entry.successor, now, caller.user);
    if (!ended.ok()) return ended.status();
    detail = ended->empty() ? "nobody else was bound" : absl::StrCat("ended: ", absl::StrJoin(*ended, ", "));
    return absl::OkStatus();
  }
  if (step == "rotate-password") {
    absl::StatusOr<std::optional<storage::SecretRow>> pending = tx.SecretInState(account.id, kPassword, "pending");
    if (!pending.ok()) return pending.status();
    if (pending->has_value()) {
      detail = absl::StrCat("a new password was already pending (version ", (*pending)->version, ")");
    } else {
      absl::StatusOr<crypto::SecretBytes> password = GeneratePassword(account.platform);
      if (!password.ok()) return password.status();
      absl::StatusOr<int64_t> version = InsertVersion(tx, account, kPassword, *password, /*pending=*/true, caller.user);
      if (!version.ok()) return version.status();
      detail = absl::StrCat("new password pending (version ", *version, "); the beheerder sets it on the platform");
    }
    if (absl::Status s = tx.RaiseRotationFlag(account.id,
                                              absl::StrCat("kabinetswissel ", entry.successor.empty() ? "" : "to ",
                                                           entry.successor, ": set the pending password, then confirm"),
                                              caller.user, Micros(now));
        !s.ok()) {
      return s;
    }
    return tell_beheerders(absl::StrCat("kabinetswissel: a new password of ", name,
                                        " is pending; set it on the platform, then kluis rotate ", name, " --confirm"));
  }
  if (step == "renew-2fa") {
    detail = "the authenticator is due to be set up anew";
    if (absl::Status s = tx.RaiseRotationFlag(account.id, "kabinetswissel: set up the authenticator anew (set-totp --pending)",
                                              caller.user, Micros(now));
        !s.ok()) {
      return s;
    }
    return tell_beheerders(absl::StrCat("kabinetswissel: set up the authenticator of ", name,
                                        " anew: kluis secret set-totp ", name, " --pending, then kluis rotate ", name,
                                        " --confirm"));
  }
  if (step == "bind-successor") {
    absl::StatusOr<storage::UserRow> user = FindActiveUser(tx, entry.successor);
    if (!user.ok()) return user.status();
    if (absl::Status s = BindOnAccount(tx, user->id, "bewindspersoon", account, now, caller.user); !s.ok()) return s;
    detail = absl::StrCat(entry.successor, " is bewindspersoon of ", name);
    return tx.InsertNotification({0, user->id, "kabinetswissel", name, std::nullopt,
                                  absl::StrCat("kabinetswissel: you are now bewindspersoon of ", name,
                                               "; the ministry's beheerder manages it (R11)"),
                                  Micros(now)});
  }
  if (step == "handback-2fa") {
    absl::StatusOr<std::optional<storage::SecretRow>> totp = tx.CurrentSecret(account.id, kTotp);
    if (!totp.ok()) return totp.status();
    if (!totp->has_value()) {
      detail = "no authenticator was stored in the vault";
      return absl::OkStatus();
    }
    handback = **totp;
    detail = absl::StrCat("authenticator handed to ", caller.user, " for ", absl::StrJoin(entry.departing, ", "),
                          " (export of the TOTP key, R14)");
    return absl::OkStatus();
  }
  if (step == "remove-2fa") {
    detail = "the minister removes the ministry's authenticator from the account";
    return tell_beheerders(absl::StrCat("kabinetswissel: ", name,
                                        " leaves with the minister, who removes the ministry's authenticator"));
  }
  if (step == "end-ministry-bindings") {
    absl::StatusOr<std::vector<std::string>> ended = EndAccountBindings(
        tx, account, {"beheerder", "bewindspersoon", "politiek-assistent"}, "", now, caller.user);
    if (!ended.ok()) return ended.status();
    detail = ended->empty() ? "nobody was bound" : absl::StrCat("ended: ", absl::StrJoin(*ended, ", "));
    return absl::OkStatus();
  }
  if (step == "release-custody") {
    absl::StatusOr<int> destroyed = tx.DestroyAllSecrets(account.id);
    if (!destroyed.ok()) return destroyed.status();
    if (absl::StatusOr<int> cleared = tx.ClearRotationFlags(account.id, caller.user, Micros(now)); !cleared.ok()) {
      return cleared.status();
    }
    detail = absl::StrCat(*destroyed, " sealed secrets destroyed; the account is archived, read-only");
    return tx.ArchiveAccount(account.id, Micros(now));
  }
  return absl::InternalError(absl::StrCat("unknown kabinetswissel step ", step));
}

absl::Status Vault::RecordArchiveReference(const Caller& caller, absl::string_view account,
                                           absl::string_view reference) {
  if (absl::Status s = CheckText("archive reference", reference, 200, true); !s.ok()) return RefuseInput(caller, "kabinetswissel:archive-reference", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  audit::AuditEvent event = ManagementEvent(caller, "kabinetswissel:archive-reference", reference);
  event.account = std::string(account);
  return RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<Decided> decided = ResolveAndDecide(tx, caller, *policy, account, Action::kKabinetswissel,
                                                       {caller.user_id}, now, event, "record the archive of");
    if (!decided.ok()) return decided.status();
    const AccountRow* found = &decided->account;
    if (found->kind != "corporate") {
      return absl::InvalidArgumentError(absl::StrCat(found->name(), " is not corporate: only corporate accounts are archived by the ministry (R13)"));
    }
    return tx.SetArchiveReference(found->id, reference);
  });
}

// ====================================================================================== requests

absl::StatusOr<RequestView> Vault::RequestAccess(const Caller& caller, absl::string_view account,
                                                 absl::string_view purpose,
                                                 absl::string_view reason) {
  if (!policies::IsRequestPurpose(purpose)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown purpose ", Quoted(purpose),
                                                   ": use ", policies::kRequestPurposes));
  }
  if (absl::Status s = CheckText("reason", reason, 500, true); !s.ok()) return RefuseInput(caller, "request-access", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  if (absl::Status s = CheckMeaningfulReason(reason, *policy, "a request"); !s.ok()) return RefuseInput(caller, "request-access", s);
  RequestView view;
  audit::AuditEvent event = ManagementEvent(caller, "request-access", reason);
  event.account = std::string(account);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<AccountRow> found = ResolveVisibleAccount(tx, caller, account, now);
    if (!found.ok()) return found.status();
    event.account = found->name();
    event.unit_id = found->unit_id;
    const Decision decision =
        policies::DecideNewRequest(*policy, caller.policy_bindings, ResourceOf(*found), now);
    NoteDecision(event, decision);
    if (!decision.allows()) return DeniedError(decision, absl::StrCat("request ", found->name()));
    storage::RequestRow row;
    row.account_id = found->id;
    row.requester_id = caller.user_id;
    row.requester = caller.user;
    row.rule_id = decision.rule;
    row.purpose = std::string(purpose);
    row.reason = std::string(reason);
    row.created_us = Micros(now);
    absl::StatusOr<int64_t> id = tx.InsertRequest(row);
    if (!id.ok()) return id.status();
    row.id = *id;
    event.request_id = absl::StrCat(*id);
    event.reason = absl::StrCat(purpose, ": ", reason);
    view = ViewOfRequest(row, found->name(), *policy, now);
    // The approvers hear of it in their inbox.
    const policies::Rule* rule = policy->FindRule(decision.rule);
    std::vector<policies::Role> approvers = rule != nullptr ? rule->approvers : std::vector<policies::Role>{};
    // The requester is told who can decide (they hear of it in their inbox, below).
    for (policies::Role role : approvers) {
      absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> holders = UsersHolding(tx, role, *found, now);
      if (!holders.ok()) return holders.status();
      for (const auto& [user_id, name] : *holders) {
        if (user_id != caller.user_id) view.deciders.push_back(absl::StrCat(name, " (", policies::RoleName(role), ")"));
      }
    }
    return NotifyHolders(tx, *found, approvers, "request", *id,
                         absl::StrCat(caller.user, " requests the login of ", found->name(), " (",
                                      purpose, "): ", reason, "; kluis approve ", *id, " or kluis deny ", *id),
                         now);
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<std::vector<RequestView>> Vault::Decidable(Tx& tx, const Caller& caller,
                                                          const policies::Policy& policy,
                                                          const std::vector<storage::RequestRow>& rows,
                                                          absl::Time now) {
  std::vector<RequestView> decidable;
  for (const storage::RequestRow& row : rows) {
    const policies::AccessRequest request = RequestOf(row);
    const policies::RequestStatus status = policies::DeriveStatus(request, policy, now);
    const bool escalation = status.state == policies::RequestState::kEscalated;
    if (status.state != policies::RequestState::kPending && !escalation) continue;
    absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById(row.account_id);
    if (!account.ok()) return account.status();
    if (!account->has_value()) continue;
    if (policies::DecideOnRequest(policy, caller.policy_bindings, ResourceOf(**account), request,
                                  caller.user_id, escalation, now)
            .allows()) {
      decidable.push_back(RequestView{request, (*account)->name(), status});
    }
  }
  return decidable;
}

absl::StatusOr<RequestLists> Vault::ListRequests(const Caller& caller) {
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  RequestLists lists;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::vector<storage::RequestRow>> mine = tx.ListRequests(caller.user_id, 100, /*with_used=*/true);
    if (!mine.ok()) return mine.status();
    for (const storage::RequestRow& row : *mine) {
      absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById(row.account_id);
      if (!account.ok()) return account.status();
      lists.mine.push_back(ViewOfRequest(row, account->has_value() ? (*account)->name() : "?", *policy, now));
    }
    absl::StatusOr<std::vector<storage::RequestRow>> open = tx.ListRequests(std::nullopt, 1000);
    if (!open.ok()) return open.status();
    absl::StatusOr<std::vector<RequestView>> decidable = Decidable(tx, caller, *policy, *open, now);
    if (!decidable.ok()) return decidable.status();
    lists.to_decide = *std::move(decidable);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return lists;
}

absl::StatusOr<RequestView> Vault::DecideRequest(const Caller& caller, int64_t request_id,
                                                 bool approve, absl::string_view reason,
                                                 std::optional<absl::Duration> ttl) {
  if (absl::Status s = CheckText("reason", reason, 500, false); !s.ok()) return RefuseInput(caller, approve ? "approve-request" : "deny-request", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  if (!approve) {
    if (absl::Status s = CheckMeaningfulReason(reason, *policy, "a denial"); !s.ok()) return RefuseInput(caller, approve ? "approve-request" : "deny-request", s);
  }
  if (ttl.has_value() && (*ttl <= absl::ZeroDuration() || *ttl > policy->max_grant_ttl)) {
    return absl::InvalidArgumentError(absl::StrCat("--ttl must be more than 0 and at most ",
                                                   absl::FormatDuration(policy->max_grant_ttl)));
  }
  RequestView view;
  audit::AuditEvent event = ManagementEvent(caller, approve ? "approve-request" : "deny-request", reason);
  event.request_id = absl::StrCat(request_id);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::RequestRow>> row = tx.FindRequest(request_id);
    if (!row.ok()) return row.status();
    const absl::Status not_found = absl::NotFoundError(absl::StrCat("no request ", request_id));
    if (!row->has_value()) return not_found;
    absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById((*row)->account_id);
    if (!account.ok()) return account.status();
    if (!account->has_value() ||
        !policies::DecideAdmin(caller.policy_bindings, ResourceOf(**account), AdminAction::kViewAccount, now)
             .allows()) {
      return not_found;
    }
    event.account = (*account)->name();
    event.unit_id = (*account)->unit_id;
    const policies::AccessRequest request = RequestOf(**row);
    const policies::RequestStatus status = policies::DeriveStatus(request, *policy, now);
    const bool escalation = status.state == policies::RequestState::kEscalated;
    const Decision decision = policies::DecideOnRequest(*policy, caller.policy_bindings, ResourceOf(**account),
                                                        request, caller.user_id, escalation, now);
    NoteDecision(event, decision);
    if (!decision.allows()) return DeniedError(decision, absl::StrCat("decide request ", request_id));
    if (status.state != policies::RequestState::kPending && !escalation) {
      return Refused(Refusal::kRequestState,
                     absl::FailedPreconditionError(absl::StrCat("request ", request_id, " is ",
                                                                policies::RequestStateName(status.state),
                                                                ": there is nothing to decide")));
    }
    std::optional<int64_t> ttl_us;
    if (ttl.has_value()) ttl_us = absl::ToInt64Microseconds(*ttl);
    if (absl::Status s = tx.RecordRequestDecision(request_id, escalation, approve, caller.user,
                                                  Micros(now), reason, ttl_us);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::optional<storage::RequestRow>> updated = tx.FindRequest(request_id);
    if (!updated.ok()) return updated.status();
    view = ViewOfRequest(**updated, (*account)->name(), *policy, now);
    return tx.InsertNotification(
        {0, (*row)->requester_id, "decision", (*account)->name(), request_id,
         absl::StrCat(caller.user, approve ? " approved" : " denied", " your request ", request_id,
                      " for ", (*account)->name(),
                      approve ? absl::StrCat(": kluis get ", (*account)->name(), " --request ", request_id)
                              : absl::StrCat(": ", reason)),
         Micros(now)});
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<RequestView> Vault::EscalateRequest(const Caller& caller, int64_t request_id,
                                                   absl::string_view reason) {
  if (absl::Status s = CheckText("reason", reason, 500, false); !s.ok()) return RefuseInput(caller, "escalate-request", s);
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  RequestView view;
  audit::AuditEvent event = ManagementEvent(caller, "escalate-request", reason);
  event.request_id = absl::StrCat(request_id);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::optional<storage::RequestRow>> row = tx.FindRequest(request_id);
    if (!row.ok()) return row.status();
    // Only the requester escalates their own request; to anyone else it does not exist.
    if (!row->has_value() || (*row)->requester_id != caller.user_id) {
      return absl::NotFoundError(absl::StrCat("no request ", request_id, " of yours"));
    }
    absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById((*row)->account_id);
    if (!account.ok()) return account.status();
    event.account = (*account)->name();
    event.unit_id = (*account)->unit_id;
    const policies::AccessRequest request = RequestOf(**row);
    const policies::RequestStatus status = policies::DeriveStatus(request, *policy, now);
    const policies::Rule* rule = policy->FindRule(request.rule_id);
    event.rule = rule != nullptr ? absl::StrCat(rule->id, "/escalate") : "request.rule-gone";
    event.decision = "allow";
    event.outcome = "ok";
    if (rule == nullptr || !rule->escalate_to.has_value()) {
      event.decision = "deny";
      return Refused(Refusal::kRequestState,
                     absl::FailedPreconditionError(absl::StrCat(
                         "request ", request_id, " cannot be escalated: its rule names nobody above")));
    }
    if (status.state != policies::RequestState::kDenied) {
      event.decision = "deny";
      return Refused(Refusal::kRequestState,
                     absl::FailedPreconditionError(absl::StrCat("request ", request_id, " is ",
                                                                policies::RequestStateName(status.state),
                                                                "; only a denied request is escalated")));
    }
    if (absl::Status s = tx.RecordEscalation(request_id, Micros(now)); !s.ok()) return s;
    absl::StatusOr<std::optional<storage::RequestRow>> updated = tx.FindRequest(request_id);
    if (!updated.ok()) return updated.status();
    view = ViewOfRequest(**updated, (*account)->name(), *policy, now);
    return NotifyHolders(tx, **account, {*rule->escalate_to}, "escalation", request_id,
                         absl::StrCat(caller.user, " escalates request ", request_id, " for ",
                                      (*account)->name(), ", denied by ", (*row)->decided_by, " (",
                                      (*row)->decision_reason, "): ", reason, "; kluis approve ",
                                      request_id, " or kluis deny ", request_id),
                         now);
  });
  if (!done.ok()) return done;
  return view;
}

absl::StatusOr<Inbox> Vault::GetInbox(const Caller& caller) {
  absl::StatusOr<RequestLists> lists = ListRequests(caller);
  if (!lists.ok()) return lists.status();
  Inbox inbox;
  inbox.to_decide = std::move(lists->to_decide);
  for (RequestView& mine : lists->mine) {
    if (mine.status.usable()) inbox.grants.push_back(std::move(mine));
  }
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::vector<storage::NotificationRow>> notices = tx.ListNotifications(caller.user_id, 50);
    if (!notices.ok()) return notices.status();
    inbox.notices = *std::move(notices);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return inbox;
}

absl::StatusOr<std::vector<DueFlag>> Vault::ListDue(const Caller& caller) {
  const absl::Time now = clock_.Now();
  std::vector<DueFlag> due;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::vector<storage::RotationFlagRow>> flags = tx.OpenRotationFlags(std::nullopt);
    if (!flags.ok()) return flags.status();
    for (const storage::RotationFlagRow& flag : *flags) {
      absl::StatusOr<std::optional<AccountRow>> account = tx.FindAccountById(flag.account_id);
      if (!account.ok()) return account.status();
      if (!account->has_value() ||
          !policies::DecideAdmin(caller.policy_bindings, ResourceOf(**account), AdminAction::kViewAccount, now)
               .allows()) {
        continue;
      }
      due.push_back(DueFlag{(*account)->name(), flag});
    }
    // A password older than the policy's maximum is due by age: derived when read, never stored.
    const std::optional<absl::Duration> max_age = policy()->max_password_age;
    if (!max_age.has_value()) return absl::OkStatus();
    absl::StatusOr<std::vector<AccountRow>> accounts = tx.ListAccounts();
    if (!accounts.ok()) return accounts.status();
    for (const AccountRow& account : *accounts) {
      if (account.status != "active" ||
          !policies::DecideAdmin(caller.policy_bindings, ResourceOf(account), AdminAction::kViewAccount, now).allows()) {
        continue;
      }
      absl::StatusOr<std::optional<storage::SecretRow>> password = tx.CurrentSecret(account.id, kPassword);
      if (!password.ok()) return password.status();
      if (!password->has_value()) continue;
      const absl::Time set = absl::FromUnixMicros((*password)->created_us);
      if (now - set < *max_age) continue;
      storage::RotationFlagRow age{0, account.id,
                                   absl::StrCat("password older than ", *max_age / absl::Hours(24), " days"),
                                   "kluisd", Micros(set + *max_age)};
      due.push_back(DueFlag{account.name(), age});
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return due;
}

// ========================================================================================= audit

absl::StatusOr<std::vector<storage::AuditRow>> Vault::ListAudit(const Caller& caller,
                                                                const AuditQuery& query) {
  const absl::Time now = clock_.Now();
  const policies::AuditReadScope scope = policies::ReadableAudit(caller.policy_bindings, now);
  storage::AuditFilter filter;
  if (query.since) filter.since_us = Micros(*query.since);
  if (query.until) filter.until_us = Micros(*query.until);
  filter.account = query.account;
  filter.actor = query.actor;
  filter.releases_only = query.releases_only;
  filter.limit = std::clamp<int64_t>(query.limit <= 0 ? 1000 : query.limit, 1, 10000);
  if (!scope.everything) filter.units = scope.units;

  std::vector<storage::AuditRow> rows;
  audit::AuditEvent event = ManagementEvent(caller, "audit-list", "");
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    const Decision decision =
        scope.any() ? Decision{policies::Verdict::kAllow, "sod.auditor-reads", policies::Role::kAuditor}
                    : DeniedBy("deny-by-default");
    NoteDecision(event, decision);
    if (!decision.allows()) return DeniedError(decision, "read the audit log (auditors only)");
    absl::StatusOr<std::vector<storage::AuditRow>> found = tx.ListAuditRecords(filter);
    if (!found.ok()) return found.status();
    rows = *std::move(found);
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return rows;
}


absl::Status Vault::ExportAudit(const Caller& caller, const AuditQuery& query, AuditSink& sink) {
  const absl::Time now = clock_.Now();
  const policies::AuditReadScope scope = policies::ReadableAudit(caller.policy_bindings, now);
  storage::AuditFilter filter;
  std::vector<std::string> filters;
  if (query.since) {
    filter.since_us = Micros(*query.since);
    filters.push_back(absl::StrCat("since=", absl::FormatTime(absl::RFC3339_full, *query.since, absl::UTCTimeZone())));
  }
  if (query.until) {
    filter.until_us = Micros(*query.until);
    filters.push_back(absl::StrCat("until=", absl::FormatTime(absl::RFC3339_full, *query.until, absl::UTCTimeZone())));
  }
  if (query.account) filters.push_back(absl::StrCat("account=", *query.account));
  if (query.actor) filters.push_back(absl::StrCat("actor=", *query.actor));
  filter.account = query.account;
  filter.actor = query.actor;
  if (!scope.everything) filter.units = scope.units;
  filter.limit = 1000;

  AuditExport head;
  head.public_key = checkpointer_->public_key();
  head.exported = now;

  // The export is itself an audit record, and a checkpoint is signed on it. Every export, full or
  // filtered, ends with that record and its checkpoint: the record names the head (its own seq)
  // and the filter, so the unsigned header can be checked against what is signed, and nothing can
  // be cut off the end or relabelled unnoticed (docs/AUDIT_FORMAT.md §4).
  audit::AuditEvent event = ManagementEvent(caller, auditfile::kExportAction, "");
  const Decision decision = scope.any()
                                ? Decision{policies::Verdict::kAllow, "sod.auditor-reads", policies::Role::kAuditor}
                                : DeniedBy("deny-by-default");
  NoteDecision(event, decision);
  absl::Status current;
  absl::Status opened = db_->Write([&](Tx& tx) -> absl::Status {
    current = StillCurrent(tx, caller, now);
    if (!current.ok()) NoteChangedDuringCall(event, current);
    const bool allowed = current.ok() && decision.allows();
    // An auditor of some units reads only theirs: the filter names them as people know them.
    std::vector<std::string> named = filters;
    if (!scope.everything) {
      std::vector<std::string> names;
      for (int64_t id : scope.units) {
        absl::StatusOr<std::optional<storage::UnitRow>> unit = tx.FindUnitById(id);
        if (!unit.ok()) return unit.status();
        names.push_back(unit->has_value() ? (*unit)->name : absl::StrCat("#", id));
      }
      named.push_back(absl::StrCat("units=", absl::StrJoin(names, ",")));
    }
    head.filtered = !named.empty();
    head.filter = head.filtered ? absl::StrJoin(named, " ") : "none";
    absl::StatusOr<std::optional<storage::AuditRow>> last = tx.LastAuditRecord();
    if (!last.ok()) return last.status();
    event.reason = auditfile::ExportRecordReason(last->has_value() ? (*last)->seq + 1 : 1, head.filter);
    absl::StatusOr<int64_t> seq = audit::Append(tx, event, now, checkpointer_.get(), /*force_checkpoint=*/allowed);
    if (!seq.ok()) return seq.status();
    head.head_seq = *seq;
    return absl::OkStatus();
  });
  if (!opened.ok()) return opened;
  if (!current.ok()) return current;
  if (!decision.allows()) return DeniedError(decision, "export the audit log (auditors only)");
  if (!sink.Header(head)) return absl::CancelledError("export stopped by the client");

  // Page by page, each page its own read transaction: the log below the head only grows at its
  // end, so pages stay consistent with each other. The export's own record comes last, always.
  filter.up_to_seq = head.head_seq - 1;
  std::string previous = auditfile::GenesisHash();
  int64_t last_seq = 0;
  for (;;) {
    filter.after_seq = last_seq;
    std::vector<storage::AuditRow> page;
    std::vector<storage::CheckpointRow> checkpoints;
    std::vector<std::string> previous_hashes;
    absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
      absl::StatusOr<std::vector<storage::AuditRow>> rows = tx.ListAuditRecords(filter);
      if (!rows.ok()) return rows.status();
      page = *std::move(rows);
      if (page.empty()) return absl::OkStatus();
      absl::StatusOr<std::vector<storage::CheckpointRow>> signed_rows = tx.ListCheckpoints(last_seq, page.back().seq);
      if (!signed_rows.ok()) return signed_rows.status();
      checkpoints = *std::move(signed_rows);
      // A filtered export gives each record the hash before it, which it cannot carry over.
      if (head.filtered) {
        for (const storage::AuditRow& row : page) {
          absl::StatusOr<std::optional<std::string>> before = tx.AuditHashAt(row.seq - 1);
          if (!before.ok()) return before.status();
          previous_hashes.push_back(before->value_or(auditfile::GenesisHash()));
        }
      }
      return absl::OkStatus();
    });
    if (!read.ok()) return read;
    if (page.empty()) break;
    size_t next_checkpoint = 0;
    for (size_t i = 0; i < page.size(); ++i) {
      const storage::AuditRow& row = page[i];
      if (!sink.Record(row, head.filtered ? previous_hashes[i] : previous)) {
        return absl::CancelledError("export stopped by the client");
      }
      previous = row.chain_hash;
      // The checkpoints that fall on this record follow it; in a filtered export only those.
      while (next_checkpoint < checkpoints.size() && checkpoints[next_checkpoint].seq <= row.seq) {
        if (checkpoints[next_checkpoint].seq == row.seq && !sink.Checkpoint(checkpoints[next_checkpoint])) {
          return absl::CancelledError("export stopped by the client");
        }
        ++next_checkpoint;
      }
    }
    last_seq = page.back().seq;
  }
  return ExportClosing(head.head_seq, sink);
}

absl::Status Vault::ExportClosing(int64_t head_seq, AuditSink& sink) {
  storage::AuditFilter own;
  own.after_seq = head_seq - 1;
  own.up_to_seq = head_seq;
  own.limit = 1;
  std::vector<storage::AuditRow> rows;
  std::vector<storage::CheckpointRow> checkpoints;
  std::optional<std::string> before;
  absl::Status read = db_->Read([&](Tx& tx) -> absl::Status {
    absl::StatusOr<std::vector<storage::AuditRow>> found = tx.ListAuditRecords(own);
    if (!found.ok()) return found.status();
    rows = *std::move(found);
    absl::StatusOr<std::vector<storage::CheckpointRow>> signed_rows = tx.ListCheckpoints(head_seq - 1, head_seq);
    if (!signed_rows.ok()) return signed_rows.status();
    checkpoints = *std::move(signed_rows);
    absl::StatusOr<std::optional<std::string>> hash = tx.AuditHashAt(head_seq - 1);
    if (!hash.ok()) return hash.status();
    before = *hash;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (rows.size() != 1 || checkpoints.empty() || checkpoints.back().seq != head_seq) {
    return absl::DataLossError(absl::StrCat("the export's own audit record ", head_seq, " or its checkpoint is missing"));
  }
  if (!sink.Record(rows[0], before.value_or(auditfile::GenesisHash())) || !sink.Checkpoint(checkpoints.back())) {
    return absl::CancelledError("export stopped by the client");
  }
  return absl::OkStatus();
}

absl::StatusOr<CustodyReport> Vault::Custody(const Caller& caller, absl::string_view unit) {
  const absl::Time now = clock_.Now();
  const std::shared_ptr<const policies::Policy> policy = this->policy();
  CustodyReport report;
  report.as_of = now;
  audit::AuditEvent event = ManagementEvent(caller, "custody-report", unit);
  absl::Status done = RunAudited(caller, event, now, [&](Tx& tx) -> absl::Status {
    std::optional<int64_t> unit_id;
    if (!unit.empty()) {
      absl::StatusOr<std::optional<storage::UnitRow>> found = tx.FindUnit(unit);
      if (!found.ok()) return found.status();
      // A unit outside the caller's scope reads as one that does not exist.
      const absl::Status no_unit =
          absl::NotFoundError(absl::StrCat("no unit ", Quoted(unit), " whose custody report you may see"));
      if (!found->has_value()) return no_unit;
      unit_id = (*found)->id;
      event.unit_id = unit_id;
      const Decision decision = policies::DecideAdmin(caller.policy_bindings, policies::Resource{0, 0, *unit_id},
                                                      AdminAction::kCustodyReport, now);
      NoteDecision(event, decision);
      if (!decision.allows()) return no_unit;
    } else {
      event.decision = "allow";
      event.rule = "R4.custody-report";
      event.outcome = "ok";
    }
    absl::StatusOr<std::vector<AccountRow>> accounts = tx.ListAccounts();
    if (!accounts.ok()) return accounts.status();
    absl::StatusOr<std::vector<storage::RequestRow>> requests = tx.ListRequests(std::nullopt, 100000);
    if (!requests.ok()) return requests.status();
    for (const AccountRow& account : *accounts) {
      if (unit_id && account.unit_id != *unit_id) continue;
      if (!policies::DecideAdmin(caller.policy_bindings, ResourceOf(account), AdminAction::kCustodyReport, now)
               .allows()) {
        continue;
      }
      CustodyLine line;
      absl::StatusOr<AccountView> view = ViewOf(tx, account, now);
      if (!view.ok()) return view.status();
      line.view = *std::move(view);
      absl::StatusOr<std::vector<Tx::Holder>> holders = tx.AccountHolders(account.id, "beheerder", Micros(now));
      if (!holders.ok()) return holders.status();
      bool any_active = false;
      for (const Tx::Holder& h : *holders) {
        const bool active = h.user_active && h.binding_valid && h.enrolled;
        line.beheerders.emplace_back(h.user, active);
        any_active |= active;
        if (!active) {
          line.problems.push_back(absl::StrCat("beheerder ", h.user, " is not active (",
                                               !h.user_active     ? "disabled"
                                               : !h.binding_valid ? "binding not valid now"
                                                                  : "not enrolled",
                                               ")"));
        }
      }
      absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> teamchefs =
          UsersHolding(tx, policies::Role::kTeamchef, account, now);
      if (!teamchefs.ok()) return teamchefs.status();
      line.teamchef_covered = !teamchefs->empty();
      absl::StatusOr<std::vector<storage::RotationFlagRow>> flags = tx.OpenRotationFlags(account.id);
      if (!flags.ok()) return flags.status();
      line.open_flags = static_cast<int>(flags->size());
      for (const storage::RequestRow& row : *requests) {
        if (row.account_id != account.id) continue;
        const policies::RequestState state = policies::DeriveStatus(RequestOf(row), *policy, now).state;
        line.pending_requests += state == policies::RequestState::kPending || state == policies::RequestState::kEscalated;
      }
      absl::StatusOr<std::optional<int64_t>> released = tx.LastRelease(account.name());
      if (!released.ok()) return released.status();
      if (released->has_value()) line.last_release = absl::FromUnixMicros(**released);

      for (const char* kind : {kPassword, kTotp}) {
        absl::StatusOr<std::optional<storage::SecretRow>> pending = tx.SecretInState(account.id, kind, "pending");
        if (!pending.ok()) return pending.status();
        line.pending_rotation |= pending->has_value();
      }

      // The verdict (docs/POLICY.md, "Custody in order"). In order is the seed's minimum (000
      // §4.9, R1, R2): the password and linked e-mail kept in the vault, one known and live, a
      // beheerder who can act, a teamchef who can take it, nothing left to rotate. The rest is
      // advice: it shows, and does not make the account out of order.
      std::vector<std::string>& p = line.problems;
      std::vector<std::string>& w = line.warnings;
      if (account.status != "active") {
        p.insert(p.begin(), absl::StrCat("account is ", account.status));
      } else {
        if (!line.view.has_password) p.push_back("no password in the vault");
        if (!line.view.has_linked_email) p.push_back("no linked e-mail address in the vault");
        if (line.pending_rotation) {
          p.push_back("a rotation is pending: the vault does not know which password or 2FA key is live "
                      "(confirm or abort it)");
        }
        if (!any_active) p.push_back("no active beheerder");
        if (!line.teamchef_covered) p.push_back("no teamchef for the team");
        if (line.open_flags > 0) p.push_back(absl::StrCat(line.open_flags, " open rotation flag(s)"));
        if (policy->max_password_age && line.view.password_set_at &&
            now - *line.view.password_set_at >= *policy->max_password_age) {
          p.push_back(absl::StrCat("password older than ", *policy->max_password_age / absl::Hours(24), " days"));
        }
        if (!line.view.has_totp) w.push_back("no 2FA key in the vault");
        if (line.view.has_totp && line.view.recovery_codes_left == 0) w.push_back("no recovery codes left");
        if (line.pending_requests > 0) w.push_back(absl::StrCat(line.pending_requests, " pending request(s)"));
      }
      const std::string team = absl::StrCat(account.unit_name, "/", account.team_name);
      if (report.teams.empty() || report.teams.back().team != team) report.teams.push_back({team, 0, 0});
      ++report.teams.back().accounts;
      report.teams.back().in_order += line.problems.empty();
      report.lines.push_back(std::move(line));
    }
    if (unit.empty() && report.lines.empty()) {
      event.decision = "deny";
      event.rule = "deny-by-default";
      return absl::PermissionDeniedError("you may not see a custody report: it is for regisseurs and auditors");
    }
    event.reason = absl::StrCat(unit.empty() ? "all units in scope" : std::string(unit), ": ", report.lines.size(),
                                " accounts");
    return absl::OkStatus();
  });
  if (!done.ok()) return done;
  return report;
}

}  // namespace kluis::server
