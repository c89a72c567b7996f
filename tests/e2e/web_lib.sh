# shellcheck shell=bash
# tests/e2e/web_lib.sh - what the web tests share (after lib.sh):
#   serve_start   starts "cairn serve --port 0" on $STORE in the background
#                 (killed on exit) and waits for its URL: sets SERVER (pid),
#                 URL, PORT, TOKEN and BASE (http://127.0.0.1:PORT)
# shellcheck disable=SC2034 # the variables are for the test that sources this
serve_start() {
    "$CAIRN" --store "$STORE" serve --port 0 >"$T/serve.out" 2>"$T/serve.err" &
    SERVER=$!
    bg_track "$SERVER"
    # polled, not timed: a slow machine only waits longer (60 s at most)
    for _ in $(seq 600); do
        [ -s "$T/serve.out" ] && break
        kill -0 "$SERVER" 2>/dev/null || fail "serve exited: $(cat "$T/serve.err")"
        sleep 0.1
    done
    URL=$(head -1 "$T/serve.out")
    [[ $URL =~ ^http://127\.0\.0\.1:([0-9]+)/\?token=([0-9a-f]{64})$ ]] || fail "serve printed '$URL'"
    PORT=${BASH_REMATCH[1]}
    TOKEN=${BASH_REMATCH[2]}
    BASE=http://127.0.0.1:$PORT
}
