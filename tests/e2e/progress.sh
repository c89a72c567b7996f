#!/bin/bash
# progress.sh - progress and Ctrl-C (issue 16, item 5): on a terminal
# (script(1)) backup and restore redraw one line with files, bytes, rate and
# ETA; without a terminal and without --json the output is what it was;
# --json streams progress events as JSON lines and ends with a summary
# object; SIGINT in the middle of a backup says "interrupted: nothing
# stored" (exit 130, no snapshot), in the middle of a restore says how many
# files were restored, and the store checks clean after both.
. "$(dirname "$0")/lib.sh" "$@"

MiB=$((1024 * 1024))
SRC=$T/src
mkdir -p "$SRC/d"
for i in $(seq 1 12); do gen_random "$SRC/d/f$i.bin" $((2 * MiB)) "f$i"; done
printf 'hello\n' >"$SRC/hello.txt"
init_store

info "no terminal, no --json: the output lines are as before, nothing on stderr"
run 0 backup "$SRC"
[ "$(wc -l <"$T/out")" = 3 ] || fail "backup printed other than 3 lines"
grep -q '^snapshot [0-9a-f]\{8\} saved$' "$T/out" || fail "no 'snapshot ... saved' line"
[ -s "$T/err" ] && fail "backup wrote to stderr without a terminal: $(cat "$T/err")"
ID1=$(snap_id 0)

info "--json: progress events, then one summary object"
run 0 backup "$SRC" --json --force
$PY - "$T/out" "$ID1" <<'PY' || fail "backup --json output is wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines, "no output"
ev, summ = lines[:-1], lines[-1]
assert summ["type"] == "summary", summ
assert len(summ["id"]) == 64 and summ["short_id"] == summ["id"][:8], summ
assert summ["parent"] is not None and summ["parent"].startswith(sys.argv[2]), summ
assert summ["files"] == 13 and summ["files_read"] == 13 and summ["partial"] is False, summ
assert summ["bytes"] == 24 * 1024 * 1024 + 6, summ
assert len(ev) >= 2, ev
for e in ev:
    assert e["type"] == "progress" and e["phase"] == "backup", e
    assert e["files_total"] == 13 and e["bytes_total"] == summ["bytes"], e
assert ev[-1]["files_done"] == 13 and ev[-1]["bytes_done"] == summ["bytes"], ev[-1]
print("   backup --json: %d progress events, summary %s" % (len(ev), summ["short_id"]))
PY
snap_invalidate
ID2=$(snap_id 1)
[ "$(snap_json "s[1]['id'][:8]")" = "$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["short_id"])' "$T/out")" ] ||
    fail "the summary's ID is not the new snapshot's"

run 0 restore "$ID2" --to "$T/r1" --json
$PY - "$T/out" "$T/r1" <<'PY' || fail "restore --json output is wrong"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
summ = lines[-1]
assert summ["type"] == "summary" and summ["files"] == 13 and summ["failed"] == 0, summ
assert summ["to"] == sys.argv[2] and summ["bytes"] == 24 * 1024 * 1024 + 6, summ
ev = lines[:-1]
assert len(ev) >= 2 and all(e["type"] == "progress" and e["phase"] == "restore" for e in ev), ev
assert ev[0]["files_total"] == 13 and ev[-1]["files_done"] == 13, ev
PY
compare_trees "$SRC" "$T/r1"

info "a terminal: one redrawn line with files, bytes, rate and ETA, cleared at the end"
command -v script >/dev/null || { echo "SKIP: no script(1)"; exit 77; }
script -qfec "$CAIRN --store $STORE backup $SRC --force" /dev/null >"$T/tty" 2>&1 ||
    fail "backup on a terminal exited $?"
grep -a -q $'\r\033\\[Kbackup: 0 of 13 files, 0 B of 24.0 MiB' "$T/tty" ||
    fail "no progress line on the terminal: $(od -c "$T/tty" | head)"
