#!/bin/bash
# extract_folders.sh - extract gives the folders it writes the mode and the
# mtime their MBFile records (as it does for files), after writing their
# contents (which would change the mtime again); the files keep theirs.
#
# usage: extract_folders.sh CAIRN CAIRN-GEN
. "$(dirname "$0")/lib.sh" "$@"
GEN=${2:?usage: $0 /path/to/cairn /path/to/cairn-gen}
case $GEN in /*) ;; *) GEN=$PWD/$GEN ;; esac
[ -x "$GEN" ] || fail "$GEN is not executable"

"$GEN" device "$T/dev" --seed 7 --size-mb 4 >/dev/null || fail "cairn-gen device failed"
# one folder with a mode other than 0755, to see the mode is the MBFile's
"$PY" - "$T/dev/Manifest.db" <<'PYEOF' || fail "could not edit Manifest.db"
import plistlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("select fileID, file from Files where flags=2 and domain='HomeDomain' "
                 "and relativePath='Library' ").fetchone()
p = plistlib.loads(row[1])
p['$objects'][1]['Mode'] = 0o40700
db.execute("update Files set file=? where fileID=?",
           (plistlib.dumps(p, fmt=plistlib.FMT_BINARY), row[0]))
db.commit()
PYEOF
init_store
run 0 backup "$T/dev"
ID=$(snap_id 0)

info "extract HomeDomain: every folder has its MBFile mode and mtime"
run 0 extract "$ID" HomeDomain --to "$T/x"
"$PY" - "$T/dev/Manifest.db" "$T/x" <<'PYEOF' || fail "extracted folders differ from their MBFile"
import os, plistlib, sqlite3, stat, sys
db = sqlite3.connect(sys.argv[1])
bad = n = 0
for dom, rel, blob in db.execute("select domain, relativePath, file from Files "
                                 "where flags=2 and domain='HomeDomain'"):
    top = plistlib.loads(blob)['$objects'][1]
    st = os.lstat(os.path.join(sys.argv[2], dom, rel))
    n += 1
    want = (top['Mode'] & 0o7777, int(top['LastModified']))
    got = (stat.S_IMODE(st.st_mode), int(st.st_mtime))
    if want != got:
        bad += 1
        if bad <= 5:
            print(f"{dom}/{rel}: mode {oct(got[0])} mtime {got[1]}, MBFile says "
                  f"mode {oct(want[0])} mtime {want[1]}")
print(f"{n} folders, {bad} wrong")
sys.exit(1 if bad or n < 3 else 0)
PYEOF
[ "$(stat -c %a "$T/x/HomeDomain/Library")" = 700 ] || fail "HomeDomain/Library is not 0700"
echo "PASS"
