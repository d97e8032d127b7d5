#!/usr/bin/env bash
# lab.sh - a throwaway, real WordPress-over-SSH test lab on 127.0.0.1.
#
# It runs a private sshd, a private MariaDB server and one `php -S` web
# server per WordPress site, all as the current user (root is not needed) on
# free loopback ports, with all state under one directory.
#
#   lab.sh up DIR [--sites N] [--watch PID]   start a lab, print DIR/lab.env
#   lab.sh add-site DIR NAME [--db-host-style tcp|socket]
#   lab.sh down DIR                           stop everything (keeps DIR)
#   lab.sh status DIR                         show what is running
#
# Layout of DIR:
#   lab.env          sourceable shell variables describing the lab
#   inventory.yml    ready-made inventory for `tend`
#   ssh/             sshd_config, host key, client key, known_hosts, sshd.log
#   home/            $HOME of SSH sessions (keeps the user's dotfiles out)
#   mysql/           data/, mysqld.sock, error.log, root.cnf (client defaults)
#   sites/NAME/      WordPress document roots
#   logs/            http server, install and watchdog logs
#   pids/            "PID STARTTIME" per process we started (used by down)
#   store/           the `settings.store` of the inventory (left to tend)
#   .tend-lab        marker: only directories carrying it are ever wiped
#
# Dependencies: scripts/install-deps.sh.
#
# shellcheck disable=SC2317  # some functions only run from traps/with_lock
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
WP_SRC=${LAB_WP_SRC:-/usr/share/wordpress}
SSHD_BIN=${LAB_SSHD_BIN:-/usr/sbin/sshd}
MARIADBD_BIN=${LAB_MARIADBD_BIN:-/usr/sbin/mariadbd}
LAB_USER=$(id -un)
LAB_HOST=127.0.0.1

# MariaDB tuning: a lab database must start fast and be small, durability on
# power loss does not matter. The same InnoDB options are given to the
# bootstrap (mariadb-install-db) and to the server so the files match.
MYSQLD_TUNING=(
  --innodb-buffer-pool-size=32M
  --innodb-log-file-size=16M
  --innodb-doublewrite=0
  --innodb-flush-log-at-trx-commit=0
  --skip-log-bin
  --performance-schema=OFF
  --character-set-server=utf8mb4
  --collation-server=utf8mb4_unicode_ci
)

# ---------------------------------------------------------------- helpers ---

log() { printf 'lab: %s\n' "$*" >&2; }

die() {
  printf 'lab: error: %s\n' "$*" >&2
  exit 1
}

# show_log FILE [N]: tail of a log, for error reports.
show_log() {
  local f=$1 n=${2:-25}
  if [[ -s "$f" ]]; then
    printf 'lab: ---- last %s lines of %s ----\n' "$n" "$f" >&2
    tail -n "$n" -- "$f" | sed 's/^/  | /' >&2
    printf 'lab: ----\n' >&2
  else
    printf 'lab: (%s is empty or missing)\n' "$f" >&2
  fi
}

usage() {
  cat >&2 <<'EOF'
usage:
  lab.sh up DIR [--sites N] [--watch PID]
      Start a lab in DIR (created if missing; must be empty or an old lab)
      with N WordPress sites (default 1). Prints DIR/lab.env on stdout.
      --watch PID: tear the lab down and delete DIR once PID has exited.
  lab.sh add-site DIR NAME [--db-host-style tcp|socket]
      Add a WordPress site (DB_HOST 127.0.0.1:PORT, or localhost:SOCKET).
  lab.sh down DIR      stop every process of the lab (keeps DIR)
  lab.sh status DIR    show what is running (exit 1 if anything is down)
EOF
  exit "${1:-2}"
}

need_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || [[ -x "$c" ]] ||
      die "'$c' not found; run scripts/install-deps.sh"
  done
}

# Absolute, normalised path without requiring it to exist.
abspath() { realpath -m -- "$1"; }

# The lab directory ends up inside sshd_config, a MariaDB option file, PHP
# string literals, YAML and shell; rather than escaping for five syntaxes we
# refuse the few characters that would need it. Spaces are fine.
check_dir_chars() {
  case "$1" in
    *[\"\'\\%:\$\`]* | *$'\n'* | *$'\t'*)
      die "lab directory must not contain quotes, backslash, %, :, \$, \` or control characters: $1"
      ;;
  esac
}

rand_str() { # rand_str N  -> N random [A-Za-z0-9] characters (N <= 60)
  local s
  s=$(head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
  printf '%s' "${s:0:$1}"
}

# Shell value for lab.env: bare when unambiguous (so simple KEY=VALUE parsers
# work too), single-quoted otherwise.
env_val() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:@%+,=-]*$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# YAML scalar: plain when it cannot be mistaken for anything else, otherwise
# double-quoted.
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

# /proc/PID/stat field 22 (start time in clock ticks). Stored next to every
# PID so that `down` never kills an unrelated process that reused the PID.
proc_starttime() {
  local stat rest fields
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*) } # the command name may contain spaces and parentheses
  read -r -a fields <<<"$rest"
  printf '%s' "${fields[19]}"
}

# alive PID [STARTTIME]: process exists, is not a zombie, and is the same one.
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

# pidfile_alive FILE: the process recorded in FILE is still running.
pidfile_alive() {
  local pid start
  [[ -f "$1" ]] || return 1
  read -r pid start <"$1" || true
  alive "${pid:-}" "${start:-}"
}

