#!/bin/bash
# web_browser.sh - every page of "cairn serve" rendered by Debian's headless
# Chromium (--dump-dom after the page's own API calls): the devices page
# shows the device's exact name, its snapshot count and an archived chain;
# the diff page a row the generator made, with its size; the browser's
# folder listing links a file whose download is byte-identical to the
# backup's; the targets page the 3-2-1 verdict; the storage page the apps.
# (The token is tested through curl: web_api.sh.)  A screenshot of each page is taken
# (and must be a PNG); with CAIRN_WEB_SCREENSHOTS=DIR they are copied there
# (docs/web/ is made that way).
#
# Chromium is installed with apt-get when missing (root only); when it
# cannot be, the test exits 77 and says why.
#
# usage: web_browser.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"

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
"$GEN" device "$DEV" --seed 23 --size-mb 3 --name "$NAME" --product iPad13,4 >/dev/null ||
    fail "cairn-gen device"
run 0 backup "$DEV"
"$GEN" mutate "$DEV" --seed 23 --day 1 --changes "$T/c1" >/dev/null || fail "cairn-gen mutate"
run 0 backup "$DEV"
run 0 chain archive "$(snap_json 's[0]["chain"]')"
"$GEN" mutate "$DEV" --seed 23 --day 2 >/dev/null || fail "cairn-gen mutate day 2"
run 0 backup "$DEV"
run 0 target add usb "$T/usb"
run 0 copy --target usb
S0=$(snap_json 's[0]["id"]')
S1=$(snap_json 's[1]["id"]')

"$CAIRN" --store "$STORE" serve --port 0 >"$T/serve.out" 2>"$T/serve.err" &
SERVER=$!
bg_track $SERVER
for _ in $(seq 600); do
    [ -s "$T/serve.out" ] && break
    kill -0 $SERVER 2>/dev/null || fail "serve exited: $(cat "$T/serve.err")"
    sleep 0.1
done
URL=$(head -1 "$T/serve.out")
[[ $URL =~ ^http://127\.0\.0\.1:([0-9]+)/\?token=([0-9a-f]{64})$ ]] || fail "serve printed '$URL'"
BASE=http://127.0.0.1:${BASH_REMATCH[1]}
TOKEN=${BASH_REMATCH[2]}

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

info "devices page: name, count, archived chain"
browse devices "#/"
grep -qF "class=\"device-name\">$NAME<" "$T/devices.html" ||
    fail "no device name: $(grep -o 'class="device-name">[^<]*' "$T/devices.html")"
grep -q 'class="snapshot-count">3 snapshots<' "$T/devices.html" ||
    fail "snapshot count: $(grep -o 'class="snapshot-count">[^<]*' "$T/devices.html")"
[ "$(grep -o 'class="chain archived"' "$T/devices.html" | wc -l)" = 1 ] || fail "no archived chain shown"
[ "$(grep -o 'class="mark"' "$T/devices.html" | wc -l)" = 3 ] || fail "not one mark per snapshot"

info "diff page: a row the generator made"
IFS=$'\t' read -r _ DOM REL _ < <(grep -m1 '^M	' "$T/c1")
FID=$(printf '%s-%s' "$DOM" "$REL" | sha1sum | cut -c1-40)
browse diff "#/diff/$S0/$S1"
text_of diff >"$T/diff.txt"
grep -qxF "$DOM/$REL" "$T/diff.txt" || fail "no diff row for $DOM/$REL"
grep -A1 -xF "M" "$T/diff.txt" | grep -qxF "$DOM/$REL" || fail "$DOM/$REL not shown as modified"
grep -q 'class="diff-row" data-status="M"' "$T/diff.html" || fail "no diff-row element"
MODIFIED=$(grep -c 'data-status="M"' <(grep -o 'data-status="."' "$T/diff.html"))
[ "$MODIFIED" = "$(grep -c '^M' "$T/c1")" ] || fail "$MODIFIED modified rows, the generator made $(grep -c '^M' "$T/c1")"

info "browse page: a file's link downloads it byte-identical"
PARENT=${REL%/*}
browse browse "#/browse/latest/$DOM/$PARENT"
HREF=$(grep -o "href=\"/api/file?[^\"]*\" download=\"${REL##*/}\"" "$T/browse.html" | head -1 |
    sed 's/^href="//; s/" download=.*//; s/&amp;/\&/g')
[ -n "$HREF" ] || fail "no download link for ${REL##*/}"
curl -s -f -H "X-Cairn-Token: $TOKEN" -o "$T/download" "$BASE$HREF" || fail "download $HREF"
cmp "$T/download" "$DEV/${FID:0:2}/$FID" || fail "the download differs from the backup's file"

info "targets page: the 3-2-1 verdict"
browse targets "#/targets"
grep -q 'id="verdict">3-2-1: not met — need 1 more current copy' "$T/targets.html" ||
    fail "verdict: $(grep -o 'id="verdict">[^<]*' "$T/targets.html")"
text_of targets | grep -qx usb || fail "target usb not listed"

info "storage page: apps and domains"
browse storage "#/storage/$S1"
text_of storage | grep -qx "$DOM" || fail "domain $DOM not listed"
[ "$(grep -c 'class="storage-row"' <(grep -o 'class="storage-row"' "$T/storage.html"))" -gt 5 ] ||
    fail "too few storage rows"

if [ -n "${CAIRN_WEB_SCREENSHOTS:-}" ]; then
    mkdir -p "$CAIRN_WEB_SCREENSHOTS" || fail "cannot make $CAIRN_WEB_SCREENSHOTS"
    for n in devices diff browse targets storage; do
        cp "$T/$n.png" "$CAIRN_WEB_SCREENSHOTS/$n.png" || fail "cannot copy $n.png"
    done
    info "screenshots copied to $CAIRN_WEB_SCREENSHOTS"
fi
echo "PASS"
