#!/usr/bin/env bash
# alarm_sinks.sh - every alarm sink of engine/service/alarm_sink.h, through
# 'cairn alarm test', against a real local receiver started here
# (tests/servers/alarm_receivers.py): a private session bus with an
# org.freedesktop.Notifications listener, an SMTP server (aiosmtpd), an HTTP
# listener, and a command writing its environment to a file.  Each asserts
# what the receiver got; then the error paths: a receiver down, a refusing
# one (HTTP 500, no STARTTLS for a login), no bus, no listener, a failing or
# hanging command, bad specs.  Skips (77) when dbus-daemon or the Python
# modules are missing and cannot be installed.
. "$(dirname "$0")/lib.sh" "$@"
RECV=$(cd "$(dirname "$0")/../servers" && pwd)/alarm_receivers.py

need_modules() { $PY -c 'import dbus, gi, aiosmtpd' 2>/dev/null && command -v dbus-daemon >/dev/null; }
if ! need_modules; then
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs dbus-daemon, python3-dbus, python3-gi, python3-aiosmtpd (root installs them)"
        exit 77
    fi
    info "installing dbus python3-dbus python3-gi python3-aiosmtpd"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=120 dbus python3-dbus python3-gi python3-aiosmtpd >"$T/apt.log" 2>&1 ||
        { echo "SKIP: cannot install the receivers' packages (see apt-get)"; exit 77; }
    need_modules || { echo "SKIP: the receivers' modules do not load"; exit 77; }
fi

# wait_file F: until F exists (the receiver is listening), at most ~20 s
wait_file() {
    local _
    for _ in $(seq 200); do
        [ -e "$1" ] && return 0
        sleep 0.1
    done
    fail "the receiver never wrote $1"
}

# start NAME KIND: a receiver writing into $T/NAME, killed on exit; its pid
# in $LAST_PID
start() {
    mkdir -p "$T/$1"
    $PY "$RECV" "$2" "$T/$1" 2>"$T/$1.log" &
    LAST_PID=$!
    bg_track $LAST_PID
}

# stop PID: a receiver, now
stop() {
    kill "$1"
    wait "$1" 2>/dev/null
}

# A device name that needs escaping everywhere: quotes, backslash, tab, UTF-8
DEV=$(printf 'Ann'"'"'s "iPhone" \\ 15\tPro \xc3\xa9')
export DEV

# ---- webhook ----
info "webhook: a JSON POST with every field"
start http http
PID_http=$LAST_PID
wait_file "$T/http/port"
HPORT=$(cat "$T/http/port")
run 0 alarm test "webhook:http://127.0.0.1:$HPORT/hook?token=TOKEN-s3cr3t" --kind disk-full --device "$DEV"
grep -q "test alarm sent through webhook" "$T/out" || fail "no confirmation"
$PY - "$T/http/post-0.json" <<'PY' || fail "webhook body"
import json, os, sys, time
rec = json.load(open(sys.argv[1]))
assert rec["path"] == "/hook?token=TOKEN-s3cr3t", rec["path"]
assert rec["headers"]["Content-Type"] == "application/json", rec["headers"]
b = json.loads(rec["body"])
assert b["kind"] == "disk-full", b
assert b["device"] == os.environ["DEV"], (b["device"], os.environ["DEV"])
assert b["title"] == "test alarm (disk-full)", b
assert "cairn alarm test" in b["body"], b
assert abs(b["time"] - time.time()) < 3600, b
PY
info "webhook: text that is not UTF-8 still gives valid JSON"
run 0 alarm test "webhook:http://127.0.0.1:$HPORT/hook" --device "$(printf 'caf\xe9 \xc3\xa9')"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); b=json.loads(r["body"]); assert b["device"]=="caf? ??", b' \
    "$T/http/post-1.json" || fail "non-UTF-8 device"
