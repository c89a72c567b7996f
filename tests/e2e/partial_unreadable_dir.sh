#!/bin/bash
# partial_unreadable_dir.sh - a backup that cannot open one subfolder
# (chmod 000, run as an unprivileged user) is partial (exit 3, the folder
# named); the snapshot it saves must still be sound: 'check --read-data'
# exits 0 and a restore gives back everything that was read (exit 0), the
# unreadable folder at most as an empty folder.
. "$(dirname "$0")/lib.sh" "$@"

U=$T/user
mkdir -p "$U/src/closed-dir" "$U/src/open-dir"
chmod 755 "$T"
printf 'inside\n' >"$U/src/closed-dir/inner.txt"
printf 'readable\n' >"$U/src/open-dir/file.txt"
gen_random "$U/src/top.bin" 100000 top
if [ "$(id -u)" = 0 ]; then
    chown -R 65534:65534 "$U"
    RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
chmod 000 "$U/src/closed-dir"
as_test_user ls "$U/src/closed-dir" >/dev/null 2>&1 && fail "the test user can list a chmod 000 folder"
STORE=$U/store
init_store
run 3 backup "$U/src"
grep -q "closed-dir" "$T/err" || fail "the unreadable folder is not named on stderr"
[ "$(snap_json "s[0]['partial']")" = True ] || fail "snapshot not marked partial"
run_rc check --read-data
[ "$RC" = 0 ] || fail "check --read-data of the partial snapshot exited $RC: $(cat "$T/out")"
run_rc restore latest --to "$U/restored"
[ "$RC" = 0 ] || fail "restore of the partial snapshot exited $RC: $(cat "$T/err")"
cmp "$U/src/top.bin" "$U/restored/top.bin" || fail "top.bin differs"
cmp "$U/src/open-dir/file.txt" "$U/restored/open-dir/file.txt" || fail "open-dir/file.txt differs"
[ -d "$U/restored/closed-dir" ] || [ ! -e "$U/restored/closed-dir" ] || fail "closed-dir restored as a non-folder"
info "ok"
