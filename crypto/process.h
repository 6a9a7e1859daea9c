#ifndef KLUIS_CRYPTO_PROCESS_H_
#define KLUIS_CRYPTO_PROCESS_H_

#include "absl/status/status.h"

namespace kluis::crypto {

// Keeps secrets out of core dumps: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (which also stops other
// processes of the same user from ptrace-attaching). Call first thing in every binary's main.
absl::Status DisableCoreDumps();

// Makes glibc's malloc overwrite every block when it is freed, so a secret that passed through
// memory we do not own (protobuf strings, gRPC's slices, TLS buffers) does not linger in the heap
// after the call: the tunables glibc.malloc.perturb (fill freed blocks) and tcache_count=0 (the
// per-thread cache would skip the fill). glibc reads tunables only when a program starts, so the
// first call re-executes the program (same pid, same arguments) with them set; the second sees
// them and returns. A perturb value already in GLIBC_TUNABLES is respected. Call first in main.
void WipeFreedHeapMemory(char** argv);

// The tunables WipeFreedHeapMemory sets.
inline constexpr char kWipeFreedHeapTunables[] = "glibc.malloc.perturb=165:glibc.malloc.tcache_count=0";

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_PROCESS_H_
