#!/usr/bin/env python3
"""Writes the seeds of fuzz_mb2host (fuzz/corpus/mb2host): whole sessions of
a device's side of mobilebackup2, framed as fuzz/fuzz_mb2host.c reads them
(one byte choosing the session, then 32-bit big-endian length + binary plist
per message and raw file data as it is).  Run from the source tree:
    python3 fuzz/mb2host_seeds.py"""
import os
import plistlib
import struct

UDID = "00008110-000A1B2C3D4E5F60"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "mb2host")


def msg(*items):
    body = plistlib.dumps(list(items), fmt=plistlib.FMT_BINARY)
    return struct.pack(">I", len(body)) + body


def be32(n):
    return struct.pack(">I", n)


def name(s):
    b = s.encode()
    return be32(len(b)) + b


def upload(files, error=None):
    """DLMessageUploadFiles and its raw stream: per file the device name,
    the host name, data blocks (length + 1, code 0x0c, data), a success
    block; error: (name, text) sent as a remote error instead of data."""
    out = msg("DLMessageUploadFiles", {}, 12.5)
    for path, data in files:
        out += name(path) + name(UDID + "/" + path)
        out += be32(len(data) + 1) + b"\x0c" + data
        out += be32(1) + b"\x00"
    if error:
        path, text = error
        out += name(path) + name(UDID + "/" + path)
        out += be32(len(text) + 1) + b"\x0b" + text.encode()
    return out + be32(0)


def done(code=0, desc=None):
    body = {"ErrorCode": code}
    if desc:
        body["ErrorDescription"] = desc
    return msg("DLMessageProcessMessage", body)


def write(fname, session, data):
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(bytes([session]) + data)


def main():
    os.makedirs(OUT, exist_ok=True)
    fid = "cd" + "0" * 38
    backup = (
        msg("DLMessageGetFreeDiskSpace")
        + be32(0)  # a timeout: the device waits for its passcode
        + msg("DLContentsOfDirectory", UDID)
        + msg("DLMessageCreateDirectory", UDID + "/Snapshot")
        + msg("DLMessageCreateDirectory", UDID + "/Snapshot/cd")
        + upload([("Snapshot/Status.plist", b"<plist><dict/></plist>"),
                  ("Snapshot/cd/" + fid, b"x" * 70000)],
                 error=("Snapshot/cd/" + "e" * 40, "Permission denied"))
        + msg("DLMessageDownloadFiles", [UDID + "/Manifest.plist", UDID + "/nothing"], {}, 20.0)
        + msg("DLMessageMoveItems", {UDID + "/Snapshot/Status.plist": UDID + "/Status.plist"},
              {}, 60.0)
        + msg("DLMessageCopyItem", UDID + "/Status.plist", UDID + "/Status.copy")
        + msg("DLMessageRemoveItems", [UDID + "/Snapshot", UDID + "/Status.copy", "/etc/passwd"],
              {}, 90.0)
        + msg("DLMessagePurgeDiskSpace")
        + msg("DLMessageSomethingNewer")
        + done()
    )
    write("backup", 0, backup)
    write("backup-full-refused", 1, msg("DLMessageGetFreeDiskSpace")
          + done(105, "Not enough free disk space"))
    write("backup-unplugged", 0, upload([("ab/ab" + "1" * 38, b"y" * 40000)])[:30000])
    restore = (
        msg("DLMessageDownloadFiles",
            [UDID + "/Manifest.plist", UDID + "/ab/ab" + "0" * 38], {}, 10.0)
        + msg("DLContentsOfDirectory", UDID + "/ab")
        + msg("DLMessageDisconnect")
    )
    write("restore", 2, restore)
    write("restore-failed", 2, msg("DLMessageDownloadFiles", ["../outside"], {}, 1.0)
          + done(1, "Restore failed"))
    # requests the host refuses, each answered and the session goes on
    refused = (
        upload([("../outside", b"dropped")])
        + msg("DLMessageUploadFiles", {}, 1.0) + name("d") + name(UDID + "/Status.plist")
        + be32(3) + b"\x0c" + b"ab" + be32(4) + b"\x7f" + b"odd" + be32(0)
        + msg("DLMessageDownloadFiles", [UDID + "/ab"], {}, 1.0)
        + msg("DLContentsOfDirectory", UDID + "/nowhere")
        + msg("DLMessageCreateDirectory", "/tmp/outside")
        + msg("DLMessageCreateDirectory", UDID + "/Manifest.plist/sub")
        + msg("DLMessageMoveItems", {UDID + "/missing": UDID + "/b"}, {}, 1.0)
        + msg("DLMessageMoveItems", {UDID + "/Status.plist": 7}, {}, 1.0)
        + msg("DLMessageCopyItem", UDID + "/missing", UDID + "/c")
        + msg("DLMessageCopyItem", UDID + "/Status.plist")
        + msg("DLMessageRemoveItems", [UDID + "/missing", 5], {}, 1.0)
        + msg("DLMessageProcessMessage", {"ErrorCode": 3, "ErrorDescription": "MBErrorDomain"})
    )
    write("backup-refused", 0, refused)
    write("backup-long-name", 0, msg("DLMessageUploadFiles", {}, 1.0) + be32(5000) + b"x" * 5000)
    write("restore-writes", 2, msg("DLMessageCreateDirectory", UDID + "/new")
          + upload([("new/file", b"z")]) + done())
    # U+0000 in a name: libplist 2.2 aborts when such a string or key is read
    write("nul-in-move", 0, msg("DLMessageMoveItems", {UDID + "/a\x00\u00e9": UDID + "/b"}, {}, 1.0)
          + done())
    write("nul-in-download", 2, msg("DLMessageDownloadFiles", [UDID + "/Manifest.plist\x00\u00e9"],
                                    {}, 1.0) + done())
    write("changepw", 3, msg("DLMessageProcessMessage", "not a dict")
          + done())


if __name__ == "__main__":
    main()
