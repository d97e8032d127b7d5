#!/usr/bin/env bash
# Benchmark: `tend backup` of a lab site with a few hundred MB of files (half compressible
# text, half incompressible media) and a database of tens of MB, side by side with the obvious
# alternatives on the same site in the same run. Cases (pick with --cases, default all):
#   1  folder store, one site: tend against the raw pipeline `ssh host "tar -C root -cf - ." |
#      zstd` plus `ssh host mariadb-dump … | zstd` (median of RUNS, ratio, peak RSS)
#   2  folder store, 10 such sites at once against 10 raw pipelines in parallel
#   3  repository (settings.repository), first backup into a fresh repository against the same
#      raw pipeline (median of RUNS, ratio, peak RSS)
#   4  repository, an unchanged second backup against the first: bytes over the wire, repository
#      growth, wall time, the share the database dump alone takes; and against `rsync -a` over
#      SSH into an up-to-date local mirror plus the same dump
#   5  repository, a second backup after one changed file (a 10 MB media file replaced by 1 MB)
#   6  ten sites sharing WordPress core (each its own 5 MB of media): repository growth against
#      ten folder snapshots
#   7  restore from the repository against restore from a folder snapshot (same site, both parts)
#   8  how the runner's memory grows with the number of files: a copy of the site holding N
#      extra empty files (BENCH_FILES, default 10000,100000,1000000; empty so that a million
#      take inodes, not 4 GB of blocks), a first and an unchanged second backup into a fresh
#      repository each: peak RSS and time per N
# Bytes over the wire (case 4, 5) are counted by a TCP relay the script puts between the
# client (tend, rsync, ssh) and the lab's sshd: every byte of the SSH connection, both ways,
# encryption and protocol included. The relay is used for both sides of each comparison.
# Needs /usr/bin/time (Debian package: time), rsync, python3.
# Usage: [TEND_BIN=path] scripts/bench-backup.sh [--runs N] [--cases LIST] [TEXT_MB] [MEDIA_MB] [DB_ROWS]
#        (default 3 runs, cases 1-8, 150 MB text, 150 MB media, 150000 rows)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
cases=1,2,3,4,5,6,7,8
positional=()
while (($#)); do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --cases) cases=${2:?--cases needs a list such as 3,4}; shift 2 ;;
    --cases=*) cases=${1#*=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) positional+=("$1"); shift ;;
  esac
done
text_mb=${positional[0]:-150}
media_mb=${positional[1]:-150}
db_rows=${positional[2]:-150000}
want() { [[ ",$cases," == *",$1,"* ]]; }

bash scripts/install-deps.sh
command -v /usr/bin/time >/dev/null || { echo "bench-backup: needs /usr/bin/time (Debian package: time)" >&2; exit 1; }
# TEND_BIN=path runs that binary instead of the release build (to try the script: a debug
# build's times are not speed figures; its byte counts and repository sizes are).
if [ -n "${TEND_BIN:-}" ]; then
  tend=$TEND_BIN
else
  cargo build --release --locked --quiet
  tend=$PWD/target/release/tend
fi

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
site_size=$(du -sh "$root" | cut -f1)
echo "bench-backup: site $site_size; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

inv=$lab/inventory.yml
ssh_cmd=(ssh -F "$LAB_SSH_CONFIG" lab)
options=$(printf '[client]\nuser="%s"\npassword="%s"\nhost="127.0.0.1"\nport=%s\n' \
  "$SITE_site1_DB_USER" "$SITE_site1_DB_PASSWORD" "$LAB_DB_PORT")

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{print a-b}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
bytes_of() { du -sb "$1" | cut -f1; }
mib() { awk -v k="$1" 'BEGIN{printf "%.0f MiB", k / 1024}'; }
# Runs tend under /usr/bin/time; sets `secs` and `rss_kib`, keeps stdout in $lab/out.json.
timed_tend() {
  local out code
  out=$( { /usr/bin/time -f '%x %e %M' "$tend" "$@" >"$lab/out.json"; } 2>&1 | tail -n1)
  read -r code secs rss_kib <<<"$out"
  [ "$code" = 0 ] || { echo "bench-backup: tend $* exited with $code" >&2; exit 1; }
}
raw_files() { ssh -F "$LAB_SSH_CONFIG" "$@" lab "tar -C '$root' -cf - ." | zstd -q -3 >"$lab/raw-files.tar.zst"; }
raw_dump() {
  printf '%s' "$options" | ssh -F "$LAB_SSH_CONFIG" "$@" lab "mariadb-dump --defaults-extra-file=/dev/stdin --single-transaction --quick --routines --triggers --hex-blob '$SITE_site1_DB_NAME'" | zstd -q -3 >"$lab/raw-db.sql.zst"
}

# An inventory of the given sites (name:path pairs) on ssh port $1, into store $2, with the
# repository $3 when given.
write_inventory() {
  local file=$1 port=$2 store=$3 repo=$4
  shift 4
  {
    printf 'settings:\n  store: %s\n' "$store"
    [ -n "$repo" ] && printf '  repository: { location: %s, password_file: %s/repo.pass }\n' "$repo" "$lab"
    printf 'defaults:\n  ssh: { user: %s, port: %s, identity_file: %s, known_hosts_file: %s }\nsites:\n' \
      "$LAB_USER" "$port" "$LAB_SSH_KEY" "$LAB_KNOWN_HOSTS"
    for entry in "$@"; do
      printf '  %s: { host: 127.0.0.1, path: %s, url: %s }\n' "${entry%%:*}" "${entry#*:}" "$SITE_site1_URL"
    done
  } >"$file"
}
install -m 600 /dev/null "$lab/repo.pass"
head -c 32 /dev/urandom | base64 >"$lab/repo.pass"
# A fresh repository at $lab/$1 with inventory $lab/$1.yml for the given sites, on port $2.
fresh_repo() {
  local name=$1 port=$2
  shift 2
  rm -rf "${lab:?}/$name" "${lab:?}/$name-store"
  write_inventory "$lab/$name.yml" "$port" "$lab/$name-store" "$lab/$name" "$@"
  "$tend" -i "$lab/$name.yml" -q backups init >/dev/null
}

# The counting relay: listens on a free port, forwards to the lab's sshd, adds every byte
# each way to $lab/relay.count ("up down") when a connection closes.
relay_port=
start_relay() {
  python3 - "$LAB_SSH_PORT" "$lab/relay.count" "$lab/relay.port" <<'PY' &
import socket, sys, threading
target, count_file, port_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
totals = [0, 0]
def save():
    with open(count_file + ".tmp", "w") as f:
        f.write(f"{totals[0]} {totals[1]}\n")
    import os; os.replace(count_file + ".tmp", count_file)
def pipe(src, dst, i, done):
    try:
        while True:
            data = src.recv(262144)
            if not data:
                break
            dst.sendall(data)
            with lock:
                totals[i] += len(data)
    except OSError:
        pass
    finally:
        try: dst.shutdown(socket.SHUT_WR)
        except OSError: pass
        done.release()
def serve(client):
    upstream = socket.create_connection(("127.0.0.1", target))
    done = threading.Semaphore(0)
    threading.Thread(target=pipe, args=(client, upstream, 0, done), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client, 1, done), daemon=True).start()
    done.acquire(); done.acquire()
    client.close(); upstream.close()
    with lock:
        save()
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
save()
with open(port_file, "w") as f:
    f.write(str(listener.getsockname()[1]))
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
PY
  relay_pid=$!
  trap 'kill "$relay_pid" 2>/dev/null || true' EXIT
  while [ ! -s "$lab/relay.port" ]; do sleep 0.1; done
  relay_port=$(cat "$lab/relay.port")
  printf '[%s]:%s %s\n' "$LAB_HOST" "$relay_port" "$(cut -d' ' -f2,3 "$LAB_KNOWN_HOSTS")" >>"$LAB_KNOWN_HOSTS"
}
# Sets `wire` to the bytes through the relay, both ways, since the last call or wire_reset
# (after a pause for the connections to close).
wire_mark=0
wire_take() {
  sleep 1
  local total
  total=$(awk '{print $1 + $2}' "$lab/relay.count")
  wire=$((total - wire_mark)) wire_mark=$total
}
wire_reset() { sleep 1; wire_mark=$(awk '{print $1 + $2}' "$lab/relay.count"); }

printf '\nbench-backup: %s, load average at start %s, site %s\n' \
  "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(cut -d' ' -f1-3 /proc/loadavg)" "$site_size"

if want 1; then
  tend_t=() raw_t=() rss=()
  for _ in $(seq "$runs"); do
    timed_tend -i "$inv" -q backup
    tend_t+=("$secs"); rss+=("$rss_kib")
    start=$(now); raw_files; raw_dump; raw_t+=("$(since "$start")")
  done
  t=$(printf '%s\n' "${tend_t[@]}" | median)
  r=$(printf '%s\n' "${raw_t[@]}" | median)
  m=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)
  printf '\n[1] folder store, one site, %d runs (median)\n' "$runs"
  printf '  tend backup                      : %7.2f s   peak RSS %s\n' "$t" "$(mib "$m")"
  printf '  ssh tar | zstd + ssh dump | zstd : %7.2f s\n' "$r"
  printf '  ratio tend / raw: %s\n' "$(ratio "$t" "$r")"
  printf '  raw archive sizes: %s + %s\n' \
    "$(du -h "$lab/raw-files.tar.zst" | cut -f1)" "$(du -h "$lab/raw-db.sql.zst" | cut -f1)"
