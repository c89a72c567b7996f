#!/usr/bin/env python3
"""standin.py - a stand-in iPhone for testing device backups without hardware.

It plays usbmuxd on a UNIX socket and, behind it, one device: lockdownd
(without TLS), notification_proxy, AFC (enough for the sync lock and small
files) and the device side of mobilebackup2, whose "content" is a MobileSync
backup folder on disk (such as the one "cairn-gen device" writes).  A host
such as libimobiledevice's idevicebackup2 reaches it with
    USBMUXD_SOCKET_ADDRESS=UNIX:/path/to/socket idevicebackup2 ...

Only the Python 3 standard library is used; openssl(1), when present, makes
real PEMs for the pair record.  See README.md beside this file for the
message flow and what is faked.
"""

import argparse
import itertools
import os
import plistlib
import secrets
import shutil
import signal
import socket
import socketserver
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import zlib

LOCKDOWN_PORT = 62078

# usbmuxd packet types and result codes (libusbmuxd's usbmuxd-proto.h)
MUX_RESULT, MUX_CONNECT, MUX_LISTEN, MUX_PLIST = 1, 2, 3, 8
RESULT_OK, RESULT_BADCOMMAND, RESULT_BADDEV, RESULT_CONNREFUSED, RESULT_BADVERSION = 0, 1, 2, 3, 6

# mobilebackup2 raw file stream codes (idevicebackup2.c)
CODE_SUCCESS, CODE_ERROR_LOCAL, CODE_ERROR_REMOTE, CODE_FILE_DATA = 0x00, 0x06, 0x0B, 0x0C
BLOCK = 32768

# AFC (libimobiledevice src/afc.h)
AFC_MAGIC = b"CFA6LPAA"
AFC_HDR = struct.Struct("<8sQQQQ")
AFC_OP_STATUS, AFC_OP_DATA, AFC_OP_READ_DIR = 0x01, 0x02, 0x03
AFC_OP_REMOVE_PATH, AFC_OP_MAKE_DIR, AFC_OP_GET_FILE_INFO, AFC_OP_GET_DEVINFO = 0x08, 0x09, 0x0A, 0x0B
AFC_OP_FILE_OPEN, AFC_OP_FILE_OPEN_RES, AFC_OP_READ, AFC_OP_WRITE = 0x0D, 0x0E, 0x0F, 0x10
AFC_OP_FILE_SEEK, AFC_OP_FILE_TELL, AFC_OP_FILE_TELL_RES, AFC_OP_FILE_CLOSE = 0x11, 0x12, 0x13, 0x14
AFC_OP_FILE_SET_SIZE, AFC_OP_RENAME_PATH, AFC_OP_FILE_LOCK, AFC_OP_SET_FILE_TIME = 0x15, 0x18, 0x1B, 0x1E
AFC_E_SUCCESS, AFC_E_UNKNOWN, AFC_E_INVALID_ARG, AFC_E_NOT_FOUND = 0, 1, 7, 8
AFC_E_IS_DIR, AFC_E_NOT_SUPPORTED, AFC_E_EXISTS, AFC_E_WOULD_BLOCK = 9, 15, 16, 19
AFC_LOCK_SH, AFC_LOCK_EX, AFC_LOCK_UN = 1 | 4, 2 | 4, 8 | 4

SERVICES = {
    "com.apple.mobilebackup2": "mobilebackup2",
    "com.apple.mobile.notification_proxy": "notification_proxy",
    "com.apple.mobile.insecure_notification_proxy": "notification_proxy",
    "com.apple.afc": "afc",
    "com.apple.mobile.installation_proxy": "installation_proxy",
    "com.apple.springboardservices": "springboardservices",
}

METADATA = ("Status.plist", "Manifest.plist", "Manifest.db")

# names in the log
SHORT = {"lockdownd": "lockdown", "notification_proxy": "np", "afc": "afc", "mobilebackup2": "mb2",
         "installation_proxy": "instprx", "springboardservices": "sbs"}


class Disconnect(Exception):
    """The peer closed the connection (or we dropped it on purpose)."""


# ---------------------------------------------------------------- logging

class Log:
    """One line per message: seconds since start, connection, component, text."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.f = open(path, "a", encoding="utf-8") if path else None

    def __call__(self, conn, comp, text):
        if not self.f:
            return
        with self.lock:
            self.f.write("%9.3f #%-3s %-8s %s\n" % (time.monotonic() - self.start, conn, comp, text))
            self.f.flush()


def brief(obj, limit=400):
    """A short repr of a plist value: bytes as <N bytes>, long lists cut."""
    def walk(o, depth):
        if isinstance(o, bytes):
            return "<%d bytes>" % len(o)
        if isinstance(o, dict):
            items = list(o.items())
            s = ", ".join("%s: %s" % (k, walk(v, depth + 1)) for k, v in items[:12])
            return "{" + s + (", ... %d more" % (len(items) - 12) if len(items) > 12 else "") + "}"
        if isinstance(o, list):
            s = ", ".join(walk(v, depth + 1) for v in o[:8])
            return "[" + s + (", ... %d more" % (len(o) - 8) if len(o) > 8 else "") + "]"
        return repr(o)
    s = walk(obj, 0)
    return s if len(s) <= limit else s[:limit] + "..."


# ---------------------------------------------------------------- streams

class Stream:
    """A connected socket with exact reads; counts bytes both ways."""

    def __init__(self, sock):
        self.sock = sock
        self.sent = 0
        self.received = 0

    def read(self, n):
        chunks = []
        while n > 0:
            try:
                b = self.sock.recv(min(n, 1 << 20))
            except OSError as e:
                raise Disconnect(str(e))
            if not b:
                raise Disconnect("end of stream")
            chunks.append(b)
            n -= len(b)
            self.received += len(b)
        return b"".join(chunks)

    def write(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Disconnect(str(e))
        self.sent += len(data)

    def u32be(self):
        return struct.unpack(">I", self.read(4))[0]

    def drop(self):
        """Cut the connection the way an unplugged cable would."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def read_plist_frame(stream):
    """property_list_service framing: 4-byte big-endian length, then a plist."""
    n = stream.u32be()
    if n > 64 << 20:
        raise Disconnect("plist frame of %d bytes" % n)
    return plistlib.loads(stream.read(n))


def write_plist_frame(stream, obj, binary):
    data = plistlib.dumps(obj, fmt=plistlib.FMT_BINARY if binary else plistlib.FMT_XML, sort_keys=False)
    stream.write(struct.pack(">I", len(data)) + data)


def signed64(v):
    """libplist sends negative status codes as uint64."""
    if isinstance(v, int) and v >= 1 << 63:
        return v - (1 << 64)
    return v


# ---------------------------------------------------------------- pairing

def make_pair_material(log):
    """Root, host and device keys and certificates as PEM bytes.

    The host only parses them for TLS, which the stand-in never turns on, but
    they are real (openssl) so a client that looks at them finds what a real
    pair record holds.  Without openssl, clearly fake PEM-shaped text."""
    names = ("RootCertificate", "RootPrivateKey", "HostCertificate", "HostPrivateKey",
             "DeviceCertificate", "DevicePrivateKey", "DevicePublicKey")
    if shutil.which("openssl"):
        tmp = tempfile.mkdtemp(prefix="standin-pki.")
        try:
            def run(*args):
                subprocess.run(["openssl", *args], cwd=tmp, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key",
                "-out", "root.crt", "-days", "3650", "-subj", "/CN=Root Certification Authority")
            for who in ("host", "device"):
                run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + ".key", "-out",
                    who + ".csr", "-subj", "/CN=" + who)
                run("x509", "-req", "-in", who + ".csr", "-CA", "root.crt", "-CAkey", "root.key",
                    "-CAcreateserial", "-days", "3650", "-out", who + ".crt")
            run("pkey", "-in", "device.key", "-pubout", "-out", "device.pub")
            files = ("root.crt", "root.key", "host.crt", "host.key", "device.crt", "device.key", "device.pub")
            out = {}
            for name, f in zip(names, files):
                with open(os.path.join(tmp, f), "rb") as fh:
                    out[name] = fh.read()
            return out
        except (OSError, subprocess.CalledProcessError) as e:
            log(0, "pair", "openssl failed (%s); using placeholder PEMs" % e)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    out = {}
    for name in names:
        kind = "PUBLIC KEY" if name.endswith("PublicKey") else (
            "PRIVATE KEY" if name.endswith("Key") else "CERTIFICATE")
        body = secrets.token_bytes(48).hex().encode()
        out[name] = b"-----BEGIN %s-----\nSTANDIN%s\n-----END %s-----\n" % (kind.encode(), body, kind.encode())
    return out


