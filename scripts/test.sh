#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with CTest. Exits non-zero on any failure.
#
# Two passes: the suite as built for use (build/, gcc), then the same suite again built with clang
# under AddressSanitizer and UndefinedBehaviorSanitizer (build-san/), where the libFuzzer targets
# of tests/fuzz also run for KLUIS_FUZZ_SECONDS each. KLUIS_SANITIZE=0 skips the second pass for a
# quick local run; CI always runs both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

kluis_install_deps
kluis_build
(cd build && ctest --output-on-failure --timeout 600 -j "$(nproc)")

if [ "${KLUIS_SANITIZE:-1}" != "0" ]; then
  kluis_build_sanitized
  export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  (cd build-san && ctest --output-on-failure --timeout 900 -j "$(nproc)")
fi
