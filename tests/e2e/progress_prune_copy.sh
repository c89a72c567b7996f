#!/bin/bash
# progress_prune_copy.sh - progress and Ctrl-C for prune and copy (issue 16,
# item 5): --json streams progress events (prune: the snapshots read, then
# the packs; copy: the objects to send, on stderr as stdout holds the one
# array) and prune ends with a summary object holding the exact counts; on a
# terminal one redrawn line; SIGINT in the middle says what was kept (exit
# 130), the store and the target check clean, and the next run finishes.
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src
mkdir -p "$SRC"
for i in $(seq 1 24); do gen_random "$SRC/a$i.bin" $((2 * MiB)) "a$i"; done
init_store
run 0 backup "$SRC" --threads 1
# every other file gone: the packs are half unused, so prune repacks them
for i in $(seq 1 2 24); do rm "$SRC/a$i.bin"; done
run 0 backup "$SRC" --threads 1
run 0 forget --keep-last 1

info "prune --dry-run --json: events for the snapshots, then the packs; a summary"
run 0 prune --dry-run --json
$PY - "$T/out" <<'PY' || fail "prune --dry-run --json output is wrong: $(cat "$T/out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ev, s = lines[:-1], lines[-1]
assert s["type"] == "summary" and s["dry_run"] is True and s["snapshots"] == 1, s
assert s["packs_repacked"] >= 1 and s["chunks_unused"] > 0, s
assert s["bytes_unused"] >= 24 * 1024 * 1024 - 1024 * 1024, s
units = [e["unit"] for e in ev if e["phase"] == "prune"]
assert units[0] == "snapshots" and units[-1] == "packs", units
assert all(e["type"] == "progress" for e in ev), ev
PY

info "Ctrl-C in the middle of prune: says what was deleted, exit 130, check clean"
"$CAIRN" --store "$STORE" prune --json >"$T/pout" 2>"$T/perr" &
bg_track $!
interrupt_at '"unit":"packs"' "$T/pout" $!
[ "$RC" = 130 ] || fail "interrupted prune exited $RC, expected 130: $(cat "$T/perr")"
echo "   $(cat "$T/perr")"
grep -q -x -E 'cairn: interrupted: (nothing deleted|[0-9]+ of [0-9]+ packs deleted; run prune again to finish)' "$T/perr" ||
    fail "interrupted prune said: $(cat "$T/perr")"
grep -q '"type":"summary"' "$T/pout" && fail "an interrupted prune printed a summary"
run 0 check
run 0 prune --json
$PY -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert s["type"] == "summary" and s["dry_run"] is False and s["snapshots"] == 1, s
assert s["packs_deleted"] >= 1, s
' "$T/out" || fail "prune after the interruption: $(cat "$T/out")"
run 0 prune --json
$PY -c '
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert (s["chunks_unused"], s["bytes_unused"], s["packs_deleted"], s["packs_repacked"], s["bytes_freed"]) == (0, 0, 0, 0, 0), s
' "$T/out" || fail "a second prune still found garbage: $(cat "$T/out")"
run 0 restore latest --to "$T/r1"
compare_trees "$SRC" "$T/r1"

info "copy --json: progress events on stderr, the array on stdout"
# a target that is a store already (a first copy interrupted before its
# config is sent leaves no store there yet)
run 0 target add usb "$T/usb"
run 0 copy --target usb
for i in $(seq 1 24); do gen_random "$SRC/b$i.bin" $((2 * MiB)) "b$i"; done
run 0 backup "$SRC"
"$CAIRN" --store "$STORE" copy --target usb --json >"$T/cout" 2>"$T/cerr" &
bg_track $!
interrupt_at '"type":"progress"' "$T/cerr" $!
[ "$RC" = 130 ] || fail "interrupted copy exited $RC, expected 130: $(cat "$T/cerr")"
echo "   $(cat "$T/cerr" | tail -n 1)"
grep -q -x -E 'cairn: interrupted: target usb: [0-9]+ objects sent \(.*\); the target is consistent, run copy again to send the rest' "$T/cerr" ||
    fail "interrupted copy said: $(cat "$T/cerr")"
run 0 check --target usb
run 0 copy --target usb --json
$PY - "$T/out" "$T/err" <<'PY' || fail "copy --json: $(cat "$T/out") / $(cat "$T/err")"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1 and a[0]["ok"] is True and a[0]["held"] == 2, a
ev = [json.loads(l) for l in open(sys.argv[2])]
assert ev and all(e["type"] == "progress" and e["phase"] == "copy" and e["unit"] == "objects" for e in ev), ev
assert ev[0]["files_done"] == 0 and ev[0]["files_total"] == a[0]["objects"], (ev[0], a)
assert ev[-1]["files_done"] == a[0]["objects"], (ev[-1], a)
PY
run 0 check --target usb

info "a terminal: prune and copy draw one line"
command -v script >/dev/null || { echo "SKIP: no script(1)"; exit 77; }
run 0 forget --keep-last 1
script -qfec "$CAIRN --store $STORE prune" /dev/null >"$T/tty" 2>&1 || fail "prune on a terminal exited $?"
grep -a -q $'\r\033\\[Kprune: [0-9]* of [0-9]* packs' "$T/tty" || fail "no prune progress line: $(od -c "$T/tty" | head)"
gen_random "$SRC/c.bin" $((1 * MiB)) c
run 0 backup "$SRC"
script -qfec "$CAIRN --store $STORE copy --target usb" /dev/null >"$T/tty" 2>&1 || fail "copy on a terminal exited $?"
grep -a -q $'\r\033\\[Kcopy: [0-9]* of [0-9]* objects' "$T/tty" || fail "no copy progress line: $(od -c "$T/tty" | head)"
echo "PASS"
