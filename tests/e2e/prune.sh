#!/usr/bin/env bash
# forget + prune: retention per chain, exactly the unreferenced data freed,
# what remains restores byte-identical and checks clean; kill -9 at random
# points of prune never loses a referenced chunk; a backup during prune is
# refused (the store is locked), not corrupted.
#   prune.sh CAIRN CAIRN_GEN
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 cairn cairn-gen}

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
unused() { sed -n 's/.* \([0-9]*\) unused (.*/\1/p' "$T/out"; }
in_use() { sed -n 's/.*packs: \([0-9]*\) chunks in use.*/\1/p' "$T/out"; }

init_store
"$GEN" folder "$T/src" --seed 5 --size-mb 48 >/dev/null || fail "cairn-gen folder"
for day in 0 1 2 3 4; do
    [ "$day" = 0 ] || "$GEN" edit "$T/src" --seed "$day" >/dev/null || fail "cairn-gen edit"
    echo "day $day $(date +%s%N)" > "$T/src/marker-$day.txt"  # every day differs
    sums "$T/src" > "$T/day$day.sums"
    run 0 backup "$T/src"
done
[ "$(snap_count)" = 5 ] || fail "expected 5 snapshots"

info "forget --keep-last 2 --dry-run changes nothing"
run 0 forget --keep-last 2 --dry-run
grep -q "3 snapshot(s) would be removed" "$T/out" || fail "dry run does not announce 3 removals"
[ "$(snap_count)" = 5 ] || fail "a dry run removed snapshots"

info "forget without a policy is refused"
run 2 forget
[ "$(snap_count)" = 5 ] || fail "forget without policy removed snapshots"

info "forget --keep-last 2"
run 0 forget --keep-last 2
[ "$(snap_count)" = 2 ] || fail "forget --keep-last 2 left $(snap_count) snapshots"

info "prune --dry-run deletes nothing"
before=$(find "$STORE/packs" -type f | sort | xargs sha256sum)
run 0 prune --dry-run --max-unused 0
live=$(in_use)
[ "$(unused)" -gt 0 ] || fail "after forgetting 3 snapshots nothing is unused"
[ "$before" = "$(find "$STORE/packs" -type f | sort | xargs sha256sum)" ] || fail "dry run changed packs"

info "prune --max-unused 0 frees every unused chunk, keeps every used one"
run 0 prune --max-unused 0
run 0 prune --dry-run --max-unused 0
[ "$(unused)" = 0 ] || fail "after prune $(unused) chunks are still unused"
[ "$(in_use)" = "$live" ] || fail "prune changed the chunks in use: $live before, $(in_use) after"
run 0 check --read-data
for i in 0 1; do
    id=$(snap_id "$i")
    run 0 restore "$id" --to "$T/r$i"
    sums "$T/r$i" | cmp -s - "$T/day$((i + 3)).sums" || fail "snapshot $i restores differently after prune"
    rm -rf "$T/r$i"
done

info "a backup while prune holds the store is refused, and changes nothing"
# held until both commands have been refused: a fixed hold time raced with
# slow (sanitizer, loaded) runs of the two commands
flock -x "$STORE/lock" sleep 600 >/dev/null 2>&1 </dev/null &
holder=$!
bg_track $holder
for _ in $(seq 50); do flock -n -x "$STORE/lock" true 2>/dev/null || break; sleep 0.1; done
run 8 backup "$T/src"
grep -q "in use" "$T/err" || fail "locked backup does not say the store is in use"
run 8 prune
pkill -P "$holder" sleep 2>/dev/null
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

info "kill -9 during prune, again and again"
kills=0
for round in 1 2 3 4 5 6; do
    # make garbage: a new day, then forget the oldest
    "$GEN" edit "$T/src" --seed $((10 + round)) >/dev/null || fail "cairn-gen edit"
    echo "round $round" > "$T/src/marker-r$round.txt"
    run 0 backup "$T/src"
    run 0 forget --keep-last 2
    sums "$T/src" > "$T/latest.sums"
    "$CAIRN" --store "$STORE" prune --max-unused 0 >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(( (RANDOM % 40) + 1 ))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null
    run 0 check --read-data
    run 0 restore latest --to "$T/rk"
    sums "$T/rk" | cmp -s - "$T/latest.sums" || fail "round $round: latest snapshot damaged by a killed prune"
    rm -rf "$T/rk"
    run 0 prune --max-unused 0
    run 0 check --read-data
done
info "ok: $kills prunes killed mid-way, store consistent every time"