# ---------------------------------------------------------------- the device

class Device:
    """What the stand-in device is: its values, its content, its pairing."""

    def __init__(self, args, log, serve=None, device_id=1):
        self.args = args
        self.log = log
        self.first = serve is None           # --serve (the others: --also-serve)
        self.source = os.path.abspath(serve or args.serve)
        self.lock = threading.Lock()
        self.ports = {}                      # port -> service name
        self.next_port = itertools.count(49300)
        self.conn_ids = itertools.count(1)
        self.backup_sessions = 0
        self.afc_locks = {}                  # path -> (owner, mode)
        self.afc_files = {"/com.apple.itunes.lock_sync": bytearray()}
        self.afc_dirs = {"/"}
        self.settings = {}                   # SetValue (domain, key) -> value
        self.will_encrypt = None             # set by ChangePassword
        self.cloud_backup = False            # set by EnableCloudBackup
        self.retry = {}                      # target UDID -> files whose upload failed last time
        self.observers = []                  # (stream, name) of notification_proxy observers
        self.unplugged = False               # detached: Connect refused, listeners told
        self.load_values()
        self.device_id = device_id
        self.load_pairing()

    # -- identity and lockdown values
    def load_values(self):
        def load(name):
            try:
                with open(os.path.join(self.source, name), "rb") as f:
                    return plistlib.load(f)
            except (OSError, plistlib.InvalidFileException, ValueError):
                return {}
        manifest = load("Manifest.plist")
        info = load("Info.plist")
        lk = manifest.get("Lockdown", {}) if isinstance(manifest.get("Lockdown"), dict) else {}
        udid = ((self.args.udid if self.first else None) or lk.get("UniqueDeviceID") or info.get("Target Identifier")
                or os.path.basename(self.source.rstrip("/")))
        self.udid = udid
        self.encrypted = bool(manifest.get("IsEncrypted", False))
        self.values = {
            "DeviceName": lk.get("DeviceName") or info.get("Device Name") or "Stand-in iPhone",
            "ProductType": lk.get("ProductType") or info.get("Product Type") or "iPhone15,2",
            "ProductVersion": lk.get("ProductVersion") or info.get("Product Version") or "17.5",
            "BuildVersion": lk.get("BuildVersion") or info.get("Build Version") or "21F79",
            "SerialNumber": lk.get("SerialNumber") or info.get("Serial Number") or "STANDIN0001",
            "UniqueDeviceID": udid,
            "DeviceClass": "iPhone",
            "ProductName": "iPhone OS",
            "CPUArchitecture": "arm64e",
            "HardwareModel": "D73AP",
            "ActivationState": "Activated",
            "PasswordProtected": False,
            "TimeZone": "UTC",
            "WiFiAddress": "f0:99:b6:00:00:01",
            "BluetoothAddress": "f0:99:b6:00:00:02",
            "UniqueChipID": 0x000A1B2C3D4E5F60,
        }
        for key, src in (("IntegratedCircuitCardIdentity", "ICCID"),
                         ("InternationalMobileEquipmentIdentity", "IMEI"),
                         ("PhoneNumber", "Phone Number")):
            if info.get(src):
                self.values[key] = info[src]
        if self.args.name and self.first:
            self.values["DeviceName"] = self.args.name

    def applications(self):
        """(bundle ID, entry) of the apps the served backup names."""
        def load(name):
            try:
                with open(os.path.join(self.source, name), "rb") as f:
                    return plistlib.load(f)
            except (OSError, plistlib.InvalidFileException, ValueError):
                return {}
        apps = load("Manifest.plist").get("Applications")
        order = load("Info.plist").get("Installed Applications")
        if not isinstance(apps, dict):
            apps = {}
        if isinstance(order, list):
            ids = [b for b in order if isinstance(b, str)] + [b for b in apps if b not in order]
        else:
            ids = list(apps)
        return [(b, apps.get(b) if isinstance(apps.get(b), dict) else {}) for b in ids]

    def domain_values(self, domain):
        if domain is None:
            d = dict(self.values)
            d["DevicePublicKey"] = self.pair_pem["DevicePublicKey"]
            return d
        if domain == "com.apple.mobile.backup":
            enc = self.encrypted if self.will_encrypt is None else self.will_encrypt
            return {"WillEncrypt": enc, "RequiresEncrypt": False, "CloudBackupEnabled": self.cloud_backup}
        if domain == "com.apple.iTunes":
            return {}
        if domain == "com.apple.mobile.iTunes":
            return {"MinITunesVersion": "12.5.1"}
        if domain == "com.apple.mobile.battery":
            return {"BatteryCurrentCapacity": 100, "BatteryIsCharging": False, "ExternalConnected": True}
        if domain == "com.apple.disk_usage":
            return {"TotalDiskCapacity": 128 * 10**9, "AmountDataAvailable": 64 * 10**9}
        if domain == "com.apple.mobile.lockdown":
            return {"LogToDisk": False}
        return None

    def get_value(self, domain, key):
        d = self.domain_values(domain)
        for (sd, sk), v in self.settings.items():
            if sd == domain:
                if d is None:
                    d = {}
                d[sk] = v
        if d is None:
            return None
        if key is None:
            return d
        return d.get(key)

    # -- pairing: the record usbmuxd keeps for the host
    def load_pairing(self):
        state = self.args.state
        path = os.path.join(state, "pair_record.plist") if state else None
        record = None
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                record = plistlib.load(f)
        if record is None:
            pem = make_pair_material(self.log)
            record = {
                "DeviceCertificate": pem["DeviceCertificate"],
                "EscrowBag": secrets.token_bytes(32),
                "HostCertificate": pem["HostCertificate"],
                "HostID": str(uuid.uuid4()).upper(),
                "HostPrivateKey": pem["HostPrivateKey"],
                "RootCertificate": pem["RootCertificate"],
                "RootPrivateKey": pem["RootPrivateKey"],
                "SystemBUID": str(uuid.uuid4()).upper(),
                "WiFiMACAddress": self.values["WiFiAddress"],
                "StandinDevicePublicKey": pem["DevicePublicKey"],
            }
            if path:
                os.makedirs(state, exist_ok=True)
                with open(path, "wb") as f:
                    plistlib.dump(record, f)
        self.pair_pem = {"DevicePublicKey": record.pop("StandinDevicePublicKey", b"")}
        self.buid = record["SystemBUID"]
        self.pair_records = {self.udid: record}

    def mux_properties(self):
        serial = self.udid
        # usbmuxd reports 8-16 UDIDs without the dash; libusbmuxd puts it back
        if len(serial) == 25 and serial[8] == "-":
            serial = serial.replace("-", "")
        if self.udid in (self.args.network or []):
            # what usbmuxd sends for a device it found over Wi-Fi: the
            # address is a struct sockaddr as bytes (here AF_INET 10.0.0.2)
            return {
                "ConnectionType": "Network",
                "DeviceID": self.device_id,
                "EscapedFullServiceName": "00:11:22:33:44:55@fe80::1._apple-mobdev2._tcp.local.",
                "InterfaceIndex": 2,
                "NetworkAddress": bytes([16, 2, 0, 0, 10, 0, 0, 2]) + bytes(8),
                "SerialNumber": serial,
            }
        return {
            "ConnectionSpeed": 480000000,
            "ConnectionType": "USB",
            "DeviceID": self.device_id,
            "LocationID": 0x14100000,
            "ProductID": 0x12A8,
            "SerialNumber": serial,
            "USBSerialNumber": serial,
        }

    def new_port(self, service):
        with self.lock:
            port = next(self.next_port)
            self.ports[port] = service
            return port

    def relay(self, name):
        """Tells the notification_proxy clients observing name, as iOS relays
        a notification; returns how many there were."""
        with self.lock:
            targets = [s for s, n in self.observers if n == name]
        for s in targets:
            try:
                write_plist_frame(s, {"Command": "RelayNotification", "Name": name}, binary=False)
            except Disconnect:
                pass
        return len(targets)

    def fault_armed(self, session):
        want = self.args.fault_session
        return want == 0 or want == session


