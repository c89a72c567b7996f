#!/bin/bash
# device_trust.sh - a device that will not start a lockdown session (the
# device stand-in's --session-error): locked with its passcode, waiting
# for 'Trust', or refusing it.  'devices' lists it with the one-line
# reason; 'backup --device' is exit 10 with that line and stores nothing.
#
# usage: device_trust.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
U=00008120-000C0FFEE0000001
"$GEN" device "$T/dev" --size-mb 1 --udid "$U" >/dev/null || fail "cairn-gen device"
init_store

for case in "PasswordProtected|device $U is locked with its passcode: unlock it (and tap 'Trust' if it asks), then try again" \
    "PairingDialogResponsePending|device $U is waiting for you to tap 'Trust' on it; then try again" \
    "UserDeniedPairing|device $U refused to trust this computer"; do
    error=${case%%|*} line=${case#*|}
    info "$error"
    rm -f "$T/mux.sock"
    standin_start --serve "$T/dev" --state "$T/pairing" --session-error "$error"
    run 0 devices
    grep -qF -- "$line" "$T/out" || fail "devices does not say why: $(cat "$T/out")"
    run 10 backup --device "$U"
    [ "$(tail -1 "$T/err")" = "cairn: $line" ] || fail "backup --device: $(cat "$T/err")"
    [ "$(snap_count)" = 0 ] || fail "a refused device backup stored a snapshot"
    kill "$STANDIN_PID" && wait "$STANDIN_PID" 2>/dev/null
done
info "ok"