info "webhook: HTTP 500 is an error naming the sink, not the token"
run 14 alarm test "webhook:http://127.0.0.1:$HPORT/fail?token=TOKEN-s3cr3t"
grep -q "alarm sink webhook http://127.0.0.1:$HPORT: the receiver answered HTTP 500" "$T/err" || fail "500 message"
[ -e "$T/http/post-2.json" ] || fail "the failing POST never arrived"
info "webhook: a receiver that does not answer in time"
run 14 alarm test "webhook:http://127.0.0.1:$HPORT/slow" --timeout 1
grep -q "alarm sink webhook http://127.0.0.1:$HPORT: .*imed out" "$T/err" || fail "timeout message"
stop "$PID_http"
info "webhook: receiver down"
run 14 alarm test "webhook:http://127.0.0.1:$HPORT/hook?token=TOKEN-s3cr3t"
grep -q "alarm sink webhook http://127.0.0.1:$HPORT: .*onnect" "$T/err" || fail "down message"
grep -q "TOKEN-s3cr3t" "$T/out" "$T/err" && fail "the URL's token shows in an error"

# ---- SMTP ----
info "smtp: a mail with From, To, Subject, Date, Message-ID and the body"
start smtp smtp
PID_smtp=$LAST_PID
wait_file "$T/smtp/port"
SPORT=$(cat "$T/smtp/port")
run 0 alarm test "smtp://127.0.0.1:$SPORT?from=cairn%40host.test&to=ann%40example.test&to=bob@example.test" \
    --kind job-failed --device "$DEV"
wait_file "$T/smtp/mail-0.eml"
$PY - "$T/smtp/mail-0" <<'PY' || fail "smtp message"
import email, email.header, email.utils, json, os, sys
env = json.load(open(sys.argv[1] + ".json"))
assert env["mail_from"] == "cairn@host.test", env
assert env["rcpt_tos"] == ["ann@example.test", "bob@example.test"], env
m = email.message_from_bytes(open(sys.argv[1] + ".eml", "rb").read())
assert m["From"] == "<cairn@host.test>", m["From"]
assert m["To"] == "<ann@example.test>, <bob@example.test>", m["To"]
subj = str(email.header.make_header(email.header.decode_header(m["Subject"])))
dev = os.environ["DEV"].replace("\t", "\t")
assert subj == "cairn: %s: test alarm (job-failed)" % dev, (subj, dev)
assert email.utils.parsedate_to_datetime(m["Date"]) is not None, m["Date"]
assert m["Message-ID"].startswith("<") and m["Message-ID"].endswith("@host.test>"), m["Message-ID"]
assert m.get_content_charset() == "utf-8", m["Content-Type"]
body = m.get_payload(decode=True).decode()
assert "cairn alarm test" in body and "Alarm: job-failed" in body, body
assert "Device: " + dev in body, body
PY
info "smtp: a login is never sent without TLS (the server offers no STARTTLS)"
printf 'mail-PW-9x7\n' >"$T/smtp-pw"
SECRETS+=("mail-PW-9x7")
run 14 alarm test "smtp://127.0.0.1:$SPORT?from=a@host.test&to=b@host.test&user=ann&password-file=$T/smtp-pw"
grep -q "alarm sink smtp://127.0.0.1:$SPORT: " "$T/err" || fail "no-TLS message"
[ -e "$T/smtp/mail-1.eml" ] && fail "a mail went out over a login without TLS"
run 2 alarm test "smtp://127.0.0.1:$SPORT?from=a@host.test&to=b@host.test&user=ann&password-file=$T/missing"
grep -q "alarm sink smtp://127.0.0.1:$SPORT: $T/missing: cannot read the password file: No such file" "$T/err" ||
    fail "password file message"
stop "$PID_smtp"
info "smtp: STARTTLS and a login (a private CA through ca-file=)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$T/smtp.key" -out "$T/smtp.crt" 2>"$T/openssl.log" || fail "openssl: $(cat "$T/openssl.log")"
ALARM_SMTP_CERT=$T/smtp.crt ALARM_SMTP_KEY=$T/smtp.key ALARM_SMTP_USER=ann \
    ALARM_SMTP_PASSWORD=mail-PW-9x7 start smtptls smtp
