#!/usr/bin/env bash
# bench/run.sh - cairn side by side with restic, borg and borg2, in one run, on the same data.
#
# usage: bash bench/run.sh [--size-mb M] [--repeats N] [--out DIR] [--tools cairn,restic,borg,borg2]
#                          [--datasets everyday,append] [--work DIR] [--keep] [--seed N]
#                          [--build tree|head|none]
#
# Installs what is missing (restic, borgbackup, borgbackup2, gnuplot-nox, time, python3) from
# Debian, builds cairn, generates a MobileSync backup with cairn-gen, and then, for every
# repeat, every data set (the pattern of `cairn-gen mutate`) and every tool, from a fresh
# repository and a fresh copy of the source:
#
#   initial backup (day 0) → mutate day 1 → backup → mutate day 2 → backup → no-change
#   backup → restore latest → restore oldest → check (reading all data) → forget the
#   oldest snapshot + prune
#
# Each step is timed with /usr/bin/time (wall, user+sys, peak RSS) and the repository
# size is taken after it. Tools are interleaved within a data set (cairn, restic, borg,
# borg2, then the next step) so that load from other processes hits all of them alike.
# Once per repeat, cairn's initial backup is run with --threads 1 and --threads 2 (fresh stores).
# bench/report.py turns the samples into medians, a Markdown table, JSON and a PNG.
# See bench/README.md.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
size_mb=2048
repeats=1
out=$top/docs/bench
tools=cairn,restic,borg,borg2
datasets=everyday,append
work=${BENCH_DIR:-/tmp/cairn-bench}
keep=0
seed=1
build=tree
udid=00008110-000A1B2C3D4E5F60
device_name="Bench iPhone"
password="cairn-bench-password"

usage() {
    sed -n '3,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --size-mb) size_mb=${2:?}; shift 2 ;;
    --size-mb=*) size_mb=${1#*=}; shift ;;
    --repeats) repeats=${2:?}; shift 2 ;;
    --repeats=*) repeats=${1#*=}; shift ;;
    --out) out=${2:?}; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --tools) tools=${2:?}; shift 2 ;;
    --tools=*) tools=${1#*=}; shift ;;
    --datasets) datasets=${2:?}; shift 2 ;;
    --datasets=*) datasets=${1#*=}; shift ;;
    --work) work=${2:?}; shift 2 ;;
    --work=*) work=${1#*=}; shift ;;
    --seed) seed=${2:?}; shift 2 ;;
    --seed=*) seed=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    --build) build=${2:?}; shift 2 ;;
    --build=*) build=${1#*=}; shift ;;
    --no-build) build=none; shift ;;
    -h | --help) usage ;;
    *) echo "bench: unknown option $1" >&2; usage ;;
    esac
done

[[ $size_mb =~ ^[0-9]+$ ]] && [ "$size_mb" -gt 0 ] || { echo "bench: bad --size-mb" >&2; exit 2; }
[[ $repeats =~ ^[0-9]+$ ]] && [ "$repeats" -gt 0 ] || { echo "bench: bad --repeats" >&2; exit 2; }
[[ $seed =~ ^[0-9]+$ ]] || { echo "bench: bad --seed" >&2; exit 2; }
case $build in tree | head | none) ;; *) echo "bench: --build is tree, head or none" >&2; exit 2 ;; esac
IFS=, read -r -a tool_list <<<"$tools"
for t in "${tool_list[@]}"; do
    case $t in cairn | restic | borg | borg2) ;; *) echo "bench: unknown tool $t" >&2; exit 2 ;; esac
done
IFS=, read -r -a dataset_list <<<"$datasets"
[ ${#dataset_list[@]} -gt 0 ] || { echo "bench: --datasets is empty" >&2; exit 2; }
for d in "${dataset_list[@]}"; do
    case $d in everyday | append) ;; *) echo "bench: unknown data set $d (everyday, append)" >&2; exit 2 ;; esac
