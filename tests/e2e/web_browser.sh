#!/bin/bash
# web_browser.sh - every page of "cairn serve" rendered by Debian's headless
# Chromium (--dump-dom after the page's own API calls): the devices page
# shows the device's exact name, its snapshot count, an archived and an
# active chain; the diff page a row the generator made; the browser's folder
# listing links a file whose download is byte-identical to the backup's, and
# a snapshot kept as Apple ciphertext shows the note instead; the targets
# page the 3-2-1 verdict; the storage page the apps (an app's group domain
# counted with it) and the domains.  (The token is tested through curl:
# web_api.sh.)  A screenshot of each page is taken (and must be a PNG); with
# CAIRN_WEB_SCREENSHOTS=DIR they are copied there (docs/web/ is made so).
#
# Chromium is installed with apt-get when missing (root only); when it
# cannot be, the test exits 77 and says why.
#
# usage: web_browser.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"
. "$(dirname "$0")/web_lib.sh"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        info "installing chromium (Debian package)"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
            --no-install-recommends chromium >"$T/apt.log" 2>&1 ||
            { echo "SKIP: chromium is not installed and apt-get could not install it: $(tail -1 "$T/apt.log")" >&2; exit 77; }
    else
        echo "SKIP: chromium is not installed (apt-get install chromium, as root)" >&2
        exit 77
    fi
fi

DEV=$T/device
NAME="Grace's iPad"
init_store
"$GEN" device "$DEV" --seed 23 --size-mb 3 --name "$NAME" >/dev/null || fail "cairn-gen device"
run 0 backup "$DEV"
"$GEN" mutate "$DEV" --seed 23 --day 1 --changes "$T/c1" >/dev/null || fail "cairn-gen mutate"
run 0 backup "$DEV"
# a file the day-1 backup holds, as it was then
# (one in a folder of many files when there is one: a fuller screenshot)
IFS=$'\t' read -r _ DOM REL _ < <(grep -P '^M\tHomeDomain\tLibrary/Preferences/' "$T/c1" |
    head -1 | grep . || grep -m1 '^M	' "$T/c1")
[ -n "${REL:-}" ] || fail "the generator modified nothing"
FID=$(printf '%s-%s' "$DOM" "$REL" | sha1sum | cut -c1-40)
cp "$DEV/${FID:0:2}/$FID" "$T/day1-file" || fail "no content file for $DOM/$REL"
# then backup encryption is turned on (without the password cairn keeps the
# ciphertext): the first chain is archived, a second one starts
"$PY" - "$DEV/Manifest.plist" <<'PY' || fail "cannot edit Manifest.plist"
import plistlib, sys
p = sys.argv[1]
d = plistlib.load(open(p, 'rb'))
d['IsEncrypted'] = True
d['BackupKeyBag'] = b'VERS\x00\x00\x00\x04\x00\x00\x00\x05' + bytes(range(64))
plistlib.dump(d, open(p, 'wb'), fmt=plistlib.FMT_BINARY)
PY
run 0 backup "$DEV"
run 0 target add usb "$T/usb"
run 0 copy --target usb
S0=$(snap_json 's[0]["id"]')
S1=$(snap_json 's[1]["id"]')

serve_start