# ---------------------------------------------------------------- usbmuxd

class MuxHandler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        dev = server.device
        log = dev.log
        cid = next(server.conn_ids)
        s = Stream(self.request)
        try:
            while True:
                hdr = s.read(16)
                length, version, mtype, tag = struct.unpack("<IIII", hdr)
                payload = s.read(length - 16) if length > 16 else b""
                if mtype != MUX_PLIST:
                    log(cid, "usbmuxd", "<- binary message type %d (version %d): BadVersion" % (mtype, version))
                    self.reply(s, tag, {"MessageType": "Result", "Number": RESULT_BADVERSION})
                    continue
                msg = plistlib.loads(payload)
                kind = msg.get("MessageType")
                log(cid, "usbmuxd", "<- %s %s" % (kind, brief({k: v for k, v in msg.items() if k != "MessageType"})))
                if kind == "ListDevices":
                    self.reply(s, tag, {"DeviceList": [
                        {"DeviceID": d.device_id, "MessageType": "Attached", "Properties": d.mux_properties()}
                        for d in server.devices if not d.unplugged]})
                elif kind == "Listen":
                    with server.events_lock:
                        self.reply(s, tag, {"MessageType": "Result", "Number": RESULT_OK})
                        for d in server.devices:
                            if not d.unplugged:
                                self.reply(s, 0, {"DeviceID": d.device_id, "MessageType": "Attached",
                                                  "Properties": d.mux_properties()})
                        server.listeners.append(s)
                    # the listener stays until the client goes; Attached and
                    # Detached events reach it through server.broadcast
                    try:
                        while s.sock.recv(4096):
                            pass
                    except OSError:
                        pass
                    with server.events_lock:
                        server.listeners.remove(s)
                    log(cid, "usbmuxd", "listener gone")
                    return
                elif kind == "ReadBUID":
                    self.reply(s, tag, {"BUID": dev.buid})
                elif kind == "ReadPairRecord":
                    rec = server.pair_record(msg.get("PairRecordID"))
                    if rec is None:
                        self.reply(s, tag, {"MessageType": "Result", "Number": RESULT_BADDEV})
                    else:
                        self.reply(s, tag, {"PairRecordData": plistlib.dumps(rec, fmt=plistlib.FMT_XML)})
                elif kind == "SavePairRecord":
                    try:
                        dev.pair_records[msg["PairRecordID"]] = plistlib.loads(msg["PairRecordData"])
                        n = RESULT_OK
                    except (KeyError, ValueError, plistlib.InvalidFileException):
                        n = RESULT_BADCOMMAND
                    self.reply(s, tag, {"MessageType": "Result", "Number": n})
                    # a host paired it again (it trusts the host now); as
                    # usbmuxd, the listeners are told when the device is here
                    paired = server.by_id(msg.get("DeviceID"))
                    if n == RESULT_OK and paired and paired.udid == msg["PairRecordID"]:
                        if paired.udid in (paired.args.pairing_lost or []):
                            paired.args.pairing_lost.remove(paired.udid)
                        server.tell_paired(paired)
                elif kind == "DeletePairRecord":
                    dev.pair_records.pop(msg.get("PairRecordID"), None)
                    self.reply(s, tag, {"MessageType": "Result", "Number": RESULT_OK})
                elif kind == "Connect":
                    raw = msg.get("PortNumber", 0)
                    port = ((raw & 0xFF) << 8) | ((raw >> 8) & 0xFF)   # sent as htons(port)
                    dev = server.by_id(msg.get("DeviceID"))
                    if dev is None or dev.unplugged:
                        log(cid, "usbmuxd", "-> Result BadDevice")
                        self.reply(s, tag, {"MessageType": "Result", "Number": RESULT_BADDEV})
                        continue
                    service = "lockdownd" if port == LOCKDOWN_PORT else dev.ports.get(port)
                    cid_dev = "device %d" % dev.device_id
                    log(cid, "usbmuxd", "Connect to %s" % cid_dev)
                    if service is None:
                        log(cid, "usbmuxd", "-> Result ConnectionRefused (port %d)" % port)
                        self.reply(s, tag, {"MessageType": "Result", "Number": RESULT_CONNREFUSED})
                        continue
                    log(cid, "usbmuxd", "-> Result OK: port %d is %s" % (port, service))
                    self.reply(s, tag, {"MessageType": "Result", "Number": RESULT_OK})
                    run_service(dev, service, s, cid)
                    return
                else:
                    self.reply(s, tag, {"MessageType": "Result", "Number": RESULT_BADCOMMAND})
        except Disconnect as e:
            log(cid, "usbmuxd", "connection closed (%s)" % e)
        except Exception as e:  # a broken session must not take the device down
            log(cid, "error", "%s: %s" % (type(e).__name__, e))
            print("standin: connection %s: %s: %s" % (cid, type(e).__name__, e), file=sys.stderr)

    @staticmethod
    def reply(s, tag, obj):
        data = plistlib.dumps(obj, fmt=plistlib.FMT_XML)
        s.write(struct.pack("<IIII", 16 + len(data), 1, MUX_PLIST, tag) + data)


def run_service(dev, service, s, cid):
    log = dev.log
    try:
        if service == "lockdownd":
            Lockdown(dev, s, cid).run()
        elif service == "notification_proxy":
            notification_proxy(dev, s, cid)
        elif service == "afc":
            Afc(dev, s, cid).run()
        elif service == "mobilebackup2":
            MobileBackup2(dev, s, cid).run()
        elif service == "installation_proxy":
            installation_proxy(dev, s, cid)
        elif service == "springboardservices":
            springboardservices(dev, s, cid)
    except Disconnect as e:
        log(cid, SHORT.get(service, service), "connection closed (%s)" % e)


# ---------------------------------------------------------------- lockdownd

class Lockdown:
    def __init__(self, dev, s, cid):
        self.dev, self.s, self.cid = dev, s, cid
        self.session = None

    def run(self):
        dev, log = self.dev, self.dev.log
        while True:
            try:
                req = read_plist_frame(self.s)
            except Disconnect:
                log(self.cid, "lockdown", "closed")
                return
            log(self.cid, "lockdown", "<- %s" % brief(req))
            name = req.get("Request")
            resp = {"Request": name}
            if name == "QueryType":
                resp["Type"] = "com.apple.mobile.lockdown"
            elif name == "GetValue":
                domain, key = req.get("Domain"), req.get("Key")
                value = dev.get_value(domain, key)
                if domain is not None:
                    resp["Domain"] = domain
                if key is not None:
                    resp["Key"] = key
                if value is None:
                    resp["Error"] = "MissingValue"
                else:
                    resp["Value"] = value
            elif name == "SetValue":
                dev.settings[(req.get("Domain"), req.get("Key"))] = req.get("Value")
            elif name == "RemoveValue":
                dev.settings.pop((req.get("Domain"), req.get("Key")), None)
            elif name in ("ValidatePair", "Pair"):
                rec = dev.pair_records.get(dev.udid, {})
                if name == "Pair":
                    resp["EscrowBag"] = rec.get("EscrowBag", b"")
            elif name == "StartSession":
                rec = dev.pair_records.get(dev.udid)
                if dev.args.session_error:
                    resp["Error"] = dev.args.session_error
                elif (rec is None or req.get("HostID") != rec.get("HostID")
                        or dev.udid in (dev.args.pairing_lost or [])):
                    resp["Error"] = "InvalidHostID"
                else:
                    self.session = str(uuid.uuid4()).upper()
                    resp["SessionID"] = self.session
                    resp["EnableSessionSSL"] = False
            elif name == "StopSession":
                self.session = None
            elif name == "StartService":
                svc = req.get("Service")
                if svc not in SERVICES:
                    resp["Error"] = "InvalidService"
                elif self.session is None:
                    resp["Error"] = "NoRunningSession"
                else:
                    resp["Service"] = svc
                    resp["Port"] = dev.new_port(SERVICES[svc])
                    resp["EnableServiceSSL"] = False
                    if "EscrowBag" in req:
                        rec = dev.pair_records.get(dev.udid, {})
                        if req["EscrowBag"] != rec.get("EscrowBag"):
                            log(self.cid, "lockdown", "   (escrow bag differs from the pair record's)")
            elif name == "Goodbye":
                pass
            else:
                resp["Error"] = "UnknownRequest"
            # since iOS 5 a device answers an error with "Error" alone, no
            # "Result": libimobiledevice then maps the string to its code
            # (InvalidHostID -> LOCKDOWN_E_INVALID_HOST_ID); with "Result":
            # "Failure" it would only say Unknown Error (-256)
            if "Error" not in resp:
                resp["Result"] = "Success"
            log(self.cid, "lockdown", "-> %s" % brief(resp))
            write_plist_frame(self.s, resp, binary=False)
            if name == "Goodbye":
                return