done
has_tool() {
    local t
    for t in "${tool_list[@]}"; do [ "$t" = "$1" ] && return 0; done
    return 1
}
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $work in /*) ;; *) work=$(pwd)/$work ;; esac
start_epoch=$(date +%s)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- dependencies ----------------------------------------------------------------

need=()
has_tool restic && need+=(restic)
has_tool borg && need+=(borgbackup)
has_tool borg2 && need+=(borgbackup2)
need+=(gnuplot-nox time python3)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (package time)" >&2; exit 1; }
# Debian's python3, not whatever a pyenv shim points at.
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)

[ "$build" = none ] || bash "$top/scripts/deps.sh"
if [ "$build" = tree ]; then
    log "building cairn (work tree)"
    bash "$top/scripts/build.sh"
fi

# ---- work folder ------------------------------------------------------------------

if [ -e "$work" ] && [ -n "$(ls -A "$work" 2>/dev/null)" ]; then
    [ -f "$work/.cairn-bench" ] || { echo "bench: $work exists and is not a bench work folder" >&2; exit 1; }
    rm -rf "$work"
fi
mkdir -p "$work"/{data,src,repo,restore,cache,logs}
touch "$work/.cairn-bench"
# day 0 + the live copy + four repositories + two restores per tool (kept until the end of
# the data set) + a --threads store, with margin
need_kb=$((size_mb * 1024 * 16))
avail_kb=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
if [ "$avail_kb" -lt "$need_kb" ]; then
    echo "bench: $work has $((avail_kb / 1024)) MiB free, needs about $((need_kb / 1024)) MiB" >&2
    rm -rf "$work"
    exit 1
fi
cleanup() {
    if [ "$keep" = 1 ]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
# private copies, so that a rebuild of build/ during the run cannot mix versions
mkdir -p "$work/bin"
bin_dir=$top/build
cairn_source="work tree"
if [ "$build" = head ]; then
    # the last commit, exported (read-only for git) and built in the work folder
    log "building cairn (HEAD, exported)"
    mkdir -p "$work/head"
    built_commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$top" archive --format=tar HEAD | tar -x -C "$work/head"
    bash "$work/head/scripts/build.sh" "$work/head/build"
    bin_dir=$work/head/build
    cairn_source="HEAD"
fi
for b in cairn cairn-gen; do
    [ -x "$bin_dir/$b" ] || { echo "bench: $bin_dir/$b missing (run scripts/build.sh)" >&2; exit 1; }
done
cp "$bin_dir/cairn" "$bin_dir/cairn-gen" "$work/bin/"
# the floor tool too (restore_floor), when it builds
{ [ -x "$bin_dir/cairn-primitives" ] || cmake --build "$bin_dir" --target cairn-primitives >/dev/null 2>&1; } &&
    cp "$bin_dir/cairn-primitives" "$work/bin/" || true
rm -rf "$work/head"
cairn=$work/bin/cairn
gen=$work/bin/cairn-gen

raw=$work/raw.jsonl
: >"$raw"
day0=$work/data/day0
src=$work/src/$udid
failures=0
ds=""

export CAIRN_PASSWORD=$password RESTIC_PASSWORD=$password BORG_PASSPHRASE=$password
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_CHECK_I_KNOW_WHAT_I_AM_DOING=YES
# borg and borg2 read the same variables: borg_env sets them for one of the two
unset CAIRN_STORE RESTIC_REPOSITORY RESTIC_CACHE_DIR BORG_REPO BORG_BASE_DIR

# ---- machine ----------------------------------------------------------------------

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(loadavg)
# A virtual machine that reports freed memory to its host (virtio-balloon free page
# reporting) pays a host fault for every page it reuses after that: on the host of
# sessions 16-17 it doubled a restore's system time (docs/BENCHMARKS.md). Recorded, not
# changed: pages are reported from order page_reporting_order up.
reporting=/sys/module/page_reporting/parameters
reported_before=$(cat "$reporting/reported_kib" 2>/dev/null || true)
restic_version=""
borg_version=""
restic_v2=0
if has_tool restic; then
    restic_version=$(restic version | head -n1)
    # Repository format v2 (compression) arrived in restic 0.14.
    rv=$(sed -n 's/^restic \([0-9]*\)\.\([0-9]*\).*/\1 \2/p' <<<"$restic_version")
    read -r rmaj rmin <<<"$rv"
    if [ "${rmaj:-0}" -gt 0 ] || [ "${rmin:-0}" -ge 14 ]; then restic_v2=1; fi
