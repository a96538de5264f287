#!/usr/bin/env bash
# Installs MCA's build and test dependencies from Debian bookworm packages.
# Idempotent and non-interactive: packages already present are not touched and
# `apt-get update` runs only when something is missing (at most once per call).
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build make pkg-config git curl ca-certificates
  # Boost 1.81, not bookworm's 1.74 default: 1.81 has Beast's awaitable-friendly
  # APIs (as_tuple, cancellation slots) that the proxy is written against.
  libboost1.81-dev libboost-system1.81-dev libboost-program-options1.81-dev
  libboost-url1.81-dev libboost-json1.81-dev
  libssl-dev nlohmann-json3-dev libyaml-cpp-dev prometheus-cpp-dev libspdlog-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev
  clang-format clang-tidy
  # Test clients: the Python Kubernetes client runs in a venv (needs venv).
  python3-venv
  # Diagnostics used by the testenv scripts and tests.
  procps iproute2
  # examples/replica-server: its scripts make certificates with the openssl
  # command and test with curl (above).
  openssl
  # bench/proxy: the reverse proxies MCA is compared with, and the load
  # generator. Their services are not started (see policy-rc.d below):
  # the benchmark runs its own instances with its own configurations.
  nginx haproxy wrk
)

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "hack/install-deps.sh: need root or sudo to install Debian packages" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "hack/install-deps.sh: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "hack/install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# nginx and haproxy would start their system services on install (port 80
# on a developer's machine): a policy-rc.d that denies it, for the install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
  trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "hack/install-deps.sh: done"
