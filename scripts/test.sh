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

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: the sum over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
