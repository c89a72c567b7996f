#!/bin/bash
# diff.sh - "cairn diff" of device snapshots lists exactly the files the
# generator changed: for each day against its parent, across several days
# (the net effect: a file added then removed is no change), backwards, and a
# snapshot against itself (nothing); sizes and summary counts agree; the
# human output ends with a summary line; and for a plain folder the diff is
# exactly what "cairn-gen edit" did.
#
# usage: diff.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

DAYS=3
SEED=49 # day 1 adds a file that day 3 modifies
DEV=$T/device

# The independent side of the comparison, in Python:
#   state DIR           every regular file of a backup folder (from Manifest.db
#                       and the content files): domain, path, size, SHA-256
#   expect SA SB        the changes from state SA to state SB, as
#                       "status TAB domain TAB path TAB old_size TAB new_size"
#   compose C1 C2 ...   the net effect of consecutive change files, as lines
#                       "status TAB domain TAB path TAB size" (the generator's format)
#   json FILE [short|full]
#                       a "cairn diff --json" output as such lines (short: the
#                       generator's format with new_size, 0 for D), after
#                       checking its counts, byte sums and order
cat >"$T/tool.py" <<'EOF'
import hashlib, json, os, sqlite3, sys

def state(d):
    db = sqlite3.connect('file:%s/Manifest.db?mode=ro' % d, uri=True)
    for fid, dom, rel in db.execute(
            'select fileID, domain, relativePath from Files where flags=1 order by fileID'):
        with open(os.path.join(d, fid[:2], fid), 'rb') as f:
            data = f.read()
        print('%s\t%s\t%d\t%s' % (dom, rel, len(data), hashlib.sha256(data).hexdigest()))

def load_state(path):
    s = {}
    for line in open(path, encoding='utf-8'):
        dom, rel, size, h = line.rstrip('\n').split('\t')
        s[(dom, rel)] = (int(size), h)
    return s

def expect(pa, pb):
    a, b = load_state(pa), load_state(pb)
    out = []
    for k in set(a) | set(b):
        if k not in b:
            out.append('D\t%s\t%s\t%d\t0' % (k[0], k[1], a[k][0]))
        elif k not in a:
            out.append('A\t%s\t%s\t0\t%d' % (k[0], k[1], b[k][0]))
        elif a[k] != b[k]:
            out.append('M\t%s\t%s\t%d\t%d' % (k[0], k[1], a[k][0], b[k][0]))
    sys.stdout.write(''.join(l + '\n' for l in sorted(out, key=lambda s: s.encode())))

def compose(paths):
    first, last = {}, {}
    for p in paths:
        for line in open(p, encoding='utf-8'):
            st, dom, rel, size = line.rstrip('\n').split('\t')
            first.setdefault((dom, rel), st)
            last[(dom, rel)] = (st, size)
    out = []
    for k, (st, size) in last.items():
        before = first[k] != 'A'  # it existed before the first day
        after = st != 'D'         # it exists after the last day
        if before and after:
            out.append('M\t%s\t%s\t%s' % (k[0], k[1], size))
        elif after:
            out.append('A\t%s\t%s\t%s' % (k[0], k[1], size))
        elif before:
            out.append('D\t%s\t%s\t0' % k)
    sys.stdout.write(''.join(l + '\n' for l in sorted(out, key=lambda s: s.encode())))