fi
borg_compact=0
if has_tool borg; then
    borg_version=$(borg --version)
    borg help compact >/dev/null 2>&1 && borg_compact=1
fi
borg2_version=""
has_tool borg2 && borg2_version=$(borg2 --version)

# ---- measuring --------------------------------------------------------------------

json_str() { "$py" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# measure TOOL STEP REPEAT STORE CACHE -- COMMAND...
# Runs COMMAND under /usr/bin/time after a sync (so no step pays for an earlier one's
# dirty pages), then records wall, user, sys, peak RSS, repository and cache sizes.
measure() {
    local tool=$1 step=$2 rep=$3 store=$4 cache=$5
    shift 6
    local logf=$work/logs/$tool.$ds.$step.$rep.log tf=$work/logs/time.$tool
    local rc=0 wall user sys rss sbytes cbytes
    sync
    (cd "${cwd:-$work}" && exec /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@") >"$logf" 2>&1 || rc=$?
    read -r wall user sys rss < <(tail -n1 "$tf")
    sbytes=$(du -sb "$store" 2>/dev/null | cut -f1)
    cbytes=0
    [ -n "$cache" ] && [ -e "$cache" ] && cbytes=$(du -sb "$cache" | cut -f1)
    # cairn's index/ is its rebuildable local cache (restic keeps its own outside the
    # repository): counted as cache, not as store
    [ "$tool" = cairn ] && [ -n "${sbytes:-}" ] && sbytes=$((sbytes - cbytes))
    printf '{"tool":"%s","dataset":"%s","step":"%s","repeat":%d,"wall":%s,"user":%s,"sys":%s,"rss_kb":%s,"store_bytes":%s,"cache_bytes":%s,"rc":%d}\n' \
        "$tool" "$ds" "$step" "$rep" "$wall" "$user" "$sys" "$rss" "${sbytes:-0}" "$cbytes" "$rc" >>"$raw"
    if [ "$rc" -ne 0 ]; then
        failures=$((failures + 1))
        log "FAILED: $tool $step ($ds, repeat $rep) exit $rc; last lines of $logf:"
        tail -n 5 "$logf" >&2
    else
        log "$(printf '%-6s %-8s %-16s r%d  wall %6ss  cpu %6.2fs  rss %6d KiB  store %s' \
            "$tool" "$ds" "$step" "$rep" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" \
            "$rss" "$(numfmt --to=iec "${sbytes:-0}")")"
    fi
    return 0
}

note() { # note KEY VALUE-JSON: extra facts for the report
    printf '{"note":"%s","value":%s}\n' "$1" "$2" >>"$raw"
}

verify_tree() { # verify WHAT EXPECTED RESTORED
    local what=$1 a=$2 b=$3
    if [ -d "$b" ] && diff -r --no-dereference "$a" "$b" >/dev/null 2>&1; then
        note "verify" "$(json_str "$what: identical")"
    else
        failures=$((failures + 1))
        note "verify" "$(json_str "$what: DIFFERS")"
        log "FAILED: $what: restored tree differs from the source"
    fi
}

fingerprint() { # names, sizes, mtimes, modes and Manifest.db content of the source
    { (cd "$1" && find . -printf '%p %s %T@ %m %y\n' | LC_ALL=C sort); sha256sum <"$1/Manifest.db"; } |
        sha256sum | cut -c1-16
}

fresh_source() {
    rm -rf "$work/src"
    mkdir -p "$work/src"
    cp -a "$day0" "$src"
}

mutate() { # mutate DAY: the next day of the phone in data set $ds, in place (deterministic)
    "$gen" mutate "$src" --seed "$seed" --day "$1" --pattern "$ds" >>"$work/logs/mutate.log"
}

# ---- the steps --------------------------------------------------------------------
# Every tool runs one step before the next step starts, so the tools see the same
# source state and roughly the same background load; the tool order rotates per repeat
# and per data set.

borg_enc=repokey-blake2
if has_tool borg; then
    borg help init 2>/dev/null | grep -q blake2 || borg_enc=repokey
fi
restic_comp=()
[ "$restic_v2" = 1 ] && restic_comp=(--compression auto)

# The repositories of data set $ds in repeat REP: cairn's store, restic's repository and
# cache, borg's and borg2's repository and base folder (keys, security and cache).
setup_env() {
    local rep=$1 t
    export CAIRN_STORE=$work/repo/cairn-$ds-$rep
    export RESTIC_REPOSITORY=$work/repo/restic-$ds-$rep RESTIC_CACHE_DIR=$work/cache/restic-$ds-$rep
    for t in borg borg2; do
        borg_repo[$t]=$work/repo/$t-$ds-$rep
        borg_base[$t]=$work/cache/$t-$ds-$rep
    done
}

# borg_env TOOL: point BORG_REPO and BORG_BASE_DIR at TOOL's (borg 1 and borg2 read both)
borg_env() {
    case $1 in
    borg | borg2) export BORG_REPO=${borg_repo[$1]} BORG_BASE_DIR=${borg_base[$1]} ;;
    *) unset BORG_REPO BORG_BASE_DIR ;;
    esac
}

