#!/usr/bin/env bash
# lab-packages.sh - build the update packages that the tests install, from
# Debian's packages of a newer suite (default trixie), laid out exactly like
# the zips WordPress.org serves.
#
#   lab-packages.sh OUTDIR
#
# The lab (scripts/lab.sh) runs the WordPress of the machine's own Debian
# release (bookworm: 6.1.9). To test real updates we need a newer core,
# plugin and theme; this script makes them from the newer suite's .debs:
#
#   OUTDIR/wordpress-<ver>.zip                  top folder wordpress/
#   OUTDIR/plugins/akismet.<ver>.zip            top folder akismet/
#   OUTDIR/themes/twentytwentythree.<ver>.zip   top folder twentytwentythree/
#
# Versions are read from the files themselves (wp-includes/version.php,
# akismet.php and style.css), never assumed. One line per zip (its absolute
# path) is printed on stdout; messages go to stderr.
#
# Debian replaces some bundled files by symlinks into other packages
# (php-getid3, libjs-*); those packages are downloaded too, everything is
# extracted with `dpkg-deb -x` into one tree and the links are dereferenced
# inside that tree, so every zip entry is a real file. The only link allowed
# to leave the tree is wp-includes/certificates/ca-bundle.crt (it points to
# /etc/ssl/certs/ca-certificates.crt): this machine's file is used, or the
# file is left out with a warning. wp-config.php and .htaccess (Debian's point
# into /etc) are not shipped, as in WordPress.org's zips.
#
# Downloads use this machine's apt sources only to find the Debian archive
# (no host name is written here) with a private, temporary apt state; nothing
# of the system's apt state is touched and root is not needed.
#
# Cache: the .debs stay in OUTDIR/.debs/ (delete it to fetch the newest
# again). OUTDIR/.complete is written last; when it exists and the zips it
# names exist, the script does nothing but print the same lines.
#
# Environment:
#   LAB_PKG_SUITE     Debian suite to take the packages from (default trixie)
#   LAB_DEBIAN_URI    Debian archive URI (default: found in the apt sources)
set -euo pipefail

SUITE=${LAB_PKG_SUITE:-trixie}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CORE_PKG=wordpress
THEME_PKG=wordpress-theme-twentytwentythree
WP_DIR=/usr/share/wordpress             # where Debian installs the core
PLUGIN_SLUG=akismet
THEME_SLUG=twentytwentythree
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { printf 'lab-packages: %s\n' "$*" >&2; }
warn() { printf 'lab-packages: warning: %s\n' "$*" >&2; }
die() {
  printf 'lab-packages: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat >&2 <<'EOF'
usage: lab-packages.sh OUTDIR
  Build OUTDIR/wordpress-<ver>.zip, OUTDIR/plugins/akismet.<ver>.zip and
  OUTDIR/themes/twentytwentythree.<ver>.zip from Debian's packages
  (suite $LAB_PKG_SUITE, default trixie). Prints one zip path per line.
EOF
  exit "${1:-2}"
}

case "${1:-}" in
  -h | --help) usage 0 ;;
  '') usage ;;
esac
(($# == 1)) || usage

for c in python3 dpkg-deb dpkg apt-get; do
  command -v "$c" >/dev/null 2>&1 || die "'$c' not found (this script needs Debian's apt/dpkg and python3)"
done

mkdir -p -- "$1" || die "cannot create $1"
OUT=$(cd -- "$1" && pwd -P)
DEBS=$OUT/.debs
COMPLETE=$OUT/.complete

# Serialise runs on the same OUTDIR (tests may start several at once).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$OUT/.lock"
  flock 9
fi

zip_paths() { # zip_paths CORE_VER PLUGIN_VER THEME_VER
  printf '%s\n' "$OUT/wordpress-$1.zip" \
    "$OUT/plugins/$PLUGIN_SLUG.$2.zip" \
    "$OUT/themes/$THEME_SLUG.$3.zip"
}

# ------------------------------------------------------------- warm path ---

if [[ -f "$COMPLETE" ]]; then
  core_v=$(awk '$1 == "wordpress" {print $2}' "$COMPLETE")
  plugin_v=$(awk -v s="$PLUGIN_SLUG" '$1 == s {print $2}' "$COMPLETE")
  theme_v=$(awk -v s="$THEME_SLUG" '$1 == s {print $2}' "$COMPLETE")
  if [[ -n "$core_v" && -n "$plugin_v" && -n "$theme_v" ]]; then
    ok=1
    while IFS= read -r z; do [[ -s "$z" ]] || ok=0; done < <(zip_paths "$core_v" "$plugin_v" "$theme_v")
    if ((ok)); then
      zip_paths "$core_v" "$plugin_v" "$theme_v"
      exit 0
    fi
  fi
  log "$COMPLETE is stale (a zip it names is missing); rebuilding"
fi
rm -f -- "$COMPLETE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lab-packages.XXXXXX")
cleanup() { rm -rf -- "$WORK"; }
trap cleanup EXIT
mkdir -p -- "$DEBS" "$WORK/root" "$WORK/dl"

# ------------------------------------------------------------- download ---

APT_OPTS=()
apt_ready=0

# debian_uri: the first Debian archive URI (ending in /debian) of this
# machine's apt sources, deb822 `URIs:` or one-line `deb` entries.
debian_uri() {
  if [[ -n "${LAB_DEBIAN_URI:-}" ]]; then
    printf '%s\n' "$LAB_DEBIAN_URI"
    return
  fi
  {
    grep -hsi '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources |
      awk '{for (i = 2; i <= NF; i++) print $i}' || true
    grep -hs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]*https?:\/\//) {print $i; break}}' || true
  } | grep -E '^[a-z+]*https?://.*/debian/?$' | head -n1 || true
}

