#!/bin/bash
# password_warnings.sh - warnings about weak password handling, which never
# stop the command:
#   - init with a password under 12 characters says so on stderr (and
#     creates the store); 12 or more (counted as characters, not bytes)
#     gives no warning
#   - init --kdf minimum (Argon2id's floor) says it protects nothing
#   - a --password-file that its group or others can read is used, with a
#     warning naming it; a 0600 one gives none
. "$(dirname "$0")/lib.sh" "$@"

info "init with a short password warns, and still creates the store"
SHORT=Zq8-short-1 # 11 characters
CAIRN_PASSWORD=$SHORT run 0 --kdf interactive init
printf '%s\n' "cairn: warning: the password has 11 characters; anyone with a copy of the store can try passwords offline, so use 12 or more" >"$T/want"
diff "$T/want" "$T/err" || fail "init with an 11-character password: stderr is not the warning"
[ -f "$STORE/config" ] || fail "init with a short password made no store"
CAIRN_PASSWORD=$SHORT run 0 snapshots

info "--kdf minimum warns that it protects nothing, and still creates the store"
STORE=$T/store0 run 0 --kdf minimum init
printf '%s\n' "cairn: warning: --kdf minimum: anyone with a copy of the store can try passwords at full speed (for tests and throwaway stores only)" >"$T/want"
diff "$T/want" "$T/err" || fail "init --kdf minimum: stderr is not the warning"
STORE=$T/store0 run 0 snapshots

info "12 characters (here 12 characters in 16 bytes) give no warning"
STORE=$T/store2 CAIRN_PASSWORD="pässwörd-Zq8" run 0 --kdf interactive init
[ ! -s "$T/err" ] || fail "init with a 12-character password warned: $(cat "$T/err")"

info "a password file others can read: used, with a warning"
printf '%s\n' "$CAIRN_PASSWORD" >"$T/pw"
STORE=$T/store3 run 0 --kdf interactive init
chmod 644 "$T/pw"
(unset CAIRN_PASSWORD && "$CAIRN" --store "$T/store3" --password-file "$T/pw" snapshots) >"$T/out" 2>"$T/err" ||
    fail "--password-file 0644 exited $?: $(cat "$T/err")"
printf '%s\n' "cairn: warning: $T/pw: password file is readable by others (chmod 600 $T/pw)" >"$T/want"
diff "$T/want" "$T/err" || fail "--password-file 0644: stderr is not the warning"
grep -q '^0 snapshot(s)$' "$T/out" || fail "--password-file 0644: $(cat "$T/out")"
chmod 640 "$T/pw"
(unset CAIRN_PASSWORD && "$CAIRN" --store "$T/store3" --password-file "$T/pw" snapshots) >"$T/out" 2>"$T/err" ||
    fail "--password-file 0640 exited $?"
grep -q -x -F "cairn: warning: $T/pw: password file is readable by its group (chmod 600 $T/pw)" "$T/err" ||
    fail "--password-file 0640: $(cat "$T/err")"
chmod 600 "$T/pw"
(unset CAIRN_PASSWORD && "$CAIRN" --store "$T/store3" --password-file "$T/pw" snapshots) >"$T/out" 2>"$T/err" ||
    fail "--password-file 0600 exited $?"
[ ! -s "$T/err" ] || fail "--password-file 0600 warned: $(cat "$T/err")"
no_password_in "$T/out" "$T/err"
echo "PASS"