def from_json(path, form):
    d = json.load(open(path, encoding='utf-8'))
    ch = d['changes']
    for key in ('a', 'b', 'added', 'removed', 'modified', 'bytes_added', 'bytes_removed',
                'new_bytes_stored'):
        assert key in d, 'no "%s" in the JSON' % key
    n = {s: sum(1 for c in ch if c['status'] == s) for s in 'AMD'}
    assert len(ch) == n['A'] + n['M'] + n['D'], 'unknown status'
    assert (d['added'], d['removed'], d['modified']) == (n['A'], n['D'], n['M']), \
        'counts %r do not match the list %r' % ((d['added'], d['removed'], d['modified']), n)
    up = sum(max(c['new_size'] - c['old_size'], 0) for c in ch)
    down = sum(max(c['old_size'] - c['new_size'], 0) for c in ch)
    assert (d['bytes_added'], d['bytes_removed']) == (up, down), \
        'byte sums %r, expected %r' % ((d['bytes_added'], d['bytes_removed']), (up, down))
    for c in ch:
        assert c['status'] != 'A' or c['old_size'] == 0, c
        assert c['status'] != 'D' or c['new_size'] == 0, c
    keys = [((c['domain'] or '').encode(), c['path'].encode()) for c in ch]
    assert keys == sorted(keys), 'changes are not in (domain, path) order'
    assert len(set(keys)) == len(keys), 'a path is listed twice'
    for c in ch:
        pre = '%s\t%s' % (c['status'], c['domain']) if c['domain'] is not None else c['status']
        if form == 'full':
            print('%s\t%s\t%d\t%d' % (pre, c['path'], c['old_size'], c['new_size']))
        else:
            print('%s\t%s\t%d' % (pre, c['path'], 0 if c['status'] == 'D' else c['new_size']))

cmd = sys.argv[1]
if cmd == 'state':
    state(sys.argv[2])
elif cmd == 'expect':
    expect(sys.argv[2], sys.argv[3])
elif cmd == 'compose':
    compose(sys.argv[2:])
elif cmd == 'json':
    from_json(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else 'short')
EOF
tool() { "$PY" "$T/tool.py" "$@"; }

# same WHAT EXPECTED GOT: the two files are equal (and hold something).
same() {
    if ! diff -u "$2" "$3" >"$T/cmp.diff"; then
        head -30 "$T/cmp.diff" >&2
        fail "$1"
    fi
}

# diff_json OUT FORM ARGS...: "cairn diff --json ARGS", converted to lines.
diff_json() {
    local out=$1 form=$2
    shift 2
    run 0 diff --json "$@"
    cp "$T/out" "$T/diff.json"
    tool json "$T/diff.json" "$form" | LC_ALL=C sort >"$out" ||
        fail "cairn diff --json $*: $(head -c 300 "$T/diff.json")"
}

# new_id: the snapshot ID of the last backup's output.
new_id() { sed -n 's/^snapshot \([0-9a-f]*\) saved.*/\1/p' "$T/out"; }

init_store
declare -a S

info "day 0"
"$GEN" device "$DEV" --seed "$SEED" --size-mb 12 >/dev/null || fail "cairn-gen device"
tool state "$DEV" >"$T/state0" || fail "could not read the day-0 folder"
run 0 --threads 2 backup "$DEV"
S[0]=$(new_id)
[ -n "${S[0]}" ] || fail "no snapshot ID"

for day in $(seq 1 $DAYS); do
    info "day $day"
    "$GEN" mutate "$DEV" --seed "$SEED" --day "$day" --changes "$T/c$day" >/dev/null ||
        fail "cairn-gen mutate day $day"
    [ "$(wc -l <"$T/c$day")" -gt 5 ] || fail "mutate day $day made too few changes"
    if [ "$day" = 2 ]; then
        # The generator seldom deletes what it added: on day 2 also delete,
        # as the phone would, a photo taken on day 1, so the net diffs below
        # see a file that came and went.  (A photo leaves the generator's
        # choices of settings files on day 3 as they were.)
        IFS=$'\t' read -r _ GONE_DOM GONE_REL _ < <(cut -f2,3 "$T/c2" >"$T/c2.names"
            grep '^A	CameraRollDomain	' "$T/c1" | grep -vF -f "$T/c2.names" | head -1)
        [ -n "${GONE_REL:-}" ] || fail "no file added on day 1 is left alone on day 2"
        id=$(printf '%s-%s' "$GONE_DOM" "$GONE_REL" | sha1sum | cut -c1-40)
        rm "$DEV/${id:0:2}/$id" || fail "could not delete $GONE_DOM/$GONE_REL"
        [ "$(sqlite3 "$DEV/Manifest.db" "delete from Files where fileID='$id'; select changes()")" = 1 ] ||
            fail "could not delete the row of $GONE_DOM/$GONE_REL"
        printf 'D\t%s\t%s\t0\n' "$GONE_DOM" "$GONE_REL" >>"$T/c2"
        LC_ALL=C sort -o "$T/c2" "$T/c2"
    fi
    tool state "$DEV" >"$T/state$day" || fail "could not read the day-$day folder"
    # the independent diff agrees with the generator (checks the checker)
    tool expect "$T/state$((day - 1))" "$T/state$day" | cut -f1-3,5 >"$T/e$day"
    same "the folders of days $((day - 1)) and $day differ by more than the generator says" \
        "$T/c$day" "$T/e$day"
    run 0 --threads 2 backup "$DEV"
    S[day]=$(new_id)
    grep -q "^snapshot ${S[day]} saved (parent ${S[day - 1]})$" "$T/out" ||
        fail "snapshot of day $day is not a child of day $((day - 1))"
