#!/usr/bin/env bash
# Benchmark: the monthly update cycle (`tend run`: backup, maintenance on, update core,
# plugins and themes, maintenance off, verify) on fresh lab sites, WordPress 6.1.9 →
# Debian's next release (6.8.7), Akismet 5.0.2 → 5.5, Twenty Twenty-Three 1.0 → 1.6, from a
# private package repository built from `scripts/lab-packages.sh` + `tend repo index`.
#
#   1. one site, start to verified (median of RUNS), and once with `verify_delay: 0`;
#   2. ten sites at once (`-f 10`);
#   3. a plugin update that fatals on every front-end request (tend-fatal-test 1.0 → 2.0),
#      rolled back by tend: its own rollback time (the `rollback` field of the JSON) and the
#      whole run, side by side with the obvious alternative, `tend restore --snapshot` of the
#      pre-update snapshot onto the broken site; then the same with the full cycle (core
#      update and its database migration too), where the rollback also restores the database;
#   4. one component at a time (`mode: each`, the default) against all at once (`mode:
#      together`) on a site with ten updates (core, Akismet, the theme and seven plugins of
#      the benchmark's own): the healthy cycle, each vs together (goal: each ≤ 2× together),
#      and the same with one of the ten broken (tend-fatal-test 2.0): `each` keeps the nine
#      and rolls the culprit back alone (its rollback time from the JSON, goal < 5 s),
#      `together` rolls all ten back.
#
# Cases 1–3 run with `mode: together` (what they measured before `each` existed).
#
# Every run works on sites added for it (`lab.sh add-site`): an update only happens once.
# Wall times are measured around tend; peak RSS comes from /usr/bin/time (skipped, and said,
# when it is not installed). tend's stderr is time-stamped to show where the time goes.
#
# Usage: scripts/bench-update.sh [--runs N] [--cases LIST]   (default 3 runs, cases 1,2,3,4)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=3
cases=1,2,3,4
while (($#)); do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --cases) cases=${2:?--cases needs a list such as 1,4}; shift 2 ;;
    --cases=*) cases=${1#*=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "usage: scripts/bench-update.sh [--runs N] [--cases LIST]" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-update: --runs must be a positive number" >&2; exit 2; }
[[ "$cases" =~ ^[1-4](,[1-4])*$ ]] || { echo "bench-update: --cases is a list of 1 to 4, such as 1,4" >&2; exit 2; }
want() { [[ ",$cases," == *",$1,"* ]]; }
# Ten sites per run of case 2: more than 3 runs would add a lot of sites and time for
# little extra information.
many_runs=$((runs < 3 ? runs : 3))
delay=3 # settings.verify_delay of the main runs: tend's default, written out so it is known

log() { printf 'bench-update: %s\n' "$*" >&2; }
die() { printf 'bench-update: error: %s\n' "$*" >&2; exit 1; }

bash scripts/install-deps.sh
for c in python3 curl mariadb; do
  command -v "$c" >/dev/null || die "'$c' not found (scripts/install-deps.sh; python3 for lab-packages.sh)"
done
have_time=0
if [[ -x /usr/bin/time ]]; then
  have_time=1
else
  log "/usr/bin/time not found (Debian package: time): peak RSS is not measured"
fi

log "building tend (cargo build --release)"
cargo build --release --locked --quiet || die "cargo build --release failed"
tend=$PWD/target/release/tend

log "update packages (scripts/lab-packages.sh target/lab-packages)"
packages=$(bash scripts/lab-packages.sh target/lab-packages) || die "scripts/lab-packages.sh failed"
mapfile -t zips <<<"$packages"
((${#zips[@]} == 3)) || die "scripts/lab-packages.sh printed ${#zips[@]} zips, expected 3"

lab=$(mktemp -d "${TMPDIR:-/tmp}/tend-bench.XXXXXX")
# The watchdog would tear the lab down and delete it once this script exits; the trap does
# it at once (`down` also stops the watchdog, so the trap deletes the directory itself,
# only ever one carrying lab.sh's marker). The lab holds GBs after a full run.
cleanup() {
  bash "$root/scripts/lab.sh" down "$lab" >/dev/null 2>&1 || true
  if [[ -e "$lab/.tend-lab" ]]; then rm -rf -- "$lab"; else rmdir -- "$lab" 2>/dev/null || true; fi
}
trap cleanup EXIT
log "starting the lab in $lab"
bash "$root/scripts/lab.sh" up "$lab" --sites 0 --watch $$ >/dev/null 2>"$lab.up.log" || {
  cat "$lab.up.log" >&2; rm -f "$lab.up.log"; die "scripts/lab.sh up failed"; }
rm -f "$lab.up.log"
work=$lab/bench
mkdir -p "$work"
# shellcheck disable=SC1091
. "$lab/lab.env"

# ------------------------------------------------------------------ helpers ---

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minimum() { sort -n | head -n1; }
maximum() { sort -n | tail -n1; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# Each stderr line of tend, prefixed with the time it arrived.
stamp() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    printf '%s %s\n' "$EPOCHREALTIME" "$line"
  done
}
# relative FILE T0: the stamped log with times in seconds since T0.
relative() { awk -v t0="$2" '{ t = $1; sub(/^[^ ]+ /, ""); printf "  %6.2f s %s\n", t - t0, $0 }' "$1"; }

# tend_run NAME WANT_RC ARGS...: runs tend with ARGS; stdout in $work/NAME.json, stamped
# stderr in $work/NAME.err. Sets WALL (seconds), RSS (peak, KiB) and CPU (user + system
# seconds of tend itself; both "-" without /usr/bin/time), T0 and T1. Stops the
# benchmark with tend's stderr when the exit status is not WANT_RC (a number, or several
# separated by spaces).
tend_run() {
  local name=$1 want=$2 rc=0
  shift 2
  T0=$EPOCHREALTIME
  if ((have_time)); then
    /usr/bin/time -f '%M %U %S' -o "$work/$name.time" "$tend" "$@" 2>&1 >"$work/$name.json" | stamp >"$work/$name.err" || rc=$?
  else
    "$tend" "$@" 2>&1 >"$work/$name.json" | stamp >"$work/$name.err" || rc=$?
  fi
  T1=$EPOCHREALTIME
  WALL=$(sub "$T1" "$T0")
  RSS=- CPU=-
  if ((have_time)); then
    read -r RSS CPU < <(tail -n1 "$work/$name.time" | awk '{ printf "%s %.2f\n", $1, $2 + $3 }')
  fi

  if [[ " $want " != *" $rc "* ]]; then
    fail "$name" "tend $* exited with status $rc (expected ${want// / or })"
  fi
}

# fail NAME MESSAGE: shows tend's stderr and stdout of run NAME, then stops.
fail() {
  printf 'bench-update: error: %s\n' "$2" >&2
  if [[ -s "$work/$1.err" ]]; then
    printf -- '---- tend stderr (seconds since start) ----\n' >&2
    relative "$work/$1.err" "${T0:-0}" | tail -n 60 >&2
  fi
  if [[ -s "$work/$1.json" ]]; then
    printf -- '---- tend stdout ----\n' >&2
    head -c 6000 "$work/$1.json" >&2
    echo >&2
  fi
  exit 1
}

# site_json FILE FIELD: FIELD of every site of a `tend --json run` result, one per line.
site_json() {
  python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["sites"]:
    v = s.get(sys.argv[2])
    print("" if v is None else v if isinstance(v, str) else json.dumps(v))
PY
}

# checks_seconds NAME: how long the HTTP checks of the run's first site took (JSON).
checks_seconds() {
  python3 - "$work/$1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("%.3f" % (sum(c.get("elapsed_ms", 0) for c in d["sites"][0]["checks"]) / 1000))
PY
}

# verify_wait NAME: seconds a successful one-site run spent waiting before its checks: from
# "maintenance mode off" to "verified", less the checks themselves.
verify_wait() {
  awk -v chk="$(checks_seconds "$1")" '
    / maintenance mode off$/ { off = $1 } / verified: / { ok = $1 }
    END { if (off == "" || ok == "") exit 1; w = ok - off - chk; printf "%.2f\n", (w < 0 ? 0 : w) }' "$1.err"
}

# expect_ok NAME N: the run's N sites all ended `ok` with 3 changes and all checks passing.
expect_ok() {
  python3 - "$work/$1.json" "$2" <<'PY' || fail "$1" "the run did not update every site"
import json, sys
d = json.load(open(sys.argv[1]))
sites = d["sites"]
bad = [s.get("site") for s in sites
       if s["status"] != "ok" or len(s["changes"]) != 3 or not all(c["ok"] for c in s["checks"])]
sys.exit(1 if bad or len(sites) != int(sys.argv[2]) else 0)
PY
}

# add_sites NAME...: fresh lab sites (WordPress 6.1.9), created in parallel.
add_sites() {
  local name pids=() failed=0 i names=("$@")
  for name in "${names[@]}"; do
    bash "$root/scripts/lab.sh" add-site "$lab" "$name" >/dev/null 2>"$work/add-$name.log" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      cat "$work/add-${names[$i]}.log" >&2
      failed=1
    fi
  done
  ((failed == 0)) || die "scripts/lab.sh add-site failed"
  # shellcheck disable=SC1091
  . "$lab/lab.env"
}
site_var() { local v="SITE_${1}_$2"; printf '%s' "${!v:?no $v in lab.env}"; }

# inventory FILE REPO VERIFY_DELAY SITE...
inventory() {
  local file=$1 repo=$2 vd=$3 s
  shift 3
  {
    printf "settings:\n  store: '%s'\n  verify_delay: %s\n  sources:\n    - repository: '%s'\n" \
      "$work/store" "$vd" "$repo"
    printf "defaults:\n  ssh: { user: %s, port: %s, identity_file: '%s', known_hosts_file: '%s' }\nsites:\n" \
      "$LAB_USER" "$LAB_SSH_PORT" "$LAB_SSH_KEY" "$LAB_KNOWN_HOSTS"
    for s in "$@"; do
      printf "  %s: { host: 127.0.0.1, path: '%s', url: '%s' }\n" "$s" "$(site_var "$s" PATH)" "$(site_var "$s" URL)"
    done
  } >"$file"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$1" || true; }

fatal_v1="<?php
/*
 * Plugin Name: tend fatal test
 * Version: 1.0
 * Description: A plugin whose next version breaks every front-end page.
 */
add_action('wp_footer', function () { echo '<!-- tend-fatal-test 1.0 -->'; });
"
fatal_v2="<?php
/*
 * Plugin Name: tend fatal test
 * Version: 2.0
 */
add_action('wp', function () { undefined_function(); });
"

# install_fatal_test_plugin SITE: tend-fatal-test 1.0, active next to Akismet (like
# tests/update.rs).
install_fatal_test_plugin() {
  local path db url
  path=$(site_var "$1" PATH) db=$(site_var "$1" DB_NAME) url=$(site_var "$1" URL)
  mkdir -p "$path/wp-content/plugins/tend-fatal-test"
  printf '%s' "$fatal_v1" >"$path/wp-content/plugins/tend-fatal-test/tend-fatal-test.php"
  mariadb --defaults-file="$lab/mysql/root.cnf" "$db" -e "UPDATE wp_options SET option_value = 'a:2:{i:0;s:19:\"akismet/akismet.php\";i:1;s:35:\"tend-fatal-test/tend-fatal-test.php\";}' WHERE option_name = 'active_plugins'" ||
    die "activating tend-fatal-test on $1 failed"
  curl -s --max-time 30 "$url/" | grep -q 'tend-fatal-test 1.0' ||
    die "$1: tend-fatal-test 1.0 is not active (its footer comment is missing from $url/)"
}

# ------------------------------------------------------ repositories, playbooks ---

repo_full=$work/repo-full   # core, Akismet, Twenty Twenty-Three (+ tend-fatal-test 2.0)
repo_fatal=$work/repo-fatal # tend-fatal-test 2.0 only
repo_cycle=$work/repo-cycle # core, Akismet, Twenty Twenty-Three only
for r in "$repo_full" "$repo_fatal" "$repo_cycle"; do mkdir -p "$r/plugins" "$r/themes"; done
for z in "${zips[@]}"; do
  case "$z" in
    */plugins/*) sub_dir=plugins/ ;;
    */themes/*) sub_dir=themes/ ;;
    *) sub_dir= ;;
  esac
  cp -- "$z" "$repo_cycle/$sub_dir"
  cp -- "$z" "$repo_full/$sub_dir"
done
FATAL_V2=$fatal_v2 python3 - "$repo_fatal/plugins/tend-fatal-test.2.0.zip" <<'PY'
import os, sys, zipfile
info = zipfile.ZipInfo("tend-fatal-test/tend-fatal-test.php", (2025, 1, 1, 0, 0, 0))
info.external_attr = 0o100644 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr(info, os.environ["FATAL_V2"])
PY
cp -- "$repo_fatal/plugins/tend-fatal-test.2.0.zip" "$repo_full/plugins/"
for r in "$repo_full" "$repo_fatal" "$repo_cycle"; do
  "$tend" repo index "$r" >"$work/index.log" 2>&1 || { cat "$work/index.log" >&2; die "tend repo index $r failed"; }
done

steps='steps:
  - backup: { label: pre-update }
  - maintenance: on
  - update: { core: minor, plugins: all, themes: all, mode: together }
  - maintenance: off
  - verify:
      checks:
        - { path: /, status: 200, contains: ["<title>"] }
'
printf 'name: Monthly update cycle\nhosts: all\n%s' "$steps" >"$work/monthly.yml"
# The obvious alternative to a rollback: keep the broken update, restore the snapshot after.
printf 'name: Monthly update cycle, no rollback\nhosts: all\non_failure: continue\n%s' "$steps" >"$work/monthly-keep.yml"
cd "$work"

# ----------------------------------------------------------- 1. one site ---

load_before=$(cut -d' ' -f1 /proc/loadavg)

if want 1; then
one_t=() one_rss=() one_cpu=() one_nowait=()
for i in $(seq "$runs"); do
  log "1. one site, run $i/$runs"
  add_sites "one$i"
  inventory "one$i.yml" "$repo_cycle" "$delay" "one$i"
  tend_run "one$i" 0 -i "one$i.yml" --json run monthly.yml --yes
  expect_ok "one$i" 1
  one_t+=("$WALL") one_rss+=("$RSS") one_cpu+=("$CPU")
  w=$(verify_wait "one$i") || fail "one$i" "no 'maintenance mode off' / 'verified' lines in tend's stderr"
  one_nowait+=("$(sub "$WALL" "$w")")
  one_last=("one$i" "$T0" "$T1")
done

log "1b. one site with verify_delay: 0"
add_sites zero
# Is opcache on in the lab's web servers (php -S)? Asked on the fresh site, file removed again.
probe=$(site_var zero PATH)/tend-bench-probe.php
# shellcheck disable=SC2016 # PHP, not shell
printf '%s' '<?php $s = function_exists("opcache_get_status") ? @opcache_get_status(false) : false; echo ($s && !empty($s["opcache_enabled"])) ? "on" : "off", " (revalidate_freq ", ini_get("opcache.revalidate_freq"), ", validate_timestamps ", ini_get("opcache.validate_timestamps"), ")";' >"$probe"
opcache=$(curl -s --max-time 30 "$(site_var zero URL)/tend-bench-probe.php" || echo unknown)
rm -f -- "$probe"
inventory zero.yml "$repo_cycle" 0 zero
# Without the delay the checks may meet code PHP has not re-read yet: a rolled-back run is
# a result here, not a failure of the benchmark.
tend_run zero "0 1" -i zero.yml --json run monthly.yml --yes
zero_status=$(site_json zero.json status)
case "$zero_status" in
  ok) expect_ok zero 1 ;;
  rolled_back)
    zero_error=$(site_json zero.json error)
    log "verify_delay 0: the update was ROLLED BACK: $zero_error"
    # What PHP said (the lab's web server log), for the report.
    zero_php=$(grep -m1 -E 'PHP (Fatal|Parse) error' "$lab/logs/zero-http.log" | sed -E 's/^\[[0-9]+\] \[[^]]*\] //' | cut -c1-400 || true)
    ;;
  *) fail zero "verify_delay 0: status $zero_status" ;;
esac
zero_t=$WALL zero_rss=$RSS zero_cpu=$CPU zero_last=(zero "$T0" "$T1")

fi

# ------------------------------------------------------------ 2. ten sites ---

if want 2; then
many_t=() many_rss=() many_cpu=() many_spread=()
for r in $(seq "$many_runs"); do
  log "2. ten sites at once, run $r/$many_runs (adding 10 sites)"
  names=()
  for n in $(seq 10); do names+=("m${r}_$n"); done
  add_sites "${names[@]}"
  inventory "many$r.yml" "$repo_cycle" "$delay" "${names[@]}"
  tend_run "many$r" 0 -i "many$r.yml" -f 10 --json run monthly.yml --yes
  expect_ok "many$r" 10
  many_t+=("$WALL") many_rss+=("$RSS") many_cpu+=("$CPU")
  # When each site finished (its "SITE: ok" line).
  many_spread+=("$(awk -v t0="$T0" '/: ok$/ { t = $1 - t0; if (min == "" || t < min) min = t; if (t > max) max = t }
    END { printf "%.1f–%.1f s", min, max }' "many$r.err")")
done

fi

# ------------------------------------------------- 3. rollback vs restore ---

# rollback_case REPO LABEL PREFIX: RUNS runs on fresh sites with tend-fatal-test 1.0 active.
# Sets RB_T (tend's rollback, from the JSON), RUN_T, RUN_RSS and RUN_CPU (whole run), RS_T,
# RS_RSS and RS_CPU (the restore), EXAMPLE (a rollback line) and LAST (NAME T0 T1 of the last run).
rollback_case() {
  local repo=$1 what=$2 p=$3 i s snap rb code
  RB_T=() RUN_T=() RUN_RSS=() RUN_CPU=() RS_T=() RS_RSS=() RS_CPU=()
  for i in $(seq "$runs"); do
    s=$p$i
    log "3. $what, run $i/$runs"
    add_sites "$s"
    install_fatal_test_plugin "$s"
    inventory "$s.yml" "$repo" "$delay" "$s"
    tend_run "$s-run" 1 -i "$s.yml" --json run monthly.yml --yes
    [[ "$(site_json "$s-run.json" status)" == rolled_back ]] || fail "$s-run" "status is not rolled_back"
    rb=$(site_json "$s-run.json" rollback) || fail "$s-run" "unreadable JSON"
    [[ "$rb" == *"all checks pass"* ]] || fail "$s-run" "the rollback did not verify: $rb"
    RB_T+=("$(sed -nE 's/.* in ([0-9.]+) s;.*/\1/p' <<<"$rb")")
    RUN_T+=("$WALL") RUN_RSS+=("$RSS") RUN_CPU+=("$CPU")
    EXAMPLE=$rb LAST=("$s-run" "$T0" "$T1")

    # The alternative: the same update kept although it broke the site, then the
    # pre-update snapshot restored.
    tend_run "$s-keep" 1 -i "$s.yml" --json run monthly-keep.yml --yes
    [[ "$(site_json "$s-keep.json" status)" == failed ]] || fail "$s-keep" "status is not failed"
    snap=$(site_json "$s-keep.json" snapshot) || fail "$s-keep" "unreadable JSON"
    code=$(http_code "$(site_var "$s" URL)/")
    [[ "$code" == 500 ]] || fail "$s-keep" "the kept update should break the home page, it answers $code"
    tend_run "$s-restore" 0 -i "$s.yml" --json restore "$s" --snapshot "$snap" --yes
    RS_T+=("$WALL") RS_RSS+=("$RSS") RS_CPU+=("$CPU")
    code=$(http_code "$(site_var "$s" URL)/")
    [[ "$code" == 200 ]] || fail "$s-restore" "after the restore the home page answers $code"
    grep -q 'Version: 1.0' "$(site_var "$s" PATH)/wp-content/plugins/tend-fatal-test/tend-fatal-test.php" ||
      fail "$s-restore" "tend-fatal-test is not back at 1.0 after the restore"
  done
}
if want 3; then
rollback_case "$repo_fatal" "plugin update that fatals, rolled back" fatal
fatal_rb=("${RB_T[@]}") fatal_run=("${RUN_T[@]}") fatal_run_rss=("${RUN_RSS[@]}") fatal_run_cpu=("${RUN_CPU[@]}")
fatal_rs=("${RS_T[@]}") fatal_rs_rss=("${RS_RSS[@]}") fatal_rs_cpu=("${RS_CPU[@]}") fatal_example=$EXAMPLE fatal_last=("${LAST[@]}")
rollback_case "$repo_full" "full cycle + the fatal plugin, rolled back (database too)" full
full_rb=("${RB_T[@]}") full_run=("${RUN_T[@]}") full_run_rss=("${RUN_RSS[@]}") full_run_cpu=("${RUN_CPU[@]}")
full_rs=("${RS_T[@]}") full_rs_rss=("${RS_RSS[@]}") full_rs_cpu=("${RS_CPU[@]}") full_example=$EXAMPLE full_last=("${LAST[@]}")

fi

# ----------------------------------------- 4. one at a time vs all at once ---

# Six plugins of the benchmark's own (1.0 installed, 1.1 offered) beside core, Akismet, the
# theme and tend-fatal-test: ten updates per site.
bench_slugs=(tend-bench-1 tend-bench-2 tend-bench-3 tend-bench-4 tend-bench-5 tend-bench-6)
bench_plugin() { # SLUG VERSION: a plugin that prints a comment in the footer
  printf "<?php\n/*\n * Plugin Name: %s\n * Version: %s\n */\nadd_action('wp_footer', function () { echo '<!-- %s %s -->'; });\n" "$1" "$2" "$1" "$2"
}
plugin_zip() { # ZIP SLUG CONTENT
  CONTENT=$3 python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
info = zipfile.ZipInfo(sys.argv[2] + "/" + sys.argv[2] + ".php", (2025, 1, 1, 0, 0, 0))
info.external_attr = 0o100644 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr(info, os.environ["CONTENT"])
PY
}
# install_ten SITE: the six plugins 1.0 and tend-fatal-test 1.0, all active next to Akismet.
install_ten() {
  local path db url slug list n=2 entry
  path=$(site_var "$1" PATH) db=$(site_var "$1" DB_NAME) url=$(site_var "$1" URL)
  install_fatal_test_plugin "$1"
  list='i:0;s:19:"akismet/akismet.php";i:1;s:35:"tend-fatal-test/tend-fatal-test.php";'
  for slug in "${bench_slugs[@]}"; do
    mkdir -p "$path/wp-content/plugins/$slug"
    bench_plugin "$slug" 1.0 >"$path/wp-content/plugins/$slug/$slug.php"
    entry="$slug/$slug.php"
    list+="i:$n;s:${#entry}:\"$entry\";"
    n=$((n + 1))
  done
  mariadb --defaults-file="$lab/mysql/root.cnf" "$db" -e "UPDATE wp_options SET option_value = 'a:$n:{$list}' WHERE option_name = 'active_plugins'" ||
    die "activating the benchmark's plugins on $1 failed"
  curl -s --max-time 30 "$url/" | grep -q 'tend-bench-6 1.0' ||
    die "$1: the benchmark's plugins are not active (no footer comment in $url/)"
}
# expect_json NAME PYTHON: the run's JSON (`d`, its first site `s`) satisfies PYTHON.
expect_json() {
  python3 - "$work/$1.json" "$2" <<'PY' || fail "$1" "unexpected result: $2"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["sites"][0]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

if want 4; then
  repo_ten_ok=$work/repo-ten-ok repo_ten_bad=$work/repo-ten-bad
  for r in "$repo_ten_ok" "$repo_ten_bad"; do
    mkdir -p "$r/plugins" "$r/themes"
    cp -r "$repo_cycle/." "$r/"
    rm -f "$r/index.json"
    for slug in "${bench_slugs[@]}"; do plugin_zip "$r/plugins/$slug.1.1.zip" "$slug" "$(bench_plugin "$slug" 1.1)"; done
  done
  plugin_zip "$repo_ten_ok/plugins/tend-fatal-test.2.0.zip" tend-fatal-test "$(bench_plugin tend-fatal-test 2.0)"
  cp -- "$repo_fatal/plugins/tend-fatal-test.2.0.zip" "$repo_ten_bad/plugins/"
  for r in "$repo_ten_ok" "$repo_ten_bad"; do
    "$tend" repo index "$r" >"$work/index.log" 2>&1 || { cat "$work/index.log" >&2; die "tend repo index $r failed"; }
  done
  for m in each together; do
    printf 'name: Monthly update cycle (%s)\nhosts: all\n%s' "$m" "${steps/mode: together/mode: $m}" >"$work/monthly-$m.yml"
  done

  ten_ok_each=() ten_ok_tog=() ten_bad_each=() ten_bad_tog=() ten_culprit=() ten_bad_each_rss=() ten_ok_each_rss=()
  ten0_each=() ten0_tog=()
  for i in $(seq "$runs"); do
    log "4. ten updates, run $i/$runs (adding 6 sites)"
    add_sites "te_ok$i" "tt_ok$i" "te_bad$i" "tt_bad$i" "te0_ok$i" "tt0_ok$i"
    for s in "te_ok$i" "tt_ok$i" "te_bad$i" "tt_bad$i" "te0_ok$i" "tt0_ok$i"; do install_ten "$s"; done
    # The same healthy cycle with verify_delay 0: what `each` costs besides waiting, after
    # each component, for PHP to stop serving code it cached.
    inventory "te0_ok$i.yml" "$repo_ten_ok" 0 "te0_ok$i"
    inventory "tt0_ok$i.yml" "$repo_ten_ok" 0 "tt0_ok$i"
    tend_run "te0_ok$i" 0 -i "te0_ok$i.yml" --json run monthly-each.yml --yes
    expect_json "te0_ok$i" 's["status"] == "ok" and len(s["changes"]) == 10'
    ten0_each+=("$WALL")
    tend_run "tt0_ok$i" 0 -i "tt0_ok$i.yml" --json run monthly-together.yml --yes
    expect_json "tt0_ok$i" 's["status"] == "ok" and len(s["changes"]) == 10'
    ten0_tog+=("$WALL")
    inventory "te_ok$i.yml" "$repo_ten_ok" "$delay" "te_ok$i"
    inventory "tt_ok$i.yml" "$repo_ten_ok" "$delay" "tt_ok$i"
    inventory "te_bad$i.yml" "$repo_ten_bad" "$delay" "te_bad$i"
    inventory "tt_bad$i.yml" "$repo_ten_bad" "$delay" "tt_bad$i"

    tend_run "te_ok$i" 0 -i "te_ok$i.yml" --json run monthly-each.yml --yes
    expect_json "te_ok$i" 's["status"] == "ok" and len(s["changes"]) == 10'
    ten_ok_each+=("$WALL") ten_ok_each_rss+=("$RSS")
    tend_run "tt_ok$i" 0 -i "tt_ok$i.yml" --json run monthly-together.yml --yes
    expect_json "tt_ok$i" 's["status"] == "ok" and len(s["changes"]) == 10'
    ten_ok_tog+=("$WALL")

    tend_run "te_bad$i" 1 -i "te_bad$i.yml" --json run monthly-each.yml --yes
    expect_json "te_bad$i" 's["status"] == "partial" and len(s["changes"]) == 9 and [r["slug"] for r in s["rolled_back"]] == ["tend-fatal-test"]'
    ten_bad_each+=("$WALL") ten_bad_each_rss+=("$RSS")
    ten_culprit+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sites"][0]["rolled_back"][0]["rollback_seconds"])' "$work/te_bad$i.json")")
    ten_example=$(site_json "te_bad$i.json" error)
    tend_run "tt_bad$i" 1 -i "tt_bad$i.yml" --json run monthly-together.yml --yes
    expect_json "tt_bad$i" 's["status"] == "rolled_back" and len(s["changes"]) == 10'
    ten_bad_tog+=("$WALL")
  done
fi

# ------------------------------------------------------------------ report ---

row() { # row WHAT RUNS RSS CPU VALUES...
  local what=$1 n=$2 rss=$3 cpu=$4
  shift 4
  printf '  %-50s %8.2f s %8.2f s %8.2f s %11s %8s  %s\n' "$what" \
    "$(printf '%s\n' "$@" | median)" "$(printf '%s\n' "$@" | minimum)" \
    "$(printf '%s\n' "$@" | maximum)" "$rss" "$cpu" "$n"
}
# cpu VALUES...: median of tend's CPU seconds, "-" when not measured.
cpu() {
  local v
  v=$(printf '%s\n' "$@" | grep -E '^[0-9.]+$' | median || true)
  if [[ -n "$v" ]]; then printf '%.2f s' "$v"; else printf -- '-'; fi
}
peak() {
  local m
  m=$(printf '%s\n' "$@" | grep -E '^[0-9]+$' | sort -n | tail -n1 || true)
  if [[ -n "$m" ]]; then printf '%s KiB' "$m"; else printf -- '-'; fi
}

# phases NAME T0 T1: where one site's run spent its time, from its stamped stderr.
phases() {
  local chk=""
  [[ "$(site_json "$1.json" status)" != ok ]] || chk=$(checks_seconds "$1")
  awk -v t0="$2" -v t1="$3" -v chk="$chk" '
    function at(re,   i) { for (i = 1; i <= n; i++) if (line[i] ~ re) return ts[i]; return "" }
    { n++; ts[n] = $1; line[n] = $0 }
    END {
      on = at("maintenance mode on$"); off = at("maintenance mode off$")
      dbs = at("upgrading the database$"); dbe = at("database upgraded")
      ok = at("verified: "); vf = at("warning: verify failed"); rb = at("warning: rolling back")
      if (on != "") printf "    %5.2f s  connect, facts, checks before, backup\n", on - t0
      if (off != "") printf "    %5.2f s  updates%s\n", off - on, (dbs != "" && dbe != "") ? sprintf(" (of which the database upgrade %.2f s)", dbe - dbs) : ""
      if (ok != "") printf "    %5.2f s  verify: %.2f s left of verify_delay, then %.2f s of HTTP checks\n", ok - off, ok - off - chk, chk
      if (vf != "") printf "    %5.2f s  verify: what is left of verify_delay, then the HTTP checks, which fail\n", vf - off
      if (rb != "") printf "    %5.2f s  rollback, verify_delay again, the checks again, journal cleared\n", ts[n] - rb
      if (ok != "") printf "    %5.2f s  journal cleared, lock released, exit\n", t1 - ok
      else printf "    %5.2f s  exit\n", t1 - ts[n]
      printf "    %5.2f s  in all\n", t1 - t0
    }' "$1.err"
}

mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
printf 'bench-update: machine: %s CPU(s) (%s), %s memory; tend %s\n' "$(nproc)" "${cpu_model:-unknown}" "$mem" \
  "$("$tend" --version 2>/dev/null | awk '{print $NF}')"
printf 'bench-update: load average (1 min) before: %s, after: %s (other work on the machine skews times)\n' \
  "$load_before" "$(cut -d' ' -f1 /proc/loadavg)"
printf 'bench-update: update: WordPress 6.1.9 → %s; packages: %s\n' \
  "$(awk '$1 == "wordpress" {print $2}' "$root/target/lab-packages/.complete")" \
  "$(for z in "${zips[@]}"; do basename "$z"; done | paste -sd' ')"
printf 'bench-update: settings.verify_delay: %s s in every run except the "verify_delay 0" one\n' "$delay"
printf '              (counted from the last file change, so a run waits up to %s s before verifying)\n' "$delay"
! want 1 || printf "bench-update: opcache in the lab's web servers (php -S): %s\n" "$opcache"
((have_time)) || printf 'bench-update: /usr/bin/time is not installed (Debian package: time): no peak RSS\n'
echo
printf '  %-50s %10s %10s %10s %11s %8s  %s\n' "what (wall time)" "median" "min" "max" "peak RSS" "tend CPU" "runs"
if want 1; then
row "1. one site, start to verified" "$runs" "$(peak "${one_rss[@]}")" "$(cpu "${one_cpu[@]}")" "${one_t[@]}"
row "1. one site, less its verify_delay wait (estimate)" "$runs" - - "${one_nowait[@]}"
row "1. one site, verify_delay: 0$([[ $zero_status == ok ]] || echo " (ROLLED BACK)")" 1 "$(peak "$zero_rss")" "$(cpu "$zero_cpu")" "$zero_t"
fi
! want 2 || row "2. ten sites at once (-f 10)" "$many_runs" "$(peak "${many_rss[@]}")" "$(cpu "${many_cpu[@]}")" "${many_t[@]}"
if want 3; then
row "3. fatal plugin: tend's rollback (JSON, 0.1 s steps)" "$runs" - - "${fatal_rb[@]}"
row "3. fatal plugin: whole run, ends rolled_back" "$runs" "$(peak "${fatal_run_rss[@]}")" "$(cpu "${fatal_run_cpu[@]}")" "${fatal_run[@]}"
row "3. fatal plugin: tend restore --snapshot instead" "$runs" "$(peak "${fatal_rs_rss[@]}")" "$(cpu "${fatal_rs_cpu[@]}")" "${fatal_rs[@]}"
row "3+. full cycle + fatal: rollback incl. database" "$runs" - - "${full_rb[@]}"
row "3+. full cycle + fatal: whole run, rolled_back" "$runs" "$(peak "${full_run_rss[@]}")" "$(cpu "${full_run_cpu[@]}")" "${full_run[@]}"
row "3+. full cycle + fatal: tend restore instead" "$runs" "$(peak "${full_rs_rss[@]}")" "$(cpu "${full_rs_cpu[@]}")" "${full_rs[@]}"
fi
if want 4; then
  row "4. ten updates, healthy: mode each" "$runs" "$(peak "${ten_ok_each_rss[@]}")" - "${ten_ok_each[@]}"
  row "4. ten updates, healthy: mode together" "$runs" - - "${ten_ok_tog[@]}"
  row "4. ten updates, healthy, verify_delay 0: each" "$runs" - - "${ten0_each[@]}"
  row "4. ten updates, healthy, verify_delay 0: together" "$runs" - - "${ten0_tog[@]}"
  row "4. ten, one broken: each (partial, 9 kept)" "$runs" "$(peak "${ten_bad_each_rss[@]}")" - "${ten_bad_each[@]}"
  row "4. ten, one broken: together (all 10 undone)" "$runs" - - "${ten_bad_tog[@]}"
  row "4. ten, one broken: the culprit's rollback alone" "$runs" - - "${ten_culprit[@]}"
fi
echo
printf '  peak RSS: the largest of the runs. Wall times include starting tend and its SSH connection.\n'
if want 1; then
printf '  "less its verify_delay wait": each run of 1. minus the time it waited before its checks\n'
printf '  (from its stderr and the checks'"'"' elapsed_ms), i.e. what the run costs without the delay.\n'
fi
if want 2; then
printf '  2. ran %s time(s), %s fresh sites each (at most 3 runs: each needs 10 new sites);\n' "$many_runs" 10
printf '     the sites finished between (per run): %s\n' "${many_spread[*]}"
fi
if want 3; then
awk -v rb="$(printf '%s\n' "${fatal_rb[@]}" | median)" -v rs="$(printf '%s\n' "${fatal_rs[@]}" | median)" \
  -v frb="$(printf '%s\n' "${full_rb[@]}" | median)" -v frs="$(printf '%s\n' "${full_rs[@]}" | median)" -v target=5 '
  # The JSON rounds the rollback to 0.1 s: the range of ratios that rounding allows.
  function times(rs, rb) { return rb > 0.05 ? sprintf("%.0f-%.0fx", rs / (rb + 0.05), rs / (rb - 0.05)) : sprintf("over %.0fx", rs / (rb + 0.05)) }
  BEGIN {
  printf "  3. rollback target < %d s: %s (median %.1f s plugin only, %.1f s with the database)\n", target, (rb < target && frb < target) ? "met" : "MISSED", rb, frb
  printf "     journal rollback vs restoring the pre-update snapshot: %.1f s vs %.2f s, %s faster;\n", rb, rs, times(rs, rb)
  printf "     with the database: %.1f s vs %.2f s, %s faster (the JSON rounds to 0.1 s)\n", frb, frs, times(frs, frb)
}'
printf '     tend restore is a whole command (start, SSH, read the site, a pre-restore snapshot, unpack\n'
printf '     every file, import the database); the rollback, measured inside the run, puts the\n'
printf '     moved-aside directories back and re-imports the database only when the core update\n'
printf '     migrated it. Neither figure includes the verify_delay and checks that follow a rollback.\n'
printf '     Example rollback line: %s\n' "$fatal_example"
printf '     with the database:                  %s\n' "$full_example"
fi
if want 4; then
  awk -v e="$(printf '%s\n' "${ten_ok_each[@]}" | median)" -v t="$(printf '%s\n' "${ten_ok_tog[@]}" | median)" \
    -v be="$(printf '%s\n' "${ten_bad_each[@]}" | median)" -v bt="$(printf '%s\n' "${ten_bad_tog[@]}" | median)" \
    -v rb="$(printf '%s\n' "${ten_culprit[@]}" | median)" \
    -v e0="$(printf '%s\n' "${ten0_each[@]}" | median)" -v t0="$(printf '%s\n' "${ten0_tog[@]}" | median)" 'BEGIN {
    printf "  4. healthy ten-update cycle, each vs together: %.1f s vs %.1f s = %.2fx (goal <= 2x: %s)\n", e, t, e / t, (e / t <= 2 ? "met" : "MISSED")
    printf "     with verify_delay 0 (no wait for cached PHP after each component): %.1f s vs %.1f s = %.2fx\n", e0, t0, e0 / t0
    printf "     one of ten broken: each %.1f s keeps 9 (partial), together %.1f s keeps none (rolled_back)\n", be, bt
    printf "     the culprit rolled back alone (files + database copy, before its checks run again): median %.2f s (goal < 5 s: %s)\n", rb, (rb < 5 ? "met" : "MISSED")
  }'
  printf '     each: a database copy, the checks and the version read back per component;\n'
  printf '     example: %s\n' "${ten_example:0:300}"
fi
echo
printf '  where one run spends its time (stamped stderr of the last run of each kind):\n'
if want 1; then
printf '  1. one site, verify_delay %s s (%s):\n' "$delay" "${one_last[0]}"
phases "${one_last[@]}"
printf '  1. one site, verify_delay 0 (status %s):\n' "$zero_status"
phases "${zero_last[@]}"
if [[ "$zero_status" != ok ]]; then
  printf '     the good update failed its checks without the delay: %s\n' "${zero_error:0:300}"
  [[ -z "${zero_php:-}" ]] || printf '     PHP said: %s\n' "$zero_php"
fi
fi
if want 3; then
printf '  3. fatal plugin, rolled back:\n'
phases "${fatal_last[@]}"
printf '  3+. full cycle + fatal plugin, rolled back:\n'
phases "${full_last[@]}"
fi
echo
if want 1; then
printf '  verify_delay 0 saves the wait but is only safe when PHP cannot serve stale compiled code:\n'
printf '  opcache off, or opcache.validate_timestamps=1 with opcache.revalidate_freq=0 (or PHP reloaded\n'
printf '  after the update). Otherwise the checks may run old cached files next to new ones: a good\n'
printf '  update fails (and is rolled back), or a broken one passes.\n'
fi