# Free-port picking. Candidates are drawn at random from outside the kernel's
# ephemeral range (so outgoing connections never grab them between our check
# and the daemon's bind) and checked by connecting. The real guarantee is the
# caller's retry: every daemon start is retried on a new port when its bind
# fails, which covers races with labs starting in parallel.
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
    # Connection refused => nobody listens there.
    if ! (exec 3<>"/dev/tcp/$LAB_HOST/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "could not find a free TCP port on $LAB_HOST"
}

# start_daemon NAME LOGFILE CMD...: run CMD in its own session/process group
# (so `down` can kill it with all its children, and a Ctrl-C or SIGHUP to the
# caller does not reach it), with no inherited stdin/stdout/stderr (a caller
# capturing our output must not wait for the daemon). Records the pid in
# DIR/pids/NAME.pid. The subshell is not a process group leader, so
# setsid(1) execs in place and $! is the daemon's own pid.
start_daemon() {
  local name=$1 logf=$2 pid
  shift 2
  (
    # Also drop any other descriptor the caller leaked to us (a pipe held
    # open here would keep a caller reading it waiting forever).
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then { eval "exec $fd>&-"; } 2>/dev/null || true; fi
    done
    exec setsid "$@"
  ) </dev/null >>"$logf" 2>&1 &
  pid=$!
  printf '%s %s\n' "$pid" "$(proc_starttime "$pid" || echo 0)" >"$DIR/pids/$name.pid"
}

# signal_pidfile SIG FILE: signal the process group recorded in FILE (and
# the process itself), without waiting. Does nothing if it is gone.
signal_pidfile() {
  local sig=$1 f=$2 pid start
  read -r pid start <"$f" || return 0
  alive "$pid" "$start" || return 0
  kill "-$sig" -- "-$pid" 2>/dev/null || true
  kill "-$sig" "$pid" 2>/dev/null || true
}

# Kill one daemon and wait for it; used when a start attempt is abandoned.
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

# Serialise appends to lab.env / inventory.yml between parallel add-site
# calls. The lock fd is opened only around the append, never while a daemon
# is started (it would inherit the fd and hold the lock forever).
with_lock() {
  (
    flock -w 60 9 || die "timeout waiting for $DIR/.lock"
    "$@"
  ) 9>>"$DIR/.lock"
}

# Root client for the lab's MariaDB (credentials in DIR/mysql/root.cnf).
db_root() { mariadb --defaults-file="$DIR/mysql/root.cnf" "$@"; }

load_env() {
  [[ -f "$DIR/lab.env" ]] || die "$DIR is not a lab (no lab.env); run: lab.sh up DIR"
  # shellcheck disable=SC1091
  source "$DIR/lab.env"
}

# ------------------------------------------------------------------- sshd ---

# Writes sshd_config for $1 = port.
write_sshd_config() {
  local port=$1 cfg="$DIR/ssh/sshd_config"
  cat >"$cfg" <<EOF
# Generated by lab.sh. Private sshd of the test lab in $DIR.
ListenAddress $LAB_HOST
Port $port
HostKey "$DIR/ssh/host_ed25519_key"
PidFile "$DIR/ssh/sshd.pid"
# Tests count "Accepted publickey" lines in sshd.log, which needs VERBOSE.
LogLevel VERBOSE
AllowUsers $LAB_USER
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
AuthorizedKeysFile "$DIR/ssh/authorized_keys"
# DIR may live in /tmp or a group-writable place; don't let sshd object.
StrictModes no
# PAM needs root and pulls in host policy; the lab only does key auth.
UsePAM no
PermitRootLogin prohibit-password
PermitUserEnvironment no
# Sessions get a clean, lab-owned HOME instead of the developer's real one:
# their shell rc files (pyenv/conda init, banners, echo) would slow down or
# pollute every non-interactive command, and ~/.my.cnf etc. would leak in.
SetEnv "HOME=$DIR/home"
MaxSessions 10
# Tests may open many connections at once; the default 10:30:100 starts
# randomly dropping unauthenticated connections beyond 10.
MaxStartups 200
MaxAuthTries 6
LoginGraceTime 30
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
EOF
  # OpenSSH >= 9.8 penalises source addresses after failed/aborted sessions,
  # which would lock tests out of 127.0.0.1. Older sshd rejects the keyword.
  if "$SSHD_BIN" -t -f "$cfg" -o 'PerSourcePenalties no' >/dev/null 2>&1; then
    printf '%s\n' '# Never penalise 127.0.0.1 for failed sessions.' 'PerSourcePenalties no' >>"$cfg"
  fi
}

# ssh_client PORT CMD...: log in like tests do. -o values are parsed like
# ssh_config lines, so a path with spaces must be double-quoted inside.
ssh_client() {
  local port=$1
  shift
  ssh -F /dev/null -n \
    -o BatchMode=yes -o IdentitiesOnly=yes \
    -i "$DIR/ssh/id_ed25519" \
    -o "UserKnownHostsFile=\"$DIR/ssh/known_hosts\"" \
    -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes \
    -o ConnectTimeout=5 -o LogLevel=ERROR \
    -p "$port" "$LAB_USER@$LAB_HOST" "$@"
}

