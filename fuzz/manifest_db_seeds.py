#!/usr/bin/env python3
"""Writes the seeds of fuzz_manifest_db (fuzz/corpus/manifest_db) from a
Manifest.db the generator made, cut down to a few dozen rows in 512-byte
pages (small seeds fuzz faster):
    cairn-gen device /tmp/phone --size-mb 1 --files 40 --seed 3
    python3 fuzz/manifest_db_seeds.py /tmp/phone/Manifest.db"""
import os
import sqlite3
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "manifest_db")
PRESENT_ID = "00a0" + "0" * 36  # the content file fuzz_manifest_db's folder has


def cut(src, name, edit=None):
    path = os.path.join(OUT, name)
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size = 512")
    db.execute("ATTACH ? AS src", (src,))
    for (sql,) in db.execute("SELECT sql FROM src.sqlite_master WHERE sql IS NOT NULL "
                             "ORDER BY type DESC").fetchall():
        db.execute(sql)
    # a dozen rows of each kind: files (1), folders (2), symlinks (4)
    db.execute("INSERT INTO Files SELECT * FROM src.Files WHERE fileID IN "
               "(SELECT fileID FROM src.Files f WHERE (SELECT count(*) FROM src.Files g "
               "WHERE g.flags = f.flags AND g.fileID < f.fileID) < 12)")
    db.execute("INSERT INTO Properties SELECT * FROM src.Properties")
    db.execute("UPDATE Files SET fileID = ? WHERE fileID = "
               "(SELECT min(fileID) FROM Files WHERE flags = 1)", (PRESENT_ID,))
    if edit:
        edit(db)
    db.commit()
    db.execute("DETACH src")
    db.execute("VACUUM")
    db.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    src = sys.argv[1]
    cut(src, "rows")
    # a record that does not decode, a row without a domain, an odd fileID
    cut(src, "bad-rows", lambda db: (
        db.execute("UPDATE Files SET file = x'62706c6973743030' WHERE rowid = "
                   "(SELECT max(rowid) FROM Files WHERE flags = 1)"),
        db.execute("UPDATE Files SET domain = NULL WHERE rowid = "
                   "(SELECT max(rowid) FROM Files WHERE flags = 2)"),
        db.execute("UPDATE Files SET fileID = 'ZZ' WHERE rowid = "
                   "(SELECT max(rowid) FROM Files WHERE flags = 4)")))
    # Files as a view: refused before any row is read
    cut(src, "files-view", lambda db: (
        db.execute("ALTER TABLE Files RENAME TO F"),
        db.execute("CREATE VIEW Files AS SELECT * FROM F")))


if __name__ == "__main__":
    main()