fi

if want 2; then
  # Ten sites at once: hard-linked copies of the same tree (distinct roots, no extra disk),
  # all on the same database.
  entries=()
  for n in $(seq 1 10); do
    [ -d "$root-copy$n" ] || cp -al "$root" "$root-copy$n"
    entries+=("copy$n:$root-copy$n")
  done
  write_inventory "$lab/many.yml" "$LAB_SSH_PORT" "$lab/store-many" "" "${entries[@]}"
  timed_tend -i "$lab/many.yml" -q -f 10 backup
  start=$(now)
  for n in $(seq 1 10); do
    ( "${ssh_cmd[@]}" "tar -C '$root-copy$n' -cf - ." | zstd -q -3 >"$lab/raw-many-$n.tar.zst"
      printf '%s' "$options" | "${ssh_cmd[@]}" "mariadb-dump --defaults-extra-file=/dev/stdin --single-transaction --quick --routines --triggers --hex-blob '$SITE_site1_DB_NAME'" | zstd -q -3 >"$lab/raw-many-$n.sql.zst" ) &
  done
  wait
  printf '\n[2] folder store, 10 such sites at once\n'
  printf '  tend backup -f 10                : %7.2f s   peak RSS %s\n' "$secs" "$(mib "$rss_kib")"
  printf '  10 raw pipelines in parallel     : %7.2f s\n' "$(since "$start")"
