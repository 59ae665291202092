#!/usr/bin/python3
"""SIGHUP applies a changed configuration without a restart; a broken file
changes nothing and the gateway keeps running."""

import hashlib
import os
import shutil
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, make_message, ok, wait_for  # noqa: E402
from gwtest import Raw, der_sha256  # noqa: E402


def test_sighup_applies_routes():
    with TestMX(starttls=True) as first, TestMX(starttls=True) as second, \
            Gateway({"tls.test": first}) as gw:
        gw.send("a@sender.test", "b@tls.test", make_message("a@sender.test", "b@tls.test"))
        ok(wait_for(lambda: first.messages(), 20), "delivered to the first route")

        # a broken file: nothing changes, the gateway goes on
        with open(gw.config_path, "a") as f:
            f.write("\n[smtp]\nbogus-key = 1\n")
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: "not reloading" in gw.log(), 10), "a bad file is refused, and said so")
        gw.send("a@sender.test", "c@tls.test", make_message("a@sender.test", "c@tls.test"))
        ok(wait_for(lambda: len(first.messages()) == 2, 20), "the old routes still apply")

        gw.routes["tls.test"] = second
        gw.write_config()
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: "configuration reloaded" in gw.log(), 10), "reloaded")
        gw.send("a@sender.test", "d@tls.test", make_message("a@sender.test", "d@tls.test"))
        ok(wait_for(lambda: second.messages(), 20), "the new route applies")
        ok(len(first.messages()) == 2, "the old route gets nothing more")
        ok(gw.running, "still running")


def test_restart_needed():
    """A reload names what only a restart changes, compared with what the
    process runs, not with the file before."""
    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        port = gw.port
        gw.extra = {"smtp": {"listen": f"127.0.0.1:{smdtest.free_port()}"}}
        gw.write_config()
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: gw.log().count("configuration reloaded from") == 1, 10)
           and "a restart is needed for: [smtp] listen" in gw.log(),
           "another listen address: a restart is needed, and the log says so")
        gw.extra = {}
        gw.write_config()
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: gw.log().count("configuration reloaded from") == 2, 10),
           "the address it listens on again: reloaded")
        ok(gw.log().count("a restart is needed") == 1,
           "and no restart is asked for: it never stopped listening there",
           gw.log()[-600:])
        ok(smdtest.port_open(port), "it still listens there")


def test_portal_certificate_renewed():
    """A certificate renewed in place (as certbot does) is what the portal's
    HTTPS serves after a reload, without a restart; one whose key does not
    match is refused and the old one stays."""
    d = smdtest.tmpdir("renew-")
    old = smdtest.make_cert(d, "old.portal.test")
    new = smdtest.make_cert(d, "new.portal.test")
    cert, key = os.path.join(d, "portal.pem"), os.path.join(d, "portal.key")
    shutil.copy(old.cert, cert)
    shutil.copy(old.key, key)
    pport = smdtest.free_port()

    def served():
        with socket.create_connection(("127.0.0.1", pport), timeout=10) as raw, \
                smdtest.insecure_client_context().wrap_socket(raw) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()

    def reload(expect):
        count = gw.log().count(expect)
        gw.proc.send_signal(signal.SIGHUP)
        return wait_for(lambda: gw.log().count(expect) > count, 10)

    with TestMX() as plain, \
            Gateway({"plain.test": plain},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"https://127.0.0.1:{pport}",
                                      "tls-certificate": cert, "tls-key": key}}) as gw:
        ok(served() == der_sha256(old.cert), "the portal serves its certificate")
        shutil.copy(new.cert, cert)
        shutil.copy(new.key, key)
        ok(reload("configuration reloaded from"), "reloaded")
        ok(served() == der_sha256(new.cert), "after a reload it serves the renewed one")
        ok("a restart is needed" not in gw.log(), "and asks for no restart", gw.log()[-600:])

        shutil.copy(old.cert, cert)  # the key stays the new one's
        ok(reload("not reloading"), "a certificate that is not its key's: refused")
        ok(served() == der_sha256(new.cert), "and the portal keeps serving the one it had")


