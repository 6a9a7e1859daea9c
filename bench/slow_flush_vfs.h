// A disk whose flushes cost milliseconds, for the group-commit benchmark only.
//
// The premise of group commit (DESIGN.md §11) is that the fsync dominates a release. The virtual
// disk of this machine acknowledges a flush in ~0.17 ms, so it cannot show what batching buys
// where a flush is slow (a disk without a power-loss-protected cache, network block storage),
// and this machine has no device-mapper to make a real slow device (no dm-delay). This is the
// stand-in: an SQLite VFS over the default one that waits `delay` before every xSync, then syncs
// for real. Everything else — the SQLCipher pages, the WAL, the real fdatasync — is unchanged.
//
// Never linked into kluisd or the tests.
#ifndef KLUIS_BENCH_SLOW_FLUSH_VFS_H_
#define KLUIS_BENCH_SLOW_FLUSH_VFS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace kluis::bench {

// Makes the slow-flush VFS SQLite's default for this process: every database opened afterwards
// uses it. Call once, before any database is opened.
absl::Status InstallSlowFlushVfs(absl::Duration delay);

}  // namespace kluis::bench

#endif  // KLUIS_BENCH_SLOW_FLUSH_VFS_H_
