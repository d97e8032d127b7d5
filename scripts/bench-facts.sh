#!/usr/bin/env bash
# Benchmark: `tend facts` over 50 sites on one host (one lab host, 50 site entries),
# side by side with the obvious alternative — one plain `ssh` per site reading the same
# version file and asking the database through PHP. Prints wall times and tend's peak RSS.
# Usage: scripts/bench-facts.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
sites=50

bash scripts/install-deps.sh
command -v /usr/bin/time >/dev/null || { echo "bench-facts: needs /usr/bin/time (Debian package: time)" >&2; exit 1; }
cargo build --release --locked --quiet
tend=$PWD/target/release/tend

lab=$(mktemp -d "${TMPDIR:-/tmp}/tend-bench.XXXXXX")
bash scripts/lab.sh up "$lab" --sites 1 --watch $$ >/dev/null
# shellcheck disable=SC1091
. "$lab/lab.env"
site_path=$SITE_site1_PATH
site_url=$SITE_site1_URL

inv=$lab/bench-inventory.yml
{
  printf 'defaults:\n  ssh: { user: %s, port: %s, identity_file: %s, known_hosts_file: %s }\n' \
    "$LAB_USER" "$LAB_SSH_PORT" "$LAB_SSH_KEY" "$LAB_KNOWN_HOSTS"
  printf 'sites:\n'
  for i in $(seq -w 1 "$sites"); do
    printf '  site-%s: { host: 127.0.0.1, path: %s, url: %s }\n' "$i" "$site_path" "$site_url"
  done
} >"$inv"

"$tend" -i "$inv" --json facts >/dev/null # warm caches

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

tend_times=() rss=()
for _ in $(seq "$runs"); do
  out=$( { /usr/bin/time -f '%e %M' "$tend" -i "$inv" --json facts >/dev/null; } 2>&1 | tail -n1)
  tend_times+=("${out% *}")
  rss+=("${out#* }")
done

ssh_opts=(-o BatchMode=yes -o IdentitiesOnly=yes -i "$LAB_SSH_KEY" -o UserKnownHostsFile="$LAB_KNOWN_HOSTS"
          -o StrictHostKeyChecking=yes -o ControlMaster=no -o ControlPath=none -p "$LAB_SSH_PORT" -F /dev/null)
naive_times=()
for _ in $(seq "$runs"); do
  start=$(date +%s.%N)
  for _ in $(seq "$sites"); do
    ssh "${ssh_opts[@]}" "$LAB_USER@127.0.0.1" \
      "cd '$site_path' && cat wp-includes/version.php wp-config.php >/dev/null && php -r 'echo PHP_VERSION;' >/dev/null"
  done
  end=$(date +%s.%N)
  naive_times+=("$(echo "$end - $start" | bc -l 2>/dev/null || awk -v a="$end" -v b="$start" 'BEGIN{print a-b}')")
done

t_med=$(printf '%s\n' "${tend_times[@]}" | median)
n_med=$(printf '%s\n' "${naive_times[@]}" | median)
r_max=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)
printf '\nbench-facts: %d sites on one host, %d runs each (median)\n' "$sites" "$runs"
printf '  tend facts (one shared SSH connection, full facts) : %6.2f s   peak RSS %d KiB\n' "$t_med" "$r_max"
printf '  one ssh per site (version file + php only)          : %6.2f s\n' "$n_med"
awk -v t="$t_med" -v n="$n_med" 'BEGIN { printf "  ratio tend / naive: %.2f\n", t / n }'
