#!/usr/bin/env bash
# lab-magento.sh - add a Magento 2.4.7 site to a running test lab (scripts/lab.sh).
#
#   lab-magento.sh LABDIR NAME [--mode production|developer|default] [--prefix PREFIX]
#                  [--db-host-style tcp|socket]
#
# Magento itself cannot be installed on this machine, so the site is the fixture
# tests/fixtures/magento/site: the real file formats (app/etc/env.php, config.php,
# composer.json/.lock, vendor/<pkg>/...), a real MariaDB database in the lab's server with the
# real table shapes (tests/fixtures/magento/schema.sql) and stand-ins for bin/magento (in the
# site) and composer (tests/fixtures/magento/bin/composer), which answer from the fixture
# package repository tests/fixtures/magento/repo. See tests/fixtures/magento/README.md.
#
# It follows `lab.sh add-site`: creates the database and its user with the lab's root client
# (DIR/mysql/root.cnf), accounts for localhost and 127.0.0.1; copies the site to
# DIR/sites/NAME; fills env.php (host 127.0.0.1:PORT, or the socket path with
# --db-host-style socket, which is how Magento's adapter takes a socket); loads the schema;
# starts `php -S 127.0.0.1:PORT -t DIR/sites/NAME/pub` (Magento's document root is pub/) as a
# lab daemon (DIR/pids/http-NAME.pid, so `lab.sh down` and `lab.sh status` know it), waits
# until the home page answers 200, then appends to DIR/lab.env:
#
#   SITE_<ident>_PATH SITE_<ident>_URL SITE_<ident>_HTTP_PORT SITE_<ident>_DB_NAME
#   SITE_<ident>_DB_USER SITE_<ident>_DB_PASSWORD SITE_<ident>_DB_HOST
#   SITE_<ident>_CMS=magento SITE_<ident>_MAGE_MODE SITE_<ident>_TABLE_PREFIX
#   SITE_<ident>_COMPOSER        path of the composer stand-in (run it with php or directly)
#   SITE_<ident>_COMPOSER_REPO   its package repository (also written to the site's
#                                .tend-standin-composer.json, so SSH sessions find it)
#
# and the site (host, path, url) to DIR/inventory.yml, like lab.sh. <ident> is NAME with
# every character outside [A-Za-z0-9] replaced by _. Prints DIR/lab.env on success; on
# failure the partial site (server, database, user, folder) is removed again.
#
# shellcheck disable=SC2317  # some functions only run from traps/with_lock
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
ROOT=$(dirname -- "$(dirname -- "$SELF")")
FIXTURE="$ROOT/tests/fixtures/magento"
LAB_HOST=127.0.0.1

log() { printf 'lab-magento: %s\n' "$*" >&2; }

die() {
  printf 'lab-magento: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat >&2 <<'EOF'
usage:
  lab-magento.sh LABDIR NAME [--mode production|developer|default] [--prefix PREFIX]
                 [--db-host-style tcp|socket]
      Add a Magento 2.4.7 fixture site NAME to the lab running in LABDIR
      (started with: scripts/lab.sh up LABDIR). Defaults: --mode production,
      --prefix '' (no table prefix), --db-host-style tcp.
EOF
  exit "${1:-2}"
}

show_log() {
  local f=$1 n=${2:-25}
  if [[ -s "$f" ]]; then
    printf 'lab-magento: ---- last %s lines of %s ----\n' "$n" "$f" >&2
    tail -n "$n" -- "$f" | sed 's/^/  | /' >&2
    printf 'lab-magento: ----\n' >&2
  else
    printf 'lab-magento: (%s is empty or missing)\n' "$f" >&2
  fi
}

