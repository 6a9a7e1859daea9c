#include "client/qr.h"

#include <qrencode.h>

#include <memory>

namespace kluis::client {

absl::StatusOr<std::string> TerminalQr(absl::string_view text) {
  const std::string input(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!qr) return absl::InternalError("the text does not fit in a QR code");
  const int width = qr->width;
  constexpr int kQuiet = 2;
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= width || y >= width) return false;
    return (qr->data[y * width + x] & 1) != 0;
  };
  // Light background, dark modules: upper half block for (top dark, bottom light) and so on.
  std::string out;
  for (int y = -kQuiet; y < width + kQuiet; y += 2) {
    for (int x = -kQuiet; x < width + kQuiet; ++x) {
      const bool top = dark(x, y), bottom = dark(x, y + 1);
      out += top && bottom ? " " : top ? "\u2584" : bottom ? "\u2580" : "\u2588";
    }
    out += "\n";
  }
  return out;
}

}  // namespace kluis::client
