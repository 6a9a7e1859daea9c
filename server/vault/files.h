#ifndef KLUIS_SERVER_VAULT_FILES_H_
#define KLUIS_SERVER_VAULT_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/files.h"  // the file operations of the data directory

namespace kluis::server {

// An exclusive lock on a vault's data directory (flock on DIR/kluisd.lock), held for the life of
// the object: one process at a time serves, restores into or re-seals a data directory. A second
// kluisd on the same directory is refused instead of writing beside the first. The lock file holds
// the holder's pid, for the message; the kernel drops the lock when the holder dies, so a crash
// leaves nothing to clean up. Backup takes no lock: it copies a consistent snapshot through
// SQLite while the vault serves.
//
// Move-only. Within one process, two locks on one directory also exclude each other.
class DataDirLock {
 public:
  // Fails with kFailedPrecondition, naming the directory and the holder, when another holds it.
  static absl::StatusOr<DataDirLock> Acquire(const std::string& data_dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_FILES_H_