start_sshd() {
  local sshlog="$DIR/ssh/sshd.log" attempt port i out shell
  mkdir -p "$DIR/ssh" "$DIR/home"
  chmod 700 "$DIR/ssh" "$DIR/home"
  if [[ "$(id -u)" == 0 ]]; then
    # Privilege-separation directory, required when sshd runs as root.
    mkdir -p /run/sshd
    chmod 755 /run/sshd
  fi
  shell=$(getent passwd "$LAB_USER" | cut -d: -f7)
  case "$shell" in
    */nologin | */false | "")
      die "login shell of $LAB_USER is '${shell:-?}'; sshd cannot run commands for this user"
      ;;
  esac

  ssh-keygen -q -t ed25519 -N '' -C "tend-lab-host" -f "$DIR/ssh/host_ed25519_key" </dev/null
  ssh-keygen -q -t ed25519 -N '' -C "tend-lab-client" -f "$DIR/ssh/id_ed25519" </dev/null
  cp -- "$DIR/ssh/id_ed25519.pub" "$DIR/ssh/authorized_keys"
  chmod 600 "$DIR/ssh/authorized_keys"

  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(pick_port)
    write_sshd_config "$port"
    : >"$sshlog"
    start_daemon sshd "$DIR/logs/sshd.stdout.log" \
      "$SSHD_BIN" -D -f "$DIR/ssh/sshd_config" -E "$sshlog"
    # "Listening" in our own log, not just an open port: the port may have
    # been grabbed by someone else, in which case our sshd is about to exit.
    for ((i = 0; i < 200; i++)); do
      pidfile_alive "$DIR/pids/sshd.pid" || break
      grep -q "Server listening on $LAB_HOST port $port\." "$sshlog" && break
      sleep 0.05
    done
    if pidfile_alive "$DIR/pids/sshd.pid" &&
      grep -q "Server listening on $LAB_HOST port $port\." "$sshlog"; then
      break
    fi
    stop_one "$DIR/pids/sshd.pid"
    if grep -qiE 'address already in use|cannot bind' "$sshlog" && ((attempt < 5)); then
      log "ssh port $port was taken meanwhile, retrying"
      continue
    fi
    show_log "$sshlog"
    show_log "$DIR/logs/sshd.stdout.log" 10
    die "sshd did not start"
  done

  LAB_SSH_PORT=$port
  printf '[%s]:%s %s\n' "$LAB_HOST" "$port" \
    "$(cut -d' ' -f1,2 "$DIR/ssh/host_ed25519_key.pub")" >"$DIR/ssh/known_hosts"

  # A convenience client config: ssh -F DIR/ssh/config lab CMD
  cat >"$DIR/ssh/config" <<EOF
Host lab $LAB_HOST
  HostName $LAB_HOST
  Port $port
  User $LAB_USER
  IdentityFile "$DIR/ssh/id_ed25519"
  IdentitiesOnly yes
  UserKnownHostsFile "$DIR/ssh/known_hosts"
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
EOF

  # End-to-end readiness check with the real key and known_hosts. It also
  # checks the login environment: a non-interactive command must print
  # exactly what it prints (shell startup files that echo would corrupt
  # tend's output parsing) and must find php and the mariadb client.
  if ! out=$(ssh_client "$port" 'command -v php >/dev/null 2>&1 && command -v mariadb >/dev/null 2>&1 && printf ok || printf nopath' 2>"$DIR/logs/ssh-probe.err"); then
    show_log "$sshlog"
    show_log "$DIR/logs/ssh-probe.err" 10
    grep -q 'account is locked' "$sshlog" &&
      log "hint: $LAB_USER's password field starts with '!'; sshd without PAM treats that as locked (usermod -p '*' $LAB_USER)"
    die "cannot log in to the lab sshd with the generated key"
  fi
  case "$out" in
    ok) ;;
    *nopath) log "warning: php or mariadb not in PATH of non-interactive ssh sessions of $LAB_USER" ;;
    *) log "warning: shell startup files of $LAB_USER print output in non-interactive ssh sessions: $(printf '%q' "$out")" ;;
  esac
  # The probe's login is in sshd.log; tests count logins from zero. sshd -E
  # opens the log with O_APPEND, so truncating under it is safe. Wait until
  # the probe session has been logged completely first.
  for ((i = 0; i < 20; i++)); do
    grep -q 'Disconnected from user\|session closed\|Close session' "$sshlog" && break
    sleep 0.05
  done
  sleep 0.1
  : >"$sshlog"
}

# ---------------------------------------------------------------- mariadb ---

