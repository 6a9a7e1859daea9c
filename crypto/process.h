#ifndef KLUIS_CRYPTO_PROCESS_H_
#define KLUIS_CRYPTO_PROCESS_H_

#include "absl/status/status.h"

namespace kluis::crypto {

// Keeps secrets out of core dumps: RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (which also stops other
// processes of the same user from ptrace-attaching). Call first thing in every binary's main.
absl::Status DisableCoreDumps();

}  // namespace kluis::crypto

#endif  // KLUIS_CRYPTO_PROCESS_H_
