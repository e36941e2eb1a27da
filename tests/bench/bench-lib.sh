# tests/bench/bench-lib.sh — what run-bench, run-submission-bench and run-scale-bench
# share: waiting, free ports, process trees and their memory, Maildir counts, and the
# life cycles of Postfix (taken over for a run, given back at its end) and of a postern
# instance built from a build tree.
#
# Sourced, not run. The sourcing script defines die and note (its own name in front)
# and, before sourcing, workdir and here (its own directory); it sets build before
# postern_find_build and postern_port before postern_start, and calls postfix_restore,
# postern_teardown and remove_created_users from its exit trap. Nothing here signals a
# process that the script did not start, and of Postfix's files only main.cf, master.cf
# and those given to postfix_save_file are changed (saved in WORKDIR first, put back by
# postfix_restore).
# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # variables shared with the sourcing script

# ---------------------------------------------------------------- helpers

# Sleeps without forking (a read that times out on a pipe nobody writes).
exec {sleep_fd}<> <(:)
nap() { read -r -t "$1" -u "$sleep_fd" _ || true; }

now() { echo "$EPOCHREALTIME"; }

# True when something listens on 127.0.0.1:PORT (from /proc/net/tcp, no tools).
listening() {
  local want_hex
  want_hex=$(printf '0100007F:%04X' "$1")
  awk -v a="$want_hex" '$2 == a && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp
}

# A port on which nothing listens on any address (TCP) and nothing is bound (UDP),
# other than the ports given as arguments (taken but not bound yet).
free_port() {
  local used port
  used=$(awk 'FNR > 1 && ($4 == "0A" || FILENAME ~ /udp/) { split($2, a, ":"); print a[2] }' \
    /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6)
  for port in "$@"; do used+=$'\n'$(printf '%04X' "$port"); done
  for ((port = 20025; port < 30000; port += 7)); do
    grep -qx "$(printf '%04X' "$port")" <<<"$used" || { echo "$port"; return 0; }
  done
  return 1
}

# Waits up to SECONDS for CONDITION (a command) to succeed.
wait_for() {
  local seconds=$1 deadline
  shift
  deadline=$(awk -v t="$(now)" -v s="$seconds" 'BEGIN { printf "%.3f", t + s }')
  until "$@"; do
    awk -v t="$(now)" -v d="$deadline" 'BEGIN { exit !(t > d) }' && return 1
    nap 0.05
  done
}

alive() { [[ -n $1 && -d /proc/$1 ]]; }
dead() { ! alive "$1"; }

