#include "client/cli.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/json_util.h>

#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "auditfile/export.h"
#include "auditfile/verify.h"
#include "client/client.h"
#include "client/commands/common.h"
#include "crypto/hash.h"
#include "client/output.h"
#include "client/profile.h"
#include "client/qr.h"

namespace kluis::client {

namespace pb = ::kluis::v1;

std::string AuditJsonLine(const pb::AuditExportItem& item) {
  switch (item.item_case()) {
    case pb::AuditExportItem::kHeader:
      return auditfile::HeaderLine({item.header().public_key(), item.header().exported_unix_micros(),
                                    item.header().head_seq(), item.header().filter()});
    case pb::AuditExportItem::kRecord: {
      const pb::AuditRecord& r = item.record();
      // The version the record was written in is its first canonical byte (older logs: version 1).
      const int version = r.canonical().empty() ? auditfile::kRecordVersion : static_cast<unsigned char>(r.canonical()[0]);
      return auditfile::RecordLine({r.seq(), r.time_unix_micros(), r.actor(), r.role(), r.action(), r.account(),
                                    r.decision(), r.rule(), r.reason(), r.request_id(), r.peer(), r.outcome(),
                                    r.certificate(), version},
                                   r.prev_hash(), r.chain_hash());
    }
    case pb::AuditExportItem::kCheckpoint: {
      const pb::AuditCheckpoint& c = item.checkpoint();
      return auditfile::CheckpointLine({c.seq(), c.time_unix_micros(), c.chain_hash(), c.signature()});
    }
    default:
      return "";
  }
}

int ExitCodeFor(const absl::Status& status) {
  // The server's reason, where it gave one, decides the class (common.proto lists them).
  if (std::optional<std::string> reason = RefusalOf(status)) {
    static const auto* const kUsage = new absl::flat_hash_set<std::string>{"REASON_REQUIRED", "INPUT_INVALID"};
    // Needs approval, or another step first.
    static const auto* const kNeedsStep = new absl::flat_hash_set<std::string>{
        "NEEDS_APPROVAL", "GRANT_NOT_USABLE", "REQUEST_STATE",   "ACCOUNT_STATE",
        "ROTATION_STATE", "ARCHIVE_MISSING",  "USER_DISABLED", "CERTIFICATE_STATE"};
    if (kUsage->contains(*reason)) return kExitUsage;
    if (kNeedsStep->contains(*reason)) return kExitNeedsApproval;
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kFailedPrecondition:  // needs approval, or a request in the wrong state
      return kExitNeedsApproval;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:  // the caller's access changed during the call: run it again
    case absl::StatusCode::kInternal:  // the server failed (its storage, say): not the caller's usage
    case absl::StatusCode::kUnknown:
      return kExitUnavailable;
    case absl::StatusCode::kDataLoss:
      return kExitVerificationFailed;
    default:
      return kExitUsage;
  }
}
int RunKluis(int argc, char** argv) {
  CLI::App app{"kluis: the Kluis credential vault client"};
  app.require_subcommand(1);
  app.footer(
      "Accounts are named PLATFORM/HANDLE (x/WA_Lombardijen1, instagram/minpres); the bare handle is enough\n"
      "when only one platform has it. Secrets are read from standard input or a no-echo prompt, never argv.\n"
      "Exit codes: 0 ok; 1 usage or bad input (also a missing or too-short reason); 2 denied; 3 not found\n"
      "(or not yours to see); 4 needs approval or another step first (no grant yet, or one used, denied or\n"
      "expired; a request, account or rotation in the wrong state); 5 server unavailable or failing, or not\n"
      "authenticated (disabled user, revoked certificate); 6 verification failed (damaged data, an audit\n"
      "export that does not verify).\n"
      "kluis COMMAND --help describes each command.");
  app.fallthrough();  // --profile may stand after the subcommand too
  Session session;
  app.add_option("--profile", session.profile,
                 "profile directory (default $KLUIS_PROFILE, ~/.config/kluis)");
  // Each group registers its commands, their flags and handlers (client/commands/*.cc).
  Commands commands(app, session);
  AddEnrollCommands(commands);
  AddOrganisationCommands(commands);
  AddAccountCommands(commands);
  AddSecretCommands(commands);
  AddReleaseCommands(commands);
  AddRequestCommands(commands);
  AddAuditCommands(commands);
  AddKabinetswisselCommands(commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Point to the help of the command that was being parsed, if one was.
    std::string where;
    where = commands.Parsed();
    // A first word that is no command is named as such (CLI11 would only say one is required).
    std::string unknown;
    for (int i = 1; where.empty() && i < argc; ++i) {
      const std::string word = argv[i];
      if (word == "--profile") {
        ++i;
        continue;
      }
      if (absl::StartsWith(word, "-")) continue;
      const auto known = app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == word; });
      if (known.empty()) {
        unknown = word;
      } else {
        where = word;  // a group such as "role": its help lists its commands
      }
      break;
    }
    if (!unknown.empty()) {
      std::cerr << "kluis: unknown command \"" << unknown << "\" (see kluis --help)" << std::endl;
    } else {
      std::cerr << "kluis: " << e.what() << " (see kluis " << (where.empty() ? "" : where + " ") << "--help)"
                << std::endl;
    }
    return kExitUsage;
  }

  const absl::Status result = commands.Run(commands.Parsed());
  if (!result.ok()) {
    std::cerr << "kluis: " << result.message() << std::endl;
    return ExitCodeFor(result);
  }
  return kExitOk;
}

}  // namespace kluis::client
