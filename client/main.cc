// kluis: the Kluis command-line client.
#include "client/cli.h"
#include "crypto/process.h"
#include "crypto/random.h"

int main(int argc, char** argv) {
  // A client holds released passwords in memory: no core dumps here either.
  if (!kluis::crypto::DisableCoreDumps().ok() || !kluis::crypto::Initialize().ok()) return 5;
  return kluis::client::RunKluis(argc, argv);
}