PID_smtptls=$LAST_PID
wait_file "$T/smtptls/port"
TPORT=$(cat "$T/smtptls/port")
run 0 alarm test "smtp://127.0.0.1:$TPORT?from=a@host.test&to=b@host.test&user=ann&password-file=$T/smtp-pw&ca-file=$T/smtp.crt"
wait_file "$T/smtptls/mail-0.eml"
grep -q '"login": "ann", "ok": true' "$T/smtptls/auth-0.json" || fail "login: $(cat "$T/smtptls/auth-0.json")"
grep -q "^Subject: cairn: test alarm (overdue)" "$T/smtptls/mail-0.eml" || fail "the mail over TLS"
printf 'wrong-PW-1\n' >"$T/smtp-pw2"
SECRETS+=("wrong-PW-1")
run 14 alarm test "smtp://127.0.0.1:$TPORT?from=a@host.test&to=b@host.test&user=ann&password-file=$T/smtp-pw2&ca-file=$T/smtp.crt"
grep -q "alarm sink smtp://127.0.0.1:$TPORT: Login denied" "$T/err" || fail "wrong password message"
run 14 alarm test "smtp://127.0.0.1:$TPORT?from=a@host.test&to=b@host.test&user=ann&password-file=$T/smtp-pw"
grep -q "alarm sink smtp://127.0.0.1:$TPORT: .*certificate" "$T/err" || fail "an unknown CA is not refused"
[ -e "$T/smtptls/mail-1.eml" ] && fail "a mail went out with a wrong password or an unknown CA"
stop "$PID_smtptls"
info "smtps: TLS from the first byte, with a login"
ALARM_SMTP_IMPLICIT=1 ALARM_SMTP_CERT=$T/smtp.crt ALARM_SMTP_KEY=$T/smtp.key ALARM_SMTP_USER=ann \
    ALARM_SMTP_PASSWORD=mail-PW-9x7 start smtps smtp
PID_smtps=$LAST_PID
wait_file "$T/smtps/port"
run 0 alarm test "smtps://127.0.0.1:$(cat "$T/smtps/port")?from=a@host.test&to=b@host.test&user=ann&password-file=$T/smtp-pw&ca-file=$T/smtp.crt"
wait_file "$T/smtps/mail-0.eml"
grep -q '"login": "ann", "ok": true' "$T/smtps/auth-0.json" || fail "smtps login"
stop "$PID_smtps"
info "smtp: receiver down"
run 14 alarm test "smtp://127.0.0.1:$SPORT?from=a@host.test&to=b@host.test"
grep -q "alarm sink smtp://127.0.0.1:$SPORT: .*onnect" "$T/err" || fail "smtp down message"

# ---- D-Bus ----
info "dbus: Notify on a private session bus"
mkdir -p "$T/bus" "$T/run"
dbus-daemon --session --address="unix:path=$T/run/bus" --fork --print-pid=4 4>"$T/bus/pid" ||
    fail "dbus-daemon did not start"
bg_track "$(cat "$T/bus/pid")"
export DBUS_SESSION_BUS_ADDRESS="unix:path=$T/run/bus"
start notify notify
PID_notify=$LAST_PID
wait_file "$T/notify/ready"
run 0 alarm test dbus --kind check-failed --device "$DEV"
wait_file "$T/notify/notify-0.json"
$PY - "$T/notify/notify-0.json" <<'PY' || fail "notification"
import json, os, sys
n = json.load(open(sys.argv[1]))
assert n["app"] == "cairn", n
assert n["summary"] == "cairn: %s: test alarm (check-failed)" % os.environ["DEV"], n["summary"]
assert "cairn alarm test" in n["body"], n
assert n["hints"]["urgency"] == 2, n
PY
info "dbus: without \$DBUS_SESSION_BUS_ADDRESS, the user bus \$XDG_RUNTIME_DIR/bus"
DBUS_SESSION_BUS_ADDRESS="" XDG_RUNTIME_DIR=$T/run run 0 alarm test dbus
wait_file "$T/notify/notify-1.json"
$PY -c 'import json,sys; n=json.load(open(sys.argv[1])); assert n["summary"]=="cairn: test alarm (overdue)" and n["hints"]["urgency"]==1, n' \
    "$T/notify/notify-1.json" || fail "second notification"
info "dbus: a bus without a notification daemon"
stop "$PID_notify"
run 14 alarm test dbus
grep -q "alarm sink dbus: no notification shown: .*no notification daemon runs in this session" "$T/err" ||
    fail "no-listener message"