done
[ "$(snap_count)" = $((DAYS + 1)) ] || fail "expected $((DAYS + 1)) snapshots"

info "each day against its parent lists exactly the generator's changes"
for day in $(seq 1 $DAYS); do
    diff_json "$T/got$day" short "${S[day]}"
    same "cairn diff ${S[day]} (day $day against its parent) is not the generator's change list" \
        "$T/c$day" "$T/got$day"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["a"]==sys.argv[2] and d["b"]==sys.argv[3], (d["a"], d["b"])' \
        "$T/diff.json" "${S[day - 1]}" "${S[day]}" || fail "diff --json ${S[day]}: wrong a/b"
    [ "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["new_bytes_stored"])' "$T/diff.json")" = \
      "$(snap_json "[x['new_bytes'] for x in s if x['id'].startswith('${S[day]}')][0]")" ] ||
        fail "diff --json ${S[day]}: new_bytes_stored is not the snapshot's new_bytes"
    # old and new sizes against the folders themselves
    diff_json "$T/full$day" full "${S[day - 1]}" "${S[day]}"
    tool expect "$T/state$((day - 1))" "$T/state$day" >"$T/efull$day"
    same "cairn diff ${S[day - 1]} ${S[day]}: wrong old or new sizes" "$T/efull$day" "$T/full$day"
done

info "across days: the net effect"
for pair in "0 2" "1 3" "0 3"; do
    set -- $pair
    a=$1 b=$2
    files=()
    for ((d = a + 1; d <= b; d++)); do files+=("$T/c$d"); done
    tool compose "${files[@]}" >"$T/net"
    tool expect "$T/state$a" "$T/state$b" >"$T/efull"
    cut -f1-3,5 "$T/efull" >"$T/enet"
    same "the composed change lists of days $((a + 1))..$b disagree with the folders" "$T/enet" "$T/net"
    diff_json "$T/got" full "${S[a]}" "${S[b]}"
    same "cairn diff ${S[a]} ${S[b]} (day $a to day $b) is not the net change" "$T/efull" "$T/got"
done
# the spans hold changes that do not simply add up, so the above means something
grep -qF "$GONE_DOM	$GONE_REL	" "$T/efull" && fail "day 0 to 3 lists $GONE_REL, added and deleted since"
cat "$T/c1" "$T/c2" "$T/c3" | cut -f1-3 | "$PY" -c '
import sys
seq = {}
for l in sys.stdin:
    st, dom, rel = l.rstrip("\n").split("\t")
    seq.setdefault((dom, rel), "")
    seq[(dom, rel)] += st
print(" ".join(sorted("%s:%d" % (k, list(seq.values()).count(k)) for k in set(seq.values()) if len(k) > 1)))' >"$T/multi"
info "paths changed on several days, by sequence: $(cat "$T/multi")"
grep -q "AD:" "$T/multi" && grep -q "AM:" "$T/multi" && grep -q "MM:" "$T/multi" ||
    fail "the days lack an added-then-deleted, added-then-modified or twice-modified file"