# browse NAME FRAGMENT: the rendered DOM into $T/NAME.html and a screenshot
# into $T/NAME.png, from one Chromium run (each run costs seconds)
browse() {
    local name=$1 frag=$2
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --user-data-dir="$T/profile" --virtual-time-budget=15000 --window-size=1200,850 \
        --screenshot="$T/$name.png" --dump-dom "$URL$frag" >"$T/$name.html" 2>"$T/chromium.err" ||
        fail "chromium $name: $(tail -3 "$T/chromium.err")"
    [ "$(head -c 8 "$T/$name.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        fail "$name.png is not a PNG"
    grep -q 'data-ready="1"' "$T/$name.html" ||
        fail "the $name page did not finish: $(grep -o 'class="error">[^<]*' "$T/$name.html")"
}
# text_of NAME: the rendered page's text, one element per line
text_of() { sed -e 's/<[^>]*>/\n/g' "$T/$1.html" | sed -e 's/&amp;/\&/g; s/&#39;/'"'"'/g; s/&quot;/"/g' | grep -v '^$'; }

info "devices page: name, count, an archived and an active chain"
browse devices "#/"
grep -qF "class=\"device-name\">$NAME<" "$T/devices.html" ||
    fail "no device name: $(grep -o 'class="device-name">[^<]*' "$T/devices.html")"
grep -q 'class="snapshot-count">3 snapshots<' "$T/devices.html" ||
    fail "snapshot count: $(grep -o 'class="snapshot-count">[^<]*' "$T/devices.html")"
[ "$(grep -o 'class="chain archived"' "$T/devices.html" | wc -l)" = 1 ] || fail "not one archived chain"
[ "$(grep -o 'class="chain"' "$T/devices.html" | wc -l)" = 1 ] || fail "not one active chain"
text_of devices | grep "backup encryption was turned on" >/dev/null || fail "no reason for the archive"
[ "$(grep -o 'class="mark"' "$T/devices.html" | wc -l)" = 3 ] || fail "not one mark per snapshot"

info "diff page: a row the generator made"
browse diff "#/diff/$S0/$S1"
text_of diff >"$T/diff.txt"
grep -qxF "$DOM/$REL" "$T/diff.txt" || fail "no diff row for $DOM/$REL"
grep -A1 -xF "M" "$T/diff.txt" | grep -xF "$DOM/$REL" >/dev/null || fail "$DOM/$REL not shown as modified"
MODIFIED=$(grep -o 'class="diff-row" data-status="M"' "$T/diff.html" | wc -l)
[ "$MODIFIED" = "$(grep -c '^M' "$T/c1")" ] ||
    fail "$MODIFIED modified rows, the generator made $(grep -c '^M' "$T/c1")"

info "browse page: a file's link downloads it byte-identical"
browse browse "#/browse/$S1/$DOM/${REL%/*}"
HREF=$(grep -o "href=\"/api/file?[^\"]*\" download=\"${REL##*/}\"" "$T/browse.html" | head -1 |
    sed 's/^href="//; s/" download=.*//; s/&amp;/\&/g')
[ -n "$HREF" ] || fail "no download link for ${REL##*/}"
curl -s -f -H "X-Cairn-Token: $TOKEN" -o "$T/download" "$BASE$HREF" || fail "download $HREF"
cmp "$T/download" "$T/day1-file" || fail "the download differs from the backup's file"
# the snapshot kept as ciphertext says so instead of listing anything
browse cipher "#/browse/latest/"
text_of cipher | grep "its files are Apple ciphertext" >/dev/null || fail "no ciphertext note"
grep -q 'class="entry-row"' "$T/cipher.html" && fail "ciphertext entries listed"

info "targets page: the 3-2-1 verdict"
browse targets "#/targets"
grep -q 'id="verdict">3-2-1: not met — need 1 more current copy' "$T/targets.html" ||
    fail "verdict: $(grep -o 'id="verdict">[^<]*' "$T/targets.html")"
text_of targets | grep -x usb >/dev/null || fail "target usb not listed"

info "storage page: apps and domains"
browse storage "#/storage/$S1"
text_of storage | grep -x "$DOM" >/dev/null || fail "domain $DOM not listed"
[ "$(grep -c 'class="storage-row"' <(grep -o 'class="storage-row"' "$T/storage.html"))" -gt 5 ] ||
    fail "too few storage rows"
text_of storage | grep '^group\.' >/dev/null && fail "an app group is listed apart from its app"
text_of storage | grep -x "com.example.chat" >/dev/null || fail "the app com.example.chat is not listed"

if [ -n "${CAIRN_WEB_SCREENSHOTS:-}" ]; then
    mkdir -p "$CAIRN_WEB_SCREENSHOTS" || fail "cannot make $CAIRN_WEB_SCREENSHOTS"
    for n in devices diff browse targets storage; do
        cp "$T/$n.png" "$CAIRN_WEB_SCREENSHOTS/$n.png" || fail "cannot copy $n.png"
    done
    info "screenshots copied to $CAIRN_WEB_SCREENSHOTS"
fi
echo "PASS"
