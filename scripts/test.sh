#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with CTest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

kluis_install_deps
kluis_build
cd build
ctest --output-on-failure --timeout 600 -j "$(nproc)"
