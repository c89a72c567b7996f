#!/bin/bash
# web_api.sh - "cairn serve" through curl: the JSON API gives the exact
# device name, snapshot count and archived chain, a diff row the generator
# made, a file downloaded byte-identical to the backup's (of a device and of
# a folder snapshot, browsed by path); the token is enforced (401 without
# it, with a wrong one; the page's cookie works); bad requests get a 4xx
# JSON error (traversal, unknown snapshot, malformed and huge query strings,
# POST, a foreign Host) and the server lives on; it listens on 127.0.0.1
# only; --port is checked; SIGTERM ends it cleanly.
#
# usage: web_api.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"
. "$(dirname "$0")/web_lib.sh"

GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
command -v ss >/dev/null || { echo "SKIP: ss (iproute2) is not installed" >&2; exit 77; }

DEV=$T/device
NAME="Ada's iPhone \"work\""
init_store
# a folder first (the device's snapshots stay the newest: 'latest')
mkdir -p "$T/folder/docs/sub dir"
gen_random "$T/folder/docs/sub dir/data.bin" 200000 f
printf 'hello web\n' >"$T/folder/readme.txt"
run 0 backup "$T/folder"
"$GEN" device "$DEV" --seed 17 --size-mb 3 --name "$NAME" >/dev/null || fail "cairn-gen device"
run 0 backup "$DEV"
"$GEN" mutate "$DEV" --seed 17 --day 1 --changes "$T/c1" >/dev/null || fail "cairn-gen mutate"
run 0 backup "$DEV"
CHAIN=$(snap_json 's[1]["chain"]')
run 0 chain archive "$CHAIN"

# serve on any free port; the URL is the one line on stdout
serve_start
grep -q "$TOKEN" "$T/serve.err" && fail "the token is on stderr too"