# ---------------------------------------------------------------- notification_proxy

def notification_proxy(dev, s, cid):
    log = dev.log
    try:
        while True:
            try:
                msg = read_plist_frame(s)
            except Disconnect:
                log(cid, "np", "closed")
                return
            log(cid, "np", "<- %s" % brief(msg))
            cmd = msg.get("Command")
            if cmd == "ObserveNotification":
                with dev.lock:
                    dev.observers.append((s, msg.get("Name")))
            elif cmd == "Shutdown":
                write_plist_frame(s, {"Command": "ProxyDeath"}, binary=False)
                log(cid, "np", "-> ProxyDeath")
                return
    finally:
        with dev.lock:
            dev.observers = [(o, n) for o, n in dev.observers if o is not s]


# ---------------------------------------------------------------- installation_proxy, springboardservices

def tiny_png():
    """A 1x1 transparent PNG: the icon springboardservices hands out."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0\0\0\0\0")) + chunk(b"IEND", b""))


def installation_proxy(dev, s, cid):
    """Browse lists the user apps the served backup names (Manifest.plist's
    Applications, else Info.plist's Installed Applications); the SINF and
    iTunesMetadata are made-up bytes derived from the bundle ID."""
    log = dev.log
    while True:
        try:
            req = read_plist_frame(s)
        except Disconnect:
            log(cid, "instprx", "closed")
            return
        log(cid, "instprx", "<- %s" % brief(req))
        if req.get("Command") != "Browse":
            write_plist_frame(s, {"Error": "UnknownCommand", "Status": "Complete"}, binary=False)
            continue
        apps = []
        for bid, entry in dev.applications():
            meta = plistlib.dumps({"softwareVersionBundleId": bid, "bundleShortVersionString": entry.get(
                "CFBundleVersion", "1.0"), "itemName": bid.rsplit(".", 1)[-1]}, fmt=plistlib.FMT_BINARY)
            apps.append({"CFBundleIdentifier": bid, "ApplicationType": "User",
                         "CFBundleVersion": entry.get("CFBundleVersion", "1.0"),
                         "Path": entry.get("Path", "/private/var/containers/Bundle/Application/%s.app" % bid),
                         "ApplicationSINF": b"SINF" + bid.encode(), "iTunesMetadata": meta})
        attrs = (req.get("ClientOptions") or {}).get("ReturnAttributes")
        if attrs:
            apps = [{k: v for k, v in a.items() if k in attrs} for a in apps]
        write_plist_frame(s, {"Status": "BrowsingApplications", "CurrentIndex": 0, "CurrentAmount": len(apps),
                              "Total": len(apps), "CurrentList": apps}, binary=False)
        write_plist_frame(s, {"Status": "Complete"}, binary=False)
        log(cid, "instprx", "-> %d application(s), Complete" % len(apps))


def springboardservices(dev, s, cid):
    log = dev.log
    while True:
        try:
            req = read_plist_frame(s)
        except Disconnect:
            log(cid, "sbs", "closed")
            return
        log(cid, "sbs", "<- %s" % brief(req))
        cmd = req.get("command")
        if cmd == "getIconPNGData":
            resp = {"pngData": tiny_png()}
        elif cmd == "getInterfaceOrientation":
            resp = {"interfaceOrientation": 1}
        elif cmd == "getIconState":
            resp = []
        else:
            resp = {}
        write_plist_frame(s, resp, binary=False)


# ---------------------------------------------------------------- AFC

class Afc:
    """Just enough of AFC: the sync lock file, small files (e.g. the
    RestoreApplications.plist a restore writes), directories."""

    def __init__(self, dev, s, cid):
        self.dev, self.s, self.cid = dev, s, cid
        self.handles = {}        # handle -> [path, position, writable]
        self.next_handle = itertools.count(1)

    def run(self):
        try:
            while True:
                hdr = self.s.read(AFC_HDR.size)
                magic, entire, this, num, op = AFC_HDR.unpack(hdr)
                if magic != AFC_MAGIC or this < AFC_HDR.size or entire < this:
                    raise Disconnect("bad AFC header")
                params = self.s.read(this - AFC_HDR.size)
                payload = self.s.read(entire - this)
                self.op(num, op, params, payload)
        finally:
            with self.dev.lock:
                for h in list(self.handles):
                    self.unlock(h)

    def send(self, num, op, params=b"", payload=b""):
        this = AFC_HDR.size + len(params)
        self.s.write(AFC_HDR.pack(AFC_MAGIC, this + len(payload), this, num, op) + params + payload)

    def status(self, num, code):
        self.send(num, AFC_OP_STATUS, struct.pack("<Q", code))
        return code

    def unlock(self, h):
        path = self.handles[h][0]
        owner = self.dev.afc_locks.get(path)
        if owner and owner[0] == (self.cid, h):
            del self.dev.afc_locks[path]

    @staticmethod
    def cstr(b):
        return b.split(b"\0", 1)[0].decode("utf-8", "replace")

    @staticmethod
    def norm(path):
        return "/" + "/".join(p for p in path.split("/") if p and p != ".")

    def record(self, path, data):
        if self.dev.args.restore_dir:
            dst = os.path.join(self.dev.args.restore_dir, "afc", path.lstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(data)

    def unrecord(self, path):
        """A path removed over AFC leaves the record too (a folder when empty)."""
        if self.dev.args.restore_dir:
            dst = os.path.join(self.dev.args.restore_dir, "afc", path.lstrip("/"))
            try:
                os.rmdir(dst) if os.path.isdir(dst) else os.unlink(dst)
            except OSError:
                pass

    def op(self, num, op, params, payload):
        dev, log = self.dev, self.dev.log
        files, dirs = dev.afc_files, dev.afc_dirs
        with dev.lock:
            if op == AFC_OP_FILE_OPEN:
                mode = struct.unpack_from("<Q", params)[0]
                path = self.norm(self.cstr(params[8:]))
                if path not in files:
                    if mode == 1 or os.path.dirname(path) not in dirs:   # read-only, or no parent
                        code = self.status(num, AFC_E_NOT_FOUND)
                        log(self.cid, "afc", "<- open %s mode %d -> status %d" % (path, mode, code))
                        return
                    files[path] = bytearray()
                if mode in (3, 4):          # w, w+
                    files[path] = bytearray()
                h = next(self.next_handle)
                pos = len(files[path]) if mode in (5, 6) else 0
                self.handles[h] = [path, pos, mode != 1]
                self.send(num, AFC_OP_FILE_OPEN_RES, struct.pack("<Q", h))
                log(self.cid, "afc", "<- open %s mode %d -> handle %d" % (path, mode, h))
            elif op == AFC_OP_FILE_LOCK:
                h, how = struct.unpack_from("<QQ", params)
                if h not in self.handles:
                    self.status(num, AFC_E_INVALID_ARG)
                    return
                path = self.handles[h][0]
                owner = dev.afc_locks.get(path)
                if how == AFC_LOCK_UN:
                    self.unlock(h)
                    code = AFC_E_SUCCESS
                elif owner and owner[0] != (self.cid, h):
                    code = AFC_E_WOULD_BLOCK
                else:
                    dev.afc_locks[path] = ((self.cid, h), how)
                    code = AFC_E_SUCCESS
                self.status(num, code)
                log(self.cid, "afc", "<- lock handle %d (%s) op %d -> status %d" % (h, path, how, code))
            elif op == AFC_OP_FILE_CLOSE:
                h = struct.unpack_from("<Q", params)[0]
                if h in self.handles:
                    path, _, writable = self.handles[h]
                    self.unlock(h)
                    del self.handles[h]
                    if writable and path != "/com.apple.itunes.lock_sync":
                        self.record(path, bytes(files.get(path, b"")))
                    self.status(num, AFC_E_SUCCESS)
                else:
                    self.status(num, AFC_E_INVALID_ARG)
                log(self.cid, "afc", "<- close handle %d" % h)
            elif op == AFC_OP_READ:
                h, n = struct.unpack_from("<QQ", params)
                if h not in self.handles:
                    self.status(num, AFC_E_INVALID_ARG)
                    return
                path, pos, _ = self.handles[h]
                data = bytes(files.get(path, b"")[pos:pos + n])
                self.handles[h][1] = pos + len(data)
                self.send(num, AFC_OP_DATA, payload=data)
            elif op == AFC_OP_WRITE:
                h = struct.unpack_from("<Q", params)[0]
                if h not in self.handles:
                    self.status(num, AFC_E_INVALID_ARG)
                    return
                path, pos, _ = self.handles[h]
                buf = files.setdefault(path, bytearray())
                buf[pos:pos + len(payload)] = payload
                self.handles[h][1] = pos + len(payload)
                self.status(num, AFC_E_SUCCESS)
                log(self.cid, "afc", "<- write handle %d: %d bytes" % (h, len(payload)))
            elif op == AFC_OP_FILE_SEEK:
                h, whence, off = struct.unpack_from("<QQq", params)
                if h in self.handles:
                    base = (0, self.handles[h][1], len(files[self.handles[h][0]]))[min(whence, 2)]
                    self.handles[h][1] = max(0, base + off)
                self.status(num, AFC_E_SUCCESS if h in self.handles else AFC_E_INVALID_ARG)
            elif op == AFC_OP_FILE_TELL:
                h = struct.unpack_from("<Q", params)[0]
                self.send(num, AFC_OP_FILE_TELL_RES, struct.pack("<Q", self.handles.get(h, [0, 0])[1]))
            elif op == AFC_OP_FILE_SET_SIZE:
                h, size = struct.unpack_from("<QQ", params)
                if h in self.handles:
                    buf = files[self.handles[h][0]]
                    del buf[size:]
                    buf.extend(b"\0" * (size - len(buf)))
                self.status(num, AFC_E_SUCCESS)
            elif op == AFC_OP_GET_FILE_INFO:
                path = self.norm(self.cstr(params))
                if path in files:
                    info = [("st_size", str(len(files[path]))), ("st_blocks", str((len(files[path]) + 511) // 512)),
                            ("st_nlink", "1"), ("st_ifmt", "S_IFREG")]
                elif path in dirs:
                    info = [("st_size", "0"), ("st_blocks", "0"), ("st_nlink", "2"), ("st_ifmt", "S_IFDIR")]
                else:
                    code = self.status(num, AFC_E_NOT_FOUND)
                    log(self.cid, "afc", "<- stat %s -> status %d" % (path, code))
                    return
                now = str(int(time.time() * 1e9))
                info += [("st_mtime", now), ("st_birthtime", now)]
                self.send(num, AFC_OP_DATA, payload=b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in info))
                log(self.cid, "afc", "<- stat %s" % path)
            elif op == AFC_OP_GET_DEVINFO:
                info = [("Model", dev.values["ProductType"]), ("FSTotalBytes", str(128 * 10**9)),
                        ("FSFreeBytes", str(64 * 10**9)), ("FSBlockSize", "4096")]
                self.send(num, AFC_OP_DATA, payload=b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in info))
            elif op == AFC_OP_READ_DIR:
                path = self.norm(self.cstr(params))
                if path not in dirs:
                    self.status(num, AFC_E_NOT_FOUND)
                    return
                names = {".", ".."}
                for p in itertools.chain(files, dirs):
                    if p != path and os.path.dirname(p) == path:
                        names.add(os.path.basename(p))
                self.send(num, AFC_OP_DATA, payload=b"".join(n.encode() + b"\0" for n in sorted(names)))
            elif op == AFC_OP_MAKE_DIR:
                path = self.norm(self.cstr(params))
                p = path
                while p not in dirs:
                    dirs.add(p)
                    p = os.path.dirname(p)
                self.status(num, AFC_E_SUCCESS)
                log(self.cid, "afc", "<- mkdir %s" % path)
            elif op == AFC_OP_REMOVE_PATH:
                path = self.norm(self.cstr(params))
                if path in files:
                    del files[path]
                    code = AFC_E_SUCCESS
                elif path in dirs and path != "/":
                    dirs.discard(path)
                    code = AFC_E_SUCCESS
                else:
                    code = AFC_E_NOT_FOUND
                if code == AFC_E_SUCCESS:
                    self.unrecord(path)
                self.status(num, code)
                log(self.cid, "afc", "<- remove %s -> status %d" % (path, code))
            elif op == AFC_OP_RENAME_PATH:
                parts = params.split(b"\0")
                src, dst = self.norm(parts[0].decode()), self.norm(parts[1].decode())
                if src in files:
                    files[dst] = files.pop(src)
                    code = AFC_E_SUCCESS
                else:
                    code = AFC_E_NOT_FOUND
                self.status(num, code)
            elif op == AFC_OP_SET_FILE_TIME:
                self.status(num, AFC_E_SUCCESS)
            else:
                log(self.cid, "afc", "<- operation 0x%x: not supported" % op)
                self.status(num, AFC_E_NOT_SUPPORTED)


# ---------------------------------------------------------------- mobilebackup2

class Content:
    """The device's content at the start of a session: the served folder."""

    def __init__(self, root):
        self.root = root
        self.files = {}          # relative path -> size
        self.dirs = set()
        for dirpath, dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            rel = "" if rel == "." else rel
            if rel:
                self.dirs.add(rel)
            for fn in filenames:
                p = os.path.join(rel, fn) if rel else fn
                full = os.path.join(root, p)
                if p == "Info.plist" or not os.path.isfile(full) or os.path.islink(full):
                    continue          # Info.plist is the host's, not the device's
                self.files[p] = os.path.getsize(full)
        self.rows = read_manifest(os.path.join(root, "Manifest.db"))

    def label(self, rel):
        """The device-side name sent before a file: domain and path if known."""
        row = self.rows.get(os.path.basename(rel)) if self.rows else None
        if row:
            return "%s/%s" % (row[0], row[1])
        return rel


def read_manifest(path):
    """fileID -> (domain, relativePath, flags, file blob), or None."""
    if not os.path.exists(path):
        return None
    try:
        uri = "file:%s?mode=ro&immutable=1" % urllib.parse.quote(os.path.abspath(path))
        db = sqlite3.connect(uri, uri=True)
        try:
            return {r[0]: (r[1], r[2], r[3], r[4]) for r in
                    db.execute("SELECT fileID, domain, relativePath, flags, file FROM Files")}
        finally:
            db.close()
    except sqlite3.Error:
        return None


class Failed(Exception):
    """End the request with a DLMessageProcessMessage error."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


class MobileBackup2:
    def __init__(self, dev, s, cid):
        self.dev, self.s, self.cid = dev, s, cid
        self.log = lambda text: dev.log(cid, "mb2", text)
        self.upload_budget = None          # bytes left before a fault disconnect
        self.fail_names = set()
        self.failed = set()                 # host paths answered with a per-file error
        self.uploaded_bytes = 0

    # -- device link framing
    def send(self, msg):
        self.log("-> %s" % brief(msg))
        write_plist_frame(self.s, msg, binary=True)

    def recv(self):
        msg = read_plist_frame(self.s)
        self.log("<- %s" % brief(msg))
        return msg

    def status(self):
        """The host's DLMessageStatusResponse to the last request."""
        msg = self.recv()
        if not isinstance(msg, list) or not msg or msg[0] != "DLMessageStatusResponse":
            raise Failed(1, "expected DLMessageStatusResponse, got %s" % brief(msg, 100))
        code = signed64(msg[1]) if len(msg) > 1 else 0
        desc = msg[2] if len(msg) > 2 else None
        payload = msg[3] if len(msg) > 3 else None
        return code, desc, payload

    def process_message(self, body):
        self.send(["DLMessageProcessMessage", body])

    def run(self):
        self.send(["DLMessageVersionExchange", 300, 0])
        msg = self.recv()
        if msg[:2] != ["DLMessageVersionExchange", "DLVersionsOk"]:
            self.log("version exchange refused")
            return
        self.send(["DLMessageDeviceReady"])
        while True:
            try:
                msg = self.recv()
            except Disconnect:
                self.log("host closed the connection")
                return
            if not isinstance(msg, list) or not msg:
                continue
            if msg[0] == "DLMessageDisconnect":
                return
            if msg[0] != "DLMessageProcessMessage" or len(msg) < 2 or not isinstance(msg[1], dict):
                continue
            req = msg[1]
            name = req.get("MessageName")
            try:
                if name == "Hello":
                    versions = req.get("SupportedProtocolVersions", [])
                    best = max([v for v in versions if v <= 2.1] or [0.0])
                    if best < 2.0:
                        self.process_message({"MessageName": "Response", "ErrorCode": 1,
                                              "ErrorDescription": "No common protocol version"})
                    else:
                        self.process_message({"MessageName": "Response", "ErrorCode": 0, "ProtocolVersion": best})
                elif name == "Backup":
                    self.backup(req)
                elif name == "Restore":
                    self.restore(req)
                elif name == "Info":
                    self.info(req)
                elif name == "List":
                    self.list(req)
                elif name == "ChangePassword":
                    new = req.get("NewPassword")
                    self.dev.will_encrypt = bool(new)
                    self.process_message({"ErrorCode": 0})
                elif name == "EnableCloudBackup":
                    self.dev.cloud_backup = bool(req.get("CloudBackupState"))
                    self.process_message({"ErrorCode": 0})
                else:
                    self.process_message({"ErrorCode": 1, "ErrorDescription": "%s is not supported by the stand-in" % name})
            except Failed as e:
                self.log("request %s failed: %s" % (name, e))
                self.process_message({"ErrorCode": e.code, "ErrorDescription": str(e)})

    # -- files from the host (DLMessageDownloadFiles)
    def download(self, paths, progress=0.0):
        """Asks the host for files; returns {path: bytes} for those it sent."""
        self.send(["DLMessageDownloadFiles", list(paths), {}, float(progress)])
        got, errors = {}, {}
        while True:
            n = self.s.u32be()
            if n == 0:
                break
            path = self.s.read(n).decode("utf-8", "replace")
            data = bytearray()
            while True:
                ln = self.s.u32be()
                code = self.s.read(1)[0]
                body = self.s.read(ln - 1) if ln > 1 else b""
                if code == CODE_FILE_DATA:
                    data += body
                elif code == CODE_SUCCESS:
                    got[path] = bytes(data)
                    break
                else:
                    errors[path] = body.decode("utf-8", "replace")
                    break
        code, desc, _ = self.status()
        self.log("   downloaded %d file(s), %d error(s) %s; status %s" % (
            len(got), len(errors), brief(errors, 200) if errors else "", code))
        return got

    def download_one(self, path, progress=0.0):
        return self.download([path], progress).get(path)

    # -- files to the host (DLMessageUploadFiles)
    def upload(self, items, progress):
        """items: (label, host path, local file or bytes).  One message."""
        sizes = [len(src) if isinstance(src, bytes) else os.path.getsize(src) for _, _, src in items]
        self.send(["DLMessageUploadFiles", {host: {"DLFileSize": size} for (_, host, _), size in zip(items, sizes)},
                   float(progress), sum(sizes)])
        for label, host, src in items:
            lb = label.encode("utf-8")[:4096] or b"?"
            hb = host.encode("utf-8")
            self.s.write(struct.pack(">I", len(lb)) + lb + struct.pack(">I", len(hb)) + hb)
            if self.fails(host, label):
                msg = ("Failed to read %s: Operation not permitted (stand-in fault)" % label).encode()
                self.s.write(struct.pack(">IB", len(msg) + 1, CODE_ERROR_REMOTE) + msg)
                self.failed.add(host)
                self.log("   %s: sent a per-file error (--fail-file)" % host)
                continue
            f = open(src, "rb") if not isinstance(src, bytes) else None
            try:
                off = 0
                while True:
                    chunk = f.read(BLOCK) if f else src[off:off + BLOCK]
                    off += len(chunk)
                    if not chunk:
                        break
                    if self.upload_budget is not None and len(chunk) >= self.upload_budget:
                        head = chunk[:self.upload_budget]
                        self.s.write(struct.pack(">IB", len(chunk) + 1, CODE_FILE_DATA) + head)
                        self.uploaded_bytes += len(head)
                        self.log("   fault: dropping the connection after %d upload bytes, inside %s"
                                 % (self.uploaded_bytes, host))
                        self.s.drop()
                        if self.dev.args.unplug:
                            self.log("   fault: the device is unplugged: usbmuxd refuses it from now on")
                            self.dev.server.set_plugged(self.dev, False, "fault")
                            if self.dev.args.replug_after:
                                threading.Timer(self.dev.args.replug_after, self.dev.server.set_plugged,
                                                (self.dev, True, "--replug-after")).start()
                        raise Disconnect("fault injected (--disconnect-after)")
                    self.s.write(struct.pack(">IB", len(chunk) + 1, CODE_FILE_DATA) + chunk)
                    self.uploaded_bytes += len(chunk)
                    if self.upload_budget is not None:
                        self.upload_budget -= len(chunk)
            finally:
                if f:
                    f.close()
            self.s.write(struct.pack(">IB", 1, CODE_SUCCESS))
        self.s.write(struct.pack(">I", 0))
        code, desc, _ = self.status()
        if code != 0:
            raise Failed(abs(code) or 1, "host failed to receive files: %s (%d)" % (desc, code))

    def fails(self, host, label):
        if not self.fail_names:
            return False
        base = os.path.basename(host)
        return bool(self.fail_names & {host, base, label, label.replace("/", "-", 1),
                                       label.split("/", 1)[-1]})

    def simple(self, msg):
        self.send(msg)
        code, desc, payload = self.status()
        if code != 0:
            raise Failed(abs(code), "%s failed on the host: %s (%d)" % (msg[0], desc, code))
        return payload

    def remove(self, paths, progress):
        """DLMessageRemoveItems; a path the host cannot remove (already gone)
        is logged, not fatal."""
        self.send(["DLMessageRemoveItems", paths, {}, progress])
        code, desc, _ = self.status()
        if code != 0:
            self.log("   warning: the host could not remove all of %d item(s): %s (%d)" % (len(paths), desc, code))

    def list_host(self, path):
        """DLContentsOfDirectory: {name: dict} of a host folder (empty if none)."""
        self.send(["DLContentsOfDirectory", path, {}, 0.0])
        code, desc, payload = self.status()
        return payload if code == 0 and isinstance(payload, dict) else {}

    def walk_host(self, top):
        """All files and folders under a host folder, relative to it."""
        files, dirs = set(), set()
        todo = [""]
        while todo:
            rel = todo.pop()
            for name, st in self.list_host(top + ("/" + rel if rel else "")).items():
                p = rel + "/" + name if rel else name
                if st.get("DLFileType") == "DLFileTypeDirectory":
                    dirs.add(p)
                    todo.append(p)
                else:
                    files.add(p)
        return files, dirs

    # -- Backup
    def backup(self, req):
        dev = self.dev
        with dev.lock:
            dev.backup_sessions += 1
            session = dev.backup_sessions
        args = dev.args
        if dev.fault_armed(session):
            if args.disconnect_after is not None:
                self.upload_budget = args.disconnect_after
            self.fail_names = set(args.fail_file or [])
        udid = req.get("TargetIdentifier") or dev.udid
        opts = req.get("Options") or {}
        force_full = bool(opts.get("ForceFullBackup")) or args.full
        self.log("backup session %d into %s/ (ForceFullBackup %s)" % (session, udid, force_full))
        if args.passcode_wait and dev.fault_armed(session):
            n = dev.relay("com.apple.LocalAuthentication.ui.presented")
            self.log("   asking for the passcode (%d observer(s)), %.1f s" % (n, args.passcode_wait))
            time.sleep(args.passcode_wait)
            dev.relay("com.apple.LocalAuthentication.ui.dismissed")
        snap = Content(dev.source)

        # 1. what the host has: its Status.plist, then Manifest.plist/.db
        prev_status = None
        raw = self.download_one(udid + "/Status.plist", 0.0)
        if raw is not None:
            try:
                prev_status = plistlib.loads(raw)
            except (ValueError, plistlib.InvalidFileException):
                prev_status = {}
        host_rows = None
        if (prev_status and prev_status.get("SnapshotState") == "finished" and not force_full
                and snap.rows is not None):
            self.download_one(udid + "/Manifest.plist", 0.0)
            db = self.download_one(udid + "/Manifest.db", 0.0)
            if db:
                with tempfile.NamedTemporaryFile(prefix="standin-host-manifest.", suffix=".db") as tf:
                    tf.write(db)
                    tf.flush()
                    host_rows = read_manifest(tf.name)
        incremental = host_rows is not None
        self.log("   %s backup (host had %s)" % ("incremental" if incremental else "full",
                 "no backup" if prev_status is None else "SnapshotState %r" % prev_status.get("SnapshotState")))

        # 2. what to send and what to remove
        content = [p for p in snap.files if p not in METADATA]
        removals = []
        if incremental:
            dev_rows = snap.rows
            changed = []
            for fid, row in dev_rows.items():
                if row[2] != 1:
                    continue
                old = host_rows.get(fid)
                if old is None or old[2] != 1 or old[3] != row[3]:
                    changed.append(fid)
            wanted = {fid[:2] + "/" + fid for fid in changed}
            # files this device failed to send last time go again
            wanted |= {p[len(udid) + 1:] for p in dev.retry.get(udid, ())}
            content = [p for p in content if p in wanted]
            for fid, row in host_rows.items():
                if row[2] == 1 and (fid not in dev_rows or dev_rows[fid][2] != 1):
                    removals.append(fid[:2] + "/" + fid)
        content.sort()
        need = sum(snap.files[p] for p in content) + sum(snap.files.get(m, 0) for m in METADATA)

        # 3. room on the host? (first, if asked, a purge the host must refuse properly)
        if args.ask_purge:
            self.send(["DLMessagePurgeDiskSpace", udid])
            code, desc, _ = self.status()
            self.log("   purge disk space: host answered %s (%s)" % (code, desc))
        self.send(["DLMessageGetFreeDiskSpace", udid])
        code, _, free = self.status()
        if code == 0 and isinstance(free, int) and free < need + (args.reserve_mb << 20):
            raise Failed(105, "Not enough free disk space on the computer: %d bytes needed, %d free" % (need, free))

        # 4. mark the host's copy as in progress
        status = self.load_plist(os.path.join(snap.root, "Status.plist"))
        if status is not None:
            marker = dict(status)
            marker["SnapshotState"] = "uploading"
            marker["IsFullBackup"] = not incremental
            marker["BackupState"] = "old" if incremental else "new"
            self.upload([("Status.plist", udid + "/Status.plist", plistlib.dumps(marker, fmt=plistlib.FMT_BINARY))], 1.0)

        # 5. folders: all of the device's (full) or those of the files to send
        # (incremental), and Snapshot/ for the metadata
        if incremental:
            need_dirs = set()
            for p in content:
                d = os.path.dirname(p)
                while d:
                    need_dirs.add(d)
                    d = os.path.dirname(d)
        else:
            need_dirs = set(snap.dirs)
        for d in sorted(need_dirs) + ["Snapshot"]:
            self.simple(["DLMessageCreateDirectory", udid + "/" + d, 0, 2.0])
        meta = [m for m in ("Manifest.db", "Manifest.plist") if m in snap.files]

        # a full backup over an older copy: list the host's folder, drop what
        # the device does not have (Snapshot/ leftovers of a cut session too)
        extra_dirs = []
        if not incremental and prev_status is not None:
            host_files, host_dirs = self.walk_host(udid)
            keep = set(snap.files) | {"Info.plist"} | {"Snapshot/" + m for m in meta}
            removals = sorted(p for p in host_files if p not in keep)
            extra_dirs = sorted((d for d in host_dirs if d not in snap.dirs and d != "Snapshot"),
                                key=lambda d: -d.count("/"))

        # 6. the content, in messages of up to 8 MiB or 256 files
        total = max(need, 1)
        done = 0
        batch, batch_bytes = [], 0
        for p in content:
            batch.append((snap.label(p), udid + "/" + p, os.path.join(snap.root, p)))
            batch_bytes += snap.files[p]
            if batch_bytes >= 8 << 20 or len(batch) >= 256:
                self.upload(batch, 5.0 + 85.0 * done / total)
                done += batch_bytes
                batch, batch_bytes = [], 0
        if batch:
            self.upload(batch, 5.0 + 85.0 * done / total)
            done += batch_bytes

        # 7. the new metadata goes through Snapshot/, then moves into place
        if meta:
            self.upload([(m, udid + "/Snapshot/" + m, os.path.join(snap.root, m)) for m in meta], 90.0)
            self.simple(["DLMessageMoveItems", {udid + "/Snapshot/" + m: udid + "/" + m for m in meta}, {}, 92.0])

        # 8. what is gone
        gone = [udid + "/" + p for p in removals]
        for i in range(0, len(gone), 500):
            self.remove(gone[i:i + 500], 95.0)
        if extra_dirs:
            self.remove([udid + "/" + d for d in extra_dirs], 96.0)
        self.remove([udid + "/Snapshot"], 97.0)

        # 9. the finished Status.plist, exactly as the device has it
        if "Status.plist" in snap.files:
            self.upload([("Status.plist", udid + "/Status.plist", os.path.join(snap.root, "Status.plist"))], 99.0)
        with dev.lock:
            dev.retry[udid] = set(self.failed)
        self.log("backup session %d done: %d content file(s), %d bytes, %d removal(s), %d failed" % (
            session, len(content), self.uploaded_bytes, len(removals), len(self.failed)))
        self.process_message({"ErrorCode": 0})
        self.send(["DLMessageDisconnect", "___EmptyParameterString___"])

    @staticmethod
    def load_plist(path):
        try:
            with open(path, "rb") as f:
                return plistlib.load(f)
        except (OSError, ValueError, plistlib.InvalidFileException):
            return None

    # -- Restore: record what the host delivers
    def restore(self, req):
        dev = self.dev
        src = req.get("SourceIdentifier") or req.get("TargetIdentifier") or dev.udid
        self.log("restore from %s/ with options %s" % (src, brief(req.get("Options", {}))))
        files, _ = self.walk_host(src)
        if not files:
            raise Failed(2, "no backup of %s on the host" % src)
        out = dev.args.restore_dir
        paths = sorted(src + "/" + p for p in files)
        received = 0
        fail_at = dev.args.restore_fail
        step = min(256, fail_at) if fail_at else 256
        for i in range(0, len(paths), step):
            chunk = paths[i:i + step]
            if fail_at and i >= fail_at:
                self.log("   fault: ending the restore with an error after %d file(s) (--restore-fail)" % i)
                self.process_message({"ErrorCode": 1, "ErrorDescription": "stand-in fault (--restore-fail)"})
                self.send(["DLMessageDisconnect", "___EmptyParameterString___"])
                return
            got = self.download(chunk, 100.0 * i / len(paths))
            missing = [p for p in chunk if p not in got]
            for p in missing:                  # the host stops at its first error
                data = self.download_one(p)
                if data is not None:
                    got[p] = data
            for p, data in got.items():
                received += 1
                if out:
                    dst = os.path.join(out, p)
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    with open(dst, "wb") as f:
                        f.write(data)
        if out:
            with open(os.path.join(out, "restore-request.plist"), "wb") as f:
                plistlib.dump(req, f)
        self.log("restore: received %d of %d file(s)" % (received, len(paths)))
        self.process_message({"ErrorCode": 0})
        self.send(["DLMessageDisconnect", "___EmptyParameterString___"])

    # -- Info and List: read the host's backup back
    def info(self, req):
        src = req.get("SourceIdentifier") or req.get("TargetIdentifier") or self.dev.udid
        lines = []
        for name in ("Info.plist", "Status.plist", "Manifest.plist"):
            raw = self.download_one(src + "/" + name)
            pl = None
            try:
                pl = plistlib.loads(raw) if raw else None
            except (ValueError, plistlib.InvalidFileException):
                pass
            if not isinstance(pl, dict):
                lines.append("%s: missing" % name)
                continue
            for k in sorted(pl):
                if not isinstance(pl[k], (dict, list, bytes)):
                    lines.append("%s: %s = %s" % (name, k, pl[k]))
        self.process_message({"ErrorCode": 0, "Content": "\n".join(lines) + "\n"})

    def list(self, req):
        src = req.get("SourceIdentifier") or req.get("TargetIdentifier") or self.dev.udid
        raw = self.download_one(src + "/Manifest.db")
        rows = None
        if raw:
            with tempfile.NamedTemporaryFile(prefix="standin-list.", suffix=".db") as tf:
                tf.write(raw)
                tf.flush()
                rows = read_manifest(tf.name)
        if rows is None:
            raise Failed(2, "cannot read %s/Manifest.db" % src)
        out = ["domain,path,fileID,flags"]
        for fid, (domain, path, flags, _) in sorted(rows.items(), key=lambda r: (r[1][0], r[1][1])):
            out.append('"%s","%s",%s,%d' % (domain, path, fid, flags))
        self.process_message({"ErrorCode": 0, "Content": "\n".join(out) + "\n"})


# ---------------------------------------------------------------- main

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def setup_devices(self, devices, log):
        self.devices = devices
        self.device = devices[0]
        self.log = log
        self.conn_ids = itertools.count(1)
        self.listeners = []                  # Listen connections: told of Attached/Detached
        self.events_lock = threading.Lock()
        for d in devices:
            d.server = self
            d.conn_ids = self.conn_ids

    def by_id(self, device_id):
        for d in self.devices:
            if d.device_id == device_id:
                return d
        return None

    def pair_record(self, udid):
        for d in self.devices:
            if udid in d.pair_records:
                return d.pair_records[udid]
        return None

    def set_plugged(self, dev, plugged, why):
        """Plugs a device in or out, as usbmuxd tells its listeners."""
        with self.events_lock:
            if dev.unplugged == (not plugged):
                return
            dev.unplugged = not plugged
            if plugged:
                msg = {"DeviceID": dev.device_id, "MessageType": "Attached", "Properties": dev.mux_properties()}
            else:
                msg = {"DeviceID": dev.device_id, "MessageType": "Detached"}
            self.log(0, "usbmuxd", "-> %s %s (%s) to %d listener(s)" % (
                msg["MessageType"], dev.udid, why, len(self.listeners)))
            self.broadcast(msg)

    def broadcast(self, msg):
        """An event to every Listen connection (events_lock held)."""
        for s in list(self.listeners):
            try:
                MuxHandler.reply(s, 0, msg)
            except (Disconnect, OSError):
                pass

    def tell_paired(self, dev):
        """usbmuxd's Paired event, once a pair record for a present device is saved."""
        with self.events_lock:
            if dev.unplugged:
                return
            self.log(0, "usbmuxd", "-> Paired %s to %d listener(s)" % (dev.udid, len(self.listeners)))
            self.broadcast({"DeviceID": dev.device_id, "MessageType": "Paired"})

    def watch_control(self, folder):
        """--control DIR: DIR/UDID.detached present = that device unplugged."""
        while True:
            for d in self.devices:
                want_out = os.path.exists(os.path.join(folder, d.udid + ".detached"))
                if want_out != d.unplugged:
                    self.set_plugged(d, not want_out, "--control")
            time.sleep(0.1)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="A stand-in iPhone behind a usbmuxd socket: lockdownd, notification_proxy, "
                    "AFC and mobilebackup2 serving a MobileSync backup folder.")
    ap.add_argument("--socket", required=True, help="UNIX socket path to listen on "
                    "(clients use USBMUXD_SOCKET_ADDRESS=UNIX:PATH)")
    ap.add_argument("--serve", required=True, metavar="DIR",
                    help="the device's content: a MobileSync backup folder (e.g. from cairn-gen device); "
                         "read afresh at every Backup request, so it may change between sessions")
    ap.add_argument("--udid", help="UDID to present (default: from DIR's Manifest.plist)")
    ap.add_argument("--name", help="DeviceName to present (default: from DIR's Manifest.plist)")
    ap.add_argument("--state", metavar="DIR", help="keep the pair record here across runs")
    ap.add_argument("--log", metavar="FILE", help="log every message to FILE")
    ap.add_argument("--full", action="store_true", help="always do full backups (as if the host asked for one)")
    ap.add_argument("--disconnect-after", type=int, metavar="BYTES",
                    help="fault: drop the mobilebackup2 connection after BYTES bytes of file data uploaded")
    ap.add_argument("--unplug", action="store_true",
                    help="fault: with --disconnect-after, the device is unplugged then: usbmuxd answers "
                         "every later Connect to it with BadDevice")
    ap.add_argument("--replug-after", type=float, default=0, metavar="SECONDS",
                    help="fault: with --unplug, plug the device in again (Attached) this long after")
    ap.add_argument("--also-serve", action="append", metavar="DIR",
                    help="another device behind the same usbmuxd (DeviceID 2, 3, ...), its identity from "
                         "DIR's Manifest.plist (repeatable; the faults apply to every device)")
    ap.add_argument("--control", metavar="DIR",
                    help="while DIR/UDID.detached exists that device is unplugged: Detached to the "
                         "listeners, Connect refused; removing the file plugs it in again (Attached)")
    ap.add_argument("--fail-file", action="append", metavar="NAME",
                    help="fault: answer this file with a per-file error (CODE_ERROR_REMOTE) instead of its "
                         "data; NAME is a fileID, a host path, DOMAIN/PATH or a relative path (repeatable)")
    ap.add_argument("--fault-session", type=int, default=1, metavar="N",
                    help="the Backup request (1 = first) the faults apply to; 0 = every one (default 1)")
    ap.add_argument("--reserve-mb", type=int, default=0, metavar="MB",
                    help="refuse a backup unless the host has this much room beyond the upload (default 0)")
    ap.add_argument("--passcode-wait", type=float, default=0, metavar="SECONDS",
                    help="at a Backup request, relay the passcode prompt notification to observers "
                         "and wait this long first (a device waiting for its passcode)")
    ap.add_argument("--ask-purge", action="store_true",
                    help="send DLMessagePurgeDiskSpace before asking for free space (idevicebackup2 "
                         "1.3.0 does not answer it: for other hosts)")
    ap.add_argument("--restore-fail", type=int, default=0, metavar="N",
                    help="fault: end a Restore with an error (ErrorCode 1) once N files have come")
    ap.add_argument("--restore-dir", metavar="DIR",
                    help="record what a host delivers in a Restore (and files written over AFC) here")
    ap.add_argument("--pairing-lost", action="append", metavar="UDID",
                    help="fault: this device no longer trusts the host (StartSession: InvalidHostID)")
    ap.add_argument("--session-error", metavar="ERROR",
                    help="fault: every StartSession answers this lockdown Error "
                         "(PasswordProtected, PairingDialogResponsePending, UserDeniedPairing)")
    ap.add_argument("--network", action="append", metavar="UDID",
                    help="present this device as found over Wi-Fi (ConnectionType Network)")
    args = ap.parse_args(argv)

    if not os.path.isdir(args.serve):
        ap.error("--serve %s: not a folder" % args.serve)
    for extra in args.also_serve or []:
        if not os.path.isdir(extra):
            ap.error("--also-serve %s: not a folder" % extra)
    log = Log(args.log)
    dev = Device(args, log)
    devices = [dev] + [Device(args, log, serve=extra, device_id=2 + i)
                       for i, extra in enumerate(args.also_serve or [])]
    # bind under a temporary name and rename once listening, so the socket
    # appears only when clients can connect
    tmp = args.socket + ".tmp%d" % os.getpid()
    for p in (tmp, args.socket):
        if os.path.exists(p):
            os.unlink(p)
    server = Server(tmp, MuxHandler)
    os.rename(tmp, args.socket)
    server.setup_devices(devices, log)
    if args.control:
        threading.Thread(target=server.watch_control, args=(args.control,), daemon=True).start()
    log(0, "standin", "serving %s as %s (%s, iOS %s) on %s" % (
        dev.source, dev.udid, dev.values["ProductType"], dev.values["ProductVersion"], args.socket))
    print("standin: %s (%s) on UNIX:%s" % (dev.udid, dev.values["DeviceName"], args.socket), file=sys.stderr)

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        try:
            os.unlink(args.socket)
        except OSError:
            pass
        log(0, "standin", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