fi

if want 3; then
  tend_t=() raw_t=() rss=() growth=()
  for _ in $(seq "$runs"); do
    fresh_repo repo-first "$LAB_SSH_PORT" "site1:$root"
    before=$(bytes_of "$lab/repo-first")
    timed_tend -i "$lab/repo-first.yml" -q backup
    tend_t+=("$secs"); rss+=("$rss_kib"); growth+=($(($(bytes_of "$lab/repo-first") - before)))
    start=$(now); raw_files; raw_dump; raw_t+=("$(since "$start")")
  done
  t=$(printf '%s\n' "${tend_t[@]}" | median)
  r=$(printf '%s\n' "${raw_t[@]}" | median)
  m=$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)
  printf '\n[3] repository, first backup into a fresh repository, %d runs (median)\n' "$runs"
  printf '  tend backup                      : %7.2f s   peak RSS %s\n' "$t" "$(mib "$m")"
  printf '  ssh tar | zstd + ssh dump | zstd : %7.2f s\n' "$r"
  printf '  ratio tend / raw: %s (goal <= 1.10)\n' "$(ratio "$t" "$r")"
  printf '  repository growth %s bytes; raw archives %s + %s bytes\n' "${growth[0]}" \
    "$(bytes_of "$lab/raw-files.tar.zst")" "$(bytes_of "$lab/raw-db.sql.zst")"
fi

if want 4 || want 5; then
  start_relay
  fresh_repo repo-wire "$relay_port" "site1:$root"
  wire_reset
  b0=$(bytes_of "$lab/repo-wire")
  timed_tend -i "$lab/repo-wire.yml" -q backup
  wire_take
  first_t=$secs first_rss=$rss_kib first_wire=$wire
  b1=$(bytes_of "$lab/repo-wire"); first_growth=$((b1 - b0))
fi