apt_init() {
  ((apt_ready)) && return 0
  local uri user
  uri=$(debian_uri)
  [[ -n "$uri" ]] || die "no Debian archive (an URI ending in /debian) found in /etc/apt/sources.list or /etc/apt/sources.list.d/; set LAB_DEBIAN_URI"
  [[ -r "$KEYRING" ]] || die "$KEYRING not found: install debian-archive-keyring"
  mkdir -p -- "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial"
  : >"$WORK/apt/status" # the host's installed packages must not interfere
  # Only `Packages` indices (no DEP-11, translations, contents).
  printf 'deb [signed-by=%s target=Packages] %s %s main\n' "$KEYRING" "$uri" "$SUITE" >"$WORK/apt/sources.list"
  # The system's apt.conf.d stays in force (proxies, validity settings), but
  # its update hooks must not run: they act on the system's caches.
  cat >"$WORK/apt/apt.conf" <<'EOF'
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
EOF
  # apt drops to a sandbox user for downloading; as root use root (the
  # private temp dirs are not writable by _apt), otherwise ourselves.
  if [[ "$(id -u)" == 0 ]]; then user=root; else user=$(id -un); fi
  APT_OPTS=(
    -c "$WORK/apt/apt.conf"
    -o Dir::Etc::sourcelist="$WORK/apt/sources.list"
    -o Dir::Etc::sourceparts=/nonexistent
    -o Dir::State::Lists="$WORK/apt/lists"
    -o Dir::State::status="$WORK/apt/status"
    -o Dir::Cache="$WORK/apt/cache"
    -o Dir::Cache::pkgcache=
    -o Dir::Cache::srcpkgcache=
    -o Debug::NoLocking=1
    -o APT::Sandbox::User="$user"
  )
  log "reading the $SUITE package index from $uri"
  # apt-get update exits 0 when it only warns that an index failed to
  # download; for us that is as fatal as an error.
  if ! apt-get "${APT_OPTS[@]}" -qq update >"$WORK/apt/update.log" 2>&1 ||
    grep -qE '^(E:|W: Failed to fetch|W: Some index files failed)' "$WORK/apt/update.log"; then
    sed 's/^/  | /' "$WORK/apt/update.log" >&2
    if [[ "$(id -u)" == 0 ]]; then
      die "apt-get update for Debian $SUITE failed (see apt's messages above)"
    fi
    die "apt-get update for Debian $SUITE failed, running unprivileged as '$(id -un)' (apt's messages above); if apt refuses to work without root here, run this script as root"
  fi
  if grep -q '^[WE]:' "$WORK/apt/update.log"; then sed 's/^/  | /' "$WORK/apt/update.log" >&2; fi
  apt_ready=1
}

# newest_deb PKG: path of the newest cached PKG_*.deb (empty if none).
newest_deb() {
  local f v best='' best_v=''
  for f in "$DEBS/$1"_*.deb; do
    [[ -f "$f" ]] || continue
    v=$(dpkg-deb -f "$f" Version 2>/dev/null) || continue
    if [[ -z "$best" ]] || dpkg --compare-versions "$v" gt "$best_v"; then
      best=$f best_v=$v
    fi
  done
  printf '%s' "$best"
}

