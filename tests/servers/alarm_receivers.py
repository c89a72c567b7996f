#!/usr/bin/python3
"""alarm_receivers.py - the real local receivers the alarm sink tests send
to, each writing what it received into a folder for the test to assert.

  alarm_receivers.py http DIR     HTTP on 127.0.0.1, a free port (DIR/port);
                                  each POST as DIR/post-N.json (its path,
                                  headers and body); a path starting with
                                  /fail answers 500, /slow after 30 s
  alarm_receivers.py smtp DIR     SMTP (aiosmtpd) on 127.0.0.1, a free port
                                  (DIR/port); each message as DIR/mail-N.eml
                                  and its envelope as DIR/mail-N.json; with
                                  $ALARM_SMTP_CERT and _KEY, STARTTLS and a
                                  login ($ALARM_SMTP_USER, _PASSWORD) are
                                  required, each try as DIR/auth-N.json;
                                  $ALARM_SMTP_IMPLICIT: TLS from the first
                                  byte (smtps) instead of STARTTLS
  alarm_receivers.py notify DIR   org.freedesktop.Notifications on the
                                  session bus of $DBUS_SESSION_BUS_ADDRESS;
                                  DIR/ready once the name is owned, each
                                  Notify call as DIR/notify-N.json

Each runs until killed.  A file appears whole (written, then renamed)."""
import json
import os
import sys
import time


def write_whole(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.rename(tmp, path)


def next_name(folder, prefix, ext):
    n = 0
    while os.path.exists(os.path.join(folder, "%s-%d.%s" % (prefix, n, ext))):
        n += 1
    return os.path.join(folder, "%s-%d.%s" % (prefix, n, ext))


def http(folder):
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec = {"path": self.path, "headers": dict(self.headers.items()),
                   "body": body.decode("utf-8", "replace")}
            write_whole(next_name(folder, "post", "json"), json.dumps(rec))
            if self.path.startswith("/slow"):
                time.sleep(30)
            status = 500 if self.path.startswith("/fail") else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    write_whole(os.path.join(folder, "port"), str(server.server_address[1]))
    server.serve_forever()


def smtp(folder):
    import asyncio
    from aiosmtpd.smtp import SMTP

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            path = next_name(folder, "mail", "eml")
            write_whole(path[:-4] + ".json", json.dumps(
                {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}))
            write_whole(path, envelope.original_content)
            return "250 OK"

    kwargs = {}
    server_ssl = None
    cert = os.environ.get("ALARM_SMTP_CERT")
    if cert:
        import ssl
        from aiosmtpd.smtp import AuthResult
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, os.environ["ALARM_SMTP_KEY"])
        want = (os.environ["ALARM_SMTP_USER"].encode(), os.environ["ALARM_SMTP_PASSWORD"].encode())

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login, auth_data.password) == want
            write_whole(next_name(folder, "auth", "json"), json.dumps(
                {"mechanism": mechanism, "login": auth_data.login.decode(), "ok": ok}))
            return AuthResult(success=ok, handled=False)

        kwargs = dict(auth_required=True, auth_require_tls=True, authenticator=authenticate)
        if os.environ.get("ALARM_SMTP_IMPLICIT"):
            # aiosmtpd sees only its own STARTTLS as TLS: the socket is TLS here
            server_ssl = ctx
            kwargs.update(auth_require_tls=False)
        else:
            kwargs.update(tls_context=ctx, require_starttls=True)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="receiver.test", **kwargs), "127.0.0.1", 0,
            ssl=server_ssl)
        write_whole(os.path.join(folder, "port"), str(server.sockets[0].getsockname()[1]))
        await asyncio.Event().wait()

    asyncio.run(main())


def notify(folder):
    import dbus
    import dbus.mainloop.glib
    import dbus.service
    from gi.repository import GLib

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    iface = "org.freedesktop.Notifications"

    class Notifications(dbus.service.Object):
        @dbus.service.method(iface, in_signature="susssasa{sv}i", out_signature="u")
        def Notify(self, app, replaces, icon, summary, body, actions, hints, expire):
            rec = {"app": str(app), "replaces": int(replaces), "icon": str(icon),
                   "summary": str(summary), "body": str(body),
                   "actions": [str(a) for a in actions],
                   "hints": {str(k): (int(v) if isinstance(v, (dbus.Byte, int)) else str(v))
                             for k, v in hints.items()},
                   "expire": int(expire)}
            write_whole(next_name(folder, "notify", "json"), json.dumps(rec))
            return 1

        @dbus.service.method(iface, in_signature="", out_signature="as")
        def GetCapabilities(self):
            return ["body"]

    name = dbus.service.BusName(iface, bus)
    Notifications(bus, "/org/freedesktop/Notifications")
    write_whole(os.path.join(folder, "ready"), bus.get_unique_name())
    assert name
    GLib.MainLoop().run()


if __name__ == "__main__":
    {"http": http, "smtp": smtp, "notify": notify}[sys.argv[1]](sys.argv[2])
