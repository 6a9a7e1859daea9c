// Who is calling: certificates to users, and enrollment.
#include "server/vault/vault.h"

#include "absl/strings/str_cat.h"
#include "server/audit/audit_log.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/attempt.h"
#include "server/vault/checks.h"
#include "server/vault/internal.h"
#include "server/vault/keys.h"

namespace kluis::server {

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
  // Step 1 of the attempt, refused: recorded as who it was, through the one pipeline.
  Attempt attempt(who->refusal, now);
  auto refuse = [&](Tx&, Attempt& self) { return self.Refuse(who->refused); };
  return Run(attempt, refuse);
}

namespace {

// Why an enrollment code is refused: the rule, the error, and whether the attempt counts.
struct CodeRefusal {
  std::string rule;
  absl::Status error;
  bool count_attempt = false;
};

// Refuses `code` unless it is the user's latest, valid one: not revoked, right, not locked, not
// used, not expired. Until the caller proves the code, every failure reads the same: nothing about
// whether the user exists or has a code. Only who holds the code learns that it is locked.
std::optional<CodeRefusal> JudgeCode(const std::optional<storage::EnrollmentCodeRow>& stored,
                                     absl::string_view code, absl::Time now) {
  const absl::Status invalid = absl::UnauthenticatedError("invalid enrollment code");
  if (!stored.has_value() || stored->revoked_us.has_value()) return CodeRefusal{"enroll.no-valid-code", invalid};
  const bool locked = stored->attempts >= Vault::kEnrollmentAttempts;
  if (!crypto::SecretBytes::CopyFrom(HashCode(code)).Equals(crypto::SecretBytes::CopyFrom(stored->code_hash))) {
    return CodeRefusal{locked ? "enroll.locked" : "enroll.wrong-code", invalid, /*count_attempt=*/true};
  }
  if (locked) {
    return CodeRefusal{"enroll.locked", absl::UnauthenticatedError("enrollment code locked after too many wrong "
                                                                   "attempts: ask the operator for a new one")};
  }
  if (stored->used_us.has_value()) {
    return CodeRefusal{"enroll.code-used", absl::UnauthenticatedError(
                                               "enrollment code already used: ask the operator for a new one")};
  }
  if (absl::ToUnixMicros(now) >= stored->expires_us) {
    return CodeRefusal{"enroll.code-expired", absl::UnauthenticatedError(
                                                  "enrollment code expired: ask the operator for a new one")};
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Enrolled> Vault::Enroll(absl::string_view user_name, absl::string_view code,
                                       absl::string_view request_pem, absl::string_view peer) {
  if (absl::Status s = CheckName("user", user_name); !s.ok()) return s;
  if (code.empty() || code.size() > 64) return absl::InvalidArgumentError("enrollment code is malformed");
  if (request_pem.empty() || request_pem.size() > 16 * 1024) {
    return absl::InvalidArgumentError("certificate request is missing or too large");
  }
  audit::AuditEvent asked;
  asked.actor = std::string(user_name);
  asked.action = "enroll";
  asked.peer = std::string(peer);
  Attempt attempt(std::move(asked), clock_.Now());
  const absl::Time now = attempt.now();
  Enrolled enrolled;
  // Nobody is identified: the code is the proof. Refusals commit with their record: the attempt
  // counter must survive the refusal.
  auto step = [&](Tx& tx, Attempt& self) -> absl::Status {
    auto refuse = [&](std::string rule, absl::Status error) {
      self.Decide(DeniedBy(std::move(rule)));
      const absl::Status refused = self.Refuse(std::move(error));
      self.event().outcome = "unauthenticated";  // whatever the error: the enrollee was not let in
      return refused;
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
    if (std::optional<CodeRefusal> refused = JudgeCode(stored_code, code, now)) {
      if (refused->count_attempt) {
        if (absl::Status s = tx.CountEnrollmentAttempt(stored_code->id); !s.ok()) return s;
      }
      return refuse(refused->rule, refused->error);
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
    self.Decide(Decision{policies::Verdict::kAllow, "enroll.code-valid", {}});
    self.event().reason =
        absl::StrCat("certificate ", *fingerprint, "; earlier certificates revoked: ", *revoked);
    return absl::OkStatus();
  };
  if (absl::Status s = Run(attempt, step); !s.ok()) return s;
  return enrolled;
}

}  // namespace kluis::server
