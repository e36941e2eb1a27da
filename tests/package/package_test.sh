#!/bin/sh
# tests/package/package_test.sh — the Debian package, built, installed and
# purged on this machine as an administrator would.
#
# Usage, as root: tests/package/package_test.sh postern-VERSION.tar.gz
#
# From the release tarball (`make dist`; building from it proves it holds
# everything the package needs): dpkg-buildpackage -b, lintian, dpkg -i;
# then postern is started through /etc/init.d/postern, local_domains is set
# in /etc/postern/postern.conf and reloaded, a user is added, swaks submits
# a message to 127.0.0.1:587 over STARTTLS with AUTH LOGIN, and the message
# must arrive in the Maildir byte for byte; postern status must answer, and
# its --json form, read with jq, must name the version, master's pid and
# the queue.
# Then postern is stopped, the package purged, and nothing of it may be
# left: no file of `dpkg -L`, no /etc/postern, /var/lib/postern or
# /run/postern, no init or systemd links, no process of its master.
#
# Exits 77 (automake's SKIP) unless it runs as root with dpkg-buildpackage
# present and postern neither installed as a package nor in the way
# (its directories or ports in use). The machine is left as it was found,
# also when a step fails: the EXIT trap stops and purges postern and
# removes the snakeoil pair and the users if it made them.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 postern-VERSION.tar.gz" >&2; exit 2; }
tarball=$(readlink -f "$1")

skip() { echo "package_test: SKIP: $*"; exit 77; }
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
step() { echo "package_test: $(date -u +%H:%M:%S) $*"; }

[ "$(id -u)" -eq 0 ] || skip "not running as root"
command -v dpkg-buildpackage >/dev/null || skip "dpkg-buildpackage is not installed (./install-deps)"
case $(dpkg-query -W -f='${Status}' postern 2>/dev/null || true) in
  "" | *not-installed) ;;
  *) skip "postern is already installed as a package" ;;
esac
for d in /etc/postern /var/lib/postern /run/postern; do
  [ ! -e "$d" ] || skip "$d exists: this machine has a postern that the package would change"
done
for port in 587 465; do
  ! ss -Hltn "sport = :$port" | grep -q . || skip "port $port is in use"
done

snakeoil_cert=/etc/ssl/certs/ssl-cert-snakeoil.pem
snakeoil_key=/etc/ssl/private/ssl-cert-snakeoil.key
had_snakeoil=no
[ -e "$snakeoil_cert" ] && [ -e "$snakeoil_key" ] && had_snakeoil=yes
snakeoil_links=$(find /etc/ssl/certs -maxdepth 1 -lname ssl-cert-snakeoil.pem | sort)
new_users=""
for user in postern postern-queue postern-auth; do
  getent passwd "$user" >/dev/null || new_users="$new_users $user"
done
work=$(mktemp -d /tmp/postern-package.XXXXXX)
pids=""

# Stops what the package started (by the PIDs it recorded), purges the
# package, and puts back what it changed outside itself.
cleanup() {
  status=$?
  set +e
  if [ -x /usr/sbin/postern ] && /usr/sbin/postern status >/dev/null 2>&1; then
    /usr/sbin/postern stop >/dev/null 2>&1
  fi
  for pid in $pids; do
    case $(readlink "/proc/$pid/exe" 2>/dev/null) in
      /usr/libexec/postern/*) kill -KILL "$pid" ;;
    esac
  done
  case $(dpkg-query -W -f='${Status}' postern 2>/dev/null) in
    "" | *not-installed) ;;
    *) dpkg --purge postern >/dev/null 2>&1 || echo "package_test: cannot purge postern" >&2 ;;
  esac
  if [ "$had_snakeoil" = no ]; then
    find /etc/ssl/certs -maxdepth 1 -lname ssl-cert-snakeoil.pem | while read -r link; do
      echo "$snakeoil_links" | grep -qx "$link" || rm -f "$link"
    done
    rm -f "$snakeoil_cert" "$snakeoil_key"
  fi
  for user in $new_users; do
    deluser --system --quiet "$user" >/dev/null 2>&1
    delgroup --system --quiet "$user" >/dev/null 2>&1
  done
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# ---- build and lint
step "building the package from $(basename "$tarball")"
tar -xzf "$tarball" -C "$work"
source_dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'postern-*')
version=${source_dir##*/postern-}
changelog_version=$(cd "$source_dir" && dpkg-parsechangelog -S Version)
[ "$changelog_version" = "$version" ] ||
  fail "debian/changelog says $changelog_version, configure.ac's AC_INIT says $version"
