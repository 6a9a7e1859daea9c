// The few file operations Kluis does by hand, with errors that name the file. Shared by the
// server (its data directory) and the client (its profile): one atomic writer, not two.
#ifndef KLUIS_COMMON_FILES_H_
#define KLUIS_COMMON_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kluis {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Writes via a temporary file created with `mode` (and set to it, whatever the umask), fsync and
// rename, so a crash leaves the old file or the new one, never a half-written or looser one.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode);
bool Exists(const std::string& path);

}  // namespace kluis

#endif  // KLUIS_COMMON_FILES_H_
