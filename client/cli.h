#ifndef KLUIS_CLIENT_CLI_H_
#define KLUIS_CLIENT_CLI_H_

#include <string>

#include "absl/status/status.h"
#include "kluis/v1/audit.pb.h"

namespace kluis::client {

// Exit codes of DESIGN.md §9.
enum ExitCode {
  kExitOk = 0,
  kExitUsage = 1,
  kExitDenied = 2,
  kExitNotFound = 3,
  kExitNeedsApproval = 4,
  kExitUnavailable = 5,
  kExitVerificationFailed = 6,
};

// One item of an audit export as its JSON line (docs/AUDIT_FORMAT.md), newline included.
std::string AuditJsonLine(const kluis::v1::AuditExportItem& item);

// The one mapping from an error to an exit code.
int ExitCodeFor(const absl::Status& status);

// The kluis command line: parses argv, runs one subcommand, prints to stdout, errors as one line
// on stderr, and returns the exit code. Secrets are read from standard input or a no-echo prompt.
int RunKluis(int argc, char** argv);

}  // namespace kluis::client

#endif  // KLUIS_CLIENT_CLI_H_
