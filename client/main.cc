// kluis: the Kluis command-line client.
#include "absl/synchronization/mutex.h"
#include "client/cli.h"
#include "crypto/process.h"
#include "crypto/random.h"

int main(int argc, char** argv) {
  // A client holds released passwords in memory: no core dumps here either.
  if (!kluis::crypto::DisableCoreDumps().ok() || !kluis::crypto::Initialize().ok()) return 5;
  // Abseil's lock-order graph is on in Debian's build; the tests keep it, the CLI need not pay.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return kluis::client::RunKluis(argc, argv);
}