store_of() {
    case $1 in
    cairn) echo "$CAIRN_STORE" ;;
    restic) echo "$RESTIC_REPOSITORY" ;;
    borg | borg2) echo "${borg_repo[$1]}" ;;
    esac
}

cache_of() {
    case $1 in
    cairn) echo "$CAIRN_STORE/index" ;;
    restic) echo "$RESTIC_CACHE_DIR" ;;
    borg | borg2) echo "${borg_base[$1]}" ;;
    esac
}

oldest_id() {
    case $1 in
    cairn) "$cairn" snapshots --json | "$py" -c '
import json, sys
s = json.load(sys.stdin)
print(sorted(s, key=lambda x: (x["parent"] is not None, x["time"]))[0]["id"])' ;;
    restic) restic snapshots --json | "$py" -c '
import json, sys
print(sorted(json.load(sys.stdin), key=lambda x: x["time"])[0]["id"])' ;;
    borg | borg2) echo day0 ;;
    esac
}

count_snapshots() { # prints the number of snapshots (archives) of TOOL's repository
    borg_env "$1"
    case $1 in
    cairn) "$cairn" snapshots --json | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)))' ;;
    restic) restic snapshots --json | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)))' ;;
    borg) borg list --short "$BORG_REPO" | wc -l ;;
    borg2) borg2 rlist --short | wc -l ;;
    esac
}

declare -A oldest borg_repo borg_base
# the restore folders of the current data set, removed together at its end: removing a
# tree right before the next restore makes that restore pay the kernel's scan of recently
# deleted inodes (ext4 without a journal; docs/BENCHMARKS.md)
restores=()

# evict_store STORE CACHE: drops the repository's files from the page cache (not the
# tool's local cache), so that every tool's restore and check read their repository from
# the disk alike (cairn's backup drops its packs after their fsync, restic's and borg's
# stay cached; left as they are, cairn would read from the disk where the others read
# memory, as after a reboot or a day of other use all of them would)
evict_store() {
    sync
    "$py" - "$1" "$2" <<'PY'
import os, sys
store, cache = sys.argv[1], sys.argv[2]
for root, dirs, files in os.walk(store):
    if cache:
        dirs[:] = [d for d in dirs if os.path.join(root, d) != cache]
    for f in files:
        try:
            fd = os.open(os.path.join(root, f), os.O_RDONLY)
        except OSError:
            continue
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
}

