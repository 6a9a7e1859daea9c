// libFuzzer target: the audit export reader and verifier (auditfile/), which read a file an
// auditor got from anywhere. Any input: a verdict, never a crash.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "auditfile/export.h"
#include "auditfile/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)kluis::auditfile::ParseJsonObject(text);
  std::istringstream in(text);
  // A fixed key: the verifier must reach every check, and refuse forged signatures, without fault.
  (void)kluis::auditfile::VerifyExport(in, std::string(32, '\x42'));
  return 0;
}