# ROOT and its descendants, one pid a line.
tree_pids() {
  local -a todo=("$1") kids
  local p task
  while ((${#todo[@]})); do
    p=${todo[-1]}
    unset 'todo[-1]'
    alive "$p" || continue
    echo "$p"
    for task in /proc/"$p"/task/*/children; do
      kids=()
      { read -r -a kids <"$task"; } 2>/dev/null
      todo+=("${kids[@]}")
    done
  done
}
# CPU ticks (utime + stime) of ROOT's process tree so far, exited processes included:
# each live process adds its own time and that of the children it has reaped
# (cutime + cstime), so a Postfix smtpd that exits between two readings is counted by
# master's cutime in the second.
tree_cpu_ticks() {
  local total=0 p line
  local -a f
  for p in $(tree_pids "$1"); do
    { read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
    read -r -a f <<<"${line##*) }" # fields from the third (state) on
    total=$((total + f[11] + f[12] + f[13] + f[14]))
  done
  echo "$total"
}

clock_ticks=$(getconf CLK_TCK)

all_dead() {
  local p
  for p in "$@"; do alive "$p" && return 1; done
  return 0
}

# "rss_kb pss_kb processes" of ROOT's process tree now (one sample of rss-sampler, which
# the sourcing script's directory $here holds).
tree_memory() {
  local out=$workdir/memory.$1 rss pss procs
  touch "$out.stop"
  "$here/rss-sampler" "$1" 0 "$out"
  read -r rss _ pss _ procs _ <"$out"
  rm -f "$out" "$out.stop"
  echo "$rss $pss $procs"
}

mem_available_mb() { awk '$1 == "MemAvailable:" { print int($2 / 1024) }' /proc/meminfo; }

load1() { cut -d' ' -f1 /proc/loadavg; }

# KEY's value in FILE, a client's key=value summary line (the last one that has it).
field() { awk -v k="$2" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' "$1" | tail -1; }

# Messages delivered under ROOT: files in any Maildir's new/ or cur/.
count_delivered() {
  find "$1" \( -path '*/new/*' -o -path '*/cur/*' \) -type f 2>/dev/null | wc -l
}
# Empties ROOT's Maildirs before a run. The files are moved aside under
# WORKDIR/set-aside (removed with WORKDIR), not deleted: on an ext4 without a
# journal the inode allocator skips, one by one, every inode freed in the last
# minutes, and deleting the previous run's thousands of files just before a run
# made that run's deliveries pay for the scan (up to a third of the machine's CPU
# samples), whichever server ran. With less than 2 GB free they are deleted.
set_aside_runs=0
clear_delivered() {
  local pattern=(\( -path '*/new/*' -o -path '*/cur/*' -o -path '*/tmp/*' \) -type f)
  local free_mb dest
  free_mb=$(df -Pk "$workdir" | awk 'NR == 2 { print int($4 / 1024) }')
  if ((free_mb < 2048)); then
    find "$1" "${pattern[@]}" -delete 2>/dev/null
    return 0
  fi
  set_aside_runs=$((set_aside_runs + 1))
  dest=$workdir/set-aside/$set_aside_runs
  mkdir -p "$dest" && find "$1" "${pattern[@]}" -exec mv -t "$dest" {} + 2>/dev/null
  return 0
}

# ---------------------------------------------------------------- Postfix

postfix_installed_before=1
postfix_was_running=0
postfix_configured=0
postfix_main_cf=""
postfix_master_cf=""

postfix_installed() {
  dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'install ok installed'
}

postfix_install() {
  postfix_installed && return 0
  postfix_installed_before=0
  local other
  other=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' 2>/dev/null |
    awk '$1 ~ /^.i/ && /mail-transport-agent/ { print $2 }')
  [[ -z $other ]] || die "another MTA is installed ($other); not replacing it with Postfix"
  note "installing postfix (Local only)"
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections ||
    die "debconf-set-selections failed"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q postfix >"$workdir/apt.log" 2>&1; then
    apt-get update -q >>"$workdir/apt.log" 2>&1
    apt-get install -y -q postfix >>"$workdir/apt.log" 2>&1 ||
      die "apt-get install postfix failed; see $workdir/apt.log"
  fi
}

postfix_queue_dir() { postconf -h queue_directory; }
postfix_master_pid() {
  local pid
  { read -r pid < "$(postfix_queue_dir)/pid/master.pid"; } 2>/dev/null || return 1
  alive "$pid" && echo "$pid"
}
postfix_running() { postfix_master_pid >/dev/null; }

# Returns once master and every child are gone, so the next start can bind port 25.
postfix_stop() {
  local pid
  pid=$(postfix_master_pid) || return 0
  local -a tree
  mapfile -t tree < <(tree_pids "$pid")
  postfix stop >/dev/null 2>&1
  wait_for 30 all_dead "${tree[@]}" ||
    die "Postfix processes still running 30 s after 'postfix stop': $(tree_pids "$pid")"
}

# Debian's init script also prepares the chroot (copies of /etc files), which takes
# seconds; that is needed once, so restarts within the run use `postfix start`.
postfix_chroot_ready=0
postfix_start() {
  if [[ -x /etc/init.d/postfix ]] && ((!postfix_chroot_ready)); then
    postfix_chroot_ready=1
    /etc/init.d/postfix start >"$workdir/postfix-start.log" 2>&1
  else
    postfix start >"$workdir/postfix-start.log" 2>&1
  fi || die "starting Postfix failed: $(cat "$workdir/postfix-start.log")"
  wait_for 30 listening 25 || die "Postfix is not listening on 127.0.0.1:25 after 30 s"
}

# Takes Postfix over for the run: installs it if missing, saves main.cf and master.cf
# into WORKDIR and stops it if it runs (postfix_restore undoes all three).
postfix_take_over() {
  # Installing Postfix may start it; it was not running before this run then.
  postfix_installed && postfix_running && postfix_was_running=1
  postfix_install
  local config_dir
  config_dir=$(postconf -h config_directory)
  postfix_main_cf=$config_dir/main.cf
  postfix_master_cf=$config_dir/master.cf
  cp -p "$postfix_main_cf" "$workdir/main.cf.orig" || die "cannot back up $postfix_main_cf"
  cp -p "$postfix_master_cf" "$workdir/master.cf.orig" || die "cannot back up $postfix_master_cf"
  if postfix_running; then
    ((postfix_was_running)) &&
      note "stopping the running Postfix; it is restarted with its own main.cf at the end"
    postfix_stop
  fi
  postfix_configured=1
  listening 25 && die "something other than Postfix listens on 127.0.0.1:25"
}

# The peer settings of shared/notes/postfix-peer.md, plus virtual delivery of the domain
# bench.test into Maildirs under MAIL_DIR (as nobody). Mail for any other domain is
# discarded, so nothing can leave the machine.
postfix_configure_maildir() {
  local mail_dir=$1 uid gid
  uid=$(id -u nobody) gid=$(id -g nobody)
  { mkdir -p "$mail_dir" && chown "$uid:$gid" "$mail_dir"; } || die "cannot create $mail_dir"
  postconf -e 'inet_interfaces = loopback-only' 'inet_protocols = all' \
    'myhostname = postfix.bench.local' 'mydestination = localhost' \
    'mynetworks = 127.0.0.0/8 [::1]/128' 'relay_domains =' \
    'default_transport = discard:' 'relay_transport = discard:' \
    'smtpd_peername_lookup = no' "maillog_file = $workdir/postfix.log" \
    'virtual_mailbox_domains = bench.test' "virtual_mailbox_base = $mail_dir" \
    'virtual_mailbox_maps = static:bench/' "virtual_uid_maps = static:$uid" \
    "virtual_gid_maps = static:$gid" || die "postconf -e failed"
}

# Another file of Postfix's that the run changes (or creates), such as
# /etc/postfix/sasl/smtpd.conf: saved into WORKDIR now, put back (or removed, if it did
# not exist) by postfix_restore. Call it after postfix_take_over.
postfix_extra_files=()
postfix_save_file() {
  local file=$1 copy
  copy=$workdir/saved.$(( ${#postfix_extra_files[@]} + 1 ))
  if [[ -e $file ]]; then
    cp -p "$file" "$copy" || die "cannot back up $file"
  fi
  postfix_extra_files+=("$file")
}

postfix_restore() {
  ((postfix_configured)) || return 0
  postfix_configured=0
  # The files first: they must be restored even if stopping fails (die ends the script).
  cp -p "$workdir/main.cf.orig" "$postfix_main_cf" || note "could not restore $postfix_main_cf"
  cp -p "$workdir/master.cf.orig" "$postfix_master_cf" ||
    note "could not restore $postfix_master_cf"
  local i file
  for i in "${!postfix_extra_files[@]}"; do
    file=${postfix_extra_files[i]}
    if [[ -e $workdir/saved.$((i + 1)) ]]; then
      cp -p "$workdir/saved.$((i + 1))" "$file" || note "could not restore $file"
    else
      rm -f "$file" || note "could not remove $file, which the run created"
    fi
  done
  postfix_extra_files=()
  postfix_stop
  if ((postfix_was_running)); then
    note "restarting Postfix with its original main.cf"
    postfix_start
  fi
  ((postfix_installed_before)) ||
    note "Postfix was installed by this run and is left installed (stopped)"
}

# ---------------------------------------------------------------- postern

postern_dir=$workdir/postern
postern_port=""
postern_started=0
postern_master=""
created_users=()

postern_find_build() {
  local candidate
  if [[ -z $build ]]; then
    for candidate in . ./build; do
      [[ -x $candidate/ctl/postern ]] && { build=$candidate; break; }
    done
    [[ -n $build ]] ||
      die "no postern build here (./ctl/postern or ./build/ctl/postern); use --build DIR"
  fi
  build=$(cd "$build" && pwd) || die "no build directory $build"
  local f
  for f in ctl/postern master/master smtpd/smtpd qmgr/qmgr auth/authd; do
    [[ -x $build/$f ]] || die "$build/$f is missing or not executable"
  done
}

# The daemons drop privileges to these users; create the missing ones for this run.
postern_users() {
  local u
  for u in postern postern-queue postern-auth; do
    getent passwd "$u" >/dev/null && continue
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" ||
      die "useradd $u failed"
    created_users+=("$u")
  done
}

postern_live_master() {
  local pid
  { read -r pid <"$postern_dir/run/master.pid"; } 2>/dev/null && alive "$pid" && echo "$pid"
}

# `postern start` returns once listening; master.pid and the port are checked anyway.
postern_start() {
  postern_started=1
  postern_ctl start >"$postern_dir/start.log" 2>&1 ||
    die "postern start failed: $(cat "$postern_dir/start.log")"
  wait_for 10 postern_live_master >/dev/null ||
    die "postern started but $postern_dir/run/master.pid names no running process"
  postern_master=$(postern_live_master)
  wait_for 10 listening "$postern_port" || die "postern is not listening on 127.0.0.1:$postern_port"
}

postern_ctl() {
  POSTERN_DAEMON_DIR=$postern_dir/daemons "$build/ctl/postern" -c "$postern_dir/conf" "$@"
}

# Returns once master and every process under it are gone.
postern_teardown() {
  ((postern_started)) || return 0
  postern_started=0
  local -a tree=()
  [[ -z $postern_master ]] || mapfile -t tree < <(tree_pids "$postern_master")
  postern_master=""
  postern_ctl stop >"$postern_dir/stop.log" 2>&1 ||
    note "postern stop failed: $(cat "$postern_dir/stop.log")"
  ((${#tree[@]})) || return 0
  if ! wait_for 30 all_dead "${tree[@]}"; then
    note "postern processes still running 30 s after 'postern stop'; sending SIGKILL to ${tree[*]}"
    kill -KILL "${tree[@]}" 2>/dev/null
    wait_for 5 all_dead "${tree[@]}"
  fi
}

remove_created_users() {
  local u
  for u in "${created_users[@]}"; do
    userdel "$u" 2>/dev/null || note "could not remove user $u created for this run"
  done
  created_users=()
}