# run_step TOOL STEP REP
run_step() {
    local tool=$1 step=$2 rep=$3 store cache t
    store=$(store_of "$tool")
    cache=$(cache_of "$tool")
    local m=(measure "$tool" "$step" "$rep" "$store" "$cache" --)
    borg_env "$tool"
    case $step in restore_* | check_*) evict_store "$store" "$cache" ;; esac
    case $tool/$step in
    cairn/init) "${m[@]}" "$cairn" init --kdf interactive ;;
    restic/init)
        if [ "$restic_v2" = 1 ]; then
            "${m[@]}" restic init --repository-version 2
        else
            "${m[@]}" restic init
        fi
        ;;
    borg/init) "${m[@]}" borg init -e "$borg_enc" ;;
    borg2/init) "${m[@]}" borg2 rcreate -e repokey-blake2-chacha20-poly1305 ;;
    cairn/backup_*) "${m[@]}" "$cairn" backup "$src" ;;
    restic/backup_*) "${m[@]}" restic backup "${restic_comp[@]}" "$src" ;;
    borg/backup_*)
        local name=${step#backup_}
        [ "$name" = initial ] && name=day0
        "${m[@]}" borg create --compression zstd,3 "::$name" "$src"
        ;;
    borg2/backup_*)
        local name=${step#backup_}
        [ "$name" = initial ] && name=day0
        "${m[@]}" borg2 create --compression zstd,3 "$name" "$src"
        ;;
    */restore_latest | */restore_oldest)
        local which=${step#restore_} id expect=$src got
        t=$work/restore/$tool-$which-$ds-$rep
        [ ! -e "$t" ] || { echo "bench: restore folder $t exists" >&2; exit 1; }
        restores+=("$t")
        [ "$which" = oldest ] && expect=$day0
        case $tool in
        cairn)
            id=latest
            [ "$which" = oldest ] && id=${oldest[$tool]}
            "${m[@]}" "$cairn" restore "$id" --to "$t"
            got=$t
            ;;
        restic)
            id=latest
            [ "$which" = oldest ] && id=${oldest[$tool]}
            "${m[@]}" restic restore "$id" --target "$t"
            got=$t$src
            ;;
        borg)
            id=nochange
            [ "$which" = oldest ] && id=${oldest[$tool]}
            mkdir -p "$t"
            cwd=$t "${m[@]}" borg extract "::$id"
            got=$t$src
            ;;
        borg2)
            id=nochange
            [ "$which" = oldest ] && id=${oldest[$tool]}
            mkdir -p "$t"
            cwd=$t "${m[@]}" borg2 extract "$id"
            got=$t$src
            ;;
        esac
        # an if, not [ ] &&: in a later repeat the test's status would be the step's
        if [ "$rep" = 1 ]; then verify_tree "$tool $ds restore $which" "$expect" "$got"; fi
        ;;
    cairn/check_read_data) "${m[@]}" "$cairn" check --read-data ;;
    restic/check_read_data) "${m[@]}" restic check --read-data ;;
    borg/check_read_data) "${m[@]}" borg check --verify-data ;;
    borg2/check_read_data) "${m[@]}" borg2 check --verify-data ;;
    cairn/forget_prune)
        "${m[@]}" sh -c '"$1" forget --keep-last 3 && "$1" prune' sh "$cairn"
        ;;
    restic/forget_prune) "${m[@]}" restic forget "${oldest[$tool]}" --prune ;;
    borg/forget_prune)
        if [ "$borg_compact" = 1 ]; then
            "${m[@]}" sh -c 'borg delete "::$1" && borg compact' sh "${oldest[$tool]}"
        else
            "${m[@]}" borg delete "::${oldest[$tool]}"
        fi
        ;;
    borg2/forget_prune)
        "${m[@]}" sh -c 'borg2 delete -a "$1" && borg2 compact' sh "${oldest[$tool]}"
        ;;
    *) echo "bench: no step $tool/$step" >&2; exit 1 ;;
    esac
}

# cairn's initial backup from a fresh store with --threads N, for N in threads_list
# (day 0 is the same in every data set: measured once per repeat)
threads_list=(1 2)
scaling() {
    local rep=$1 th store ds=day0
    for th in "${threads_list[@]}"; do
        store=$work/repo/cairn-threads-$th-$rep
        rm -rf "$store"
        "$cairn" init --store "$store" --kdf interactive >/dev/null
        measure cairn "threads_$th" "$rep" "$store" "" -- "$cairn" backup --store "$store" --threads "$th" "$src"
        rm -rf "$store"
    done
}

