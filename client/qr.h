#ifndef KLUIS_CLIENT_QR_H_
#define KLUIS_CLIENT_QR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kluis::client {

// Draws `text` as a QR code (libqrencode, error correction M) for a terminal: two modules per
// character cell with Unicode half blocks, dark on light, with the quiet zone the standard asks.
absl::StatusOr<std::string> TerminalQr(absl::string_view text);

}  // namespace kluis::client

#endif  // KLUIS_CLIENT_QR_H_