start_mariadb() {
  local my="$DIR/mysql" sock attempt port i user_opt=() sockdir errlog
  errlog="$my/error.log"
  mkdir -p "$my"
  chmod 700 "$my"
  # Unix socket paths are limited to 107 bytes; deep temp dirs exceed that.
  sock="$my/mysqld.sock"
  if (($(printf '%s' "$sock" | wc -c) > 100)); then
    sockdir=$(mktemp -d /tmp/tend-lab-sock.XXXXXX)
    printf '%s\n' "$sockdir" >"$my/socket-dir"
    sock="$sockdir/mysqld.sock"
    log "lab path too long for a unix socket; using $sock"
  fi
  LAB_DB_SOCKET=$sock

  # mariadbd refuses to run as root unless told to; as a normal user the
  # option only produces a warning, so pass it only as root.
  if [[ "$(id -u)" == 0 ]]; then user_opt=(--user=root); fi

  # No --user for the bootstrap: it works as root without it, and with it
  # mariadb-install-db chowns an unquoted datadir (breaks on spaces) and
  # re-owns the system's auth_pam_tool_dir.
  if ! mariadb-install-db --no-defaults \
    --auth-root-authentication-method=normal --skip-test-db \
    --skip-name-resolve --datadir="$my/data" "${MYSQLD_TUNING[@]}" \
    >"$my/install.log" 2>&1; then
    show_log "$my/install.log"
    die "mariadb-install-db failed"
  fi

  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(pick_port)
    : >"$errlog"
    rm -f -- "$sock"
    start_daemon mariadb "$DIR/logs/mariadbd.stdout.log" \
      "$MARIADBD_BIN" --no-defaults "${user_opt[@]}" \
      --datadir="$my/data" --socket="$sock" --port="$port" \
      --bind-address="$LAB_HOST" --pid-file="$my/mariadbd.pid" \
      --log-error="$errlog" --skip-name-resolve "${MYSQLD_TUNING[@]}"
    # Freshly installed: root@localhost has no password yet.
    for ((i = 0; i < 300; i++)); do
      pidfile_alive "$DIR/pids/mariadb.pid" || break
      mariadb --no-defaults --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 0.1
    done
    if pidfile_alive "$DIR/pids/mariadb.pid" &&
      mariadb --no-defaults --socket="$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
      break
    fi
    stop_one "$DIR/pids/mariadb.pid"
    if grep -qiE 'address already in use|bind on tcp/ip port' "$errlog" && ((attempt < 5)); then
      log "db port $port was taken meanwhile, retrying"
      continue
    fi
    show_log "$errlog"
    show_log "$DIR/logs/mariadbd.stdout.log" 10
    die "mariadbd did not start"
  done
  LAB_DB_PORT=$port

  # The DB root user authenticates with a random password, both over the
  # socket (root@localhost) and TCP (root@127.0.0.1). Accounts for the host
  # name and ::1 are dropped: they are unused and skip-name-resolve warns.
  LAB_DB_ROOT_PASSWORD=$(rand_str 24)
  mariadb --no-defaults --socket="$sock" -uroot <<SQL
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost', '127.0.0.1'));
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1');
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$LAB_DB_ROOT_PASSWORD';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$LAB_DB_ROOT_PASSWORD';
SQL
  (
    umask 077
    cat >"$my/root.cnf" <<EOF
# mariadb --defaults-file=THIS  => root on the lab server via its socket
[client]
user=root
password=$LAB_DB_ROOT_PASSWORD
socket="$sock"
EOF
  )
  db_root -e 'SELECT 1' >/dev/null || die "cannot connect as DB root after setting its password"
}

# ------------------------------------------------------------------ sites ---

# Variable-name form of a site name (SITE_<ident>_...).
site_ident() { printf '%s' "${1//[^A-Za-z0-9]/_}"; }

# create_site NAME STYLE: everything except registering the site in lab.env
# and inventory.yml (so `up` can create sites in parallel and then register
# them in order). Leaves DIR/sites/.NAME.env and .NAME.yml fragments.
create_site() {
  local name=$1 style=$2 ident site db dbuser dbpass dbhost port url attempt i code
  local adminpw httplog="$DIR/logs/$name-http.log" instlog="$DIR/logs/$name-install.log"
  ident=$(site_ident "$name")
  site="$DIR/sites/$name"
  db="wp_$ident"
  dbuser="wp_$ident"
  dbpass=$(rand_str 24)
  adminpw=$(rand_str 20)

  mkdir -p "$DIR/sites"
  # mkdir (not -p) doubles as a per-name lock against a concurrent add-site.
  mkdir -- "$site" 2>/dev/null || die "site '$name' already exists ($site)"
  SITE_CREATED=$site

  # Debian's tree contains symlinks into /usr/share/javascript, /usr/share/php
  # and /etc; -L makes every site a self-contained, writable copy (akismet and
  # twentytwentythree are real directories in the package already).
  cp -rL -- "$WP_SRC/." "$site/"
  # Debian's wp-config.php reads /etc/wordpress/config-HOST.php and its
  # .htaccess is a commented-out template; a real site has neither.
  rm -f -- "$site/wp-config.php" "$site/.htaccess"
  [[ -f "$site/wp-content/plugins/akismet/akismet.php" ]] || die "akismet missing in $WP_SRC"
  [[ -f "$site/wp-content/themes/twentytwentythree/style.css" ]] ||
    die "theme twentytwentythree missing; install wordpress-theme-twentytwentythree"
  if [[ -n "$(find "$site" -type l -print -quit)" ]]; then
    die "symlinks left in $site"
  fi

  # Database and its user. Accounts exist for socket (localhost) and TCP
  # (127.0.0.1) clients because the server skips name resolution.
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
    socket) dbhost="localhost:$LAB_DB_SOCKET" ;;
    *) die "--db-host-style must be tcp or socket" ;;
  esac

  # wp-config.php = WordPress's own wp-config-sample.php with the values
  # filled in, exactly what the web installer would write.
  WPC_DB_NAME=$db WPC_DB_USER=$dbuser WPC_DB_PASSWORD=$dbpass WPC_DB_HOST=$dbhost \
    php -n -- "$site/wp-config-sample.php" "$site/wp-config.php" <<'PHP' ||
<?php
$src = file_get_contents($argv[1]);
$q = function ($v) { return "'" . addcslashes($v, "'\\") . "'"; };
$src = str_replace(
    ["'database_name_here'", "'username_here'", "'password_here'",
     "define( 'DB_HOST', 'localhost' );",
     // What WordPress's own setup-config.php writes when utf8mb4 works.
     "define( 'DB_CHARSET', 'utf8' );"],
    [$q(getenv('WPC_DB_NAME')), $q(getenv('WPC_DB_USER')), $q(getenv('WPC_DB_PASSWORD')),
     "define( 'DB_HOST', " . $q(getenv('WPC_DB_HOST')) . " );",
     // No cron on page loads: tests compare databases, and a cron run started by a
     // page load (the readiness check's) would change options under them.
     "define( 'DB_CHARSET', 'utf8mb4' );\ndefine( 'DISABLE_WP_CRON', true );"],
    $src, $count);
