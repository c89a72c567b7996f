#!/bin/bash
# modules.sh - the optional parts are modules loaded on first use
# (util/module.h): the cairn executable does not link libcurl, libssh,
# libfuse3, libmicrohttpd, libdbus-1, or libimobiledevice with its libusbmuxd
# and libssl, not even through another library,
# and each module cairn-<name>.so next to it links its own; a module missing
# from its folder, one that is not a shared object, or another module under
# its name, is one line naming the file (and dlerror's reason) with exit 17,
# before any password is asked, and the store keeps every object it had; the
# look-up order: $CAIRN_MODULE_DIR alone, else the executable's folder, its
# modules/, then the build folder compiled in (a copied executable still
# finds them).  Which file a run loaded is read from the process's own
# /proc/PID/maps by an alarm command sink, its child.
. "$(dirname "$0")/lib.sh" "$@"
exec </dev/null
BUILD=$(cd "$(dirname "$CAIRN")" && pwd -P)
command -v readelf >/dev/null || { echo "SKIP: readelf (binutils) is not installed"; exit 77; }

info "the executable links none of the optional libraries; each module its own"
readelf -d "$CAIRN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' >"$T/needed"
grep -q '^libsodium\.' "$T/needed" || fail "no libsodium among cairn's NEEDED: $(cat "$T/needed")"
ldd "$CAIRN" >"$T/ldd" || fail "ldd $CAIRN exited $?"
grep -q 'libsodium\.' "$T/ldd" || fail "ldd lists no libsodium: $(cat "$T/ldd")"
for lib in libcurl libssh libfuse3 libmicrohttpd libdbus-1 libimobiledevice-1.0 libusbmuxd-2.0 \
    libssl; do
    ! grep -q "^$lib\." "$T/needed" || fail "cairn has $lib as NEEDED"
    ! grep -q "$lib\." "$T/ldd" || fail "cairn loads $lib at start: $(grep "$lib\." "$T/ldd")"
done
for pair in s3:libcurl sftp:libssh mount:libfuse3 web:libmicrohttpd alarm:libcurl alarm:libdbus-1 \
    device:libimobiledevice-1.0; do
    m=${pair%%:*} lib=${pair#*:}
    [ -f "$BUILD/cairn-$m.so" ] || fail "no cairn-$m.so next to cairn in $BUILD"
    readelf -d "$BUILD/cairn-$m.so" | grep "(NEEDED).*\[$lib\." >/dev/null ||
        fail "cairn-$m.so does not link $lib"
done

mkdir -p "$T/src" "$T/empty"
gen_text "$T/src/a.txt" 20000
init_store
run 0 backup "$T/src"
run 0 target add nas sftp://u@127.0.0.1:1/x
objects() { (cd "$STORE" && find config keys packs snapshots -type f -exec sha256sum {} + | sort); }
objects >"$T/objects.before"

# missing SPEC ARGS..: with no module anywhere, cairn ARGS.. exits 17 with
# exactly the line "cairn: SPEC" (SPEC a regex; @ is $T/empty); no password
# source unless KEEP_PW is set, so a prompt would have been exit 2
missing() {
    local want=$1
    shift
    local nopw=(-u CAIRN_PASSWORD)
    [ -z "${KEEP_PW:-}" ] || nopw=()
    RUN_AS=(env "${nopw[@]}" CAIRN_MODULE_DIR="$T/empty")
    run 17 "$@"
    RUN_AS=()
    [ "$(wc -l <"$T/err")" = 1 ] || fail "cairn $*: not one line"
    local line
    line=$(sed "s|$T/empty|@|g" "$T/err")
    [[ $line =~ ^cairn:\ $want$ ]] || fail "cairn $*: '$line'"
}
nf() { echo "module cairn-$1\\.so not found \\(looked in @\\); it is installed with cairn, or set CAIRN_MODULE_DIR"; }

info "a missing module: one line, exit 17, before the password, nothing stored changes"
KEEP_PW=1 missing "target nas: $(nf sftp)" copy --target nas
missing "target s3://b/p\\?endpoint=http://127.0.0.1:1: $(nf s3)" \
    restore --from-target 's3://b/p?endpoint=http://127.0.0.1:1' latest --to "$T/out1"
[ ! -e "$T/out1" ] || fail "restore made its folder"
missing "$(nf mount)" mount "$T/empty"
missing "$(nf web)" serve --port 0
missing "$(nf alarm)" alarm test command:/bin/true
missing "$(nf device)" devices
objects >"$T/objects.after"
cmp -s "$T/objects.before" "$T/objects.after" || fail "the store's objects changed"
run 0 check

info "a file that is no module, and another module under the name: refused"
mkdir -p "$T/bad"
printf 'not a shared object\n' >"$T/bad/cairn-s3.so"
cp "$BUILD/cairn-web.so" "$T/bad/cairn-sftp.so"
RUN_AS=(env CAIRN_MODULE_DIR="$T/bad")
run 17 restore --from-target 's3://b/p?endpoint=http://127.0.0.1:1' latest --to "$T/out2"
grep -qx "cairn: target s3://b/p?endpoint=http://127.0.0.1:1: module $T/bad/cairn-s3.so cannot be loaded: $T/bad/cairn-s3.so: \(invalid ELF header\|file too short\)" "$T/err" ||
    fail "a file that is no module: $(cat "$T/err")"
run 17 copy --target nas
[ "$(cat "$T/err")" = "cairn: target nas: module $T/bad/cairn-sftp.so: is not the sftp module" ] ||
    fail "another module under the name: $(cat "$T/err")"
RUN_AS=()

info "the look-up order: CAIRN_MODULE_DIR, the executable's folder, its modules/, the build folder"
# the sink runs as cairn's child and names the cairn-alarm.so its parent mapped
printf '#!/bin/sh\ngrep -o "/.*/cairn-alarm\\.so" /proc/$PPID/maps | sort -u >"%s"\n' "$T/loaded" \
    >"$T/where.sh"
chmod +x "$T/where.sh"
# loaded_from CAIRN DIR [ENV..]: 'alarm test' through CAIRN loads DIR/cairn-alarm.so
loaded_from() {
    rm -f "$T/loaded"
    env "${@:3}" "$1" alarm test "command:$T/where.sh" >"$T/out" 2>"$T/err" ||
        fail "alarm test through $1 exited $?: $(cat "$T/err")"
    [ "$(cat "$T/loaded")" = "$2/cairn-alarm.so" ] ||
        fail "$1 loaded '$(cat "$T/loaded")', expected $2/cairn-alarm.so"
}
mkdir -p "$T/bin/modules" "$T/own"
cp "$CAIRN" "$T/bin/cairn"
loaded_from "$CAIRN" "$BUILD"
loaded_from "$T/bin/cairn" "$BUILD"
cp "$BUILD/cairn-alarm.so" "$T/bin/modules/"
loaded_from "$T/bin/cairn" "$T/bin/modules"
cp "$BUILD/cairn-alarm.so" "$T/bin/"
loaded_from "$T/bin/cairn" "$T/bin"
cp "$BUILD/cairn-alarm.so" "$T/own/"
loaded_from "$T/bin/cairn" "$T/own" CAIRN_MODULE_DIR="$T/own"
echo "PASS"
