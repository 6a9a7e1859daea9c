#ifndef KLUIS_SERVER_FILES_H_
#define KLUIS_SERVER_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kluis::server {

// The few file operations of the vault's data directory, with errors that name the file.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Writes via a temporary file, fsync and rename, so a crash leaves the old file or the new one.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode);
bool Exists(const std::string& path);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_FILES_H_
