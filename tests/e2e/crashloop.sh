#!/usr/bin/env bash
# Crash consistency driver: backup, forget+prune and key passwd, each killed
# with SIGKILL at a random moment, KILLS times (10 in CI; the full run in
# docs/RELIABILITY.md uses KILLS=200).  After every kill: the store checks
# clean with --read-data, every snapshot that completed before restores
# byte-identical (a sample of one per round, all at the end), and the next
# operation succeeds.
#   crashloop.sh CAIRN CAIRN_GEN      (env: KILLS=N, SIZE_MB=M)
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 cairn cairn-gen}
KILLS=${KILLS:-10}
SIZE_MB=${SIZE_MB:-16}

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
    op=$(shuf -n1 -e backup backup prune passwd)
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
    esac
    CAIRN_NEW_PASSWORD=${newpw:-x} "$CAIRN" --store "$STORE" "${cmd[@]}" >"$T/op.out" 2>&1 &
    pid=$!
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.02 + (r % 600) / 1000 }')"
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
        # a kill between adding the new key and removing the old leaves both: fine
    fi
    [ "$op" = backup ] && adopt_new
    info "round $round: $op"
    run 0 check --read-data
    verify "$(ids | shuf | head -n1)"
done
info "all snapshots restore as backed up"
for id in $(ids); do
    verify "$id"
done
run 0 backup "$T/src"
run 0 prune --max-unused 0
run 0 check --read-data
info "ok: $kills kills (backup ${by_op[backup]:-0}, prune ${by_op[prune]:-0}, key passwd ${by_op[passwd]:-0}), $completed operations finished before their kill, $round rounds"