# fetch PKG: make sure a .deb of PKG is cached; set FETCHED to its path.
# Returns 1 (with apt's message on stderr) when PKG cannot be downloaded.
# (Not run in a subshell, so that apt_init's state is kept.)
FETCHED=
fetch() {
  local pkg=$1 f
  FETCHED=
  f=$(newest_deb "$pkg")
  if [[ -z "$f" ]]; then
    apt_init
    rm -f -- "$WORK/dl"/*.deb
    if ! (cd "$WORK/dl" && apt-get "${APT_OPTS[@]}" -qq download "$pkg" >"$WORK/dl/log" 2>&1); then
      sed 's/^/  | /' "$WORK/dl/log" >&2
      return 1
    fi
    for f in "$WORK/dl/${pkg}"_*.deb; do
      [[ -f "$f" ]] || { warn "apt-get download $pkg produced no .deb"; return 1; }
      mv -f -- "$f" "$DEBS/"
      log "downloaded $(basename -- "$f")"
    done
    f=$(newest_deb "$pkg")
  fi
  [[ -n "$f" ]] || return 1
  FETCHED=$f
}

extract() { # extract DEB: unpack into the shared tree
  dpkg-deb -x "$1" "$WORK/root" || die "dpkg-deb -x $1 failed"
}

# ------------------------------------------------------------ the helper ---
# helper.py links ROOT DIR
#     print "VPATH<TAB>TARGET" for every link under ROOT/DIR (in-tree,
#     chroot-like resolution) that resolves to nothing inside ROOT.
# helper.py zip ROOT DIR PREFIX OUT [--exclude REL]... [--add REL=FILE]...
#     zip ROOT/DIR as PREFIX/..., links dereferenced in ROOT; --add puts FILE
#     at REL when the tree has nothing there.

cat >"$WORK/helper.py" <<'PY'
import os, posixpath, stat, sys, zipfile

HOST_OK = {os.environ["HOST_CA_BUNDLE"]}          # may come from the host
DROP = set()                                       # host files found missing

class Unresolved(Exception):
    pass

def resolve(root, vpath, hops=None):
    """Canonical in-tree path of vpath, following links as if ROOT were /."""
    hops = hops if hops is not None else [0]
    cur = "/"
    for p in vpath.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            cur = posixpath.dirname(cur)
            continue
        nxt = posixpath.join(cur, p)
        real = root + nxt
        if os.path.islink(real):
            hops[0] += 1
            if hops[0] > 40:
                raise Unresolved("too many levels of symbolic links")
            t = os.readlink(real)
            cur = resolve(root, t if t.startswith("/") else posixpath.join(cur, t), hops)
        else:
            cur = nxt
    return cur

def target_of(root, vpath):
    """(real path to read, why-not) for a link at vpath."""
    try:
        v = resolve(root, vpath)
    except Unresolved as e:
        return None, str(e)
    if os.path.lexists(root + v):
        return root + v, None
    if v in HOST_OK:
        return (os.path.realpath(v), None) if os.path.isfile(v) else (None, "host-missing:" + v)
    return None, v

def walk(root, vdir, rel, seen, out):
    """Yield (rel path, real path, is_dir) of the tree at vdir, links followed."""
    real_dir = root + vdir
    key = os.stat(real_dir)
    key = (key.st_dev, key.st_ino)
    if key in seen:
        sys.exit("lab-packages: error: directory loop at %s" % vdir)
    seen = seen | {key}
    for name in sorted(os.listdir(real_dir)):
        v = posixpath.join(vdir, name)
        r = posixpath.join(rel, name) if rel else name
        real = root + v
        if os.path.islink(real):
            tgt, why = target_of(root, v)
            if tgt is None:
                out.append((r, None, why))
                continue
            if os.path.isdir(tgt):
                yield (r, tgt, True)
                yield from walk(root, resolve(root, v), r, seen, out)
            else:
                yield (r, tgt, False)
        elif os.path.isdir(real):
            yield (r, real, True)
            yield from walk(root, v, r, seen, out)
        else:
            yield (r, real, False)

def main():
    cmd, root, vdir = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
    if cmd == "links":
        bad = []
        for _ in walk(root, vdir, "", frozenset(), bad):
            pass
        for r, _, why in bad:
            print("%s\t%s" % (posixpath.join(vdir, r), why))
        return
    assert cmd == "zip"
    prefix, out = sys.argv[4].strip("/"), sys.argv[5]
    excl, add, args = set(), {}, sys.argv[6:]
    while args:
        opt, val, args = args[0], args[1], args[2:]
        if opt == "--exclude":
            excl.add(val)
        elif opt == "--add":
            k, _, f = val.partition("=")
            add[k] = f
        else:
            sys.exit("helper: bad option " + opt)
    bad, entries = [], []
    for r, real, is_dir in walk(root, vdir, "", frozenset(), bad):
        if r in excl or any(r.startswith(e + "/") for e in excl):
            continue
        entries.append((r, real, is_dir))
    fatal = []
    for r, _, why in bad:
        if r in excl:
            continue
        if why.startswith("host-missing:"):
            sys.stderr.write("lab-packages: warning: %s/%s left out: it links to %s, "
                             "which this machine does not have\n" % (prefix, r, why[13:]))
        else:
            fatal.append("%s -> %s" % (r, why))
    if fatal:
        sys.exit("lab-packages: error: unresolved symlinks in %s:\n  %s" % (vdir, "\n  ".join(fatal)))
    have = {r for r, _, _ in entries}
    for r, f in sorted(add.items()):
        if r not in have:
            entries.append((r, f, False))
    entries.sort(key=lambda e: e[0])
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6,
                         strict_timestamps=False) as zf:
        zf.write(root + vdir, prefix + "/")
        for r, real, is_dir in entries:
            st = os.stat(real)
            if not (is_dir or stat.S_ISREG(st.st_mode)):
                sys.exit("lab-packages: error: %s is not a regular file" % real)
            zf.write(real, prefix + "/" + r, compress_type=None if is_dir else zipfile.ZIP_DEFLATED)
            count += 1
        for zi in zf.infolist():   # paranoia: no entry may be a symlink
            if stat.S_ISLNK(zi.external_attr >> 16):
                sys.exit("lab-packages: error: symlink entry " + zi.filename)
    sys.stderr.write("lab-packages: %s: %d entries\n" % (os.environ.get("ZIP_LABEL", out), count + 1))

main()
PY

helper() { HOST_CA_BUNDLE=$HOST_CA_BUNDLE python3 "$WORK/helper.py" "$@"; }

# --------------------------------------------------------------- gather ---

fetch "$CORE_PKG" || die "cannot download '$CORE_PKG' from Debian $SUITE"
core_deb=$FETCHED
fetch "$THEME_PKG" || die "cannot download '$THEME_PKG' from Debian $SUITE"
theme_deb=$FETCHED
extract "$core_deb"
extract "$theme_deb"
[[ -f "$WORK/root$WP_DIR/wp-includes/version.php" ]] ||
  die "$(basename -- "$core_deb") has no $WP_DIR/wp-includes/version.php"

# Packages the core's links point into. Debian's convention names them after
# the directory: /usr/share/javascript/X -> libjs-X, /usr/share/php/X -> php-X;
# each is cross-checked against the wordpress package's Depends.
depends=$(dpkg-deb -f "$core_deb" Depends | sed -E 's/[,|]/\n/g' | sed -E 's/\([^)]*\)//; s/^[[:space:]]+//; s/[[:space:]]+$//; /^$/d')
round=0
while :; do
  unresolved=$(helper links "$WORK/root" "$WP_DIR" | grep -v -e "^$WP_DIR/\.htaccess"$'\t' -e $'\t'"host-missing:" || true)
  [[ -n "$unresolved" ]] || break
  round=$((round + 1))
  ((round <= 3)) || die "unresolved symlinks in the $CORE_PKG package:"$'\n'"$unresolved"
  wanted=$(printf '%s\n' "$unresolved" | cut -f2 | sed -nE \
    -e 's#^/usr/share/javascript/([^/]+)/.*#libjs-\1#p' \
    -e 's#^/usr/share/php/([^/]+)/.*#php-\L\1#p' | sort -u)
  [[ -n "$wanted" ]] || die "unresolved symlinks in the $CORE_PKG package, and no package to look for:"$'\n'"$unresolved"
  progress=0
  for pkg in $wanted; do
    if ! grep -qxF -- "$pkg" <<<"$depends"; then
      warn "$pkg is not among $CORE_PKG's Depends; trying it anyway"
    fi
    if [[ -n "$(newest_deb "$pkg")" && -e "$WORK/extracted.$pkg" ]]; then
      continue # already in the tree and still not enough
    fi
    fetch "$pkg" || {
      warn "cannot download $pkg"
      continue
    }
    extract "$FETCHED"
    : >"$WORK/extracted.$pkg"
    progress=1
  done
  ((progress)) || die "symlinks still unresolved after fetching ${wanted//$'\n'/ }:"$'\n'"$unresolved"
done

# ------------------------------------------------------------- versions ---

WP=$WORK/root$WP_DIR
header_version() { # header_version FILE: the `Version:` of a WP file header
  [[ -f "$1" ]] || die "missing $1"
  sed -nE '1,60{s/^[[:space:]*#@/]*Version:[[:space:]]*([^[:space:]]+).*/\1/p}' "$1" | head -n1
}
check_version() { # check_version WHAT VALUE
  [[ "$2" =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || die "could not read the version of $1 (got '${2}')"
}

core_v=$(sed -nE "s/^[[:space:]]*\\\$wp_version[[:space:]]*=[[:space:]]*'([^']+)'.*/\\1/p" "$WP/wp-includes/version.php" | head -n1)
check_version "WordPress ($WP_DIR/wp-includes/version.php)" "$core_v"
plugin_dir=$WP/wp-content/plugins/$PLUGIN_SLUG
[[ -d "$plugin_dir" ]] || die "$CORE_PKG ($(basename -- "$core_deb")) has no bundled $PLUGIN_SLUG plugin"
plugin_v=$(header_version "$plugin_dir/$PLUGIN_SLUG.php")
check_version "$PLUGIN_SLUG ($PLUGIN_SLUG.php)" "$plugin_v"
theme_dir=$WP/wp-content/themes/$THEME_SLUG
[[ -d "$theme_dir" ]] || die "$THEME_PKG ($(basename -- "$theme_deb")) did not provide $WP_DIR/wp-content/themes/$THEME_SLUG"
theme_v=$(header_version "$theme_dir/style.css")
check_version "$THEME_SLUG (style.css)" "$theme_v"
log "versions: WordPress $core_v, $PLUGIN_SLUG $plugin_v, $THEME_SLUG $theme_v"

# ----------------------------------------------------------------- zips ---

# WordPress.org's core zip has the "Silence is golden" index.php files that
# Debian moved to /var/lib/wordpress/wp-content (or dropped).
silence=$WORK/silence.php
if [[ -f "$WORK/root/var/lib/wordpress/wp-content/index.php" ]]; then
  cp -- "$WORK/root/var/lib/wordpress/wp-content/index.php" "$silence"
else
  printf '<?php\n// Silence is golden.\n' >"$silence"
fi
chmod 644 "$silence"

mkdir -p -- "$OUT/plugins" "$OUT/themes"
{ read -r core_zip && read -r plugin_zip && read -r theme_zip; } < <(zip_paths "$core_v" "$plugin_v" "$theme_v")

build_zip() { # build_zip OUT VDIR PREFIX [helper options...]
  local out=$1 vdir=$2 prefix=$3 tmp
  shift 3
  tmp=$(mktemp "$(dirname -- "$out")/.$(basename -- "$out").XXXXXX")
  if ! ZIP_LABEL=${out#"$OUT"/} helper zip "$WORK/root" "$vdir" "$prefix" "$tmp" "$@"; then
    rm -f -- "$tmp"
    die "building $(basename -- "$out") failed"
  fi
  chmod 644 "$tmp"
  mv -f -- "$tmp" "$out"
}

build_zip "$core_zip" "$WP_DIR" wordpress \
  --exclude wp-config.php --exclude .htaccess \
  --add "wp-content/index.php=$silence" \
  --add "wp-content/plugins/index.php=$silence" \
  --add "wp-content/themes/index.php=$silence"
build_zip "$plugin_zip" "$WP_DIR/wp-content/plugins/$PLUGIN_SLUG" "$PLUGIN_SLUG"
build_zip "$theme_zip" "$WP_DIR/wp-content/themes/$THEME_SLUG" "$THEME_SLUG"

printf 'wordpress %s\n%s %s\n%s %s\n' "$core_v" "$PLUGIN_SLUG" "$plugin_v" "$THEME_SLUG" "$theme_v" >"$WORK/complete"
mv -f -- "$WORK/complete" "$COMPLETE.tmp"
mv -f -- "$COMPLETE.tmp" "$COMPLETE"

zip_paths "$core_v" "$plugin_v" "$theme_v"