if ! (cd "$source_dir" &&
      DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" DEB_BUILD_PROFILES=nocheck \
        dpkg-buildpackage -us -uc -b \
        >"$work/build.log" 2>&1); then
  tail -60 "$work/build.log"
  fail "dpkg-buildpackage failed"
fi
arch=$(dpkg --print-architecture)
deb="$work/postern_${version}_${arch}.deb"
[ -f "$deb" ] || fail "dpkg-buildpackage made no $(basename "$deb")"

step "lintian"
if ! lintian --fail-on error,warning "$work/postern_${version}_${arch}.changes" >"$work/lintian.out" 2>&1; then
  cat "$work/lintian.out"
  fail "lintian reports errors or warnings"
fi
cat "$work/lintian.out"

# ---- install
step "installing $(basename "$deb")"
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i failed"; }
dpkg -L postern | sort >"$work/files"
for user in postern postern-queue postern-auth; do
  getent passwd "$user" >/dev/null || fail "the package made no user $user"
done
dpkg-query -W -f='${Conffiles}\n' postern | grep -q '^ /etc/postern/postern.conf ' ||
  fail "/etc/postern/postern.conf is not a conffile"
[ "$(stat -c '%U:%G %a' /var/lib/postern/queue)" = "postern-queue:postern-queue 700" ] ||
  fail "/var/lib/postern/queue: $(stat -c '%U:%G %a' /var/lib/postern/queue)"
if [ ! -e "$snakeoil_cert" ] || [ ! -e "$snakeoil_key" ]; then
  fail "no snakeoil certificate and key after installation"
fi
# configure's directories as the package built them in.
expected="state_directory = /var/lib/postern
run_directory = /run/postern
daemon_directory = /usr/libexec/postern"
got=$(postern config state_directory run_directory daemon_directory)
[ "$got" = "$expected" ] || fail "postern config shows
$got
instead of
$expected"
postern check || fail "postern check refuses the shipped postern.conf"

# ---- run
step "starting postern through /etc/init.d/postern"
/etc/init.d/postern start || fail "/etc/init.d/postern start failed"
/etc/init.d/postern status >/dev/null || fail "/etc/init.d/postern status: not running after start"
master=$(cat /run/postern/master.pid)
pids="$master $(ps -o pid= --ppid "$master")"
sed -i 's/^#local_domains =.*/local_domains = example.test/' /etc/postern/postern.conf
grep -qx 'local_domains = example.test' /etc/postern/postern.conf || fail "cannot set local_domains"
/etc/init.d/postern reload || fail "/etc/init.d/postern reload failed"
printf 'correct horse\n' | postern user add alice || fail "postern user add failed"

step "submitting with swaks over STARTTLS and AUTH LOGIN to 127.0.0.1:587"
printf 'From: Alice <alice@example.test>\r\nSubject: through the package\r\n\r\nfirst line\r\n.a line with a leading dot\r\nlast line' \
  >"$work/message"
swaks --server 127.0.0.1:587 --tls --auth LOGIN --auth-user alice --auth-password 'correct horse' \
  --from alice@example.test --to alice@example.test --data "@$work/message" --timeout 30 \
  >"$work/swaks.out" 2>&1 || { cat "$work/swaks.out"; fail "swaks failed"; }
maildir=/var/lib/postern/mail/example.test/alice/new
i=0
while [ -z "$(ls -A "$maildir" 2>/dev/null)" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
delivered=$(find "$maildir" -type f 2>/dev/null | head -1)
[ -n "$delivered" ] || fail "nothing arrived in $maildir within 30 s"
# The file is postern's Received: field, then the bytes swaks sent: the
# message, and the CRLF swaks ends its last line with.
python3 - "$delivered" "$work/message" <<'PYTHON' || fail "the delivered message differs from the one sent"
import sys
got = open(sys.argv[1], "rb").read()
sent = open(sys.argv[2], "rb").read() + b"\r\n"
assert got.endswith(sent), "delivered %r, sent %r" % (got, sent)
head = got[: len(got) - len(sent)].split(b"\r\n")
assert head[0].startswith(b"Received: ") and head[-1] == b"", head
assert all(line[:1] in (b" ", b"\t") for line in head[1:-1]), head
PYTHON
postern status >"$work/status.out" || { cat "$work/status.out"; fail "postern status failed"; }
# A monitoring script's view: the JSON form, read with jq. The package's
# version is postern's, master is the pid the init script started, qmgr
# answered for the queue, and the shipped submission listener is there.
postern status --json >"$work/status.json" || fail "postern status --json failed"
jq -e --arg version "$version" --argjson master "$master" \
  '.version == $version and ([.processes[] | select(.name == "master") | .pid] == [$master])
   and (.queue | type) == "object" and ([.listeners[] | .name] | index("submission")) != null' \
  "$work/status.json" >/dev/null || { cat "$work/status.json"; fail "postern status --json: unexpected"; }

# ---- stop and purge
step "stopping postern and purging the package"
pids="$master $(ps -o pid= --ppid "$master")"
/etc/init.d/postern stop || fail "/etc/init.d/postern stop failed"
# A process that has exited but is not reaped yet (a zombie: this machine's
# init may be slow to reap orphans) is gone; give stragglers 10 seconds.
alive() {
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ]
}
for pid in $pids; do
  tries=0
  while alive "$pid" && [ $tries -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
  ! alive "$pid" || fail "process $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline)) outlived stop"
done
dpkg --purge postern >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge failed"; }
left=""
while read -r path; do
  [ "$path" != /. ] || continue
  [ -e "$path" ] || [ -L "$path" ] || continue
  # A directory that other packages share (/usr/sbin, /etc) stays.
  [ -d "$path" ] && dpkg-query -S "$path" >/dev/null 2>&1 && continue
  left="$left $path"
done <"$work/files"
for path in /etc/postern /var/lib/postern /run/postern /etc/rc?.d/[SK]??postern \
            /etc/systemd/system/*.wants/postern.service \
            /var/lib/systemd/deb-systemd-helper-enabled/postern.service*; do
  [ -e "$path" ] || [ -L "$path" ] && left="$left $path"
done
[ -z "$left" ] || fail "left behind after purge:$left"
for exe in /proc/[0-9]*/exe; do
  case $(readlink "$exe" 2>/dev/null) in
    /usr/libexec/postern/* | /usr/sbin/postern) fail "a postern process still runs: $exe" ;;
  esac
done
step "done"
