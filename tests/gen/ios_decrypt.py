#!/usr/bin/env python3
"""ios_decrypt.py - an independent reader of encrypted MobileSync backups.

usage: ios_decrypt.py BACKUP_DIR PASSWORD OUT_DIR

Writes every regular file of the backup as OUT_DIR/<domain>/<relativePath>
(plaintext, mtime of the content file), to compare with "cairn-gen decrypt"
and with cairn's extract.  It shares no code with cairn: it follows the
algorithm of the public decryptors (iphone-dataprotection's keybag.py as
used by iphone_backup_decrypt and mvt) with Python's hashlib and the
"cryptography" package, so a mistake in engine/ios/backup_encryption.c that the generator
repeats on both sides shows up here.  Exit status 77 when "cryptography" is
missing (the self-test then skips this check).
"""
import hashlib
import os
import plistlib
import sqlite3
import struct
import sys
import tempfile

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
except ImportError:
    sys.exit(77)

WRAP_PASSCODE = 2
CLASS_TAGS = {b"CLAS", b"WRAP", b"WPKY", b"KTYP", b"PBKY"}


def tlv(blob):
    i = 0
    while i + 8 <= len(blob):
        tag = blob[i:i + 4]
        (n,) = struct.unpack(">L", blob[i + 4:i + 8])
        yield tag, blob[i + 8:i + 8 + n]
        i += 8 + n


def unlock(keybag, password):
    attrs, classes, cur, uuid = {}, {}, None, None
    for tag, val in tlv(keybag):
        if len(val) == 4 and tag != b"UUID":
            val = struct.unpack(">L", val)[0]
        if tag == b"UUID" and uuid is None:
            uuid = val
        elif tag == b"UUID":
            if cur:
                classes[cur[b"CLAS"]] = cur
            cur = {b"UUID": val}
        elif tag in CLASS_TAGS and cur is not None:
            cur[tag] = val
        else:
            attrs.setdefault(tag, val)
    if cur:
        classes[cur[b"CLAS"]] = cur
    key = password
    if b"DPSL" in attrs:
        key = hashlib.pbkdf2_hmac("sha256", key, attrs[b"DPSL"], attrs[b"DPIC"], 32)
    key = hashlib.pbkdf2_hmac("sha1", key, attrs[b"SALT"], attrs[b"ITER"], 32)
    keys = {}
    for cls, ck in classes.items():
        if b"WPKY" in ck and ck[b"WRAP"] & WRAP_PASSCODE:
            keys[cls] = aes_key_unwrap(key, ck[b"WPKY"])  # raises on a wrong password
    return keys


def unwrap(keys, tagged):
    (cls,) = struct.unpack("<l", tagged[:4])
    return aes_key_unwrap(keys[cls], tagged[4:])


def decrypt(key, data):
    if len(data) % 16:
        raise ValueError("ciphertext is not whole blocks")
    d = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).decryptor()
    plain = d.update(data) + d.finalize()
    n = plain[-1] if plain else 0
    if 1 <= n <= 16 and plain[-n:] == bytes([n]) * n:
        plain = plain[:-n]
    return plain


def mbfile(blob):
    p = plistlib.loads(blob)
    objs = p["$objects"]
    root = objs[p["$top"]["root"].data]
    ek = root.get("EncryptionKey")
    if ek is not None:
        ek = objs[ek.data]
        ek = ek["NS.data"] if isinstance(ek, dict) else ek
    return root, ek


def main():
    src, password, out = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    with open(os.path.join(src, "Manifest.plist"), "rb") as f:
        manifest = plistlib.load(f)
    assert manifest["IsEncrypted"] is True
    keys = unlock(manifest["BackupKeyBag"], password)
    mk = manifest["ManifestKey"]
    with open(os.path.join(src, "Manifest.db"), "rb") as f:
        db_bytes = decrypt(unwrap(keys, mk), f.read())
    with tempfile.TemporaryDirectory() as tmp:
        db_path = os.path.join(tmp, "Manifest.db")
        with open(db_path, "wb") as f:
            f.write(db_bytes)
        db = sqlite3.connect(db_path)
        rows = db.execute("SELECT fileID, domain, relativePath, file FROM Files WHERE flags=1").fetchall()
        db.close()
    for fid, domain, rel, blob in rows:
        root, ek = mbfile(blob)
        c = os.path.join(src, fid[:2], fid)
        with open(c, "rb") as f:
            plain = decrypt(unwrap(keys, ek), f.read())
        assert len(plain) == root["Size"], (domain, rel, len(plain), root["Size"])
        assert struct.unpack("<l", ek[:4])[0] == root["ProtectionClass"], (domain, rel)
        dst = os.path.join(out, domain, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(plain)
        st = os.stat(c)
        os.utime(dst, (st.st_mtime, st.st_mtime))
    print("%s: %d files" % (out, len(rows)))


if __name__ == "__main__":
    main()
