#!/bin/bash
# service_unit.sh - cairn service install | remove where the unit goes by
# default, and what systemctl is asked to do (a stand-in systemctl on PATH
# records its arguments; no real systemd is touched):
#   - a user unit goes to $XDG_CONFIG_HOME/systemd/user, else
#     $HOME/.config/systemd/user; with neither (and no --unit-dir) exit 2;
#   - install runs "systemctl --user daemon-reload" then "enable
#     cairn.service" and says it starts at login; when systemctl fails or
#     is missing the unit is still written and the enable command printed;
#   - remove runs "disable --now" and "daemon-reload", removes the unit;
#     a unit that cannot be removed (a folder in its place) is exit 1 and
#     stays;
#   - a folder that cannot hold the unit is exit 1; no mode, two modes,
#     --user with --system, no store, a --password-file or --policy that is not there:
#     exit 2 (5 for the store), nothing written;
#   - --system (in a private mount namespace, over a tmpfs on
#     /etc/systemd/system, when one can be made): no --user, at boot.
#
# usage: service_unit.sh CAIRN
. "$(dirname "$0")/lib.sh" "$@"

init_store
mkdir -p "$T/bin" "$T/nobin"
# the stand-in: one line per call, exit $FAKE_SYSTEMCTL_RC (default 0)
cat >"$T/bin/systemctl" <<EOF
#!/bin/sh
echo "\$*" >>"$T/systemctl.log"
exit \${FAKE_SYSTEMCTL_RC:-0}
EOF
chmod +x "$T/bin/systemctl"
SELF=$(realpath "$CAIRN")

# svc RC ARGS...: cairn service ARGS with the stand-in first on PATH, no
# XDG_CONFIG_HOME (a test sets it on the call) and HOME=$T/home
svc() {
    local want=$1
    shift
    rm -f "$T/systemctl.log"
    PATH=$T/bin:$PATH HOME=${SVC_HOME-$T/home} run "$want" service "$@"
}
unset XDG_CONFIG_HOME

# err_is LINE: stderr is exactly that one line
err_is() { printf '%s\n' "$1" | diff -u - "$T/err" || fail "stderr is not '$1'"; }

info "a user unit under \$XDG_CONFIG_HOME: reloaded, enabled, starts at login"
XDG_CONFIG_HOME=$T/xdg svc 0 install
unit=$T/xdg/systemd/user/cairn.service
[ -f "$unit" ] || fail "no unit in \$XDG_CONFIG_HOME/systemd/user"
grep -qx "ExecStart=$SELF --store $STORE daemon" "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx "WantedBy=default.target" "$unit" || fail "a user unit not wanted by default.target"
printf '%s\n' "--user daemon-reload" "--user enable cairn.service" | diff -u - "$T/systemctl.log" ||
    fail "systemctl calls of install"
diff -u - "$T/out" <<OUT || fail "install's output"
wrote $T/xdg/systemd/user/cairn.service
enabled it: it starts at login
start it:     systemctl --user start cairn
stop it:      systemctl --user stop cairn
its log:      journalctl --user -u cairn -f
its policy:   cairn policy show
the store password: name store-password-file in [default] of the policy (a file, or credential:NAME with LoadCredential=NAME:FILE in the unit)
OUT
XDG_CONFIG_HOME=$T/xdg svc 0 remove
[ ! -e "$unit" ] || fail "remove left the unit"
printf '%s\n' "--user disable --now cairn.service" "--user daemon-reload" |
    diff -u - "$T/systemctl.log" || fail "systemctl calls of remove"
[ "$(cat "$T/out")" = "removed $unit" ] || fail "remove's output: $(cat "$T/out")"
XDG_CONFIG_HOME=$T/xdg svc 12 remove
err_is "cairn: $unit: no such unit (nothing to remove)"
[ ! -e "$T/systemctl.log" ] || fail "remove of no unit ran systemctl: $(cat "$T/systemctl.log")"

info "under \$HOME without \$XDG_CONFIG_HOME; systemctl failing, then missing"
XDG_CONFIG_HOME='' FAKE_SYSTEMCTL_RC=1 svc 0 install
unit=$T/home/.config/systemd/user/cairn.service
[ -f "$unit" ] || fail "no unit in \$HOME/.config/systemd/user"
[ "$(cat "$T/systemctl.log")" = "--user daemon-reload" ] ||
    fail "a failed daemon-reload was followed by: $(cat "$T/systemctl.log")"
