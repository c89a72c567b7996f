#!/usr/bin/env bash
# bench/scale.sh - cairn and restic at scale: many small files, and (opt-in) a big backup.
#
# usage: bash bench/scale.sh [--files N] [--big-gb G] [--out DIR] [--work DIR] [--seed N]
#                            [--tools cairn,restic] [--keep]
#
# (a) a device backup whose Manifest.db has N file rows (cairn-gen device --files N;
#     default 500000; 0 skips this part): initial backup, no-change backup, then cairn-gen mutate --day 1,
#     the day-1 backup, ls, diff (day 0 -> day 1), info (restic: ls, diff, stats), each
#     timed with /usr/bin/time (wall, user+sys, peak RSS) and reported per 100 k files.
# (b) --big-gb G (off by default: it needs about 3 x G of disk and a long time): a
#     G GB device backup and a 2 GB one, initial backup of each; MB/s and peak RSS side
#     by side (throughput should hold, RSS stay flat), and the overlapped backup floor of
#     each (cairn-primitives --floor-pipe: reading, hashing, compressing the SQLite bytes,
#     sealing and writing, nothing else), so that a drop in throughput the machine itself
#     shows at G GB is told apart from one of cairn's. The source is dropped from the page
#     cache before each of these runs: this machine's memory would hold a 20 GB source,
#     a phone's 256 GB would not.
# Writes DIR/scale.md and DIR/scale.json (default docs/bench) and prints the Markdown.
# Uses build/cairn and build/cairn-gen as they are (run scripts/build.sh first).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
files=500000
big_gb=0
out=$top/docs/bench
work=${BENCH_DIR:-/tmp/cairn-scale}
seed=1
tools=cairn,restic
keep=0
password="cairn-bench-password"

usage() {
    sed -n '3,4p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --files) files=${2:?}; shift 2 ;;
    --big-gb) big_gb=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --tools) tools=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage ;;
    *) echo "scale: unknown option $1" >&2; usage ;;
    esac
done
[[ $files =~ ^[0-9]+$ ]] || { echo "scale: bad --files" >&2; exit 2; }
[ "$files" -gt 0 ] || [ "$big_gb" -gt 0 ] || { echo "scale: nothing to run" >&2; exit 2; }
[[ $big_gb =~ ^[0-9]+$ ]] || { echo "scale: bad --big-gb" >&2; exit 2; }
[[ $seed =~ ^[0-9]+$ ]] || { echo "scale: bad --seed" >&2; exit 2; }
IFS=, read -r -a tool_list <<<"$tools"
for t in "${tool_list[@]}"; do
    case $t in cairn | restic) ;; *) echo "scale: unknown tool $t" >&2; exit 2 ;; esac
