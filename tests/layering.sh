#!/usr/bin/env bash
# layering.sh - the layers of docs/DESIGN.md hold: every '#include "..."' of
# every .c/.h under util/, store/, engine/, cli/, mount/ and web/ points
# only down (or sideways within its own layer):
#   util/ <- store/ <- store/backend/ <- engine/core/ <- engine/ios/ <-
#   engine/service/ <- cli/
# the front-ends (cli/, mount/, web/) use only the engine API, never the
# internals listed in CLI_FORBIDDEN below; mount/ and web/ (front-end
# libraries) never include cli/ or each other, and cli/ (the launcher)
# includes only their public headers, mount/mount.h and web/web.h.  One line
# per violation, then exit 1.
#
#   layering.sh [ROOT]           self-test, then check ROOT (default: .)
#   layering.sh --check-only ROOT  only check ROOT (what the self-test runs)
#
# The self-test runs the check over small trees made for it (one clean, one
# per rule with a single bad include) and over a copy of ROOT with one bad
# include added, and fails unless each bad include is reported: a check
# that cannot fail would pass silently forever.
#
# An include resolves the way the compiler resolves it: first next to the
# including file ("cli.h" from cli/main.c), then from the root
# ("engine/core/tree.h").  An include that resolves to neither is reported
# too, so a typo cannot hide a layer crossing.
set -u

# ---- cli/, mount/ and web/ must not include these: the internals below the engine API ----
# (front-ends call the engine's operations; packs, blobs, the index,
# sealing, backends, chunking, tree storage, snapshot editing, the worker
# pool and the device plumbing are the engine's business).  A trailing
# '/*' forbids a whole folder.  Adjust this list, not the code below.
CLI_FORBIDDEN=(
    store/pack.h
    store/blob.h
    store/index.h
    store/seal.h
    'store/backend/*'
    engine/core/chunker.h
    engine/core/tree_store.h
    engine/core/snapshot_edit.h
    engine/core/worker_pool.h
    engine/ios/device_connection.h
    engine/ios/mobilebackup2_host.h
    engine/ios/received_backup.h
    engine/ios/encrypted_folder.h
    engine/ios/backup_encryption.h
    engine/ios/mobilesync.h
    engine/ios/device_events.h
)

# layer_of PATH: sets LAYER to the layer of a root-relative path ("" if none)
layer_of() {
    case $1 in
    util/*) LAYER=util ;;
    store/backend/*) LAYER=store/backend ;;
    store/*) LAYER=store ;;
    engine/core/*) LAYER=engine/core ;;
    engine/ios/*) LAYER=engine/ios ;;
    engine/service/*) LAYER=engine/service ;;
    cli/*) LAYER=cli ;;
    mount/*) LAYER=mount ;;
    web/*) LAYER=web ;;
    *) LAYER="" ;;
    esac
}

# allowed_layers LAYER: sets ALLOWED to the layers LAYER may include
allowed_layers() {
    case $1 in
    util) ALLOWED="util" ;;
    store) ALLOWED="util store" ;;
    store/backend) ALLOWED="util store store/backend" ;;
    engine/core) ALLOWED="util store store/backend engine/core" ;;
    engine/ios) ALLOWED="util store store/backend engine/core engine/ios" ;;
    engine/service) ALLOWED="util store store/backend engine/core engine/ios engine/service" ;;
    cli) ALLOWED="util store store/backend engine/core engine/ios engine/service cli mount web" ;;
    mount) ALLOWED="util store engine/core engine/ios mount" ;;
    web) ALLOWED="util store engine/core engine/ios web" ;;
    esac
}

# prints FILE:LINE:PATH for each '#include "PATH"' of the files it is given
# shellcheck disable=SC2016 # awk's own $0, not the shell's
INCLUDES_AWK='/^[ \t]*#[ \t]*include[ \t]*"/ {
    s = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", s)
    sub(/".*/, "", s)
    print FILENAME ":" FNR ":" s
}'