grep -a -q 'backup: 13 of 13 files, 24.0 MiB of 24.0 MiB, [0-9.]* [KMG]\?i\?B/s'$'\r\033''\[K' "$T/tty" ||
    fail "no final progress line with the rate, cleared: $(od -c "$T/tty" | tail)"
# an estimate of the time left, when a line was drawn in the middle
# (one whose bytes are not all done yet and that has a rate: every such line)
$PY - "$T/tty" <<'PY' || fail "a progress line with bytes left and a rate has no ETA"
import re, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
for line in re.split("[\r\n]", text):
    m = re.search(r"backup: \d+ of 13 files, (.+?) of (.+?), [^,]+/s(, ETA \d+:[0-5]\d:[0-5]\d)?", line)
    if m and m.group(1) != m.group(2) and not m.group(3):
        sys.exit("no ETA: " + line)
PY
grep -a -q 'snapshot [0-9a-f]\{8\} saved (parent' "$T/tty" || fail "no result line on the terminal"
rm -rf "$T/r2"
script -qfec "$CAIRN --store $STORE restore $ID2 --to $T/r2" /dev/null >"$T/tty" 2>&1 ||
    fail "restore on a terminal exited $?"
grep -a -q $'\r\033\\[Krestore: .* of 13 files, .* of 24.0 MiB' "$T/tty" ||
    fail "no restore progress line on the terminal"
compare_trees "$SRC" "$T/r2"

info "Ctrl-C in the middle of a backup: 'interrupted: nothing stored', exit 130, check clean"
for i in $(seq 1 40); do gen_random "$SRC/big$i.bin" $((4 * MiB)) "big$i"; done
N=$(snap_count)
"$CAIRN" --store "$STORE" backup "$SRC" --json --threads 1 >"$T/bout" 2>"$T/berr" &
PID=$!
bg_track $PID
# the first progress line comes once the store is open and the walk begins:
# from then on Ctrl-C is cairn's to answer (a fast machine may finish 160 MiB
# before a later line)
for _ in $(seq 1 600); do
    grep -q '"type":"progress"' "$T/bout" 2>/dev/null && break
    sleep 0.01
done
kill -INT $PID
wait $PID
rc=$?
[ "$rc" = 130 ] || fail "interrupted backup exited $rc, expected 130: $(cat "$T/berr")"
[ "$(cat "$T/berr")" = "cairn: interrupted: nothing stored" ] ||
    fail "interrupted backup said: $(cat "$T/berr")"
grep -q '"type":"summary"' "$T/bout" && fail "an interrupted backup printed a summary"
snap_invalidate
[ "$(snap_count)" = "$N" ] || fail "an interrupted backup stored a snapshot"
run 0 check --read-data
run 0 backup "$SRC"
snap_invalidate
ID3=$(snap_id "$N")

info "Ctrl-C in the middle of a restore: how many files were restored, then --overwrite finishes it"
"$CAIRN" --store "$STORE" restore "$ID3" --to "$T/r3" --json --threads 1 >"$T/rout" 2>"$T/rerr" &
PID=$!
bg_track $PID
# as for the backup: the first progress line, not a later one that may
# never come before the end
for _ in $(seq 1 600); do
    grep -q '"type":"progress"' "$T/rout" 2>/dev/null && break
    sleep 0.01
done
kill -INT $PID
wait $PID
rc=$?
[ "$rc" = 130 ] || fail "interrupted restore exited $rc, expected 130: $(cat "$T/rerr")"
grep -q -x 'cairn: interrupted: [0-9]* of 53 files restored; run again with --overwrite' "$T/rerr" ||
    fail "interrupted restore said: $(cat "$T/rerr")"
DONE=$(sed -n 's/^cairn: interrupted: \([0-9]*\) of .*/\1/p' "$T/rerr")
[ "$DONE" -ge 0 ] && [ "$DONE" -lt 53 ] || fail "interrupted restore restored $DONE of 53"
run 0 check
run 0 restore "$ID3" --to "$T/r3" --overwrite
compare_trees "$SRC" "$T/r3"
echo "PASS"
