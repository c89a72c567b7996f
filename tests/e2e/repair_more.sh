#!/bin/bash
# repair_more.sh - repair under fire (issue 19):
#   - kill -9 at random moments of a repair of a store with two damaged
#     packs: afterwards check sees at most the damage there was (exit 0 or
#     9, never anything else), repair runs again to the end (exit 0 or 3),
#     check --read-data is clean, a third repair finds nothing, and the
#     newest snapshot restores;
#   - a damaged chain record: check names it; repair heals it from a copy
#     target (byte-identical), and without a target rebuilds it from the
#     snapshots (name and archived state) and says what was lost;
#   - a damaged config: named by every command; repair without a copy
#     says it cannot be rebuilt; --dry-run changes nothing; repair
#     --from-target heals it (byte-identical, the damaged one kept in
#     damaged/); another store's config is refused.
#
# usage: repair_more.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac

MiB=$((1024 * 1024))
KILLS=${KILLS:-3}
BASE=$T/base
rand_below() { echo $(($(od -An -N4 -tu4 /dev/urandom) % $1)); }
reset_store() {
    rm -rf "$STORE"
    cp -a "$BASE" "$STORE"
    snap_invalidate
}

init_store
mkdir -p "$T/src"
for i in 1 2 3 4 5 6; do gen_random "$T/src/f$i.bin" $((2 * MiB + i)) "f$i"; done
run 0 backup "$T/src"
gen_random "$T/src/f7.bin" $((2 * MiB)) f7
run 0 backup "$T/src"
# two packs damaged in their middle
for p in $(find "$STORE/packs" -type f -printf '%s %p\n' | sort -n | tail -2 | cut -d' ' -f2); do
    flip_byte "$p" $(($(stat -c %s "$p") / 2))
done
cp -a "$STORE" "$BASE"

info "kill -9 during repair, $KILLS times at random moments"
for k in $(seq 1 "$KILLS"); do
    reset_store
    "$CAIRN" --store "$STORE" repair >"$T/kill.out" 2>&1 &
    pid=$!
    bg_track "$pid"
    # 0 to 0.8 s: the repair takes about that on 2 idle cores, so a kill
    # lands before, during or after each of its steps
    sleep "0.$(printf '%03d' "$(rand_below 800)")"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    run_rc check
    case $RC in 0 | 9) ;; *) fail "kill $k: check after a killed repair exited $RC" ;; esac
    run_rc repair
    case $RC in 0 | 3) ;; *) fail "kill $k: repair after a killed repair exited $RC: $(cat "$T/err")" ;; esac
    run 0 check --read-data
    run 0 repair
    grep -q "no damage found" "$T/out" || fail "kill $k: a third repair found something"
    run 0 restore latest --to "$T/r$k"
    rm -rf "$T/r$k"
done

info "a damaged chain record: healed from a copy target, else rebuilt from the snapshots"
STORE=$T/cs
init_store
mkdir -p "$T/old" "$T/new"
gen_random "$T/old/a.bin" 200000 old
gen_random "$T/new/b.bin" 200000 new
run 0 backup "$T/old"
run 0 chain archive "path:$T/old"
run 0 backup "$T/new"
run 0 target add usb "$T/usb"
run 0 copy --target usb
rec=$(find "$STORE/chains" -type f)
[ "$(echo "$rec" | wc -l)" = 1 ] || fail "expected one chain record, found: $rec"
flip_byte "$rec" 20
cp -a "$STORE" "$T/cs-damaged"
run 9 check
grep -q "^damaged: .*chains/.*chain object is damaged" "$T/out" || fail "check does not name the chain record"
grep -q "chain records affected" "$T/err" || fail "check's summary does not count the chain record"
run 0 repair --from-target usb
grep -q "^healed chain record [0-9a-f]* from " "$T/out" || fail "repair does not say it healed the chain record"
cmp -s "$rec" "$T/usb/chains/$(basename "$rec")" || fail "the healed record is not the target's"
run 0 check
run 0 chains
grep -qE "^archived .*path:$T/old\$" "$T/out" || fail "after healing, the old chain is not archived"

STORE=$T/cs2
cp -a "$T/cs-damaged" "$STORE"
run 3 repair
grep -q "^chain record [0-9a-f]* (chain path:$T/old): rebuilt as archived; lost: when it was archived, why, and its pins" \
    "$T/out" || fail "repair does not say what the rebuilt chain record lost"
run 0 check
run 0 chains
grep -qE "^archived .*path:$T/old\$" "$T/out" || fail "after rebuilding, the old chain is not archived"
grep -qE "^active .*path:$T/new\$" "$T/out" || fail "after rebuilding, the new chain is not active"

info "a damaged config: healed from a copy target only"
STORE=$T/cs
flip_byte "$STORE/config" 40
run 9 snapshots
grep -q "config: store config is damaged" "$T/err" || fail "a damaged config is not named"
run 9 repair
grep -q "cannot be rebuilt .*--from-target" "$T/err" || fail "repair without a copy does not say how to heal the config"
run 9 repair --dry-run --from-target usb
grep -q "^would heal the config from " "$T/out" || fail "repair --dry-run does not say it would heal the config"
run 0 repair --from-target usb
grep -q "^healed the config from .*damaged/config" "$T/out" || fail "repair does not say it healed the config"
cmp -s "$STORE/config" "$T/usb/config" || fail "the healed config is not the copy's"
[ -f "$STORE/damaged/config" ] || fail "the damaged config was not kept in damaged/"
run 0 check --read-data
# a copy of another store cannot heal it
OTHER=$T/other
STORE=$OTHER init_store
flip_byte "$STORE/config" 40
run 13 repair --from "$OTHER"
grep -q "holds another store" "$T/err" || fail "another store's config is not refused"

echo PASS
