#!/usr/bin/env python3
"""A restic repository's bytes by kind of data, as bench/store_kinds.c counts
cairn's (issue 14: is cairn's store larger than restic's, and why?).

Reads the repository's index (`restic cat index`), walks the latest
snapshot's trees (`restic cat blob`), attributes each blob to the first file
that uses it, and decides the file's kind from the first bytes of the same
absolute path (the folder backed up, still as it was): SQLite, media (the
magic bytes of docs/FORMAT.md) or other; tree blobs are metadata.  Prints a
Markdown table per kind: blobs, plaintext bytes, stored payload, the 32 bytes
of nonce and MAC per blob, the pack header entry per blob (37 bytes, 41 when
compressed), then the per-pack bytes (the header's own nonce, MAC and length)
and the repository's other files.

usage: RESTIC_REPOSITORY=... RESTIC_PASSWORD=... restic_kinds.py
Not a test: its numbers go to docs/BENCHMARKS.md."""
import json
import os
import subprocess
import sys


def restic(*args):
    return subprocess.run(["restic", "--no-cache", *args], check=True,
                          capture_output=True).stdout


def classify(path):
    try:
        with open(path, "rb") as f:
            h = f.read(100)
    except OSError:
        return "other files"
    if h.startswith(b"SQLite format 3\0"):
        return "SQLite"
    if h[:3] == b"\xff\xd8\xff" or h[:8] == b"\x89PNG\r\n\x1a\n" or \
            h[4:8] in (b"ftyp", b"moov", b"mdat", b"wide"):
        return "media"
    return "other files"


def main():
    blobs = {}
    packs = {}
    for idx in restic("list", "index").split():
        for p in json.loads(restic("cat", "index", idx.decode()))["packs"]:
            packs[p["id"]] = p["blobs"]
            for b in p["blobs"]:
                blobs[b["id"]] = b
    kind = {}
    files = {}
    snap_ids = sorted(json.loads(restic("snapshots", "--json")), key=lambda s: s["time"])
    snap = json.loads(restic("cat", "snapshot", snap_ids[-1]["id"]))

    def walk(tree_id, path):
        kind.setdefault(tree_id, "trees")
        for n in json.loads(restic("cat", "blob", tree_id))["nodes"]:
            p = path + "/" + n["name"]
            if n["type"] == "dir":
                walk(n["subtree"], p)
            elif n["type"] == "file":
                k = classify(p)
                files[k] = files.get(k, 0) + 1
                for c in n.get("content") or []:
                    kind.setdefault(c, k)

    walk(snap["tree"], "")
    rows = {}
    for bid, b in blobs.items():
        k = kind.get(bid, "unreferenced")
        r = rows.setdefault(k, [0] * 7)
        comp = "uncompressed_length" in b
        r[0] += 1
        r[1] += b["uncompressed_length"] if comp else b["length"] - 32
        r[2] += b["length"] - 32
        r[3] += 32
        r[4] += 41 if comp else 37
        r[5] += comp
    print("| kind | files | blobs | plaintext | stored payload | ratio | nonce+MAC 32/blob "
          "| header entries | total in packs | compressed blobs |")
    print("|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    total = 0
    for k in ("SQLite", "media", "other files", "trees", "unreferenced"):
        if k not in rows:
            continue
        r = rows[k]
        s = r[2] + r[3] + r[4]
        total += s
        print(f"| {k} | {files.get(k, '')} | {r[0]} | {r[1]} | {r[2]} | "
              f"{r[1] / max(r[2], 1):.3f} | {r[3]} | {r[4]} | {s} | {r[5]} |")
    repo = os.environ["RESTIC_REPOSITORY"]
    pack_bytes = 0
    for d, _, fs in os.walk(os.path.join(repo, "data")):
        pack_bytes += sum(os.path.getsize(os.path.join(d, f)) for f in fs)
    fixed = pack_bytes - total
    print(f"| per pack ({len(packs)} packs: header nonce, MAC, length) | | | | | | | | {fixed} | |")
    print(f"| **sum** | | {len(blobs)} | | | | | | {total + fixed} (pack files: {pack_bytes}) | |")
    for sub in ("index", "snapshots", "keys", "config"):
        p = os.path.join(repo, sub)
        n = 0
        if os.path.isdir(p):
            for d, _, fs in os.walk(p):
                n += sum(os.path.getsize(os.path.join(d, f)) for f in fs)
        else:
            n = os.path.getsize(p)
        print(f"{sub}: {n} bytes")


if __name__ == "__main__":
    sys.exit(main())
