#!/usr/bin/env bash
# Runs tend's whole test suite: unit tests, and integration tests that drive the real tend
# binary against a real lab (sshd, MariaDB, PHP, WordPress) on loopback.
# As root it installs the Debian packages the lab needs; otherwise it says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

if ! command -v cargo >/dev/null 2>&1; then
  echo "test.sh: cargo not found: install Rust (https://rustup.rs) and run again" >&2
  exit 1
fi

cargo test --locked "$@"