rand_str() { # rand_str N  -> N random [A-Za-z0-9] characters (N <= 60)
  local s
  s=$(head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
  printf '%s' "${s:0:$1}"
}

# Same quoting rules as lab.sh, so lab.env stays parseable by simple KEY=VALUE readers.
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

# Process bookkeeping identical to lab.sh's ("PID STARTTIME" pid files), so that
# `lab.sh down` stops the web server started here and never an unrelated process.
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

# start_daemon NAME LOGFILE CMD...: own session, no inherited descriptors, pid recorded in
# DIR/pids/NAME.pid (as lab.sh does).
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

db_root() { mariadb --defaults-file="$DIR/mysql/root.cnf" "$@"; }

site_ident() { printf '%s' "${1//[^A-Za-z0-9]/_}"; }

# ------------------------------------------------------------------------------ site ---

create_site() {
  local name=$1 mode=$2 prefix=$3 style=$4
  local ident site db dbuser dbpass dbhost port url attempt i code
  local httplog="$DIR/logs/$name-http.log"
  ident=$(site_ident "$name")
  site="$DIR/sites/$name"
  db="mg_$ident"
  dbuser="mg_$ident"
  dbpass=$(rand_str 24)

  mkdir -p "$DIR/sites" "$DIR/logs" "$DIR/pids"
  # mkdir (not -p) doubles as a per-name lock against a concurrent add-site.
  mkdir -- "$site" 2>/dev/null || die "site '$name' already exists ($site)"
  SITE_CREATED=$site
  cp -a -- "$FIXTURE/site/." "$site/"
  chmod +x "$site/bin/magento"

  db_root <<SQL || die "creating database $db failed (name clash after sanitising '$name'?)"
CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER '$dbuser'@'localhost' IDENTIFIED BY '$dbpass';
CREATE USER '$dbuser'@'127.0.0.1' IDENTIFIED BY '$dbpass';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$dbuser'@'localhost';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$dbuser'@'127.0.0.1';
SQL
  SITE_DB_CREATED=$db

  case "$style" in
    tcp) dbhost="$LAB_HOST:$LAB_DB_PORT" ;;
    socket) dbhost="$LAB_DB_SOCKET" ;; # Magento's adapter: a host with '/' is a socket path
    *) die "--db-host-style must be tcp or socket" ;;
  esac

  # env.php: the placeholders replaced by PHP single-quoted string literals' contents.
  # shellcheck disable=SC2016  # PHP code, expanded by PHP
  MG_DB_HOST=$dbhost MG_DB_NAME=$db MG_DB_USER=$dbuser MG_DB_PASSWORD=$dbpass \
    MG_TABLE_PREFIX=$prefix MG_MAGE_MODE=$mode \
    php -n -r '
      $f = $argv[1];
      $src = file_get_contents($f);
      $map = [];
      foreach (["DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD", "TABLE_PREFIX", "MAGE_MODE"] as $k) {
          $map["@$k@"] = addcslashes((string) getenv("MG_$k"), "\\\\\x27");
      }
      $out = strtr($src, $map);
      if (preg_match("/@[A-Z_]+@/", $out)) { fwrite(STDERR, "unfilled placeholder in env.php\n"); exit(1); }
      file_put_contents($f, $out);
      $c = include $f;
      if (!is_array($c) || ($c["db"]["connection"]["default"]["dbname"] ?? null) !== getenv("MG_DB_NAME")) {
          fwrite(STDERR, "env.php does not read back\n"); exit(1);
      }
    ' "$site/app/etc/env.php" || die "writing app/etc/env.php failed"

  # The composer stand-in finds its repository through this file (SSH sessions carry no
  # environment of ours).
  printf '{\n    "repository": "%s"\n}\n' "$FIXTURE/repo" >"$site/.tend-standin-composer.json"

  # Web server first (the base URL goes into core_config_data), a port lost to a parallel
  # lab between pick and bind is retried, as lab.sh does.
  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(pick_port)
    : >"$httplog"
    (cd "$site" && start_daemon "http-$name" "$httplog" \
      env PHP_CLI_SERVER_WORKERS=4 php -S "$LAB_HOST:$port" -t "$site/pub")
    for ((i = 0; i < 200; i++)); do
      pidfile_alive "$DIR/pids/http-$name.pid" || break
      grep -qF "Development Server (http://$LAB_HOST:$port) started" "$httplog" && break
      sleep 0.05
    done
    if pidfile_alive "$DIR/pids/http-$name.pid" &&
      grep -qF "Development Server (http://$LAB_HOST:$port) started" "$httplog"; then
      break
    fi
    stop_one "$DIR/pids/http-$name.pid"
    if grep -qiE 'address already in use|failed to listen' "$httplog" && ((attempt < 5)); then
      log "http port $port was taken meanwhile, retrying"
      continue
    fi
    show_log "$httplog"
    die "php -S for $name did not start"
  done
  url="http://$LAB_HOST:$port"

  # The schema, with the table prefix and the base URL filled in, loaded as the site's user
  # through the same endpoint env.php names.
  sed -e "s/@PREFIX@/$prefix/g" -e "s#@BASE_URL@#$url/#g" "$FIXTURE/schema.sql" |
    db_root "$db" || die "loading schema.sql into $db failed"

  for ((i = 0; i < 100; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url/" || true)
    [[ "$code" == 200 ]] && break
    pidfile_alive "$DIR/pids/http-$name.pid" || break
    sleep 0.1
  done
  if [[ "$code" != 200 ]]; then
    show_log "$httplog"
    curl -s --max-time 20 "$url/" | head -20 >&2 || true
    die "$url/ answered HTTP ${code:-nothing}, expected 200"
  fi
  # Trust but verify: the page lists the fixture's products from the database.
  curl -s --max-time 20 "$url/" | grep -q 'Joust Duffle Bag' ||
    die "$url/ does not list the fixture's products"

  {
    printf 'SITE_%s_PATH=%s\n' "$ident" "$(env_val "$site")"
    printf 'SITE_%s_URL=%s\n' "$ident" "$(env_val "$url")"
    printf 'SITE_%s_HTTP_PORT=%s\n' "$ident" "$port"
    printf 'SITE_%s_DB_NAME=%s\n' "$ident" "$(env_val "$db")"
    printf 'SITE_%s_DB_USER=%s\n' "$ident" "$(env_val "$dbuser")"
    printf 'SITE_%s_DB_PASSWORD=%s\n' "$ident" "$(env_val "$dbpass")"
    printf 'SITE_%s_DB_HOST=%s\n' "$ident" "$(env_val "$dbhost")"
    printf 'SITE_%s_CMS=magento\n' "$ident"
    printf 'SITE_%s_MAGE_MODE=%s\n' "$ident" "$mode"
    printf 'SITE_%s_TABLE_PREFIX=%s\n' "$ident" "$(env_val "$prefix")"
    printf 'SITE_%s_COMPOSER=%s\n' "$ident" "$(env_val "$FIXTURE/bin/composer")"
    printf 'SITE_%s_COMPOSER_REPO=%s\n' "$ident" "$(env_val "$FIXTURE/repo")"
  } >"$DIR/sites/.$name.env"
  {
    printf '  %s:\n' "$(yaml_val "$name")"
    printf '    host: %s\n' "$LAB_HOST"
    printf '    path: %s\n' "$(yaml_val "$site")"
    printf '    url: %s\n' "$(yaml_val "$url")"
  } >"$DIR/sites/.$name.yml"
  log "magento site $name ready at $url (mode $mode, table prefix '${prefix}')"
}

register_site_locked() {
  if grep -qx 'sites: {}' "$DIR/inventory.yml"; then
    sed -i 's/^sites: {}$/sites:/' "$DIR/inventory.yml"
  fi
  cat -- "$DIR/sites/.$1.env" >>"$DIR/lab.env"
  cat -- "$DIR/sites/.$1.yml" >>"$DIR/inventory.yml"
  rm -f -- "$DIR/sites/.$1.env" "$DIR/sites/.$1.yml"
}

site_rollback() {
  local name=$1
  [[ -n "${SITE_CREATED:-}" ]] || return 0
  log "adding $name failed; removing the partial site"
  stop_one "$DIR/pids/http-$name.pid" || true
  if [[ -n "${SITE_DB_CREATED:-}" ]]; then
    db_root -e "DROP DATABASE IF EXISTS \`$SITE_DB_CREATED\`; DROP USER IF EXISTS '$SITE_DB_CREATED'@'localhost', '$SITE_DB_CREATED'@'127.0.0.1';" || true
  fi
  rm -rf -- "$SITE_CREATED"
  rm -f -- "$DIR/sites/.$name.env" "$DIR/sites/.$name.yml"
}

main() {
  local name mode=production prefix="" style=tcp
  [[ $# -ge 1 && ( "$1" == -h || "$1" == --help || "$1" == help ) ]] && usage 0
  [[ $# -ge 2 ]] || usage
  DIR=$(realpath -m -- "$1")
  name=$2
  shift 2
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --mode) mode=${2:?--mode needs a value}; shift 2 ;;
      --mode=*) mode=${1#*=}; shift ;;
      --prefix) prefix=${2?--prefix needs a value}; shift 2 ;;
      --prefix=*) prefix=${1#*=}; shift ;;
      --db-host-style) style=${2:?}; shift 2 ;;
      --db-host-style=*) style=${1#*=}; shift ;;
      *) usage ;;
    esac
  done
  [[ "$mode" == production || "$mode" == developer || "$mode" == default ]] ||
    die "--mode must be production, developer or default"
  # Magento's own rule (Magento\Setup\Validator\DbValidator::checkDatabaseTablePrefix):
  # a letter, then letters, digits or underscores; at most 5 characters.
  if [[ -n "$prefix" ]]; then
    [[ "$prefix" =~ ^[a-zA-Z][a-zA-Z0-9_]+$ && ${#prefix} -le 5 ]] ||
      die "--prefix must be a letter followed by letters, digits or _, at most 5 characters: '$prefix'"
  fi
  [[ "$style" == tcp || "$style" == socket ]] || die "--db-host-style must be tcp or socket"
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$ ]] ||
    die "site name must match [A-Za-z0-9][A-Za-z0-9_-]* (max 40 chars): '$name'"
  [[ -f "$DIR/lab.env" ]] || die "$DIR is not a lab (no lab.env); run: scripts/lab.sh up $DIR"
  [[ -d "$FIXTURE/site" && -f "$FIXTURE/schema.sql" ]] || die "fixture missing in $FIXTURE"
  # shellcheck disable=SC1091
  source "$DIR/lab.env"
  pidfile_alive "$DIR/pids/mariadb.pid" || die "the lab's MariaDB is not running (scripts/lab.sh up $DIR)"
  local c
  for c in php mariadb curl setsid flock; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' not found; run scripts/install-deps.sh"
  done
  php -r 'exit(extension_loaded("mysqli") ? 0 : 1);' || die "PHP's mysqli extension is missing (php-mysql)"

  SITE_CREATED="" SITE_DB_CREATED="" ADD_SITE_NAME=$name
  trap 'rc=$?; if ((rc != 0)); then site_rollback "$ADD_SITE_NAME"; fi' EXIT
  trap 'exit 130' INT TERM HUP
  create_site "$name" "$mode" "$prefix" "$style"
  with_lock register_site_locked "$name"
  trap - EXIT
  printf '%s\n' "$DIR/lab.env"
}

main "$@"; exit
