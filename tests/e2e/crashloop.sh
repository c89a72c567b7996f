#!/usr/bin/env bash
# Crash consistency driver: backup, forget+prune, key passwd and copy to a
# folder target, each killed with SIGKILL at a random moment, KILLS times
# (10 in CI; the full run in docs/RELIABILITY.md uses KILLS=200).  After
# every kill: the store checks clean with --read-data, every snapshot that
# completed before restores byte-identical (a sample of one per round, all
# at the end), the copy target (after a copy) opens and checks clean with
# --read-data with whatever it holds, and the next operation succeeds.
#   crashloop.sh CAIRN CAIRN_GEN      (env: KILLS=N, SIZE_MB=M, KILL_MS=latest kill
#                                      in ms after the start, default 600)
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 cairn cairn-gen}
KILLS=${KILLS:-10}
SIZE_MB=${SIZE_MB:-16}
KILL_MS=${KILL_MS:-600}

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
ids() {
    "$CAIRN" --store "$STORE" snapshots --json >"$T/ids.json" 2>"$T/ids.err" ||
        fail "snapshots --json: $(cat "$T/ids.err")"
    "$PY" -c 'import json,sys; print("\n".join(x["id"] for x in json.load(open(sys.argv[1]))))' \
        "$T/ids.json"
}

init_store
"$GEN" folder "$T/src" --seed 3 --size-mb "$SIZE_MB" >/dev/null || fail "cairn-gen folder"
mkdir -p "$T/sums"
run 0 backup "$T/src"
sums "$T/src" > "$T/sums/$(ids | tail -n1)"
run 0 target add usb "$T/usb"
mkdir "$T/usb"
PASSWORDS=("$CAIRN_PASSWORD")

# The copy target must open and check clean after any kill: with the
# password of its last whole key upload, which may be an older one.
check_target() {
    local pw
    [ -f "$T/usb/config" ] || return 0 # killed before the first config arrived
    for pw in "${PASSWORDS[@]}"; do
        CAIRN_PASSWORD=$pw run_rc check --target usb --read-data
        [ "$RC" = 4 ] && continue
        [ "$RC" = 0 ] || fail "the copy target does not check clean after a killed copy (exit $RC): $(head -5 "$T/err")"
        return 0
    done
    fail "no password the store ever had opens the copy target"
}

# Records the source state for snapshots that appeared since the last call.
adopt_new() {
    local id
    ids > "$T/ids"
    for id in $(cat "$T/ids"); do
        [ -f "$T/sums/$id" ] || cp "$T/state.sums" "$T/sums/$id"
    done
    # forgotten snapshots are no longer expected
    for f in "$T/sums"/*; do
        grep -qx "$(basename "$f")" "$T/ids" || rm -f "$f"
    done
}

verify() {
    rm -rf "$T/r"
    run 0 restore "$1" --to "$T/r"
    sums "$T/r" > "$T/r.sums"
    if ! cmp -s "$T/r.sums" "$T/sums/$1"; then
        diff "$T/sums/$1" "$T/r.sums" | head -20 >&2
        fail "snapshot ${1:0:8} does not restore as backed up"
    fi
    rm -rf "$T/r"
}

kills=0 completed=0 round=0
declare -A by_op
while [ "$kills" -lt "$KILLS" ]; do
    round=$((round + 1))
    op=$(shuf -n1 -e backup backup prune passwd copy)
    case $op in
    backup)
        "$GEN" edit "$T/src" --seed "$round" >/dev/null || fail "cairn-gen edit"
        echo "round $round" > "$T/src/round.txt"
        sums "$T/src" > "$T/state.sums"
        cmd=(backup --threads 2 "$T/src")
        ;;
    prune)
        run 0 forget --keep-last 3
        adopt_new
        cmd=(prune --max-unused 0)
        ;;
    passwd)
        newpw="pw-round-$round-$RANDOM$RANDOM"
        SECRETS+=("$newpw")
        cmd=(--kdf interactive key passwd)
        ;;
    copy)
        cmd=(copy --target usb --allow-deletes)
        ;;
    esac
    CAIRN_NEW_PASSWORD=${newpw:-x} "$CAIRN" --store "$STORE" "${cmd[@]}" >"$T/op.out" 2>&1 &
    pid=$!
    sleep "$(awk -v r=$RANDOM -v m="$KILL_MS" 'BEGIN { printf "%.3f", 0.02 + (r % m) / 1000 }')"
    if kill -9 "$pid" 2>/dev/null; then
        kills=$((kills + 1))
        by_op[$op]=$(( ${by_op[$op]:-0} + 1 ))
    else
        completed=$((completed + 1))
    fi
    wait "$pid" 2>/dev/null
    no_password_in "$T/op.out"
    if [ "$op" = passwd ]; then
        # either the old or the new password opens the store now
        if ! "$CAIRN" --store "$STORE" snapshots >/dev/null 2>&1; then
            CAIRN_PASSWORD=$newpw
            export CAIRN_PASSWORD
        fi
        PASSWORDS=("$newpw" "${PASSWORDS[@]}")
        # a kill between adding the new key and removing the old leaves both: fine
    fi
    [ "$op" = backup ] && adopt_new
    [ "$op" = copy ] && check_target
    info "round $round: $op"
    run 0 check --read-data
    verify "$(ids | shuf | head -n1)"
done
info "all snapshots restore as backed up"
for id in $(ids); do
    verify "$id"
done
sums "$T/src" > "$T/state.sums"
run 0 backup "$T/src"
adopt_new
run 0 prune --max-unused 0
run 0 check --read-data
info "a last copy completes; the target restores every snapshot as backed up"
run 0 copy --target usb --allow-deletes
check_target
for id in $(ids); do
    rm -rf "$T/r"
    run 0 restore --from-target usb "$id" --to "$T/r"
    sums "$T/r" > "$T/r.sums"
    cmp -s "$T/r.sums" "$T/sums/$id" || fail "snapshot ${id:0:8} does not restore from the target as backed up"
done
info "ok: $kills kills (backup ${by_op[backup]:-0}, prune ${by_op[prune]:-0}, key passwd ${by_op[passwd]:-0}, copy ${by_op[copy]:-0}), $completed operations finished before their kill, $round rounds"
