#!/usr/bin/env bash
# lab-joomla.sh - add a Joomla 5.1.2 fixture site to a lab started by scripts/lab.sh.
#
# Joomla itself cannot be installed on the test machines; the site is the fixture
# tree tests/fixtures/joomla/site (real file formats, and cli/joomla.php, a stand-in
# for Joomla's console) with a real database in the lab's MariaDB loaded from
# tests/fixtures/joomla/schema.sql.
#
#   lab-joomla.sh LABDIR NAME [--prefix jos_] [--db-host-style tcp|socket]
#
# It follows lab.sh add-site's conventions: LABDIR/sites/NAME, a database and user
# "joomla_<ident>" created with the lab's root client (LAB_DB_ROOT_CNF), a `php -S`
# web server on a free port recorded in LABDIR/pids/http-NAME.pid (so `lab.sh down`
# and the lab's watchdog stop it), and these lines appended to lab.env
# (<ident> = NAME with every non-alphanumeric character turned into _):
#   SITE_<ident>_PATH SITE_<ident>_URL SITE_<ident>_HTTP_PORT SITE_<ident>_DB_NAME
#   SITE_<ident>_DB_USER SITE_<ident>_DB_PASSWORD SITE_<ident>_DB_HOST
#   SITE_<ident>_DB_PREFIX SITE_<ident>_CMS=joomla
# and the site to inventory.yml. configuration.php gets the database values, the
# site name "Lab NAME" and the site's path (log_path, tmp_path), as Joomla's
# installer writes them. It waits until the home page answers 200, then prints
# LABDIR/lab.env.
#
# The web server runs with opcache off: the stand-in's site:down/up rewrite
# configuration.php, and a cached copy (same mtime second) would hide the change.
# shellcheck disable=SC2317  # some functions only run from traps/with_lock
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
ROOT=$(dirname -- "$(dirname -- "$SELF")")
FIXTURE=${LAB_JOOMLA_FIXTURE:-$ROOT/tests/fixtures/joomla}
LAB_HOST=127.0.0.1

log() { printf 'lab-joomla: %s\n' "$*" >&2; }
die() {
  printf 'lab-joomla: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat >&2 <<'EOF'
usage: lab-joomla.sh LABDIR NAME [--prefix jos_] [--db-host-style tcp|socket]
  Add a Joomla 5.1.2 fixture site NAME to the lab running in LABDIR
  (scripts/lab.sh up LABDIR). --prefix: table prefix (default jos_).
  --db-host-style: $host in configuration.php as 127.0.0.1:PORT (tcp, default)
  or localhost:/path/to/mysqld.sock (socket).
EOF
  exit "${1:-2}"
}

show_log() {
  local f=$1 n=${2:-25}
  if [[ -s "$f" ]]; then
    printf 'lab-joomla: ---- last %s lines of %s ----\n' "$n" "$f" >&2
    tail -n "$n" -- "$f" | sed 's/^/  | /' >&2
  fi
}

# --- the same small helpers as lab.sh (which cannot be sourced: it runs main) ---

rand_str() {
  local s
  s=$(head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
  printf '%s' "${s:0:$1}"
}

env_val() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:@%+,=-]*$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

yaml_val() {
  local v=$1
  if [[ "$v" =~ ^[A-Za-z0-9_./][A-Za-z0-9_./@+:-]*$ && ! "$v" =~ :$ &&
    ! "${v,,}" =~ ^(true|false|yes|no|on|off|y|n|null|~|[-+0-9.e_]+|0x.*|0o.*|\.inf|\.nan)$ ]]; then
    printf '%s' "$v"
  else
    v=${v//\\/\\\\}
    printf '"%s"' "${v//\"/\\\"}"
  fi
}

proc_starttime() {
  local stat rest fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*) }
  read -r -a fields <<<"$rest"
  printf '%s' "${fields[19]}"
}