remove_repos() {
    local t
    rm -rf "$CAIRN_STORE" "$RESTIC_REPOSITORY" "$RESTIC_CACHE_DIR"
    for t in borg borg2; do rm -rf "${borg_repo[$t]}" "${borg_base[$t]}"; done
}

# the SQLite databases of day 0 (what a store keeps compressed), NUL-separated
sqlite_files() {
    find "$day0" -type f -size +8k -print0 | xargs -0 grep -l --null -m1 '^SQLite format 3' || true
}

# restore_floor: the work any restore of day 0 must do, on this machine in this run
# (bench/primitives.c): day 0's files created and written from memory in a fresh folder
# on the same disk, cairn's packs read after leaving the page cache, the open and the zstd
# decompression speeds; report.py sums them into the "restore floor" line
restore_floor() {
    local prim=$work/bin/cairn-primitives t=$work/restore/floor-write l
    [ -x "$prim" ] && [ -n "${CAIRN_STORE:-}" ] && [ -d "$CAIRN_STORE/packs" ] || return 0
    log "measuring the restore floor"
    restores+=("$t")
    mapfile -d '' dbs < <(sqlite_files)
    sync
    {
        "$prim" --floor-write "$day0" "$t" && sync &&
            "$prim" --floor-read "$CAIRN_STORE/packs" && "$prim" --floor-decode "${dbs[@]}"
    } >"$work/floor.jsonl" 2>"$work/logs/floor.log" || log "restore floor: failed (see logs/floor.log)"
    while read -r l; do note floor "$l"; done <"$work/floor.jsonl"
}

# backup_floor: the work any initial backup of day 0 must do, on this machine in this run
# (bench/primitives.c), right after the tools' initial backups, with the source as they
# found it: reading it, the keyed hash of every byte and the seal of every stored byte at
# their best (1 MiB) speeds, zstd level 1 of the SQLite bytes, and writing and fsyncing as
# many bytes as cairn stored; report.py sums them into the "backup floor" line; then the
# same work overlapped (--floor-pipe), the wall a program doing only that reaches
backup_floor() {
    local prim=$work/bin/cairn-primitives t=$work/floor-sink
    [ -x "$prim" ] && [ -n "${CAIRN_STORE:-}" ] && [ -d "$CAIRN_STORE/packs" ] || return 0
    log "measuring the backup floor"
    mapfile -d '' dbs < <(sqlite_files)
    rm -rf "$t" "$t-pipe"
    sync
    {
        "$prim" --floor-scan "$src" && "$prim" --floor-encode "${dbs[@]}" &&
            "$prim" --floor-sink "$t" "$(du -sb --apparent-size "$CAIRN_STORE" | cut -f1)" &&
            rm -rf "$t" && sync && "$prim" --floor-pipe "$src" "$t-pipe"
    } >"$work/bfloor.jsonl" 2>"$work/logs/bfloor.log" || log "backup floor: failed (see logs/bfloor.log)"
    rm -rf "$t" "$t-pipe"
    sync
    while read -r l; do note floor "$l"; done <"$work/bfloor.jsonl"
}

