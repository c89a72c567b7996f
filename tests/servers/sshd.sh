#!/bin/bash
# shellcheck shell=bash
# tests/servers/sshd.sh - a throwaway OpenSSH server on 127.0.0.1 for tests.
#
#   sshd.sh start DIR    generates keys and a config in DIR, starts sshd and
#                        prints shell assignments to eval:
#                          SSHD_PORT SSHD_PID SFTP_USER SFTP_KEY
#                          SFTP_KNOWN_HOSTS SFTP_URL_BASE (sftp://USER@127.0.0.1:PORT)
#   sshd.sh stop DIR     stops it (and every session it forked)
#   sshd.sh restart DIR  starts it again on the same port with the same keys
#                        (after kill or stop) and prints the assignments
#   sshd.sh pause DIR    SIGSTOP to sshd and its sessions (a server that hangs)
#   sshd.sh resume DIR   SIGCONT
#   sshd.sh kill DIR     SIGKILL to sshd and its sessions (a server that dies)
#   sshd.sh drop DIR     SIGKILL to the sessions only (a dropped connection:
#                        the server takes new ones)
#
# $SSHD_SFTP_FLAGS (start, restart): options of internal-sftp, e.g.
# "-P remove,rmdir,posix-rename" for a server that refuses deletes.
#
# Nothing outside DIR changes, except that /run/sshd (the privilege
# separation folder sshd insists on when it runs as root) is created if it
# is missing.  /etc/ssh and account passwords are never touched: the server
# reads only DIR/sshd_config and accepts only the key pair it generated, for
# the user who runs this script.  Progress goes to stderr; stdout carries
# only the assignments.  Exit 77 when sshd is missing and cannot be
# installed (no root, no network), so tests can skip.
#
# Any user can run it; sshd then runs as that user and logs in only that
# user.  With UsePAM no, sshd refuses an account whose password field is
# locked ('!...' in /etc/shadow, like nobody's): such a user cannot run the
# server.  Installing openssh-server also starts the system's sshd on port
# 22 where an init system runs (not in a container); this script never uses
# or changes it.

set -u
set -o pipefail

SSHD=/usr/sbin/sshd # sshd re-executes itself, so it needs an absolute path

say() { echo "sshd.sh: $*" >&2; }
die() {
    say "$*"
    exit 1
}

usage() { die "usage: $0 start|stop|restart|pause|resume|kill|drop DIR"; }

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd) || die "cannot enter $dir"

install_if_missing() {
    if [ -x "$SSHD" ] && command -v ssh-keygen >/dev/null && command -v ssh-keyscan >/dev/null; then
        return 0
    fi
    say "installing openssh-server and openssh-client"
    if [ "$(id -u)" != 0 ]; then
        say "SKIP: sshd is not installed and only root can install it (apt-get install openssh-server)"
        exit 77
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        openssh-server openssh-client >"$dir/apt.log" 2>&1; then
        # the package lists may be missing or stale in a fresh container
        apt-get update -q >>"$dir/apt.log" 2>&1
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            openssh-server openssh-client >>"$dir/apt.log" 2>&1; then
            say "SKIP: cannot install openssh-server (no network?); see $dir/apt.log"
            exit 77
        fi
    fi
    # the package starts a system sshd where an init system runs; ours does
    # not depend on it, and it is left as the package configured it
    [ -x "$SSHD" ] || {
        say "SKIP: $SSHD missing after installation"
        exit 77
    }
}