alive() {
  local pid=$1 want=${2:-} stat rest
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  rest=${stat##*) }
  [[ "${rest:0:1}" != Z && "${rest:0:1}" != X ]] || return 1
  if [[ -n "$want" ]]; then
    [[ "$(proc_starttime "$pid" 2>/dev/null)" == "$want" ]] || return 1
  fi
  return 0
}

pidfile_alive() {
  local pid start
  [[ -f "$1" ]] || return 1
  read -r pid start <"$1" || true
  alive "${pid:-}" "${start:-}"
}

port_window() {
  local lo hi
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { lo=32768 hi=60999; }
  if ((lo - 1 - 10000 >= 2000)); then
    echo "10000 $((lo - 1))"
  elif ((65000 - hi >= 2000)); then
    echo "$((hi + 1)) 65000"
  else
    echo "20000 65000"
  fi
}

pick_port() {
  local lo hi port i
  read -r lo hi < <(port_window)
  for ((i = 0; i < 200; i++)); do
    port=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    if ! (exec 3<>"/dev/tcp/$LAB_HOST/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "could not find a free TCP port on $LAB_HOST"
}

# Own session, no inherited descriptors, pid + start time in DIR/pids/NAME.pid.
start_daemon() {
  local name=$1 logf=$2 pid
  shift 2
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then { eval "exec $fd>&-"; } 2>/dev/null || true; fi
    done
    exec setsid "$@"
  ) </dev/null >>"$logf" 2>&1 &
  pid=$!
  printf '%s %s\n' "$pid" "$(proc_starttime "$pid" || echo 0)" >"$DIR/pids/$name.pid"
}

signal_pidfile() {
  local sig=$1 f=$2 pid start
  read -r pid start <"$f" || return 0
  alive "$pid" "$start" || return 0
  kill "-$sig" -- "-$pid" 2>/dev/null || true
  kill "-$sig" "$pid" 2>/dev/null || true
}

stop_one() {
  local f=$1 i
  [[ -f "$f" ]] || return 0
  signal_pidfile TERM "$f"
  for ((i = 0; i < 50; i++)); do
    pidfile_alive "$f" || break
    sleep 0.1
  done
  pidfile_alive "$f" && signal_pidfile KILL "$f"
  rm -f -- "$f"
}

with_lock() {
  (
    flock -w 60 9 || die "timeout waiting for $DIR/.lock"
    "$@"
  ) 9>>"$DIR/.lock"
}

db_root() { mariadb --defaults-file="$LAB_DB_ROOT_CNF" "$@"; }

site_ident() { printf '%s' "${1//[^A-Za-z0-9]/_}"; }

# ------------------------------------------------------------------- site ---

register_locked() {
  if grep -qx 'sites: {}' "$DIR/inventory.yml"; then
    sed -i 's/^sites: {}$/sites:/' "$DIR/inventory.yml"
  fi
  cat -- "$DIR/sites/.$NAME.env" >>"$DIR/lab.env"
  cat -- "$DIR/sites/.$NAME.yml" >>"$DIR/inventory.yml"
  rm -f -- "$DIR/sites/.$NAME.env" "$DIR/sites/.$NAME.yml"
}

rollback() {
  [[ -n "${SITE_CREATED:-}" ]] || return 0
  log "adding $NAME failed; removing the partial site"
  stop_one "$DIR/pids/http-$NAME.pid" || true
  if [[ -n "${DB_CREATED:-}" ]]; then
    db_root -e "DROP DATABASE IF EXISTS \`$DB_CREATED\`; DROP USER IF EXISTS '$DB_CREATED'@'localhost', '$DB_CREATED'@'127.0.0.1';" || true
  fi
  rm -rf -- "$SITE_CREATED"
  rm -f -- "$DIR/sites/.$NAME.env" "$DIR/sites/.$NAME.yml"
}

main() {
  local prefix=jos_ style=tcp
  [[ $# -ge 2 ]] || usage
  case "$1" in -h | --help) usage 0 ;; esac
  DIR=$(realpath -m -- "$1")
  NAME=$2
  shift 2
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
      --prefix=*) prefix=${1#*=}; shift ;;
      --db-host-style) style=${2:?--db-host-style needs a value}; shift 2 ;;
      --db-host-style=*) style=${1#*=}; shift ;;
      -h | --help) usage 0 ;;
      *) usage ;;
    esac
  done
  [[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$ ]] ||
    die "site name must match [A-Za-z0-9][A-Za-z0-9_-]* (max 40 chars): '$NAME'"
  # Joomla's installer accepts [a-zA-Z][a-zA-Z0-9_]* of at most 15 characters.
  [[ "$prefix" =~ ^[A-Za-z][A-Za-z0-9_]{0,14}$ ]] ||
    die "--prefix must match [A-Za-z][A-Za-z0-9_]* (max 15 chars): '$prefix'"
  [[ "$style" == tcp || "$style" == socket ]] || die "--db-host-style must be tcp or socket"
  [[ -f "$DIR/lab.env" ]] || die "$DIR is not a lab (no lab.env); run: scripts/lab.sh up $DIR"
  [[ -f "$FIXTURE/site/cli/joomla.php" && -f "$FIXTURE/schema.sql" ]] || die "fixture missing in $FIXTURE"
  # shellcheck disable=SC1091
  source "$DIR/lab.env"
  pidfile_alive "$DIR/pids/mariadb.pid" || die "the lab's MariaDB is not running (scripts/lab.sh up $DIR)"
  command -v php >/dev/null 2>&1 || die "php not found"
  command -v curl >/dev/null 2>&1 || die "curl not found"

  local ident site db dbuser dbpass dbhost port url attempt i code
  local httplog="$DIR/logs/$NAME-http.log"
  ident=$(site_ident "$NAME")
  site="$DIR/sites/$NAME"
  db="joomla_$ident"
  dbuser="joomla_$ident"
  dbpass=$(rand_str 24)

  SITE_CREATED="" DB_CREATED=""
  trap 'rc=$?; if ((rc != 0)); then rollback; fi' EXIT
  trap 'exit 130' INT TERM HUP

  mkdir -p "$DIR/sites"
  mkdir -- "$site" 2>/dev/null || die "site '$NAME' already exists ($site)"
  SITE_CREATED=$site
  cp -r -- "$FIXTURE/site/." "$site/"

  db_root <<SQL || die "creating database $db failed (name clash after sanitising '$NAME'?)"
CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER '$dbuser'@'localhost' IDENTIFIED BY '$dbpass';
CREATE USER '$dbuser'@'127.0.0.1' IDENTIFIED BY '$dbpass';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$dbuser'@'localhost';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$dbuser'@'127.0.0.1';
SQL
  DB_CREATED=$db
  sed "s/@PREFIX@/$prefix/g" -- "$FIXTURE/schema.sql" | db_root "$db" || die "loading schema.sql into $db failed"

  case "$style" in
    tcp) dbhost="$LAB_HOST:$LAB_DB_PORT" ;;
    socket) dbhost="localhost:$LAB_DB_SOCKET" ;;
  esac

  # configuration.php: the fixture's template (Joomla's installer output) filled in;
  # values are PHP single-quoted strings there.
  JC_DB_HOST=$dbhost JC_DB_USER=$dbuser JC_DB_PASSWORD=$dbpass JC_DB_NAME=$db \
    JC_DB_PREFIX=$prefix JC_SITE_NAME="Lab $NAME" JC_SITE_PATH=$site \
    php -n -- "$site/configuration.php" <<'PHP' || die "writing configuration.php failed"
<?php
$file = $argv[1];
$src = file_get_contents($file);
$map = [];
foreach (['DB_HOST', 'DB_USER', 'DB_PASSWORD', 'DB_NAME', 'DB_PREFIX', 'SITE_NAME', 'SITE_PATH'] as $k) {
    $map["@$k@"] = addcslashes((string) getenv("JC_$k"), "\\'");
}
$out = strtr($src, $map);
if (preg_match('/@[A-Z_]+@/', $out, $m)) {
    fwrite(STDERR, "placeholder {$m[0]} left in configuration.php\n");
    exit(1);
}
file_put_contents($file, $out);
PHP

  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(pick_port)
    : >"$httplog"
    (cd "$site" && start_daemon "http-$NAME" "$httplog" \
      env PHP_CLI_SERVER_WORKERS=4 php -d opcache.enable=0 -S "$LAB_HOST:$port" -t "$site")
    for ((i = 0; i < 200; i++)); do
      pidfile_alive "$DIR/pids/http-$NAME.pid" || break
      grep -qF "Development Server (http://$LAB_HOST:$port) started" "$httplog" && break
      sleep 0.05
    done
    if pidfile_alive "$DIR/pids/http-$NAME.pid" &&
      grep -qF "Development Server (http://$LAB_HOST:$port) started" "$httplog"; then
      break
    fi
    stop_one "$DIR/pids/http-$NAME.pid"
    if grep -qiE 'address already in use|failed to listen' "$httplog" && ((attempt < 5)); then
      log "http port $port was taken meanwhile, retrying"
      continue
    fi
    show_log "$httplog"
    die "php -S for $NAME did not start"
  done
  url="http://$LAB_HOST:$port"

  code=""
  for ((i = 0; i < 100; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url/" || true)
    [[ "$code" == 200 ]] && break
    pidfile_alive "$DIR/pids/http-$NAME.pid" || break
    sleep 0.1
  done
  if [[ "$code" != 200 ]]; then
    show_log "$httplog"
    die "$url/ answered HTTP ${code:-nothing}, expected 200"
  fi

  {
    printf 'SITE_%s_PATH=%s\n' "$ident" "$(env_val "$site")"
    printf 'SITE_%s_URL=%s\n' "$ident" "$(env_val "$url")"
    printf 'SITE_%s_HTTP_PORT=%s\n' "$ident" "$port"
    printf 'SITE_%s_DB_NAME=%s\n' "$ident" "$(env_val "$db")"
    printf 'SITE_%s_DB_USER=%s\n' "$ident" "$(env_val "$dbuser")"
    printf 'SITE_%s_DB_PASSWORD=%s\n' "$ident" "$(env_val "$dbpass")"
    printf 'SITE_%s_DB_HOST=%s\n' "$ident" "$(env_val "$dbhost")"
    printf 'SITE_%s_DB_PREFIX=%s\n' "$ident" "$(env_val "$prefix")"
    printf 'SITE_%s_CMS=joomla\n' "$ident"
  } >"$DIR/sites/.$NAME.env"
  {
    printf '  %s:\n' "$(yaml_val "$NAME")"
    printf '    host: %s\n' "$LAB_HOST"
    printf '    path: %s\n' "$(yaml_val "$site")"
    printf '    url: %s\n' "$(yaml_val "$url")"
  } >"$DIR/sites/.$NAME.yml"
  with_lock register_locked
  trap - EXIT
  log "joomla site $NAME ready at $url"
  printf '%s\n' "$DIR/lab.env"
}

main "$@"
exit