if want 4; then
  timed_tend -i "$lab/repo-wire.yml" -q backup
  wire_take
  second_t=$secs second_rss=$rss_kib second_wire=$wire
  b2=$(bytes_of "$lab/repo-wire"); second_growth=$((b2 - b1)); b1=$b2
  start=$(now); raw_dump -p "$relay_port"; dump_t=$(since "$start"); wire_take; dump_wire=$wire
  # rsync into an up-to-date mirror: fill it first (not timed), then the measured pass.
  rsync_ssh="ssh -F $LAB_SSH_CONFIG -p $relay_port"
  rsync -a --delete -e "$rsync_ssh" "lab:$root/" "$lab/mirror/"
  wire_reset
  start=$(now)
  rsync -a --delete -e "$rsync_ssh" "lab:$root/" "$lab/mirror/"
  raw_dump -p "$relay_port"
  rsync_t=$(since "$start"); wire_take; rsync_wire=$wire
  pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f%%", 100 * a / b}'; }
  printf '\n[4] repository, unchanged second backup (one run each, SSH bytes both ways through the relay)\n'
  printf '  first backup      : %7.2f s  %12d bytes over the wire  repository +%d bytes  peak RSS %s\n' \
    "$first_t" "$first_wire" "$first_growth" "$(mib "$first_rss")"
  printf '  unchanged second  : %7.2f s  %12d bytes over the wire  repository +%d bytes  peak RSS %s\n' \
    "$second_t" "$second_wire" "$second_growth" "$(mib "$second_rss")"
  printf '  second / first    : time %s (goal <= 25%%), wire %s (goal <= 10%%), growth %s (goal <= 1%%)\n' \
    "$(pct "$second_t" "$first_t")" "$(pct "$second_wire" "$first_wire")" "$(pct "$second_growth" "$first_growth")"
  printf '  the database dump alone (ssh dump | zstd): %.2f s, %d bytes over the wire = %s of the second backup'"'"'s time\n' \
    "$dump_t" "$dump_wire" "$(pct "$dump_t" "$second_t")"
  printf '  rsync -a into an up-to-date mirror + the same dump: %7.2f s  %d bytes over the wire; tend / rsync %s (goal <= 1.00)\n' \
    "$rsync_t" "$rsync_wire" "$(ratio "$second_t" "$rsync_t")"
fi

if want 5; then
  head -c 1048576 /dev/urandom >"$root/wp-content/uploads/bench/media-1.jpg"
  wire_reset
  timed_tend -i "$lab/repo-wire.yml" -q backup
  wire_take; changed_wire=$wire
  b2=$(bytes_of "$lab/repo-wire")
  printf '\n[5] repository, second backup after one changed file (a 10 MB media file replaced by 1 MB)\n'
  printf '  %7.2f s  %d bytes over the wire  repository +%d bytes  peak RSS %s\n' \
    "$secs" "$changed_wire" "$((b2 - b1))" "$(mib "$rss_kib")"
fi

if want 6; then
  # Ten sites sharing WordPress core: copies of the site without the bench uploads, each with
  # 5 MB of media of its own; all on the same database (so their dumps are alike too).
  entries=()
  for n in $(seq 1 10); do
    dir=$root-fleet$n
    rm -rf "$dir"
    mkdir -p "$dir"
    rsync -a --exclude=/wp-content/uploads/bench "$root/" "$dir/"
    mkdir -p "$dir/wp-content/uploads/own"
    head -c 5242880 /dev/urandom >"$dir/wp-content/uploads/own/media.jpg"
    entries+=("fleet$n:$dir")
  done
  write_inventory "$lab/fleet-folders.yml" "$LAB_SSH_PORT" "$lab/fleet-folders-store" "" "${entries[@]}"
  timed_tend -i "$lab/fleet-folders.yml" -q backup
  folders_t=$secs folders_rss=$rss_kib
  folders_bytes=$(bytes_of "$lab/fleet-folders-store/backups")
  fresh_repo repo-fleet "$LAB_SSH_PORT" "${entries[@]}"
  b0=$(bytes_of "$lab/repo-fleet")
  timed_tend -i "$lab/repo-fleet.yml" -q backup
  repo_growth=$(($(bytes_of "$lab/repo-fleet") - b0)) repo_t=$secs repo_rss=$rss_kib
  # Chunks the sites stored at the same moment are duplicates that prune repacks away
  # (every snapshot kept: only the duplicates go).
  sed -i 's/^settings:$/settings:\n  retention: { keep_last: 10 }/' "$lab/repo-fleet.yml"
  "$tend" -i "$lab/repo-fleet.yml" -q backups prune >/dev/null
  pruned_growth=$(($(bytes_of "$lab/repo-fleet") - b0))
  # The same, one site after another (-f 1): sites backed up at once cannot find each other's
  # chunks until their index is written.
  fresh_repo repo-fleet "$LAB_SSH_PORT" "${entries[@]}"
  b0=$(bytes_of "$lab/repo-fleet")
  timed_tend -i "$lab/repo-fleet.yml" -q -f 1 backup
  serial_growth=$(($(bytes_of "$lab/repo-fleet") - b0))
  printf '\n[6] ten sites sharing WordPress core (%s each, 5 MB own media), one backup each\n' "$(du -sh "$root-fleet1" | cut -f1)"
  printf '  ten folder snapshots : %12d bytes  %7.2f s  peak RSS %s\n' "$folders_bytes" "$folders_t" "$(mib "$folders_rss")"
  printf '  repository growth    : %12d bytes  %7.2f s  peak RSS %s (default forks, at once)\n' "$repo_growth" "$repo_t" "$(mib "$repo_rss")"
  printf '  repository growth    : %12d bytes  (at once, then backups prune: duplicates repacked)\n' "$pruned_growth"
  printf '  repository growth    : %12d bytes  %7.2f s  peak RSS %s (-f 1, one after another)\n' "$serial_growth" "$secs" "$(mib "$rss_kib")"
  printf '  repository / folders : %s at once, %s after prune, %s one after another\n' \
    "$(ratio "$repo_growth" "$folders_bytes")" "$(ratio "$pruned_growth" "$folders_bytes")" "$(ratio "$serial_growth" "$folders_bytes")"