# check ROOT: prints one line per violation; returns 1 if there is any
check() {
    local root=$1 file dir inc lineno target layer tlayer allowed bad=0 pat
    [ -d "$root/util" ] || {
        echo "layering: $root has no util/ folder: not a cairn source tree" >&2
        return 2
    }
    while IFS=: read -r file lineno inc; do
        dir=${file%/*}
        layer_of "$file"
        layer=$LAYER
        allowed_layers "$layer"
        allowed=$ALLOWED
        if [ -f "$root/$dir/$inc" ]; then
            target=$dir/$inc
        elif [ -f "$root/$inc" ]; then
            target=$inc
        else
            echo "$file:$lineno: #include \"$inc\" is not a file of the tree (next to $file or from the root)"
            bad=1
            continue
        fi
        layer_of "$target"
        tlayer=$LAYER
        if [ -z "$tlayer" ]; then
            echo "$file:$lineno: includes $target, which is in no layer (util/ store/ store/backend/ engine/core/ engine/ios/ engine/service/ cli/ mount/ web/)"
            bad=1
        elif [[ " $allowed " != *" $tlayer "* ]]; then
            echo "$file:$lineno: includes $target: $layer/ must not include $tlayer/ (it may include: ${allowed// //, }/)"
            bad=1
        elif [ "$layer" = cli ] && [ "$tlayer" = mount ] && [ "$target" != mount/mount.h ]; then
            echo "$file:$lineno: includes $target: cli/ may include only mount/mount.h of mount/"
            bad=1
        elif [ "$layer" = cli ] && [ "$tlayer" = web ] && [ "$target" != web/web.h ]; then
            echo "$file:$lineno: includes $target: cli/ may include only web/web.h of web/"
            bad=1
        elif [ "$layer" = cli ] || [ "$layer" = mount ] || [ "$layer" = web ]; then
            for pat in "${CLI_FORBIDDEN[@]}"; do
                # shellcheck disable=SC2053 # pat is a glob on purpose
                if [[ $target == $pat ]]; then
                    echo "$file:$lineno: includes $target: $layer/ must use the engine API, not $pat (CLI_FORBIDDEN in tests/layering.sh)"
                    bad=1
                fi
            done
        fi
    done < <(cd "$root" && find util store engine cli mount web -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null |
        sort | xargs -r awk "$INCLUDES_AWK")
    return $bad
}

# ---- self-test ----

self_fail() {
    echo "layering self-test FAILED: $*" >&2
    exit 3
}

# expect_violation DIR WHAT PATTERN: the check over DIR must exit 1 and
# report a line matching PATTERN (grep -E)
expect_violation() {
    local out rc
    out=$(check "$1")
    rc=$?
    [ "$rc" = 1 ] || self_fail "$2: the check exited $rc, not 1"
    grep -q -E -- "$3" <<<"$out" || self_fail "$2: no report matching '$3' in:
$out"
}

self_test() {
    local root=$1 tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-layering.XXXXXX") || exit 1
    # shellcheck disable=SC2064 # expand now: tmp is local
    trap "rm -rf '$tmp'" EXIT

    # a small clean tree: one module per layer, each including everything
    # it may (cli/ only the API part of each layer)
    local t=$tmp/clean
    mkdir -p "$t"/{util,store/backend,engine/core,engine/ios,engine/service,cli,mount,web}
    : >"$t/util/err.h"
    printf '#include "util/err.h"\n' >"$t/store/store.h"
    printf '#include "util/err.h"\n#include "store/store.h"\n' >"$t/store/pack.h"
    printf '#include "store/pack.h"\n#include "store/backend/backend.h"\n' >"$t/store/backend/dir_backend.c"
    printf '#include "store/store.h"\n' >"$t/store/backend/backend.h"
    printf '#include "store/backend/backend.h"\n#include "engine/core/chunker.h"\n' >"$t/engine/core/backup.h"
    : >"$t/engine/core/chunker.h"
    printf '#include "engine/core/backup.h"\n#include "store/pack.h"\n' >"$t/engine/ios/backup_folder.h"
    printf '#include "engine/ios/backup_folder.h"\n' >"$t/engine/service/alarm_sink.h"
    printf '  #  include "cli.h" /* next to it */\n#include <stdio.h>\n' >"$t/cli/main.c"
    printf '#include "engine/ios/backup_folder.h"\n#include "store/store.h"\n#include "util/err.h"\n#include "mount/mount.h"\n' >"$t/cli/cli.h"
    printf '#include "engine/core/backup.h"\n#include "util/err.h"\n' >"$t/mount/mount.h"
    printf '#include "mount/mount.h"\n#include "mount/vtree.h"\n#include "store/store.h"\n' >"$t/mount/mount.c"
    : >"$t/mount/vtree.h"
    printf '#include "web/web.h"\n' >"$t/cli/cmd_serve.c"
    printf '#include "store/store.h"\n' >"$t/web/web.h"
    printf '#include "web.h"\n#include "route.h"\n#include "engine/core/backup.h"\n' >"$t/web/server.c"
    : >"$t/web/route.h"
    printf '#include "engine/service/alarm_sink.h"\n' >"$t/cli/cmd_alarm.c"
    local out
    out=$(check "$t") || self_fail "a clean tree is reported: $out"

    # one tree per rule, each with a single bad include
    bad_tree() { # name file include
        rm -rf "${tmp:?}/$1"
        cp -a "$t" "$tmp/$1"
        printf '#include "%s"\n' "$3" >>"$tmp/$1/$2"
    }
    bad_tree u util/err.h store/store.h
    expect_violation "$tmp/u" "util -> store" '^util/err.h:1: includes store/store.h: util/ must not include store/'
    bad_tree s store/store.h store/backend/backend.h
    expect_violation "$tmp/s" "store -> store/backend" 'store/store.h:2: includes store/backend/backend.h: store/ must not include store/backend/'
    bad_tree s2 store/pack.h engine/core/chunker.h
    expect_violation "$tmp/s2" "store -> engine" 'store/pack.h:3: includes engine/core/chunker.h: store/ must not'
    bad_tree b store/backend/backend.h engine/core/backup.h
    expect_violation "$tmp/b" "store/backend -> engine/core" 'store/backend/backend.h:2: includes engine/core/backup.h: store/backend/ must not'
    bad_tree c engine/core/chunker.h engine/ios/backup_folder.h
    expect_violation "$tmp/c" "engine/core -> engine/ios" '^engine/core/chunker.h:1: includes engine/ios/backup_folder.h: engine/core/ must not include engine/ios/'
    bad_tree c2 engine/core/backup.h cli/cli.h
    expect_violation "$tmp/c2" "engine/core -> cli" 'engine/core/backup.h:3: includes cli/cli.h: engine/core/ must not include cli/'
    bad_tree i engine/ios/backup_folder.h cli/cli.h
    expect_violation "$tmp/i" "engine/ios -> cli" 'engine/ios/backup_folder.h:3: includes cli/cli.h: engine/ios/ must not include cli/'
    bad_tree v engine/ios/backup_folder.h engine/service/alarm_sink.h
    expect_violation "$tmp/v" "engine/ios -> engine/service" 'engine/ios/backup_folder.h:3: includes engine/service/alarm_sink.h: engine/ios/ must not include engine/service/'
    bad_tree v2 engine/service/alarm_sink.h cli/cli.h
    expect_violation "$tmp/v2" "engine/service -> cli" 'engine/service/alarm_sink.h:2: includes cli/cli.h: engine/service/ must not include cli/'
    bad_tree x cli/main.c store/pack.h
    expect_violation "$tmp/x" "cli -> store/pack.h" 'cli/main.c:3: includes store/pack.h: cli/ must use the engine API'
    bad_tree x2 cli/cli.h store/backend/backend.h
    expect_violation "$tmp/x2" "cli -> store/backend/*" 'cli/cli.h:5: includes store/backend/backend.h: cli/ must use the engine API, not store/backend/\*'
    bad_tree x3 cli/cli.h engine/core/chunker.h
    expect_violation "$tmp/x3" "cli -> engine/core/chunker.h" 'cli/cli.h:5: includes engine/core/chunker.h: cli/ must use the engine API'
    bad_tree m mount/mount.c cli/cli.h
    expect_violation "$tmp/m" "mount -> cli" 'mount/mount.c:4: includes cli/cli.h: mount/ must not include cli/'
    bad_tree m2 mount/mount.c store/pack.h
    expect_violation "$tmp/m2" "mount -> store/pack.h" 'mount/mount.c:4: includes store/pack.h: mount/ must use the engine API'
    bad_tree m3 mount/mount.h store/backend/backend.h
    expect_violation "$tmp/m3" "mount -> store/backend" 'mount/mount.h:3: includes store/backend/backend.h: mount/ must not include store/backend/'
    bad_tree m4 cli/main.c mount/vtree.h
    expect_violation "$tmp/m4" "cli -> a private header of mount" 'cli/main.c:3: includes mount/vtree.h: cli/ may include only mount/mount.h'
    bad_tree m5 engine/ios/backup_folder.h mount/mount.h
    expect_violation "$tmp/m5" "engine/ios -> mount" 'engine/ios/backup_folder.h:3: includes mount/mount.h: engine/ios/ must not include mount/'
    bad_tree w web/server.c store/pack.h
    expect_violation "$tmp/w" "web -> store/pack.h" 'web/server.c:4: includes store/pack.h: web/ must use the engine API'
    bad_tree w2 web/route.h cli/cli.h
    expect_violation "$tmp/w2" "web -> cli" 'web/route.h:1: includes cli/cli.h: web/ must not include cli/'
    bad_tree w3 cli/cmd_serve.c web/route.h
    expect_violation "$tmp/w3" "cli -> a private header of web" 'cli/cmd_serve.c:2: includes web/route.h: cli/ may include only web/web.h'
    bad_tree w4 engine/ios/backup_folder.h web/web.h
    expect_violation "$tmp/w4" "engine/ios -> web" 'engine/ios/backup_folder.h:3: includes web/web.h: engine/ios/ must not include web/'
    bad_tree w5 web/server.c mount/mount.h
    expect_violation "$tmp/w5" "web -> mount" 'web/server.c:4: includes mount/mount.h: web/ must not include mount/'
    bad_tree n engine/core/backup.h engine/core/no_such.h
    expect_violation "$tmp/n" "unresolved include" 'engine/core/backup.h:3: #include "engine/core/no_such.h" is not a file of the tree'

    # the real tree with one bad include added: reported whatever else is
    mkdir -p "$tmp/real"
    (cd "$root" && find util store engine cli mount web -type f \( -name '*.c' -o -name '*.h' \) -print0 |
        xargs -0 cp -a --parents -t "$tmp/real/") || self_fail "cannot copy $root"
    printf '#include "engine/ios/mobilesync.h"\n' >>"$tmp/real/util/err.h"
    local n
    n=$(wc -l <"$tmp/real/util/err.h")
    expect_violation "$tmp/real" "a copy of $root with one bad include" \
        "^util/err.h:$n: includes engine/ios/mobilesync.h: util/ must not include engine/ios/"
    rm -rf "$tmp"
    trap - EXIT
}

if [ "${1:-}" = --check-only ]; then
    check "${2:-.}"
    exit $?
fi
ROOT=${1:-.}
self_test "$ROOT"
echo "layering: self-test passed (every rule reports a planted bad include)"
if out=$(check "$ROOT"); then
    echo "layering: ok, every include points down the layers"
    exit 0
else
    rc=$?
    [ "$rc" = 1 ] || exit "$rc"
    echo "$out"
    echo "layering: $(wc -l <<<"$out") include(s) break the layers of docs/DESIGN.md (fix the code, or the rules at the top of tests/layering.sh)"
    exit 1
fi