// Every salt gets its own random value, like the secret-key service.
$src = preg_replace_callback("/'put your unique phrase here'/", function () use ($q) {
    return $q(strtr(base64_encode(random_bytes(48)), '+/', '-_'));
}, $src, -1, $salts);
if ($count !== 5 || $salts !== 8) {
    fwrite(STDERR, "unexpected wp-config-sample.php ($count values, $salts salts replaced)\n");
    exit(1);
}
file_put_contents($argv[2], $src);
PHP
    die "writing wp-config.php failed"

  # Web server first (so the URL, which WordPress stores, is final), then
  # install. A port lost to a parallel lab between pick and bind is retried.
  for ((attempt = 1; attempt <= 5; attempt++)); do
    port=$(pick_port)
    : >"$httplog"
    # Several workers: WordPress makes loopback requests to itself (cron),
    # which would block a single-threaded server.
    (cd "$site" && start_daemon "http-$name" "$httplog" \
      env PHP_CLI_SERVER_WORKERS=4 php -S "$LAB_HOST:$port" -t "$site")
    # Wait for our server's own "started" line (an open port alone could
    # belong to someone else).
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

  # Install with the site's own PHP CLI, like wp-admin/install.php would.
  local installer
  installer="$site/lab-install-$(rand_str 8).php"
  cat >"$installer" <<'PHP'
<?php
// Temporary installer written by lab.sh; deleted after use.
$url  = getenv('LAB_SITE_URL');
$name = getenv('LAB_SITE_NAME');
$u = parse_url($url);
$_SERVER['HTTP_HOST']      = $u['host'] . ':' . $u['port'];
$_SERVER['SERVER_NAME']    = $u['host'];
$_SERVER['SERVER_PORT']    = (string) $u['port'];
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REQUEST_URI']    = '/wp-admin/install.php';
$_SERVER['PHP_SELF']       = $_SERVER['SCRIPT_NAME'] = '/wp-admin/install.php';
define('WP_INSTALLING', true);
define('WP_SITEURL', $url); // what wp_guess_url() would find behind a browser
define('WP_HOME', $url);
require __DIR__ . '/wp-load.php';

// Don't try to send the "new site" mail (no MTA in a lab).
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {}
// No outbound HTTP during install: keeps plain permalinks (the pretty
// permalink probe would hit our server) and avoids network timeouts.
add_filter('pre_http_request', function () {
    return new WP_Error('lab_no_http', 'HTTP disabled during lab install');
}, 1);

require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

$r = wp_install('Lab ' . $name, 'admin', 'admin@example.com', true, '', getenv('LAB_ADMIN_PASSWORD'));
if (is_wp_error($r) || empty($r['user_id'])) {
    fwrite(STDERR, "wp_install failed\n");
    exit(1);
}
update_option('siteurl', $url);
update_option('home', $url);
$a = activate_plugin('akismet/akismet.php');
if (is_wp_error($a)) {
    fwrite(STDERR, 'activate_plugin: ' . $a->get_error_message() . "\n");
    exit(1);
}
if (!wp_get_theme('twentytwentythree')->exists()) {
    fwrite(STDERR, "theme twentytwentythree not found\n");
    exit(1);
}
switch_theme('twentytwentythree');
echo "installed $name at $url\n";
PHP
  if ! (cd "$site" && LAB_SITE_URL=$url LAB_SITE_NAME=$name LAB_ADMIN_PASSWORD=$adminpw \
    php -d display_errors=0 -d log_errors=1 -d memory_limit=512M "$installer" >"$instlog" 2>&1); then
    rm -f -- "$installer"
    show_log "$instlog"
    die "WordPress install of $name failed"
  fi
  rm -f -- "$installer"

  # Trust but verify, straight from the database.
  local plugins template
  plugins=$(db_root -N -B -e "SELECT option_value FROM \`$db\`.wp_options WHERE option_name = 'active_plugins'")
  template=$(db_root -N -B -e "SELECT option_value FROM \`$db\`.wp_options WHERE option_name = 'template'")
  [[ "$plugins" == *akismet/akismet.php* ]] || die "$name: akismet not active (active_plugins=$plugins)"
  [[ "$template" == twentytwentythree ]] || die "$name: theme is '$template', expected twentytwentythree"

  for ((i = 0; i < 100; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url/" || true)
    [[ "$code" == 200 ]] && break
    pidfile_alive "$DIR/pids/http-$name.pid" || break
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
    printf 'SITE_%s_ADMIN_USER=admin\n' "$ident"
    printf 'SITE_%s_ADMIN_PASSWORD=%s\n' "$ident" "$(env_val "$adminpw")"
  } >"$DIR/sites/.$name.env"
  {
    printf '  %s:\n' "$(yaml_val "$name")"
    printf '    host: %s\n' "$LAB_HOST"
    printf '    path: %s\n' "$(yaml_val "$site")"
    printf '    url: %s\n' "$(yaml_val "$url")"
  } >"$DIR/sites/.$name.yml"
  log "site $name ready at $url"
}

register_site_locked() {
  # `up --sites 0` writes an empty map; the first entry turns it into a block.
  if grep -qx 'sites: {}' "$DIR/inventory.yml"; then
    sed -i 's/^sites: {}$/sites:/' "$DIR/inventory.yml"
  fi
  cat -- "$DIR/sites/.$1.env" >>"$DIR/lab.env"
  cat -- "$DIR/sites/.$1.yml" >>"$DIR/inventory.yml"
  rm -f -- "$DIR/sites/.$1.env" "$DIR/sites/.$1.yml"
}
register_site() { with_lock register_site_locked "$1"; }