done
command -v restic >/dev/null || tool_list=(cairn)
[ -x /usr/bin/time ] || { echo "scale: /usr/bin/time missing (package time)" >&2; exit 1; }
for b in cairn cairn-gen; do
    [ -x "$top/build/$b" ] || { echo "scale: build/$b missing (run scripts/build.sh)" >&2; exit 1; }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $work in /*) ;; *) work=$(pwd)/$work ;; esac
if [ -e "$work" ] && [ -n "$(ls -A "$work" 2>/dev/null)" ]; then
    [ -f "$work/.cairn-scale" ] || { echo "scale: $work exists and is not a scale work folder" >&2; exit 1; }
    rm -rf "$work"
fi
mkdir -p "$work"/{bin,data,repo,logs}
touch "$work/.cairn-scale"
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
cp "$top/build/cairn" "$top/build/cairn-gen" "$work/bin/"
cairn=$work/bin/cairn
gen=$work/bin/cairn-gen
prim=""
if [ "$big_gb" -gt 0 ]; then
    { [ -x "$top/build/cairn-primitives" ] ||
        cmake --build "$top/build" --target cairn-primitives >/dev/null 2>&1; } &&
        cp "$top/build/cairn-primitives" "$work/bin/" && prim=$work/bin/cairn-primitives
fi
raw=$work/raw.jsonl
: >"$raw"
export CAIRN_PASSWORD=$password RESTIC_PASSWORD=$password
unset CAIRN_STORE RESTIC_REPOSITORY
export RESTIC_CACHE_DIR=$work/restic-cache
log() { printf '[scale %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
failures=0

# measure SET TOOL STEP -- COMMAND...: one timed command, a line in raw.jsonl
measure() {
    local set=$1 tool=$2 step=$3 rc=0 wall user sys rss
    shift 4
    local tf=$work/logs/time
    sync
    /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$work/logs/$set.$tool.$step.log" 2>&1 || rc=$?
    read -r wall user sys rss < <(tail -n1 "$tf")
    printf '{"set":"%s","tool":"%s","step":"%s","wall":%s,"user":%s,"sys":%s,"rss_kb":%s,"rc":%d}\n' \
        "$set" "$tool" "$step" "$wall" "$user" "$sys" "$rss" "$rc" >>"$raw"
    [ "$rc" -eq 0 ] || { failures=$((failures + 1)); log "FAILED: $set $tool $step (exit $rc)"; }
    log "$(printf '%-6s %-7s %-10s wall %7ss user %7ss sys %6ss rss %7d KiB' "$set" "$tool" "$step" \
        "$wall" "$user" "$sys" "$rss")"
}

restic_ids() { restic -r "$1" snapshots --json | python3 -c '
import json, sys
print(" ".join(s["id"] for s in sorted(json.load(sys.stdin), key=lambda x: x["time"])))'; }

# ---- (a) many small files ----------------------------------------------------------

rows=0 manifest_bytes=0 src_bytes=0
if [ "$files" -gt 0 ]; then

src=$work/data/files/00008110-000A1B2C3D4E5F60
mkdir -p "$(dirname "$src")"
log "generating a device backup with $files file rows"
"$gen" device "$src" --seed "$seed" --files "$files" >"$work/logs/gen.log"
rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from Files").fetchone()[0])' "$src/Manifest.db")
manifest_bytes=$(stat -c %s "$src/Manifest.db")
src_bytes=$(du -sb "$src" | cut -f1)
for t in "${tool_list[@]}"; do
    repo=$work/repo/$t
    case $t in
    cairn)
        "$cairn" init --store "$repo" --kdf interactive >/dev/null 2>&1
        measure files cairn backup -- "$cairn" backup --store "$repo" "$src"
        measure files cairn nochange -- "$cairn" backup --store "$repo" "$src"
        ;;
    restic)
        restic init -r "$repo" --repository-version 2 >/dev/null
        measure files restic backup -- restic -r "$repo" backup --compression auto "$src"
        measure files restic nochange -- restic -r "$repo" backup --compression auto "$src"
        ;;
    esac
done
# one mutated day for everyone, then the day's backup, ls, diff, info/stats
"$gen" mutate "$src" --seed "$seed" --day 1 >>"$work/logs/gen.log"
for t in "${tool_list[@]}"; do
    repo=$work/repo/$t
    case $t in
    cairn)
        measure files cairn day1 -- "$cairn" backup --store "$repo" "$src"
        first=$("$cairn" snapshots --store "$repo" --json | python3 -c '
import json, sys
print(sorted(json.load(sys.stdin), key=lambda x: x["time"])[0]["id"])')
        measure files cairn ls -- "$cairn" ls --store "$repo" latest
        measure files cairn diff -- "$cairn" diff --store "$repo" "$first" latest
        measure files cairn info -- "$cairn" info --store "$repo" latest
        ;;
    restic)
        measure files restic day1 -- restic -r "$repo" backup --compression auto "$src"
        read -r -a ids <<<"$(restic_ids "$repo")"
        measure files restic ls -- restic -r "$repo" ls latest
        measure files restic diff -- restic -r "$repo" diff "${ids[0]}" "${ids[-1]}"
        measure files restic info -- restic -r "$repo" stats latest
        ;;
    esac
done
rm -rf "$work/data/files" "$work/repo"/* "$RESTIC_CACHE_DIR"
fi

# ---- (b) a big backup against a 2 GB one ---------------------------------------------

# evict_source DIR: drops DIR's files from the page cache
evict_source() {
    sync
    python3 - "$1" <<'PY'
import os, sys
for root, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        fd = os.open(os.path.join(root, f), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
}

big_run() { # big_run SET SIZE_MB
    local set=$1 mb=$2 t repo dev=$work/data/$1/00008110-000A1B2C3D4E5F60
    mkdir -p "$(dirname "$dev")"
    log "generating a $mb MB device backup"
    "$gen" device "$dev" --seed "$seed" --size-mb "$mb" >>"$work/logs/gen.log"
    printf '{"note":"%s_bytes","value":%s}\n' "$set" "$(du -sb "$dev" | cut -f1)" >>"$raw"
    if [ -n "$prim" ]; then
        evict_source "$dev"
        measure "$set" floor pipe -- "$prim" --floor-pipe "$dev" "$work/floor"
        rm -rf "$work/floor"
    fi
    for t in "${tool_list[@]}"; do
        repo=$work/repo/$set-$t
        case $t in
        cairn)
            "$cairn" init --store "$repo" --kdf interactive >/dev/null 2>&1
            evict_source "$dev"
            measure "$set" cairn backup -- "$cairn" backup --store "$repo" "$dev"
            ;;
        restic)
            restic init -r "$repo" --repository-version 2 >/dev/null
            evict_source "$dev"
            measure "$set" restic backup -- restic -r "$repo" backup --compression auto "$dev"
            ;;
        esac
        rm -rf "$repo" "$RESTIC_CACHE_DIR"
    done
    rm -rf "$work/data/$set"
}
if [ "$big_gb" -gt 0 ]; then
    big_run small 2048
    big_run big $((big_gb * 1024))
fi

# ---- report -----------------------------------------------------------------------

python3 - "$raw" "$out" "$files" "$rows" "$manifest_bytes" "$src_bytes" "$big_gb" \
    "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" <<'EOF'
import json, sys
raw, out, files, rows, mbytes, sbytes, big_gb, load0, load1, ncpu = sys.argv[1:]
samples, notes = [], {}
for line in open(raw):
    o = json.loads(line)
    if "note" in o:
        notes[o["note"]] = o["value"]
    else:
        o["cpu"] = round(o["user"] + o["sys"], 2)
        samples.append(o)
per = 100000 / max(int(files), 1)
tools = sorted({s["tool"] for s in samples} - {"floor"}, key=lambda t: t != "cairn")
md = [f"# cairn at scale\n",
      f"{ncpu} cores, load average {load0} before, {load1} after.\n",
      ]
if int(files):
    md += [f"## (a) {int(files):,} small files\n",
      f"Manifest.db: {int(rows):,} rows, {int(mbytes) / 1e6:.0f} MB; the folder "
      f"{int(sbytes) / 1e6:.0f} MB. Per 100 k files: the measured value x {per:.3g}.\n",
      "| step | " + " | ".join(f"{t} wall s | {t} CPU s | {t} CPU s per 100k | {t} peak RSS MiB"
                            for t in tools) + " |",
      "|---" * (1 + 4 * len(tools)) + "|"]
steps = [] if not int(files) else ["backup", "nochange", "day1", "ls", "diff", "info"]
names = {"backup": "initial backup", "nochange": "no-change backup", "day1": "backup after mutate",
         "ls": "ls latest", "diff": "diff day 0 -> day 1", "info": "info (restic: stats)"}
for st in steps:
    row = [names[st]]
    for t in tools:
        s = [x for x in samples if x["set"] == "files" and x["tool"] == t and x["step"] == st]
        if not s:
            row += ["-"] * 4
            continue
        s = s[0]
        fail = " FAILED" if s["rc"] else ""
        row += [f"{s['wall']:.2f}{fail}", f"{s['cpu']:.2f}", f"{s['cpu'] * per:.2f}",
                f"{s['rss_kb'] / 1024:.0f}"]
    md.append("| " + " | ".join(row) + " |")
if int(big_gb):
    md += ["", f"## (b) {big_gb} GB against 2 GB (initial backup)\n",
           "| tool | set | wall s | MB/s | CPU s | peak RSS MiB |", "|---|---|---|---|---|---|"]
    mbs = {}
    for t in tools + ["floor"]:
        for set_ in ("small", "big"):
            s = [x for x in samples if x["set"] == set_ and x["tool"] == t]
            if s:
                s = s[0]
                mbs[t, set_] = notes.get(f"{set_}_bytes", 0) / 1e6 / max(s["wall"], 0.01)
                md.append(f"| {t if t != 'floor' else 'floor (overlapped)'} | "
                          f"{'2 GB' if set_ == 'small' else big_gb + ' GB'} | "
                          f"{s['wall']:.1f} | {mbs[t, set_]:.0f} | {s['cpu']:.1f} | "
                          f"{s['rss_kb'] / 1024:.0f} |")
    md.append("")
    for t in tools + ["floor"]:
        if (t, "small") in mbs and (t, "big") in mbs:
            md.append(f"- {t}: {big_gb} GB at {mbs[t, 'big'] / mbs[t, 'small'] - 1:+.1%} of its "
                      "2 GB throughput")
    for set_ in ("small", "big"):
        if ("cairn", set_) in mbs and ("floor", set_) in mbs:
            md.append(f"- cairn at {'2 GB' if set_ == 'small' else big_gb + ' GB'}: "
                      f"{mbs['floor', set_] / mbs['cairn', set_]:.2f}x the floor's wall")
text = "\n".join(md) + "\n"
open(f"{out}/scale.md", "w").write(text)
json.dump({"files": int(files), "manifest_rows": int(rows), "manifest_bytes": int(mbytes),
           "source_bytes": int(sbytes), "big_gb": int(big_gb), "load_before": load0,
           "load_after": load1, "nproc": int(ncpu), "notes": notes, "samples": samples},
          open(f"{out}/scale.json", "w"), indent=1)
print(text)
EOF
exit $((failures > 0))