fi

if want 7; then
  # One folder snapshot and one repository snapshot of the same site, each restored.
  write_inventory "$lab/restore-folder.yml" "$LAB_SSH_PORT" "$lab/restore-folder-store" "" "site1:$root"
  "$tend" -i "$lab/restore-folder.yml" --json backup >"$lab/out.json"
  folder_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sites"][0]["snapshot"])' "$lab/out.json")
  fresh_repo repo-restore "$LAB_SSH_PORT" "site1:$root"
  "$tend" -i "$lab/repo-restore.yml" --json backup >"$lab/out.json"
  repo_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sites"][0]["snapshot"])' "$lab/out.json")
  folder_t=() repo_t=() rss=() folder_rss=()
  for _ in $(seq "$runs"); do
    timed_tend -i "$lab/restore-folder.yml" -q restore site1 --snapshot "$folder_id" --no-pre-restore-snapshot --yes
    folder_t+=("$secs"); folder_rss+=("$rss_kib")
    timed_tend -i "$lab/repo-restore.yml" -q restore site1 --snapshot "$repo_id" --no-pre-restore-snapshot --yes
    repo_t+=("$secs"); rss+=("$rss_kib")
  done
  f=$(printf '%s\n' "${folder_t[@]}" | median)
  r=$(printf '%s\n' "${repo_t[@]}" | median)
  printf '\n[7] restore (files and database), %d runs (median)\n' "$runs"
  printf '  from a folder snapshot : %7.2f s   peak RSS %s\n' "$f" "$(mib "$(printf '%s\n' "${folder_rss[@]}" | sort -n | tail -n1)")"
  printf '  from the repository    : %7.2f s   peak RSS %s\n' "$r" "$(mib "$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)")"
  printf '  ratio repository / folder: %s (goal <= 1.20)\n' "$(ratio "$r" "$f")"
fi
if want 8; then
  printf '\n[8] peak RSS against the number of files (extra empty files in a copy of the site, fresh repository each)\n'
  printf '  %9s  %14s  %14s  %16s  %16s\n' files "first backup" "peak RSS" "unchanged 2nd" "peak RSS"
  IFS=, read -r -a counts <<<"${BENCH_FILES:-10000,100000,1000000}"
  for count in "${counts[@]}"; do
    dir=$root-files
    rm -rf "$dir"
    mkdir -p "$dir"
    rsync -a --exclude=/wp-content/uploads/bench "$root/" "$dir/"
    python3 - "$dir/wp-content/uploads/many" "$count" <<'PY'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    folder = os.path.join(root, f"{i // 1000:04d}")
    if i % 1000 == 0:
        os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, f"f{i:07d}"), "w").close()
PY
    fresh_repo repo-files "$LAB_SSH_PORT" "files:$dir"
    timed_tend -i "$lab/repo-files.yml" -q backup
    first_t=$secs first_rss=$rss_kib
    timed_tend -i "$lab/repo-files.yml" -q backup
    printf '  %9d  %12.2f s  %14s  %14.2f s  %16s\n' "$count" "$first_t" "$(mib "$first_rss")" "$secs" "$(mib "$rss_kib")"
    rm -rf "$dir" "${lab:?}/repo-files" "${lab:?}/repo-files-store"
  done
fi
printf '\nbench-backup: load average at end %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
