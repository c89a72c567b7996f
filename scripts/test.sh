#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole suite, then
# runs it again built with AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
jobs=$(nproc)

echo "== build and test (RelWithDebInfo)"
"$top/scripts/build.sh" "$top/build" -DCAIRN_WERROR=ON
(cd "$top/build" && ctest --output-on-failure -j"$jobs" --timeout 600)

echo "== build and test (ASan + UBSan, asserts on)"
"$top/scripts/build.sh" "$top/build-asan" -DCAIRN_SANITIZE=ON -DCAIRN_WERROR=ON
(cd "$top/build-asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" --timeout 900 -LE "slow|heavy")

echo "== fuzz every decoder of untrusted bytes for a short while (clang libFuzzer)"
# only the fuzz targets: the cli, unit tests and generator would be built
# with clang and libFuzzer's instrumentation for nothing
CC=clang CAIRN_BUILD_TARGET=fuzz_targets "$top/scripts/build.sh" "$top/build-fuzz" -DCAIRN_FUZZ=ON -DCAIRN_FUZZ_SECONDS=10 -DCAIRN_WERROR=ON
(cd "$top/build-fuzz" && ctest --output-on-failure -j"$jobs" -L fuzz)