validate_site_name() {
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$ ]] ||
    die "site name must match [A-Za-z0-9][A-Za-z0-9_-]* (max 40 chars): '$1'"
}

# ---------------------------------------------------------------- commands ---

cmd_up() {
  local nsites=1 watch="" i
  [[ $# -ge 1 ]] || usage
  DIR=$(abspath "$1")
  shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --sites) nsites=${2:?--sites needs a number}; shift 2 ;;
      --sites=*) nsites=${1#*=}; shift ;;
      --watch) watch=${2:?--watch needs a pid}; shift 2 ;;
      --watch=*) watch=${1#*=}; shift ;;
      *) usage ;;
    esac
  done
  [[ "$nsites" =~ ^[0-9]+$ ]] || die "--sites must be a number"
  local watch_start=""
  if [[ -n "$watch" ]]; then
    [[ "$watch" =~ ^[0-9]+$ ]] || die "--watch must be a pid"
    alive "$watch" || die "--watch: process $watch is not running"
    watch_start=$(proc_starttime "$watch")
  fi
  check_dir_chars "$DIR"
  need_cmd "$SSHD_BIN" "$MARIADBD_BIN" ssh ssh-keygen mariadb mariadb-install-db php curl setsid flock realpath base64
  [[ -f "$WP_SRC/wp-load.php" ]] || die "WordPress not found in $WP_SRC; run scripts/install-deps.sh"

  # Reuse a directory only if it is empty or an old (stopped) lab; the
  # watchdog deletes DIR, so never adopt a directory with foreign content.
  if [[ -e "$DIR" ]]; then
    [[ -d "$DIR" ]] || die "$DIR exists and is not a directory"
    if [[ -e "$DIR/.tend-lab" ]]; then
      local f
      for f in "$DIR"/pids/*.pid; do
        [[ -e "$f" ]] || continue
        pidfile_alive "$f" && die "a lab is already running in $DIR (lab.sh down first)"
      done
      rm -rf -- "${DIR:?}/ssh" "${DIR:?}/home" "${DIR:?}/mysql" "${DIR:?}/sites" \
        "${DIR:?}/logs" "${DIR:?}/pids" "${DIR:?}/store" "${DIR:?}/lab.env" \
        "${DIR:?}/inventory.yml" "${DIR:?}/.lock" "${DIR:?}/watch.pid"
    elif [[ -n "$(ls -A -- "$DIR")" ]]; then
      die "$DIR is not empty and not a lab directory"
    fi
  fi
  mkdir -p -- "$DIR"
  : >"$DIR/.tend-lab"
  mkdir -p -- "$DIR/logs" "$DIR/pids" "$DIR/store" "$DIR/sites"

  # From here on, a failure stops whatever was started.
  BG_JOBS=()
  trap 'rc=$?; if ((rc != 0)); then abort_up; fi' EXIT
  trap 'exit 130' INT TERM HUP
  local t0=${EPOCHREALTIME//[!0-9]/}
  log "starting lab in $DIR as $LAB_USER"

  # sshd and MariaDB are independent: set up MariaDB in the background while
  # sshd starts. The job hands its results back through a small env file.
  (
    start_mariadb
    {
      echo "LAB_DB_PORT=$LAB_DB_PORT"
      echo "LAB_DB_SOCKET=$(env_val "$LAB_DB_SOCKET")"
      echo "LAB_DB_ROOT_PASSWORD=$(env_val "$LAB_DB_ROOT_PASSWORD")"
    } >"$DIR/mysql/db.env"
    log "mariadb on $LAB_HOST:$LAB_DB_PORT"
  ) &
  BG_JOBS+=($!)
  start_sshd
  log "sshd on $LAB_HOST:$LAB_SSH_PORT"
  local db_rc=0
  wait "${BG_JOBS[0]}" || db_rc=$?
  BG_JOBS=()
  ((db_rc == 0)) || die "MariaDB setup failed"
  # shellcheck disable=SC1091
  source "$DIR/mysql/db.env"

  {
    echo "# tend test lab - generated by scripts/lab.sh; sourceable by sh/bash."
    echo "# DB root: mariadb --defaults-file=\"\$LAB_DB_ROOT_CNF\" (socket, user root)"
    echo "#   or mariadb -uroot -p\"\$LAB_DB_ROOT_PASSWORD\" -h127.0.0.1 -P\"\$LAB_DB_PORT\""
    echo "LAB_DIR=$(env_val "$DIR")"
    echo "LAB_USER=$(env_val "$LAB_USER")"
    echo "LAB_HOST=$LAB_HOST"
    echo "LAB_SSH_PORT=$LAB_SSH_PORT"
    echo "LAB_SSH_KEY=$(env_val "$DIR/ssh/id_ed25519")"
    echo "LAB_KNOWN_HOSTS=$(env_val "$DIR/ssh/known_hosts")"
    echo "LAB_SSH_CONFIG=$(env_val "$DIR/ssh/config")"
    echo "LAB_SSH_LOG=$(env_val "$DIR/ssh/sshd.log")"
    echo "LAB_REMOTE_HOME=$(env_val "$DIR/home")"
    echo "LAB_DB_HOST=$LAB_HOST"
    echo "LAB_DB_PORT=$LAB_DB_PORT"
    echo "LAB_DB_SOCKET=$(env_val "$LAB_DB_SOCKET")"
    echo "LAB_DB_ROOT_USER=root"
    echo "LAB_DB_ROOT_PASSWORD=$(env_val "$LAB_DB_ROOT_PASSWORD")"
    echo "LAB_DB_ROOT_CNF=$(env_val "$DIR/mysql/root.cnf")"
    echo "LAB_INVENTORY=$(env_val "$DIR/inventory.yml")"
    echo "LAB_STORE=$(env_val "$DIR/store")"
  } >"$DIR/lab.env"
  {
    echo "settings:"
    echo "  store: $(yaml_val "$DIR/store")"
    echo "defaults:"
    echo "  ssh: { user: $(yaml_val "$LAB_USER"), port: $LAB_SSH_PORT, identity_file: $(yaml_val "$DIR/ssh/id_ed25519"), known_hosts_file: $(yaml_val "$DIR/ssh/known_hosts") }"
    if ((nsites > 0)); then echo "sites:"; else echo "sites: {}"; fi
  } >"$DIR/inventory.yml"

  # Sites are independent, so build them in parallel and register them in
  # order afterwards (deterministic lab.env / inventory.yml).
  local pids=() failed=0
  for ((i = 1; i <= nsites; i++)); do
    create_site "site$i" tcp &
    pids+=($!)
  done
  BG_JOBS=("${pids[@]}")
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed=1
  done
  BG_JOBS=()
  ((failed == 0)) || die "creating sites failed"
  for ((i = 1; i <= nsites; i++)); do
    register_site "site$i"
  done

  if [[ -n "$watch" ]]; then
    printf '%s %s\n' "$watch" "$watch_start" >"$DIR/watch.pid"
    # Detached: own session, cwd /, no inherited stdio.
    (cd / && start_daemon watchdog "$DIR/logs/watchdog.log" \
      bash "$SELF" __watch "$DIR" "$watch" "$watch_start")
    log "watchdog: lab goes away when pid $watch exits"
  fi

  trap - EXIT
  local dt=$((${EPOCHREALTIME//[!0-9]/} - t0))
  log "lab up in $((dt / 1000000)).$((dt / 100000 % 10))s"
  printf '%s\n' "$DIR/lab.env"
}

# EXIT trap of a failed or interrupted `up`: stop background setup jobs
# first (or they could start daemons after `down`), then everything else.
abort_up() {
  local j
  log "up failed; stopping the lab"
  local kids=()
  for j in "${BG_JOBS[@]}"; do
    # The job's current child (cp, php, curl...) would outlive it otherwise.
    mapfile -t kids < <(ps -o pid= --ppid "$j" 2>/dev/null || true)
    kill -TERM "$j" "${kids[@]}" 2>/dev/null || true
  done
  for j in "${BG_JOBS[@]}"; do wait "$j" 2>/dev/null || true; done
  cmd_down_dir quiet
}

cmd_add_site() {
  local name style=tcp
  [[ $# -ge 2 ]] || usage
  DIR=$(abspath "$1")
  name=$2
  shift 2
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --db-host-style) style=${2:?}; shift 2 ;;
      --db-host-style=*) style=${1#*=}; shift ;;
      *) usage ;;
    esac
  done
  [[ "$style" == tcp || "$style" == socket ]] || die "--db-host-style must be tcp or socket"
  validate_site_name "$name"
  load_env
  pidfile_alive "$DIR/pids/mariadb.pid" || die "the lab's MariaDB is not running (lab.sh up $DIR)"

  SITE_CREATED="" SITE_DB_CREATED="" ADD_SITE_NAME=$name
  # On failure undo the partial site so the same name can be retried.
  trap 'rc=$?; if ((rc != 0)); then site_rollback "$ADD_SITE_NAME"; fi' EXIT
  trap 'exit 130' INT TERM HUP
  create_site "$name" "$style"
  register_site "$name"
  trap - EXIT
  printf '%s\n' "$DIR/lab.env"
}

site_rollback() {
  local name=$1
  # Nothing of ours to undo if we failed before creating the site directory
  # (e.g. the name exists: its server and files belong to the existing site).
  [[ -n "${SITE_CREATED:-}" ]] || return 0
  log "add-site $name failed; removing the partial site"
  stop_one "$DIR/pids/http-$name.pid" || true
  if [[ -n "${SITE_DB_CREATED:-}" ]]; then
    db_root -e "DROP DATABASE IF EXISTS \`$SITE_DB_CREATED\`; DROP USER IF EXISTS '$SITE_DB_CREATED'@'localhost', '$SITE_DB_CREATED'@'127.0.0.1';" || true
  fi
  rm -rf -- "$SITE_CREATED"
  rm -f -- "$DIR/sites/.$name.env" "$DIR/sites/.$name.yml"
}

cmd_down() {
  [[ $# -eq 1 ]] || usage
  DIR=$(abspath "$1")
  cmd_down_dir
}

# Stops every process recorded in DIR/pids: TERM to each process group (all
# at once), wait up to 10 s (MariaDB shuts down cleanly), then KILL.
cmd_down_dir() {
  local quiet=${1:-} f name pid start i any conn stopped=0
  local files=() stray=()
  for f in "$DIR"/pids/*.pid; do
    [[ -e "$f" ]] || continue
    name=$(basename "$f" .pid)
    # The watchdog calls down itself; it must not kill itself.
    if [[ "$name" == watchdog && -n "${LAB_WATCHDOG_SELF:-}" ]]; then
      rm -f -- "$f"
      continue
    fi
    if ! pidfile_alive "$f"; then
      rm -f -- "$f"
      continue
    fi
    read -r pid start <"$f"
    if [[ "$name" == sshd ]]; then
      # Per-connection sshd children put themselves in new sessions, so the
      # group kill misses them; end live connections explicitly.
      for conn in $(ps -o pid= --ppid "$pid" 2>/dev/null || true); do
        kill -TERM "$conn" 2>/dev/null || true
      done
    fi
    [[ -n "$quiet" ]] || log "stopping $name (pid $pid)"
    signal_pidfile TERM "$f"
    files+=("$f")
    stopped=1
  done
  for ((i = 0; i < 100; i++)); do
    any=0
    for f in "${files[@]}"; do
      pidfile_alive "$f" && any=1
    done
    ((any)) || break
    sleep 0.1
  done
  for f in "${files[@]}"; do
    if pidfile_alive "$f"; then
      log "$(basename "$f" .pid) did not stop; killing it"
      signal_pidfile KILL "$f"
    fi
    rm -f -- "$f"
  done

  # Safety net for processes without a pid file (a start interrupted between
  # fork and recording the pid, a deleted pids/ directory).
  mapfile -t stray < <(lab_processes)
  if ((${#stray[@]})); then
    log "stopping unrecorded lab processes: ${stray[*]}"
    kill -TERM "${stray[@]}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      any=0
      for pid in "${stray[@]}"; do alive "$pid" && any=1; done
      ((any)) || break
      sleep 0.1
    done
    for pid in "${stray[@]}"; do
      if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
    stopped=1
  fi

  if [[ -f "$DIR/mysql/socket-dir" ]]; then
    rm -rf -- "$(cat "$DIR/mysql/socket-dir")"
    rm -f -- "$DIR/mysql/socket-dir"
  fi
  if ((stopped == 0)) && [[ -z "$quiet" ]]; then
    log "nothing running in $DIR"
  fi
  return 0
}

# PIDs of this lab's daemons, recognised by arguments only they have: sshd
# with our config (its process title keeps the arguments), mariadbd or
# mariadb-install-db's bootstrap with our datadir, php -S serving our sites,
# and the watchdog.
lab_processes() {
  local p args joined a
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ "$p" == "$$" || "$p" == "$BASHPID" || "$p" == "${LAB_WATCHDOG_SELF:-}" ]] && continue
    [[ -O "/proc/$p" ]] || continue
    mapfile -d '' -t args <"/proc/$p/cmdline" 2>/dev/null || continue
    ((${#args[@]} > 0)) || continue
    joined=" ${args[*]} "
    # sshd rewrites its argv into one title string "sshd: /usr/sbin/sshd -D -f ..."
    if [[ "${args[0]}" == *sshd* && "$joined" == *" -f $DIR/ssh/sshd_config "* ]]; then
      echo "$p"
      continue
    fi
    case "${args[0]##*/}" in
      mariadbd | mysqld)
        for a in "${args[@]}"; do
          if [[ "$a" == "--datadir=$DIR/mysql/data" ]]; then echo "$p"; break; fi
        done
        ;;
      php*)
        [[ "$joined" == *" -S $LAB_HOST:"*" -t $DIR/sites/"* ]] && echo "$p"
        ;;
      bash | sh)
        [[ "${args[2]:-}" == __watch && "${args[3]:-}" == "$DIR" ]] && echo "$p"
        ;;
    esac
  done
  return 0
}

cmd_status() {
  [[ $# -eq 1 ]] || usage
  DIR=$(abspath "$1")
  [[ -f "$DIR/lab.env" ]] || { echo "no lab in $DIR"; return 1; }
  load_env
  local f name pid start state rc=0 detail ident var
  echo "lab $DIR (user $LAB_USER)"
  for f in "$DIR"/pids/*.pid; do
    [[ -e "$f" ]] || continue
    name=$(basename "$f" .pid)
    read -r pid start <"$f" || true
    if pidfile_alive "$f"; then state=running; else state=DEAD; rc=1; fi
    case "$name" in
      sshd) detail="ssh -p $LAB_SSH_PORT $LAB_USER@$LAB_HOST" ;;
      mariadb) detail="$LAB_HOST:$LAB_DB_PORT socket $LAB_DB_SOCKET" ;;
      http-*)
        ident=$(site_ident "${name#http-}")
        var="SITE_${ident}_URL"
        detail="${!var:-} ${DIR}/sites/${name#http-}"
        ;;
      watchdog) detail="watching pid $(cut -d' ' -f1 "$DIR/watch.pid" 2>/dev/null)" ;;
      *) detail="" ;;
    esac
    printf '%-16s pid %-8s %-8s %s\n' "$name" "$pid" "$state" "$detail"
  done
  [[ -n "$(ls -A "$DIR/pids" 2>/dev/null)" ]] || { echo "nothing running"; rc=1; }
  return "$rc"
}

# Internal: the watchdog started by `up --watch`.
cmd_watch() {
  DIR=$1
  local pid=$2 start=$3
  log "watchdog $$ watching pid $pid"
  while alive "$pid" "$start"; do
    sleep 1
  done
  log "pid $pid exited; tearing down $DIR"
  LAB_WATCHDOG_SELF=$$ cmd_down_dir quiet || true
  # Only ever delete a directory that lab.sh created/adopted.
  if [[ -e "$DIR/.tend-lab" ]]; then
    rm -rf -- "$DIR"
  fi
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    add-site) cmd_add_site "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    __watch) cmd_watch "$@" ;;
    -h | --help | help) usage 0 ;;
    *) usage ;;
  esac
}

# On one line: bash reads scripts incrementally, so nothing after this may be
# read later from a file that was edited while a watchdog was running.
main "$@"; exit
