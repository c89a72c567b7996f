#!/bin/bash
# append_only.sh - copies an attacker cannot erase (issue 19):
#   - a folder target added --append-only: forget + prune here, then copy:
#     nothing there is deleted (no --allow-deletes needed), new snapshots
#     still arrive, the targets file records it;
#   - an SFTP server that refuses deletes (internal-sftp -P remove,rmdir,
#     posix-rename,setstat,fsetstat,lsetstat: the server is shown to refuse a delete): copies to it
#     succeed, append-only, also after forget + prune;
# (S3 Object Lock is tested in copy_s3.sh, which starts radosgw anyway.)
# The SFTP part is skipped when sshd cannot run.
#
# usage: append_only.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
export XDG_CACHE_HOME=$T/cache

objects() { (cd "$1" 2>/dev/null && find config keys packs snapshots chains -type f -printf '%p %s\n' 2>/dev/null | sort); }
# kept BEFORE AFTER: every object of listing BEFORE is still in AFTER
kept() { [ -z "$(comm -23 "$1" "$2")" ] || fail "$3: objects were deleted: $(comm -23 "$1" "$2" | head -3)"; }
# snapshots_in DIR: how many snapshot objects the store folder DIR holds
snapshots_in() { find "$1/snapshots" -type f | wc -l; }

init_store
mkdir -p "$T/src"
gen_random "$T/src/a.bin" 400000 a
run 0 backup "$T/src"
gen_random "$T/src/b.bin" 400000 b
run 0 backup "$T/src"
gen_random "$T/src/c.bin" 400000 c
run 0 backup "$T/src"

info "a folder target added --append-only keeps everything"
run 0 target add vault "$T/vault" --append-only
grep -q "^target vault added: .*append-only" "$T/out" || fail "target add does not say append-only"
grep -q "^append_only yes$" "$STORE/targets" || fail "the targets file does not record append-only"
run 0 target list --json
grep -q '"name":"vault",.*"append_only":true' "$T/out" || fail "target list --json does not say append-only"
run 0 copy --target vault
objects "$T/vault" >"$T/vault.1"
run 0 forget --keep-last 1
run 0 prune --max-unused 0
run 0 copy --target vault --json
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1]))[0]; assert j["ok"] and j["deleted"] == 0, j' \
    "$T/out" || fail "copy to an append-only target deleted something"
objects "$T/vault" >"$T/vault.2"
kept "$T/vault.1" "$T/vault.2" "append-only folder target"
[ "$(snapshots_in "$T/vault")" = 3 ] || fail "the vault lost forgotten snapshots"
gen_random "$T/src/d.bin" 400000 d
run 0 backup "$T/src"
run 0 copy --target vault
grep -q "target vault is append-only: nothing there was deleted or overwritten" "$T/out" ||
    fail "copy does not say the target is append-only"
[ "$(snapshots_in "$T/vault")" = 4 ] || fail "a new snapshot did not reach the vault"
STORE=$T/vault run 0 check --read-data

info "an SFTP server that refuses deletes"
SSHD=$HERE/../servers/sshd.sh
assignments=$(SSHD_SFTP_FLAGS="-P remove,rmdir,posix-rename,setstat,fsetstat,lsetstat" bash "$SSHD" start "$T/sshd")
rc=$?
if [ "$rc" = 0 ]; then
    eval "$assignments"
    mkdir -p "$T/nas"
    echo keep >"$T/nas/probe"
    sftp -q -b - -i "$SFTP_KEY" -o UserKnownHostsFile="$SFTP_KNOWN_HOSTS" -o BatchMode=yes \
        -P "$SSHD_PORT" "$SFTP_USER@127.0.0.1" >"$T/sftp.out" 2>&1 <<EOF && fail "the server let a file be removed"
rm $T/nas/probe
EOF
    [ -f "$T/nas/probe" ] || fail "the server removed the probe"
    rm "$T/nas/probe"
    run 0 target add nas "$SFTP_URL_BASE$T/nas?key=$SFTP_KEY&known_hosts=$SFTP_KNOWN_HOSTS" --append-only
    run 0 copy --target nas
    objects "$T/nas" >"$T/nas.1"
    [ "$(objects "$STORE")" = "$(cat "$T/nas.1")" ] || fail "the server does not hold the store's objects"
    run 0 forget --keep-last 1
    run 0 prune --max-unused 0
    gen_random "$T/src/e.bin" 400000 e
    run 0 backup "$T/src"
    run 0 copy --target nas
    objects "$T/nas" >"$T/nas.2"
    kept "$T/nas.1" "$T/nas.2" "append-only SFTP target"
    [ "$(snapshots_in "$T/nas")" = 3 ] || fail "the server does not hold every snapshot sent"
    bash "$SSHD" stop "$T/sshd" >/dev/null 2>&1
elif [ "$rc" = 77 ]; then
    echo "SKIP (part): no sshd"
else
    fail "tests/servers/sshd.sh start exited $rc"
fi

echo PASS