grep -qx "not enabled (systemctl is missing or failed): enable it with: systemctl --user enable cairn.service" \
    "$T/out" || fail "a failed systemctl: $(cat "$T/out")"
rm "$unit"
RUN_AS=(env PATH="$T/nobin" HOME="$T/home")
run 0 service install
RUN_AS=()
[ -f "$unit" ] || fail "no unit written without systemctl"
grep -qx "not enabled (systemctl is missing or failed): enable it with: systemctl --user enable cairn.service" \
    "$T/out" || fail "no systemctl: $(cat "$T/out")"

info "a unit that cannot be removed stays, exit 1"
rm "$unit"
mkdir "$unit"
: >"$unit/keep"
svc 1 remove
err_is "cairn: $unit: Is a directory"
[ -f "$unit/keep" ] || fail "a refused remove removed what was there"

info "refusals: exit 2 (5 without a store), nothing written"
mkdir "$T/units"
for args in "" "install remove" "frob" "install --user --system"; do
    # shellcheck disable=SC2086 # the words are the arguments
    svc 2 $args --unit-dir "$T/units"
    grep -q "^cairn: usage: cairn service " "$T/err" || fail "service $args: $(cat "$T/err")"
done
SVC_HOME='' svc 2 install
err_is "cairn: no folder for a user unit (set HOME or use --unit-dir)"
STORE=$T/nostore svc 5 install --unit-dir "$T/units"
err_is "cairn: $T/nostore: no store here (run 'cairn init' first)"
svc 2 --password-file "$T/nosuch.pw" install --unit-dir "$T/units"
err_is "cairn: $T/nosuch.pw: cannot read the password file: No such file or directory"
# a policy named but not there: a typo to fix (exit 2), not 'not found' (12) nor
# the defaults the daemon would use without one
svc 2 install --policy "$T/nosuch.policy" --unit-dir "$T/units"
err_is "cairn: $T/nosuch.policy: cannot read the policy file: No such file or directory"
[ -z "$(ls -A "$T/units")" ] || fail "a refused install wrote $(ls -A "$T/units")"
: >"$T/afile"
svc 1 install --unit-dir "$T/afile/units"
err_is "cairn: $T/afile/units: Not a directory"
[ ! -e "$T/systemctl.log" ] || fail "systemctl ran: $(cat "$T/systemctl.log")"

info "--system: /etc/systemd/system, no --user, starts at boot"
real_before=$(ls -l --time-style=full-iso /etc/systemd/system/cairn.service 2>&1)
rm -f "$T/systemctl.log"
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
    # a tmpfs over the system's unit folder, seen by this namespace only
    PATH=$T/bin:$PATH unshare -m --propagation private sh -c '
        mount -t tmpfs tmpfs /etc/systemd/system || exit 77
        "$1" --store "$2" service install --system >"$3/out" 2>"$3/err" || exit
        cp /etc/systemd/system/cairn.service "$3/system.unit"' sh "$CAIRN" "$STORE" "$T"
    rc=$?
    if [ $rc = 77 ]; then
        info "skipped: no tmpfs over /etc/systemd/system here"
    else
        [ $rc = 0 ] || fail "service install --system exited $rc"
        grep -qx "WantedBy=multi-user.target" "$T/system.unit" || fail "a system unit's target"
        printf '%s\n' "daemon-reload" "enable cairn.service" | diff -u - "$T/systemctl.log" ||
            fail "systemctl calls of --system"
        grep -qx "enabled it: it starts at boot" "$T/out" || fail "--system: $(cat "$T/out")"
        grep -qx "start it:     systemctl start cairn" "$T/out" || fail "--system: $(cat "$T/out")"
    fi
else
    info "skipped: no private mount namespace"
fi
[ "$(ls -l --time-style=full-iso /etc/systemd/system/cairn.service 2>&1)" = "$real_before" ] ||
    fail "the test changed the real /etc/systemd/system/cairn.service"
info "ok"