# get PATH [curl args]: body in $T/body, status in $CODE
get() {
    local path=$1
    shift
    CODE=$(curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$@" "$BASE$path") ||
        fail "curl $path failed"
}
# json EXPR: a Python expression over j, the last body
json() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/body" "$1"; }
# expect_error STATUS PATH [curl args]: that status and a JSON error
expect_error() {
    local want=$1 path=$2
    shift 2
    get "$path" -H "X-Cairn-Token: $TOKEN" "$@"
    [ "$CODE" = "$want" ] || fail "$path: HTTP $CODE, not $want: $(head -c 300 "$T/body")"
    grep -q '^{"error":"[^"]' "$T/body" || fail "$path: no JSON error: $(head -c 300 "$T/body")"
}
H=(-H "X-Cairn-Token: $TOKEN")

info "the token is enforced"
get /api/devices
[ "$CODE" = 401 ] || fail "no token: HTTP $CODE"
[[ $(json 'j["error"]') == *"missing access token"* ]] || fail "no token: $(cat "$T/body")"
WRONG=$(printf '%064d' 0)
get "/api/devices?token=$WRONG"
[ "$CODE" = 401 ] || fail "wrong token in the query: HTTP $CODE"
[ "$(json 'j["error"]')" = "wrong access token" ] || fail "wrong token: $(cat "$T/body")"
get /api/devices -H "X-Cairn-Token: $WRONG"
[ "$CODE" = 401 ] || fail "wrong token in the header: HTTP $CODE"
get "/api/devices?token=${TOKEN:0:63}"
[ "$CODE" = 401 ] || fail "a shortened token: HTTP $CODE"
get / -b "cairn_token=$WRONG"
[ "$CODE" = 401 ] || fail "wrong token in the cookie: HTTP $CODE"
get /app.js
[ "$CODE" = 401 ] || fail "an asset without the token: HTTP $CODE"
# the page opened with ?token= sets the cookie its own requests carry
get "/?token=$TOKEN" -c "$T/cookies"
[ "$CODE" = 200 ] || fail "the page: HTTP $CODE"
grep -q '<script src="app.js">' "$T/body" || fail "the page is not the built-in one"
grep -q "cairn_token" "$T/cookies" || fail "no cookie set"
get /app.js -b "$T/cookies"
[ "$CODE" = 200 ] || fail "app.js with the cookie: HTTP $CODE"
grep -q "api('/api/devices')" "$T/body" || fail "app.js is not the built-in one"

info "devices: exact name, count, archived chain"
get /api/devices -b "$T/cookies"
[ "$CODE" = 200 ] || fail "devices with the cookie: HTTP $CODE"
F0=$(snap_json 's[0]["id"]')
S0=$(snap_json 's[1]["id"]')
S1=$(snap_json 's[2]["id"]')
ADDED1=$(snap_json 's[2]["new_bytes"]')
GOT=$(json '(len(j["devices"]), j["snapshots"], j["devices"][0]["snapshots"], [(c["archived"], c["reason"], [(x["id"], x["new_bytes"]) for x in c["snapshots"]]) for c in j["devices"][0]["chains"]])')
[ "$GOT" = "(1, 3, 2, [(True, 'archived by hand', [('$S0', $(snap_json 's[1]["new_bytes"]')), ('$S1', $ADDED1)])])" ] ||
    fail "devices: $GOT"
[ "$(json 'j["devices"][0]["name"]')" = "$NAME" ] || fail "device name: $(json 'j["devices"][0]["name"]')"

info "diff: a row the generator made"
IFS=$'\t' read -r _ DOM REL _ < <(grep -m1 '^M	' "$T/c1")
[ -n "${REL:-}" ] || fail "the generator modified nothing"
FID=$(printf '%s-%s' "$DOM" "$REL" | sha1sum | cut -c1-40)
NEWSIZE=$(stat -c %s "$DEV/${FID:0:2}/$FID")
get "/api/diff?a=${S0:0:12}&b=latest" "${H[@]}"
[ "$CODE" = 200 ] || fail "diff: HTTP $CODE $(cat "$T/body")"
ROW=$(DOM=$DOM REL=$REL json '[(c["status"], c["new_size"]) for c in j["changes"] if c["domain"] == __import__("os").environ["DOM"] and c["path"] == __import__("os").environ["REL"]]')
[ "$ROW" = "[('M', $NEWSIZE)]" ] || fail "diff row of $DOM/$REL: $ROW"
[ "$(json 'j["modified"] + j["added"] + j["removed"]')" = "$(wc -l <"$T/c1")" ] ||
    fail "diff counts: $(json '(j["added"], j["removed"], j["modified"])') vs $(wc -l <"$T/c1") changes"
# b alone: against its parent, the same answer
cp "$T/body" "$T/diff1"
get "/api/diff?b=$S1" "${H[@]}"
cmp -s "$T/body" "$T/diff1" || fail "diff b=S1 differs from a=S0&b=S1"

info "browse and download"
get "/api/ls?snapshot=latest&path=$DOM" "${H[@]}"
[ "$CODE" = 200 ] || fail "ls $DOM: HTTP $CODE"
[ "$(json 'j["type"]')" = dir ] || fail "ls $DOM: $(head -c 300 "$T/body")"
ENC=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$DOM/$REL")
get "/api/ls?snapshot=latest&path=$ENC" "${H[@]}"
[ "$(json '(j["type"], j["size"])')" = "('file', $NEWSIZE)" ] || fail "ls of a file: $(cat "$T/body")"
CODE=$(curl -s -o "$T/download" -D "$T/headers" -w '%{http_code}' "${H[@]}" "$BASE/api/file?snapshot=latest&path=$ENC")
[ "$CODE" = 200 ] || fail "download: HTTP $CODE"
cmp "$T/download" "$DEV/${FID:0:2}/$FID" || fail "the download differs from the backup's file"
grep -qi "^content-disposition: attachment; filename=\"${REL##*/}\"" "$T/headers" || fail "no file name: $(cat "$T/headers")"
# a HEAD gets the headers only
CODE=$(curl -s -I -o "$T/headers" -w '%{http_code}' "${H[@]}" "$BASE/api/file?snapshot=latest&path=$ENC")
[ "$CODE" = 200 ] || fail "HEAD: HTTP $CODE"
grep -qi "^content-length: $NEWSIZE" "$T/headers" || fail "HEAD: $(cat "$T/headers")"

# a symlink's target, as 'cairn ls' says it
run 0 ls latest HomeDomain/Library/Preferences
IFS=$'\t' read -r LNAME LTARGET < <(sed -n 's|^l .*  HomeDomain/Library/Preferences/\([^/]*\) -> \(.*\)$|\1\t\2|p' "$T/out" | head -1)
[ -n "${LTARGET:-}" ] || fail "the generator made no symlink in HomeDomain/Library/Preferences"
get "/api/ls?snapshot=latest&path=HomeDomain/Library/Preferences" "${H[@]}"
[ "$(LNAME=$LNAME json '[(e["type"], e["target"]) for e in j["entries"] if e["name"] == __import__("os").environ["LNAME"]]')" = "[('link', '$LTARGET')]" ] ||
    fail "symlink $LNAME: $(head -c 300 "$T/body")"

info "a folder snapshot: listed by its source, browsed and downloaded by path"
get /api/devices "${H[@]}"
[ "$(json '(j["folders"][0]["source"], [x["id"] for c in j["folders"][0]["chains"] for x in c["snapshots"]])')" = "('$T/folder', ['$F0'])" ] ||
    fail "folders: $(json 'j["folders"]')"
get "/api/ls?snapshot=${F0:0:8}&path=docs" "${H[@]}"
[ "$(json '[(e["name"], e["type"]) for e in j["entries"]]')" = "[('sub dir', 'dir')]" ] ||
    fail "ls docs: $(cat "$T/body")"
get "/api/file?snapshot=${F0:0:8}&path=docs/sub%20dir/data.bin" "${H[@]}"
[ "$CODE" = 200 ] || fail "folder download: HTTP $CODE"
cmp "$T/body" "$T/folder/docs/sub dir/data.bin" || fail "folder download differs"
expect_error 400 "/api/storage?snapshot=${F0:0:8}"

info "storage and targets"
get "/api/storage?snapshot=latest" "${H[@]}"
[ "$(DOM=$DOM json '[d["files"] for d in j["domains"] if d["domain"] == __import__("os").environ["DOM"]][0] > 0')" = True ] ||
    fail "storage of $DOM: $(head -c 300 "$T/body")"
run 0 target add usb "$T/usb"
get /api/targets "${H[@]}"
[ "$(json '(j["snapshots"], j["copies"], j["met"], j["targets"][0]["name"], j["targets"][0]["missing"])')" = "(3, 1, False, 'usb', 3)" ] ||
    fail "targets: $(cat "$T/body")"

info "bad requests: a 4xx and a JSON error, the server lives on"
expect_error 400 "/api/ls?snapshot=latest&path=../../etc/passwd"
expect_error 400 "/api/ls?snapshot=latest&path=$DOM/%2e%2e/%2E%2E/x"
expect_error 400 "/api/file?snapshot=latest&path=..%2f..%2fetc%2fpasswd"
expect_error 400 "/../../etc/passwd"
expect_error 400 "/%2e%2e/app.js"
expect_error 404 "/api/ls?snapshot=ffffffffffff"
expect_error 404 "/api/ls?snapshot=latest&path=NoSuchDomain/x"
expect_error 404 "/api/nothing"
expect_error 400 "/api/ls?snapshot=latest;rm"
expect_error 400 "/api/ls?snapshot=latest&path=%zz"
expect_error 400 "/api/ls?snapshot=latest&path=a%00b"
expect_error 400 "/api/ls?snapshot=latest&snapshot=latest"
expect_error 400 "/api/file?snapshot=latest"
expect_error 400 "/api/file?snapshot=latest&path=$DOM"
expect_error 400 "/api/diff"
expect_error 414 "/api/devices?x=$(head -c 20000 /dev/zero | tr '\0' a)"
expect_error 400 "/api/devices?$(for i in $(seq 40); do printf 'k%d=1&' "$i"; done)"
expect_error 405 /api/devices -X POST -d x=1
# DNS rebinding: another host name pointed at 127.0.0.1
expect_error 403 /api/devices -H "Host: rebind.example:$PORT"
get /api/devices -H "X-Cairn-Token: $TOKEN" -H "Host: localhost:$PORT"
[ "$CODE" = 200 ] || fail "Host: localhost: HTTP $CODE"
kill -0 "$SERVER" 2>/dev/null || fail "the server died"
get /api/devices "${H[@]}"
[ "$CODE" = 200 ] || fail "after the bad requests: HTTP $CODE"

info "listening on 127.0.0.1 only"
ss -ltnH "sport = :$PORT" >"$T/ss" || fail "ss failed"
[ -s "$T/ss" ] || fail "ss shows no listener on port $PORT"
awk '{print $4}' "$T/ss" | grep -v "^127\.0\.0\.1:$PORT\$" && fail "a listener beyond 127.0.0.1: $(cat "$T/ss")"
ADDR=$(hostname -I 2>/dev/null | awk '{print $1}')
if [ -n "$ADDR" ] && [ "$ADDR" != 127.0.0.1 ]; then
    curl -s -o /dev/null --max-time 5 "http://$ADDR:$PORT/" && fail "answers on $ADDR"
fi

info "--port: checked, and a taken port is one line"
run 2 serve --port 70000
grep -q -- "--port 70000: not a port number" "$T/err" || fail "--port 70000: $(cat "$T/err")"
run 2 serve --port abc
run 1 serve --port "$PORT"
grep -q "cannot listen on 127.0.0.1:$PORT" "$T/err" || fail "taken port: $(cat "$T/err")"

info "SIGTERM ends it cleanly"
kill -TERM "$SERVER"
wait "$SERVER"
RC=$?
[ "$RC" = 0 ] || fail "serve exited $RC after SIGTERM"
echo "PASS"