# run_dataset REP TOOL...: the whole sequence for data set $ds, tools in the order given
run_dataset() {
    local rep=$1 step t n
    shift
    local tools_r=("$@")
    log "repeat $rep/$repeats, data set $ds: order ${tools_r[*]}"
    fresh_source
    setup_env "$rep"
    remove_repos
    restores=()
    for step in init backup_initial bfloor mutate1 backup_day1 mutate2 backup_day2 backup_nochange \
        restore_latest oldest restore_oldest floor check_read_data forget_prune; do
        case $step in
        mutate1) mutate 1; continue ;;
        mutate2)
            mutate 2
            continue
            ;;
        floor) # once per run
            [ "$rep" != 1 ] || [ "$ds" != "${dataset_list[0]}" ] || restore_floor
            continue
            ;;
        bfloor)
            [ "$rep" != 1 ] || [ "$ds" != "${dataset_list[0]}" ] || backup_floor
            continue
            ;;
        oldest)
            note "fingerprint" "$(json_str "$ds repeat $rep $(fingerprint "$src")")"
            for t in "${tools_r[@]}"; do oldest[$t]=$(oldest_id "$t"); done
            continue
            ;;
        esac
        for t in "${tools_r[@]}"; do run_step "$t" "$step" "$rep"; done
    done
    for t in "${tools_r[@]}"; do
        # 4 snapshots (day 0, 1, 2, no change) minus the oldest
        n=$(count_snapshots "$t" || echo "?")
        note "after_prune" "$(json_str "$t $ds repeat $rep: $n snapshots")"
        if [ "$n" != 3 ]; then
            failures=$((failures + 1))
            log "FAILED: $t $ds repeat $rep: $n snapshots after forget + prune, expected 3"
        fi
    done
    borg_env none
    rm -rf "${restores[@]}"
    restores=()
    remove_repos
    unset CAIRN_STORE RESTIC_REPOSITORY RESTIC_CACHE_DIR
}

