#!/bin/bash
# killbackup.sh - kill -9 at random points of backups of a big folder
# (96 MiB by default, see below) never harms the store.  After every kill:
#   - 'check --read-data' exits 0 (every pack whole, every snapshot's data
#     present),
#   - earlier snapshots restore byte-identical: after every kill the newest
#     earlier snapshot (so every snapshot is restored after at least one
#     later kill), at the end the oldest (which survived all kills) and the
#     newest; restoring every snapshot after every kill would take
#     O(kills^2) restores of 300 MiB, far over the time budget, and
#     'check --read-data' already proves after every kill that every chunk
#     of every snapshot is present and sound,
#   - the next backup succeeds.
# Between rounds two of the big files are replaced by new data so that the
# killed backups write new packs; they run with --force so they also read
# the whole folder.  Round 1 kills the first full backup 50..1500 ms after
# its start; later rounds 50..T ms, T being the measured time of a --force
# backup of the unchanged folder, so the kill lands while it runs; a kill
# that comes after the backup finished lowers T to its own delay.
#
# The check and the restore of a round run side by side (both are
# readers) to use both cores.
#
# KILLS=N and SIZE_MIB=M override the number of rounds (default 8) and the
# folder size (default 96: ~300 MiB with 8 rounds takes 40-60 s on 2
# busy cores, too close to the 60 s limit; SIZE_MIB=300 for the full-size
# run).
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
KILLS=${KILLS:-8}
SIZE_MIB=${SIZE_MIB:-96}
BIG=$(((SIZE_MIB - 8) * MiB / 10)) # ten big random files, 8 MiB of text
SRC=$T/src
rand_below() { echo $(($(od -An -N4 -tu4 /dev/urandom) % $1)); }

# replaces FILE by a new file (new inode): the state copies are hard-link
# farms of the source and must keep the old contents
replace_random() { # file size seed
    gen_random "$1.new" "$2" "$3"
    mv -f "$1.new" "$1"
}

info "source: ~$SIZE_MIB MiB"
mkdir -p "$SRC/Media/DCIM" "$SRC/Library/SMS" "$SRC/Documents/small"
for i in 0 1 2 3 4 5 6 7 8 9; do
    case $i in [0-4]) d=Media/DCIM ;; [5-7]) d=Library/SMS ;; *) d=Documents ;; esac
    gen_random "$SRC/$d/big-$i.bin" $((BIG + i * 4099)) "big-$i-0"
done
gen_text "$SRC/Library/SMS/sms.txt" $((8 * MiB))
for i in $(seq 1 200); do printf 'small file %s\n' "$i" >"$SRC/Documents/small/f$i"; done
du -sh "$SRC" | sed 's/^/   /'

init_store
declare -A STATE=() # snapshot id -> folder holding the source as it was
IDS=() # all snapshot IDs, oldest first
# reloads IDS and assigns every new snapshot to the given state copy
adopt_new_snapshots() { # state-dir
    local id
    "$CAIRN" --store "$STORE" snapshots --json >"$T/ids.json" 2>"$T/json.err" ||
        fail "snapshots --json failed: $(cat "$T/json.err")"
    mapfile -t IDS < <(grep -o '"id":"[0-9a-f]\{64\}"' "$T/ids.json" | cut -d'"' -f4)
    for id in "${IDS[@]}"; do
        [ -n "${STATE[$id]:-}" ] || STATE[$id]=$1
    done
}
verify_restore() { # id
    local id=$1
    run 0 --threads 2 restore "$id" --to "$T/restored"
    compare_trees "${STATE[$id]}" "$T/restored"
    rm -rf "$T/restored"
}
ms_now() { echo $((${EPOCHREALTIME/./} / 1000)); }

hits=0
misses=0
window=1500 # kill within 50..window ms after the start
for round in $(seq 1 "$KILLS"); do
    if [ "$round" -gt 1 ]; then
        # new data: two big files (rotating), the text grows, a small file
        # comes and one goes
        for k in 0 1; do
            i=$(((round * 2 + k) % 10))
            f=$(find "$SRC" -name "big-$i.bin")
            replace_random "$f" $((BIG + i * 4099)) "big-$i-$round"
        done
        { cat "$SRC/Library/SMS/sms.txt"; seq -f "round $round line %g" 1 1000; } >"$T/sms.new"
        mv "$T/sms.new" "$SRC/Library/SMS/sms.txt"
        printf 'round %s\n' "$round" >"$SRC/Documents/small/new-$round"
        rm -f "$SRC/Documents/small/f$round"
    fi
    state=$T/state-$round
    cp -al "$SRC" "$state" || fail "cp -al"

    # round 1 kills the first full backup; later rounds kill a --force
    # backup (reads everything, stores the two new files)
    aimed=$window
    ms=$((50 + $(rand_below $((window - 49)))))
    force=""
    [ "$round" -gt 1 ] && force=--force
    "$CAIRN" --store "$STORE" --threads 2 backup $force "$SRC" >"$T/out" 2>"$T/err" &
    pid=$!
    bg_track "$pid"
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null # no "Killed" job notice
    rc=$?
    no_password_in "$T/out" "$T/err"
    case $rc in
    137) hits=$((hits + 1)) what="killed" ;;
    0)
        misses=$((misses + 1)) what="had finished"
        # it took less than ms here, now (round 1's measure can be slow
        # under load): aim the next kills earlier
        if [ "$ms" -gt 100 ] && [ "$ms" -lt "$window" ]; then window=$ms; fi
        ;;
    *) fail "round $round: backup exited $rc before the kill: $(cat "$T/err")" ;;
    esac
    adopt_new_snapshots "$state"
    echo "   round $round: kill after $ms ms (window $aimed): backup $what; snapshots: ${#IDS[@]}"

    # check, and restore the newest earlier snapshot, side by side
    "$CAIRN" --store "$STORE" check --read-data >"$T/check.out" 2>"$T/check.err" &
    cpid=$!
    bg_track "$cpid"
    [ "${#IDS[@]}" -gt 0 ] && verify_restore "${IDS[-1]}"
    wait "$cpid"
    rc=$?
    no_password_in "$T/check.out" "$T/check.err"
    [ "$rc" = 0 ] || fail "round $round: check --read-data after the kill exited $rc: $(cat "$T/check.out" "$T/check.err")"

    run 0 --threads 2 backup "$SRC"
    [ -z "$(ls -A "$STORE/tmp")" ] || fail "round $round: tmp/ not cleaned: $(ls "$STORE/tmp")"
    adopt_new_snapshots "$state"

    if [ "$round" = 1 ]; then
        # how long a --force backup takes here sets the later kill window
        t0=$(ms_now)
        run 0 --threads 2 backup --force "$SRC"
        window=$(($(ms_now) - t0))
        grep -q "added: 0 new chunks" "$T/out" || fail "--force backup of an unchanged folder added chunks"
        adopt_new_snapshots "$state"
        [ "$window" -gt 1500 ] && window=1500
        [ "$window" -lt 200 ] && window=200
    fi
done

info "final: check; the oldest and the newest snapshot restore"
run 0 check --read-data
verify_restore "${IDS[0]}"
verify_restore "${IDS[-1]}"
echo "kills: $KILLS rounds, $hits hit a running backup, $misses came after it had finished"
[ "$hits" -ge $((KILLS / 2)) ] || fail "only $hits of $KILLS kills hit a running backup"
info "ok"
