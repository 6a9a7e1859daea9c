#!/usr/bin/env bash
# Installs the Debian 12 packages Kluis needs, if any are missing. Sourced by test.sh and run.sh.
set -euo pipefail

KLUIS_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libsodium-dev libsqlcipher-dev sqlcipher libssl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libre2-dev libc-ares-dev zlib1g-dev  # the CLI links their archives (client/CMakeLists.txt)
  libcli11-dev libqrencode-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  oathtool gdb  # gdb: gcore, for the test that a core image holds no released secret
  python3 python3-nacl python3-grpcio python3-protobuf python3-cryptography
  clang libclang-rt-14-dev
)

kluis_install_deps() {
  local missing=()
  for pkg in "${KLUIS_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "kluis: installing ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Configures (once) and builds with Ninja into build/. Extra arguments are Ninja targets.
kluis_build() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ ! -f "$root/build/build.ninja" ]; then
    cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$root/build" -- "$@"
}

# The same tree built with clang under AddressSanitizer and UndefinedBehaviorSanitizer, with the
# libFuzzer targets of tests/fuzz, into build-san/.
kluis_build_sanitized() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ ! -f "$root/build-san/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-san" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DKLUIS_SANITIZE=ON -DKLUIS_FUZZ=ON
  fi
  cmake --build "$root/build-san" -- "$@"
}