def test_portal_scheme_follows_reload():
    """public-url turned to https by a reload: from then on cookies are
    __Host- and Secure, HSTS is sent and redirects go to https, without a
    restart (the portal kept what it started with)."""
    pport = smdtest.free_port()

    def landing():
        status, headers, _, _ = smdtest.raw_http(
            pport, b"GET /m/" + b"A" * 32 + b"/view HTTP/1.1\r\nHost: x\r\n\r\n")
        return headers

    with TestMX() as plain, \
            Gateway({"plain.test": plain},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"}}) as gw:
        h = landing()
        ok("strict-transport-security" not in h, "http: no HSTS", repr(h))
        gw.extra["portal"]["public-url"] = "https://portal.example.org"
        gw.write_config()
        count = gw.log().count("configuration reloaded from")
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: gw.log().count("configuration reloaded from") > count, 10),
           "reloaded")
        h = landing()
        ok("max-age" in h.get("strict-transport-security", ""), "https now: HSTS", repr(h))


def test_message_memory_follows_reload():
    """[smtp] max-message-memory follows a reload both ways, also while a
    message holds memory taken under the old bound."""
    def session():
        c = Raw(gw.port)
        c.reply()
        c.cmd(b"EHLO client.test")
        return c

    def small(c):
        c.cmd(b"MAIL FROM:<a@sender.test>")
        c.cmd(b"RCPT TO:<b@tls.test>")
        c.cmd(b"DATA")
        c.send(b"Subject: small\r\n\r\n" + (b"y" * 998 + b"\r\n") * 100 + b".\r\n")
        return c.reply()

    def reload(n):
        gw.write_config()
        gw.proc.send_signal(signal.SIGHUP)
        return wait_for(lambda: gw.log().count("configuration reloaded from") == n, 10)

    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        large = session()
        large.cmd(b"MAIL FROM:<a@sender.test>")
        large.cmd(b"RCPT TO:<b@tls.test>")
        large.cmd(b"DATA")
        large.send(b"Subject: large\r\n\r\n" + (b"x" * 998 + b"\r\n") * 600)  # not ended
        time.sleep(1)
        other = session()
        r = small(other)
        ok(r.startswith(b"250"), "the default bound (1G): a second message fits beside", repr(r))
        gw.extra = {"smtp": {"max-message-memory": "1M"}}
        ok(reload(1), "reloaded with max-message-memory = 1M")
        r = small(other)
        ok(r.startswith(b"452 4.3.1"), "now the second message does not fit", repr(r))
        gw.extra = {}
        ok(reload(2), "reloaded without it")
        r = small(other)
        ok(r.startswith(b"250"), "the default again: it fits", repr(r))
        large.send(b".\r\n")
        r = large.reply()
        ok(r.startswith(b"250"), "the large one is taken throughout", repr(r))
        for c in (large, other):
            c.cmd(b"QUIT")
            c.close()
        ok(gw.log().count("a restart is needed") == 0, "no restart is asked for")


def test_reloads_keep_no_memory():
    """A configuration is freed once nothing uses it: it was kept for good,
    about 2 KiB per reload (a daily logrotate, an admin's every change)."""
    def rss():
        with open(f"/proc/{gw.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    def reloads(n):
        for _ in range(n):
            done = gw.log().count("configuration reloaded from")
            gw.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: gw.log().count("configuration reloaded from") > done, 5, 0.002)

    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        with open(f"/proc/{gw.proc.pid}/maps") as f:
            if "libasan" in f.read():  # its quarantine keeps freed memory
                smdtest.skip("reloads keep no memory", "RSS means nothing under ASan")
                return
        reloads(100)
        before = rss()
        reloads(500)
        grown = rss() - before
        ok(grown < 256, "500 reloads: RSS grows by less than 256 KiB", f"{grown} KiB")


if __name__ == "__main__":
    smdtest.main([test_sighup_applies_routes, test_restart_needed, test_portal_certificate_renewed,
                  test_portal_scheme_follows_reload,
                  test_message_memory_follows_reload, test_reloads_keep_no_memory])
