#!/usr/bin/env bash
# Configures and builds cairn into build/ (or $1 with extra cmake args after it).
# A build asked for with a sanitizer, fuzzing or Debug keeps assert() on
# (CAIRN_ASSERT; an explicit -DCAIRN_ASSERT=OFF after it still wins): those
# builds exist to find bugs.  The plain build is the shipped RelWithDebInfo,
# without asserts.  $CAIRN_BUILD_TARGET, if set, builds only that target
# (e.g. fuzz_targets) instead of all.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
shift || true
asserts=()
case " $* " in
*" -DCAIRN_SANITIZE=ON "* | *" -DCAIRN_FUZZ=ON "* | *" -DCMAKE_BUILD_TYPE=Debug "*)
    asserts=(-DCAIRN_ASSERT=ON) ;;
esac
cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${asserts[@]}" "$@" >/dev/null
# quiet when it builds; the whole log (warnings, errors) when it does not
target=()
[ -z "${CAIRN_BUILD_TARGET:-}" ] || target=(--target "$CAIRN_BUILD_TARGET")
cmake --build "$dir" -j"$(nproc)" "${target[@]}" >"$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }
