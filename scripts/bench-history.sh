#!/usr/bin/env bash
# Benchmark: the run history and the monthly reports at fleet size. Writes a month of
# history for SITES sites (default 500) in 50 clients — 30 nightly backup runs and 4 update
# runs, each site recorded as it finished and again in full at the end, as tend writes it —
# then times, with peak RSS, `tend history` (table and JSON), `tend report` (all clients,
# Markdown + HTML + JSON), and next to it `jq` reading the same file (when installed). It also
# times recording itself: `tend backups prune` over the SITES sites (one locked, fsynced
# append per command) against the same command with the history made unwritable.
# Usage: scripts/bench-history.sh [RUNS] [SITES]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
sites=${2:-500}

command -v /usr/bin/time >/dev/null || { echo "bench-history: needs /usr/bin/time (Debian package: time)" >&2; exit 1; }
cargo build --release --locked --quiet
tend=$PWD/target/release/tend

work=$(mktemp -d "${TMPDIR:-/tmp}/tend-bench-history.XXXXXX")
trap 'rm -rf "$work"' EXIT
month=2026-11

{
  printf 'settings:\n  store: %s/store\ngroups:\n' "$work"
  for c in $(seq 1 50); do printf '  client%02d: { client: Client %02d Ltd }\n' "$c" "$c"; done
  printf 'sites:\n'
  for i in $(seq 1 "$sites"); do
    printf '  site%04d: { host: 10.0.0.%d, path: /var/www/site%04d, url: https://site%04d.example, groups: [client%02d] }\n' \
      "$i" $((i % 250 + 1)) "$i" "$i" $((i % 50 + 1))
  done
} >"$work/inv.yml"

mkdir -p "$work/store/history"
awk -v sites="$sites" -v month="$month" '
function site_line(run, i, status, extra) {
  printf "{\"record\":\"site\",\"run\":\"%s\",\"site\":\"site%04d\",\"status\":\"%s\"%s,\"error\":null,\"rollback\":null,\"duration_ms\":%d}\n", run, i, status, extra, 20000 + i
}
function run(id, command, playbook, day, kind,   i, extra, targets) {
  targets = ""
  for (i = 1; i <= sites; i++) targets = targets (i > 1 ? "," : "") sprintf("\"site%04d\"", i)
  printf "{\"record\":\"start\",\"run\":\"%s\",\"command\":\"%s\",\"playbook\":\"%s\",\"runner\":\"tend@ops\",\"at\":\"%s-%02dT03:00:00Z\",\"targets\":[%s]}\n", id, command, playbook, month, day, targets
  for (i = 1; i <= sites; i++) site_line(id, i, "ok", "")
  for (i = 1; i <= sites; i++) {
    if (kind == "backup")
      extra = sprintf(",\"snapshots\":[{\"id\":\"%s-%04d\",\"bytes\":%d,\"label\":\"nightly\"}]", id, i, 400000000 + i)
    else
      extra = sprintf(",\"changes\":[{\"type\":\"core\",\"slug\":\"wordpress\",\"from\":\"6.1.9\",\"to\":\"6.8.12\"},{\"type\":\"plugin\",\"slug\":\"akismet\",\"from\":\"5.0.2\",\"to\":\"5.5\"}],\"held\":[{\"type\":\"plugin\",\"slug\":\"woocommerce\",\"from\":\"8.0.1\",\"available\":\"9.4.2\",\"reason\":\"held in the inventory\"}],\"snapshots\":[{\"id\":\"%s-%04d\",\"bytes\":%d,\"label\":\"pre-update\"}],\"checks\":[{\"name\":\"home page\",\"path\":\"/\",\"ok\":true,\"status\":200,\"elapsed_ms\":120,\"problems\":[]},{\"name\":\"login page\",\"path\":\"/wp-login.php\",\"ok\":true,\"status\":200,\"elapsed_ms\":80,\"problems\":[]}]", id, i, 400000000 + i)
    site_line(id, i, (kind == "update" && i % 97 == 0) ? "rolled_back" : "ok", extra)
  }
  printf "{\"record\":\"finish\",\"run\":\"%s\",\"at\":\"%s-%02dT04:00:00Z\",\"exit_status\":0}\n", id, month, day
}
BEGIN {
  for (d = 1; d <= 30; d++) run(sprintf("nightly-%02d", d), "run", "Nightly backup", d, "backup")
  for (w = 0; w < 4; w++) run(sprintf("monthly-%d", w), "run", "Monthly update cycle", 3 + 7 * w, "update")
}' >"$work/store/history/runs-$month.jsonl"
size=$(du -h "$work/store/history/runs-$month.jsonl" | cut -f1)
lines=$(wc -l <"$work/store/history/runs-$month.jsonl")

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
measure() { # label, command... (its exit status is not the point here)
  local label=$1; shift
  local times=() rss=()
  for _ in $(seq "$runs"); do
    out=$( { /usr/bin/time -f '%e %M' "$@" >/dev/null || true; } 2>&1 | tail -n1)
    times+=("${out% *}"); rss+=("${out#* }")
  done
  printf '%-44s %6.2f s  %7.1f MiB peak RSS (median of %d)\n' "$label" \
    "$(printf '%s\n' "${times[@]}" | median)" \
    "$(printf '%s\n' "${rss[@]}" | median | awk '{print $1/1024}')" "$runs"
}

echo "history: $sites sites, 34 runs, $lines lines, $size"
measure "tend history (table)" "$tend" -i "$work/inv.yml" history
measure "tend --json history" "$tend" -i "$work/inv.yml" --json history
measure "tend history --site site0001" "$tend" -i "$work/inv.yml" history --site site0001
measure "tend report (50 clients, md+html+json)" "$tend" -i "$work/inv.yml" report --month "$month" --format md,html,json --out "$work/reports"
if command -v jq >/dev/null; then
  measure "jq: the finished runs' exit statuses" jq -c 'select(.record == "finish") | .exit_status' "$work/store/history/runs-$month.jsonl"
else
  echo "(jq not installed: no side-by-side reading time)"
fi

# Recording: one prune over every site (one append at the end), and a backup of every site
# on a host that refuses connections (each site recorded as it fails: SITES locked, fsynced
# appends, then the full records), each with the history and with it unwritable.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 9)
sed -e "s|host: 10\.0\.0\.[0-9]*|host: 127.0.0.1|" -e "s|^sites:|defaults:\n  ssh: { port: $port }\n&|" \
  "$work/inv.yml" >"$work/refused.yml"
rm -rf "$work/store/history"
measure "tend backup, every site refused (recorded)" "$tend" -i "$work/refused.yml" -q backup
rm -rf "$work/store/history"; printf 'x' >"$work/store/history"
measure "tend backup, every site refused (unwritable)" "$tend" -i "$work/refused.yml" -q backup

rm -rf "$work/store/history"
measure "tend backups prune (recorded)" "$tend" -i "$work/inv.yml" -q backups prune
rm -rf "$work/store/history"; printf 'x' >"$work/store/history"
measure "tend backups prune (history unwritable)" "$tend" -i "$work/inv.yml" -q backups prune