# Every process below pid (sshd forks one or two per connection, and each
# connection calls setsid, so a process group does not reach them).
descendants() {
    local stat line rest pid ppid
    local -a ppids=() queue=("$1")
    for stat in /proc/[0-9]*/stat; do
        { read -r line <"$stat"; } 2>/dev/null || continue
        pid=${line%% *}
        # the command name in field 2 may contain spaces: skip past its ')'
        rest=${line##*) }
        ppid=${rest#* }
        ppids[pid]=${ppid%% *}
    done
    while [ ${#queue[@]} -gt 0 ]; do
        for pid in "${!ppids[@]}"; do
            if [ "${ppids[$pid]}" = "${queue[0]}" ]; then
                echo "$pid"
                queue+=("$pid")
            fi
        done
        queue=("${queue[@]:1}")
    done
}

# True if pid runs (a zombie nobody reaped yet does not count).
alive() {
    local line
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    line=${line##*) }
    [ "${line%% *}" != Z ]
}

server_pid() {
    local pid
    pid=$(cat "$dir/sshd.launch.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && alive "$pid" || return 1
    echo "$pid"
}

# signal_all SIG: the listener and all its sessions.
signal_all() {
    local sig=$1 pid kids
    pid=$(server_pid) || die "no sshd running for $dir"
    # freeze the listener first so that it forks no session we would miss
    [ "$sig" = CONT ] || kill -STOP "$pid"
    kids=$(descendants "$pid")
    # shellcheck disable=SC2086 # a list of pids
    [ -z "$kids" ] || kill -"$sig" $kids 2>/dev/null
    kill -"$sig" "$pid"
    case $sig in
    STOP | CONT | KILL) ;;
    *) kill -CONT "$pid" ;; # a stopped process handles other signals only when it runs
    esac
}

# Kills the sessions but not the listener.
drop_sessions() {
    local pid kids
    pid=$(server_pid) || die "no sshd running for $dir"
    kill -STOP "$pid"
    kids=$(descendants "$pid")
    # shellcheck disable=SC2086 # a list of pids
    [ -z "$kids" ] || kill -KILL $kids 2>/dev/null
    kill -CONT "$pid"
}

port_in_use() {
    # a connect that succeeds means someone listens there
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_config() {
    local port=$1
    cat >"$dir/sshd_config" <<EOF
# written by tests/servers/sshd.sh; used only with sshd -f
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers $user
Subsystem sftp internal-sftp ${SSHD_SFTP_FLAGS:-}
LogLevel VERBOSE
MaxStartups 100
MaxSessions 100
UseDNS no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
EOF
}

# Waits until the server on port answers with our host key; 0 when ready.
wait_ready() {
    local port=$1 pid=$2 want got
    want=$(cut -d' ' -f2 "$dir/host_ed25519.pub")
    for _ in $(seq 1 100); do
        alive "$pid" || return 1
        got=$(ssh-keyscan -T 2 -t ed25519 -p "$port" 127.0.0.1 2>/dev/null | awk '{print $3}')
        [ "$got" = "$want" ] && return 0
        [ -n "$got" ] && {
            say "port $port answers with another host key"
            return 1
        }
        sleep 0.1
    done
    return 1
}

# Starts sshd with DIR/sshd_config (listening on port) and waits until it
# answers; 0 when it does, else the attempt is cleaned up.
launch() {
    local port=$1 pid
    "$SSHD" -t -f "$dir/sshd_config" 2>"$dir/sshd.check" ||
        die "sshd rejects $dir/sshd_config: $(cat "$dir/sshd.check")"
    # -E appends, so the log of a restarted server keeps the earlier runs
    # no stdout: a caller's $(...) must not wait for the daemon to exit
    "$SSHD" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$dir/sshd.launch.pid"
    if wait_ready "$port" "$pid"; then
        say "sshd pid $pid listening on 127.0.0.1:$port (log $dir/sshd.log)"
        return 0
    fi
    kill "$pid" 2>/dev/null
    rm -f "$dir/sshd.launch.pid"
    return 1
}

print_env() {
    local port=$1
    {
        printf 'SSHD_PORT=%q\n' "$port"
        printf 'SSHD_PID=%q\n' "$(server_pid)"
        printf 'SFTP_USER=%q\n' "$user"
        printf 'SFTP_KEY=%q\n' "$dir/id_ed25519"
        printf 'SFTP_KNOWN_HOSTS=%q\n' "$dir/known_hosts"
        printf 'SFTP_URL_BASE=%q\n' "sftp://$user@127.0.0.1:$port"
    } >"$dir/env"
    printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" \
        >"$dir/known_hosts"
    cat "$dir/env"
}

start() {
    local port attempt
    install_if_missing
    if server_pid >/dev/null; then
        die "an sshd for $dir is already running (pid $(server_pid))"
    fi
    user=$(id -un) || die "cannot tell the current user's name"
    umask 077
    rm -f "$dir/host_ed25519" "$dir/host_ed25519.pub" "$dir/id_ed25519" "$dir/id_ed25519.pub"
    ssh-keygen -q -t ed25519 -N '' -C cairn-test-host -f "$dir/host_ed25519" </dev/null ||
        die "ssh-keygen failed (host key)"
    ssh-keygen -q -t ed25519 -N '' -C cairn-test-user -f "$dir/id_ed25519" </dev/null ||
        die "ssh-keygen failed (user key)"
    cp "$dir/id_ed25519.pub" "$dir/authorized_keys" || die "cannot write authorized_keys"
    if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
        mkdir -m 0755 /run/sshd || die "cannot create /run/sshd"
    fi
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$((20000 + RANDOM % 40000))
        port_in_use "$port" && continue
        write_config "$port"
        if launch "$port"; then
            print_env "$port"
            return 0
        fi
        say "attempt $attempt on port $port failed: $(tail -n 3 "$dir/sshd.log" | tr '\n' ' ')"
    done
    die "sshd did not start; see $dir/sshd.log"
}

# The same server again (same port, keys and files) after stop or kill.
restart() {
    local port
    [ -f "$dir/sshd_config" ] || die "no server was started in $dir"
    server_pid >/dev/null && stop
    port=$(awk '$1 == "Port" {print $2}' "$dir/sshd_config")
    launch "$port" || die "sshd did not restart on port $port; see $dir/sshd.log"
    # the pid changed
    sed -i "s/^SSHD_PID=.*/SSHD_PID=$(server_pid)/" "$dir/env"
    cat "$dir/env"
}

stop() {
    local pid
    pid=$(server_pid) || {
        rm -f "$dir/sshd.launch.pid"
        return 0
    }
    # stopped processes must run again to handle SIGTERM
    signal_all CONT 2>/dev/null
    signal_all TERM
    for _ in $(seq 1 50); do
        alive "$pid" || break
        sleep 0.1
    done
    alive "$pid" && signal_all KILL
    rm -f "$dir/sshd.launch.pid"
    say "sshd pid $pid stopped"
}

case $cmd in
start) start ;;
stop) stop ;;
restart) restart ;;
pause) signal_all STOP ;;
resume) signal_all CONT ;;
kill) signal_all KILL ;;
drop) drop_sessions ;;
*) usage ;;
esac
