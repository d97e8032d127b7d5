#!/usr/bin/env bash
# The main job on a local sandbox: installs what is missing, builds tend, starts a sandbox
# WordPress sites on loopback (real sshd, MariaDB, PHP) and runs `tend facts`, a backup and
# the monthly update cycle against them: WordPress 6.1.9 → 6.8.7, Akismet and Twenty
# Twenty-Three, from a private package repository built from Debian's next release.
# It ends with the run history and the sandbox's monthly maintenance report.
# The sandbox goes away when the script ends; pass --keep to leave it running.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
[[ "${1:-}" == "--keep" ]] && keep=1

bash scripts/install-deps.sh
if ! command -v cargo >/dev/null 2>&1; then
  echo "demo.sh: cargo not found: install Rust (https://rustup.rs) and run again" >&2
  exit 1
fi
cargo build --release --locked
tend=$PWD/target/release/tend

sandbox=$(mktemp -d "${TMPDIR:-/tmp}/tend-demo.XXXXXX")
if ((keep)); then
  bash scripts/lab.sh up "$sandbox" --sites 2 >/dev/null
else
  bash scripts/lab.sh up "$sandbox" --sites 2 --watch $$ >/dev/null
fi
inventory=$sandbox/inventory.yml

echo "== the sandbox inventory ($inventory)"
cat "$inventory"
echo
echo "== tend check"
"$tend" -i "$inventory" check playbooks/monthly-update.yml playbooks/nightly-backup.yml
echo
echo "== tend facts"
"$tend" -i "$inventory" facts
echo
echo "== tend --json facts"
"$tend" -i "$inventory" --json facts
echo
echo "== tend backup, then the snapshots and their verification"
"$tend" -i "$inventory" backup --label demo
"$tend" -i "$inventory" backups list
"$tend" -i "$inventory" backups verify
echo
echo "== a private package repository (WordPress, Akismet, Twenty Twenty-Three from Debian trixie)"
repo=$sandbox/repo
mkdir -p "$repo/plugins" "$repo/themes"
while read -r zip; do
  case "$zip" in
    */plugins/*) cp "$zip" "$repo/plugins/" ;;
    */themes/*) cp "$zip" "$repo/themes/" ;;
    *) cp "$zip" "$repo/" ;;
  esac
done < <(bash scripts/lab-packages.sh target/lab-packages)
"$tend" repo index "$repo"
# The sandbox inventory, with the repository as the update source and its sites in a
# client's group (the monthly report is per client).
sed -e "s|^  store: .*|&\n  sources:\n    - repository: $repo|" \
    -e "s|^sites:\$|groups:\n  sandbox: { client: Sandbox Client Ltd, contact: ops@sandbox.example }\n&|" \
    -e "s|^    url: .*|&\n    groups: [sandbox]|" \
    "$inventory" > "$sandbox/inventory-updates.yml"
inventory=$sandbox/inventory-updates.yml
echo
echo "== tend facts --updates"
"$tend" -i "$inventory" facts --updates
echo
echo "== tend run playbooks/monthly-update.yml --check (the plan; nothing changes)"
"$tend" -i "$inventory" run playbooks/monthly-update.yml --check
echo
echo "== tend run playbooks/monthly-update.yml --yes on site1"
"$tend" -i "$inventory" -l site1 run playbooks/monthly-update.yml --yes
echo
echo "== tend facts after the update"
"$tend" -i "$inventory" -l site1 facts
echo
echo "== tend history: what tend did to the sandbox"
"$tend" -i "$inventory" history
echo
month=$(date -u +%Y-%m)
echo "== tend report --month $month: the sandbox's monthly report (Markdown, HTML, JSON)"
"$tend" -i "$inventory" report --month "$month" --format md,html,json --out "$sandbox/reports"
echo
cat "$sandbox/reports/sandbox-client-ltd-$month.md"
echo
if ((keep)); then
  echo "The sandbox keeps running: $tend -i $inventory facts"
  echo "Stop it with: bash scripts/lab.sh down $sandbox"
fi
