// The steps of a kabinetswissel (R13, R14), one function each over the account they change, and
// the table that names them. kabinetswissel.cc plans them and applies them in order.
#ifndef KLUIS_SERVER_VAULT_KABINETSWISSEL_STEPS_H_
#define KLUIS_SERVER_VAULT_KABINETSWISSEL_STEPS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/secret_bytes.h"
#include "server/vault/internal.h"
#include "server/vault/vault.h"

namespace kluis::server {

// What a kabinetswissel step works on: the account and its plan entry, in the apply's transaction;
// what it reports (`detail`) and, for handback-2fa, the key it hands back. Password generation and
// sealing are the vault's, passed in.
struct StepRun {
  storage::Tx& tx;
  const Caller& caller;
  const KabinetswisselAccount& entry;
  const storage::AccountRow& account;
  const std::string name;
  absl::Time now;
  std::string& detail;
  std::optional<storage::SecretRow>& handback;
  absl::FunctionRef<absl::StatusOr<crypto::SecretBytes>(absl::string_view platform)>
      generate_password;
  absl::FunctionRef<absl::StatusOr<int64_t>(storage::SecretKind kind, const crypto::SecretBytes& secret,
                                            bool pending, absl::string_view by)>
      insert_version;
};

// Runs the step named `step` (a name StepsFor gives); an unknown name is an internal error.
absl::Status RunStep(absl::string_view step, StepRun& run);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_KABINETSWISSEL_STEPS_H_