kill "$(cat "$T/bus/pid")"
info "dbus: the bus is gone, and no bus at all"
run 14 alarm test dbus
grep -q "alarm sink dbus: cannot connect to the session bus" "$T/err" || fail "bus-gone message"
mkdir -p "$T/nobus"
DBUS_SESSION_BUS_ADDRESS="" XDG_RUNTIME_DIR=$T/nobus run 14 alarm test dbus
grep -q "alarm sink dbus: no session bus" "$T/err" || fail "no-bus message"

# ---- command ----
info "command: arguments without a shell, the alarm in the environment"
cat >"$T/cmd.sh" <<SCRIPT
#!/bin/sh
printf '%s\n' "\$@" >"$T/cmd.args"
env >"$T/cmd.env"
exit \${CMD_EXIT:-0}
SCRIPT
chmod +x "$T/cmd.sh"
run 0 alarm test "command:$T/cmd.sh one  'two' \$HOME" --kind pairing-lost --device "$DEV"
# shellcheck disable=SC2016 # a literal $HOME: no shell expands it for the program
printf '%s\n' one "'two'" '$HOME' | cmp -s - "$T/cmd.args" || fail "command arguments: $(cat "$T/cmd.args")"
grep -qx "CAIRN_ALARM_KIND=pairing-lost" "$T/cmd.env" || fail "CAIRN_ALARM_KIND"
grep -qxF "CAIRN_ALARM_DEVICE=$DEV" "$T/cmd.env" || fail "CAIRN_ALARM_DEVICE"
grep -qx "CAIRN_ALARM_TITLE=test alarm (pairing-lost)" "$T/cmd.env" || fail "CAIRN_ALARM_TITLE"
grep -q "^CAIRN_ALARM_BODY=.*cairn alarm test" "$T/cmd.env" || fail "CAIRN_ALARM_BODY"
grep -qE "^CAIRN_ALARM_TIME=[0-9]{10}$" "$T/cmd.env" || fail "CAIRN_ALARM_TIME"
grep -q "^CAIRN_PASSWORD=" "$T/cmd.env" && fail "the store password reached the command"
info "command: a non-zero exit, a hang, a missing program"
CMD_EXIT=3 run 14 alarm test "command:$T/cmd.sh"
grep -qF "alarm sink command $T/cmd.sh: exited with status 3" "$T/err" || fail "exit message"
run 14 alarm test "command:/bin/sleep 300" --timeout 1
grep -q "alarm sink command /bin/sleep: still running after 1 s: killed" "$T/err" || fail "timeout message"
run 14 alarm test "command:$T/no-such-program"
grep -qF "alarm sink command $T/no-such-program: cannot run it: No such file or directory" "$T/err" ||
    fail "missing program message"

# ---- bad specs: one line, exit 2, nothing contacted ----
info "bad specs"
bad() { # expected-message spec [args]
    local want=$1
    shift
    run 2 alarm test "$@"
    grep -qF -- "$want" "$T/err" || fail "spec $1: expected '$want'"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "spec $1: more than one line"
}
bad "not one of dbus, smtp://" "mail:ann@example.test"
bad "from= and to= are both needed" "smtp://127.0.0.1:25?to=b@host.test"
bad "unknown parameter 'cc'" "smtp://127.0.0.1:25?from=a@h&to=b@h&cc=c@h"
bad "to= is not an e-mail address" "smtp://127.0.0.1:25?from=a@h&to=b%0d%0aBcc:x@h"
bad "user= and password-file= go together" "smtp://127.0.0.1:25?from=a@h&to=b@h&user=ann"
bad "a password does not belong in the URL" "smtp://ann:mail-PW-9x7@127.0.0.1:25?from=a@h&to=b@h"
bad "scheme ftp:// is not one of http:// or https://" "webhook:ftp://127.0.0.1/x"
bad "alarm sink webhook: not a URL" "webhook:"
bad "is not an absolute path" "command:notify-send hello"
bad "no program" "command:   "
bad "unknown alarm kind 'late'" dbus --kind late
echo "PASS"
