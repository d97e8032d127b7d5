#!/usr/bin/env bash
# Install the Debian/Ubuntu packages that scripts/lab.sh and the tests need.
#
# Idempotent and quick: it only asks dpkg what is present, and runs apt-get
# (including `apt-get update`) only when something is actually missing.
# Unprivileged callers get the exact `sudo apt-get install ...` line instead.
set -euo pipefail

PACKAGES=(
  openssh-server openssh-client
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
say "done."