info "backwards: day 3 to day 0"
diff_json "$T/got" full "${S[3]}" "${S[0]}"
tool expect "$T/state3" "$T/state0" >"$T/e"
same "cairn diff ${S[3]} ${S[0]} is not the reverse change" "$T/e" "$T/got"

info "a snapshot against itself: nothing"
diff_json "$T/got" full "${S[2]}" "${S[2]}"
[ ! -s "$T/got" ] || fail "diff of ${S[2]} with itself lists changes"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [d[k] for k in ("added","removed","modified","bytes_added","bytes_removed")]==[0]*5, d' \
    "$T/diff.json" || fail "diff of ${S[2]} with itself has non-zero counts"
run 0 diff "${S[2]}" "${S[2]}"
[ "$(wc -l <"$T/out")" = 2 ] || fail "human diff of a snapshot with itself is not two lines"
grep -qE "^0 added, 0 removed, 0 modified: .*; snapshot ${S[2]} added .* of new data to the store$" "$T/out" ||
    fail "human diff of a snapshot with itself: no zero summary"

info "human output: one line per change, then a summary with the counts"
run 0 diff "${S[1]}"
nA=$(grep -c '^A	' "$T/c1")
nD=$(grep -c '^D	' "$T/c1")
nM=$(grep -c '^M	' "$T/c1")
head -1 "$T/out" | grep -qx "comparing ${S[0]} with ${S[1]}" || fail "human diff: no 'comparing' header"
tail -1 "$T/out" | grep -qE "^$nA added, $nD removed, $nM modified: \+[0-9.]+ [KMG]?i?B, -[0-9.]+ [KMG]?i?B; snapshot ${S[1]} added [0-9.]+ [KMG]?i?B of new data to the store$" ||
    fail "human diff: last line is not the summary '$nA added, $nD removed, $nM modified: ...'"
sed '1d;$d' "$T/out" | sed -E 's/^([AMD])  ([^/]*)\/(.*)  \([0-9.]+ [KMG]?i?B\)$/\1\t\2\t\3/' | LC_ALL=C sort >"$T/human"
cut -f1-3 "$T/c1" >"$T/c1.names"
same "human diff ${S[1]}: the change lines are not the generator's" "$T/c1.names" "$T/human"

info "the first snapshot of a chain has no parent to compare with"
run 12 diff "${S[0]}"
grep -q "first of its chain" "$T/err" || fail "diff of a first snapshot: unexpected message"
[ "$(wc -l <"$T/err")" = 1 ] || fail "diff of a first snapshot: the error is not one line"

info "plain folder: the diff is exactly what cairn-gen edit did"
"$GEN" folder "$T/folder" --seed 9 --size-mb 8 >/dev/null || fail "cairn-gen folder"
run 0 --threads 2 backup "$T/folder"
F0=$(new_id)
"$GEN" edit "$T/folder" --seed 9 >"$T/edit.out" || fail "cairn-gen edit"
grep -v '^#' "$T/edit.out" | LC_ALL=C sort >"$T/edit"
[ "$(wc -l <"$T/edit")" = 3 ] || fail "cairn-gen edit did not report 3 changes"
run 0 --threads 2 backup "$T/folder"
F1=$(new_id)
grep -q "^snapshot $F1 saved (parent $F0)$" "$T/out" || fail "the folder's second snapshot has no parent"
diff_json "$T/got" short "$F1"
same "cairn diff $F1 (folder) is not what cairn-gen edit did" "$T/edit" "$T/got"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert all(c["domain"] is None for c in d["changes"]), d' \
    "$T/diff.json" || fail "folder diff: domain is not null"
run 0 diff "$F1"
tail -1 "$T/out" | grep -qE "^1 added, 1 removed, 1 modified: " || fail "folder diff: wrong summary"
info "ok"
