#!/usr/bin/env bash
# Benchmark: `tend backup` of a lab site with a few hundred MB of files (half compressible
# text, half incompressible media) and a database of tens of MB, side by side with the raw
# pipeline `ssh host "tar -C root -cf - ." | zstd` plus `ssh host mysqldump … | zstd` on the
# same site in the same run. Prints both wall times (median of RUNS), their ratio and tend's
# peak RSS; then 10 such sites backed up at once.
# Usage: scripts/bench-backup.sh [RUNS] [TEXT_MB] [MEDIA_MB] [DB_ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
text_mb=${2:-150}
media_mb=${3:-150}
db_rows=${4:-150000}

bash scripts/install-deps.sh
command -v /usr/bin/time >/dev/null || { echo "bench-backup: needs /usr/bin/time (Debian package: time)" >&2; exit 1; }
cargo build --release --locked --quiet
tend=$PWD/target/release/tend

lab=$(mktemp -d "${TMPDIR:-/tmp}/tend-bench.XXXXXX")
bash scripts/lab.sh up "$lab" --sites 1 --watch $$ >/dev/null
# shellcheck disable=SC1091
. "$lab/lab.env"
root=$SITE_site1_PATH
echo "bench-backup: filling the site: ${text_mb} MB text, ${media_mb} MB media, ${db_rows} rows" >&2
mkdir -p "$root/wp-content/uploads/bench"
( cd "$root" && find wp-includes wp-admin -name '*.php' -print0 | xargs -0 cat ) >"$lab/text.sample"
i=0
while [ "$(du -sm "$root/wp-content/uploads/bench" | cut -f1)" -lt "$text_mb" ]; do
  cp "$lab/text.sample" "$root/wp-content/uploads/bench/text-$i.txt"; i=$((i + 1))
done
for j in $(seq 1 $((media_mb / 10))); do
  head -c 10485760 /dev/urandom >"$root/wp-content/uploads/bench/media-$j.jpg"
done
mariadb --defaults-file="$LAB_DB_ROOT_CNF" "$SITE_site1_DB_NAME" -e "
  CREATE TABLE wp_bench (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT, blob_col BLOB);
  INSERT INTO wp_bench (body, blob_col)
    SELECT REPEAT(MD5(RAND()), 4), UNHEX(REPEAT(MD5(RAND()), 2))
    FROM information_schema.columns a, information_schema.columns b LIMIT $db_rows;"
du -sh "$root" >&2

inv=$lab/inventory.yml
ssh_cmd=(ssh -F "$LAB_SSH_CONFIG" lab)
options=$(printf '[client]\nuser="%s"\npassword="%s"\nhost="127.0.0.1"\nport=%s\n' \
  "$SITE_site1_DB_USER" "$SITE_site1_DB_PASSWORD" "$LAB_DB_PORT")

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }

tend_t=() raw_t=() rss=()
for _ in $(seq "$runs"); do
  out=$( { /usr/bin/time -f '%e %M' "$tend" -i "$inv" -q backup >/dev/null; } 2>&1 | tail -n1)
  tend_t+=("${out% *}"); rss+=("${out#* }")
  start=$(now)
  "${ssh_cmd[@]}" "tar -C '$root' -cf - ." | zstd -q -3 >"$lab/raw-files.tar.zst"
  printf '%s' "$options" | "${ssh_cmd[@]}" "mariadb-dump --defaults-extra-file=/dev/stdin --single-transaction --quick --routines --triggers --hex-blob '$SITE_site1_DB_NAME'" | zstd -q -3 >"$lab/raw-db.sql.zst"
  end=$(now)
  raw_t+=("$(awk -v a="$end" -v b="$start" 'BEGIN{print a-b}')")
done
t=$(printf '%s\n' "${tend_t[@]}" | median)
r=$(printf '%s\n' "${raw_t[@]}" | median)
m=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)
snapshot_bytes=$(du -sb "$lab/store/backups/site1" | cut -f1)
printf '\nbench-backup: one site (%s), %d runs (median)\n' "$(du -sh "$root" | cut -f1)" "$runs"
printf '  tend backup                      : %7.2f s   peak RSS %d KiB\n' "$t" "$m"
printf '  ssh tar | zstd + ssh dump | zstd : %7.2f s\n' "$r"
awk -v t="$t" -v r="$r" 'BEGIN { printf "  ratio tend / raw: %.2f\n", t / r }'
printf '  raw archive sizes: %s + %s; tend snapshots in store: %s bytes for %d runs\n' \
  "$(du -h "$lab/raw-files.tar.zst" | cut -f1)" "$(du -h "$lab/raw-db.sql.zst" | cut -f1)" "$snapshot_bytes" "$runs"

# Ten sites at once: hard-linked copies of the same tree (distinct roots, no extra disk),
# all on the same database.
many=$lab/many.yml
{
  printf 'settings:\n  store: %s/store-many\n' "$lab"
  printf 'defaults:\n  ssh: { user: %s, port: %s, identity_file: %s, known_hosts_file: %s }\nsites:\n' \
    "$LAB_USER" "$LAB_SSH_PORT" "$LAB_SSH_KEY" "$LAB_KNOWN_HOSTS"
  for n in $(seq 1 10); do
    cp -al "$root" "$root-copy$n"
    printf '  copy%s: { host: 127.0.0.1, path: %s-copy%s, url: %s }\n' "$n" "$root" "$n" "$SITE_site1_URL"
  done
} >"$many"
out=$( { /usr/bin/time -f '%e %M' "$tend" -i "$many" -q -f 10 backup >/dev/null; } 2>&1 | tail -n1)
start=$(now)
for n in $(seq 1 10); do
  ( "${ssh_cmd[@]}" "tar -C '$root-copy$n' -cf - ." | zstd -q -3 >"$lab/raw-many-$n.tar.zst"
    printf '%s' "$options" | "${ssh_cmd[@]}" "mariadb-dump --defaults-extra-file=/dev/stdin --single-transaction --quick --routines --triggers --hex-blob '$SITE_site1_DB_NAME'" | zstd -q -3 >"$lab/raw-many-$n.sql.zst" ) &
done
wait
end=$(now)
printf '\nbench-backup: 10 such sites at once\n'
printf '  tend backup -f 10                : %7.2f s   peak RSS %d KiB\n' "${out% *}" "${out#* }"
printf '  10 raw pipelines in parallel     : %7.2f s\n' "$(awk -v a="$end" -v b="$start" 'BEGIN{print a-b}')"
