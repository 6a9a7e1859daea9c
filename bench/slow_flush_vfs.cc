#include "bench/slow_flush_vfs.h"

#include <sqlcipher/sqlite3.h>

#include <thread>

#include "absl/strings/str_cat.h"

namespace kluis::bench {
namespace {

// Set once by InstallSlowFlushVfs, before any database is opened; only read afterwards.
sqlite3_vfs* real_vfs = nullptr;
absl::Duration flush_delay;

// One open file: our methods in front, the default VFS's file right behind it.
struct SlowFile {
  sqlite3_file base;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<SlowFile*>(f)->real(); }

int Sync(sqlite3_file* f, int flags) {
  std::this_thread::sleep_for(absl::ToChronoNanoseconds(flush_delay));
  return Real(f)->pMethods->xSync(Real(f), flags);
}

// Everything but xSync goes straight through to the real file. The default VFS's methods are
// version 3 (WAL needs the shared-memory ones), so these are too.
const sqlite3_io_methods kMethods = {
    3,
    [](sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); },
    [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
      return Real(f)->pMethods->xRead(Real(f), b, n, o);
    },
    [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
      return Real(f)->pMethods->xWrite(Real(f), b, n, o);
    },
    [](sqlite3_file* f, sqlite3_int64 size) { return Real(f)->pMethods->xTruncate(Real(f), size); },
    Sync,
    [](sqlite3_file* f, sqlite3_int64* size) {
      return Real(f)->pMethods->xFileSize(Real(f), size);
    },
    [](sqlite3_file* f, int lock) { return Real(f)->pMethods->xLock(Real(f), lock); },
    [](sqlite3_file* f, int lock) { return Real(f)->pMethods->xUnlock(Real(f), lock); },
    [](sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); },
    [](sqlite3_file* f, int op, void* arg) {
      return Real(f)->pMethods->xFileControl(Real(f), op, arg);
    },
    [](sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); },
    [](sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); },
    [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
      return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
    },
    [](sqlite3_file* f, int offset, int n, int flags) {
      return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
    },
    [](sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); },
    [](sqlite3_file* f, int remove) { return Real(f)->pMethods->xShmUnmap(Real(f), remove); },
    [](sqlite3_file* f, sqlite3_int64 o, int n, void** out) {
      return Real(f)->pMethods->xFetch(Real(f), o, n, out);
    },
    [](sqlite3_file* f, sqlite3_int64 o, void* p) {
      return Real(f)->pMethods->xUnfetch(Real(f), o, p);
    },
};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* slow = reinterpret_cast<SlowFile*>(file);
  const int rc = real_vfs->xOpen(real_vfs, name, slow->real(), flags, out_flags);
  // SQLite calls xClose only on a file whose pMethods is set.
  slow->base.pMethods = slow->real()->pMethods != nullptr ? &kMethods : nullptr;
  return rc;
}

sqlite3_vfs slow_vfs;

}  // namespace

absl::Status InstallSlowFlushVfs(absl::Duration delay) {
  // As storage::Database would set it, had SQLite not been initialised by the lookup below.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  real_vfs = sqlite3_vfs_find(nullptr);
  if (real_vfs == nullptr) return absl::InternalError("SQLite has no default VFS");
  if (real_vfs->iVersion < 3) {
    return absl::InternalError(absl::StrCat("default VFS is version ", real_vfs->iVersion));
  }
  flush_delay = delay;
  slow_vfs = *real_vfs;  // the rest (delete, access, paths, time) behaves as the default's
  slow_vfs.szOsFile = static_cast<int>(sizeof(SlowFile)) + real_vfs->szOsFile;
  slow_vfs.zName = "kluis-bench-slow-flush";
  slow_vfs.pNext = nullptr;
  slow_vfs.xOpen = Open;
  if (sqlite3_vfs_register(&slow_vfs, /*makeDflt=*/1) != SQLITE_OK) {
    return absl::InternalError("cannot register the slow-flush VFS");
  }
  return absl::OkStatus();
}

}  // namespace kluis::bench