run_repeat() {
    local rep=$1 tools_r i d n=${#tool_list[@]}
    fresh_source
    if has_tool cairn; then
        scaling "$rep"
    fi
    # rotate the tool order: repeat 1 starts with the first tool, repeat 2 with the second,
    # and each data set one further, so that the tool restoring first after the previous
    # data set's restores were deleted (ext4's recently_deleted scan, docs/BENCHMARKS.md) is
    # not always the same
    for ((d = 0; d < ${#dataset_list[@]}; d++)); do
        ds=${dataset_list[$d]}
        tools_r=()
        for ((i = 0; i < n; i++)); do tools_r+=("${tool_list[$(((i + rep - 1 + d) % n))]}"); done
        run_dataset "$rep" "${tools_r[@]}"
    done
}

# ---- run --------------------------------------------------------------------------

log "work folder $work; ${size_mb} MB, $repeats repeats, tools $tools, data sets $datasets"
log "load average before: $load_before"
log "generating the device backup (day 0)"
"$gen" device "$day0" --seed "$seed" --size-mb "$size_mb" --udid "$udid" --name "$device_name" \
    >"$work/logs/generate.log"
cat "$work/logs/generate.log" >&2
data_bytes=$(du -sb "$day0" | cut -f1)
data_files=$(find "$day0" -type f | wc -l)
bench_start=$(date +%s)

for rep in $(seq 1 "$repeats"); do
    run_repeat "$rep"
done

bench_end=$(date +%s)
# the speed of each primitive a new byte goes through, in this run, on this machine
# (bench/primitives.c; SQLite chunks of the generated day 0 for zstd)
if [ -x "$bin_dir/cairn-primitives" ] || cmake --build "$bin_dir" --target cairn-primitives >/dev/null 2>&1; then
    log "measuring the primitives"
    mapfile -d '' dbs < <(sqlite_files)
    { "$bin_dir/cairn-primitives" --chunk 16384 "${dbs[@]}"; echo
      "$bin_dir/cairn-primitives" --chunk 1048576 "${dbs[@]}" | tail -n 2; } >"$work/primitives.md" 2>&1 || true
    mkdir -p "$out" && cp "$work/primitives.md" "$out/primitives.md"
fi
load_after=$(loadavg)
log "load average after: $load_after"
B_REPORTING=""
if [ -n "$reported_before" ]; then
    B_REPORTING="$(cat "$reporting/page_reporting_order") $(($(cat "$reporting/reported_kib") - reported_before))"
fi

# ---- report -----------------------------------------------------------------------

export B_COMMIT B_DIRTY B_LOAD_BEFORE=$load_before B_LOAD_AFTER=$load_after B_SIZE_MB=$size_mb
export B_DATA_BYTES=$data_bytes B_DATA_FILES=$data_files B_REPEATS=$repeats B_TOOLS=$tools B_SEED=$seed
export B_RESTIC_VERSION=$restic_version B_RESTIC_V2=$restic_v2 B_BORG_VERSION=$borg_version
export B_BORG2_VERSION=$borg2_version B_DATASETS=$datasets
export B_BORG_COMPACT=$borg_compact B_THREADS B_BENCH_SECONDS=$((bench_end - bench_start))
export B_TOTAL_SECONDS=$((bench_end - start_epoch)) B_FAILURES=$failures B_WORK=$work
export B_GENERATOR B_LSCPU B_CPU_MODEL B_OS B_FS B_REPORTING
# the commit built, not the one HEAD may have moved to during the run
B_COMMIT=${built_commit:-$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)}
B_DIRTY=0
if [ "$cairn_source" != HEAD ] && [ -n "$(git -C "$top" --no-optional-locks status --porcelain 2>/dev/null |
    grep -v -e ' bench/' -e ' docs/bench' -e ' docs/BENCHMARKS.md' || true)" ]; then
    B_DIRTY=1
fi
export B_SOURCE=$cairn_source
B_THREADS=$(IFS=,; echo "${threads_list[*]}")
B_GENERATOR=$(cat "$work/logs/generate.log")
B_LSCPU=$(lscpu 2>/dev/null | grep -E '^(Architecture|CPU\(s\)|Model name|Thread|Core|Socket|L2|L3|Hypervisor)' || true)
B_CPU_MODEL=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)
B_OS=$(. /etc/os-release && echo "$PRETTY_NAME")
B_FS=$(df -T "$work" | awk 'NR == 2 { print $2 }')
"$py" - "$work/meta.json" <<'EOF'
import datetime, json, os, platform, sys
e = os.environ
mem = 0
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) * 1024
meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "nproc": os.cpu_count(),
    "cpu_model": e["B_CPU_MODEL"],
    "lscpu": e["B_LSCPU"],
    "mem_bytes": mem,
    "kernel": platform.release(),
    "os": e["B_OS"],
    "work": e["B_WORK"],
    "filesystem": e["B_FS"],
    "load_before": e["B_LOAD_BEFORE"],
    "load_after": e["B_LOAD_AFTER"],
    "size_mb": int(e["B_SIZE_MB"]),
    "data_bytes": int(e["B_DATA_BYTES"]),
    "data_files": int(e["B_DATA_FILES"]),
    "generator": e["B_GENERATOR"],
    "repeats": int(e["B_REPEATS"]),
    "tools": e["B_TOOLS"].split(","),
    "seed": int(e["B_SEED"]),
    "cairn_commit": e["B_COMMIT"],
    "cairn_built_from": e["B_SOURCE"],
    "cairn_worktree_modified": e["B_DIRTY"] == "1",
    "restic_version": e["B_RESTIC_VERSION"],
    "restic_repository_v2": e["B_RESTIC_V2"] == "1",
    "borg_version": e["B_BORG_VERSION"],
    "borg2_version": e["B_BORG2_VERSION"],
    "datasets": e["B_DATASETS"].split(","),
    "borg_compact": e["B_BORG_COMPACT"] == "1",
    "threads": [int(x) for x in e["B_THREADS"].split(",")],
    "bench_seconds": int(e["B_BENCH_SECONDS"]),
    "total_seconds": int(e["B_TOTAL_SECONDS"]),
    "failures": int(e["B_FAILURES"]),
}
if e["B_REPORTING"]:
    order, kib = e["B_REPORTING"].split()
    meta["page_reporting"] = {"order": int(order), "reported_kib": int(kib)}
with open(sys.argv[1], "w") as f:
    json.dump(meta, f, indent=1)
EOF
"$py" "$top/bench/report.py" --raw "$raw" --meta "$work/meta.json" --out "$out"
end_epoch=$(date +%s)
log "done in $((end_epoch - start_epoch)) s (measurements $((bench_end - bench_start)) s); results in $out"
if [ "$failures" -gt 0 ]; then
    log "$failures step(s) FAILED; see the table and $work/logs (run with --keep to keep them)"
    exit 1
fi
