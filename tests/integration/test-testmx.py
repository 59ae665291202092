#!/usr/bin/python3
"""TAP test of the integration-test harness itself: testmx.py and smdtest.py.

The daemon's integration tests trust what testmx records and what smdtest
reports, so both are checked here against independent clients (swaks,
smtplib, raw sockets) and a fake daemon.
"""

import configparser
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import textwrap
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import (Gateway, GatewayError, TestMX, make_ca_and_cert,  # noqa: E402
                     make_cert, make_message, send_mail, tmpdir, wait_for)

SWAKS = "/usr/bin/swaks"


def swaks(mx, *args):
    r = subprocess.run([SWAKS, "--server", mx.host, "--port", str(mx.port),
                        "--helo", "client.test", "--timeout", "20", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


class Raw:
    """A line-level SMTP client for what smtplib won't do on purpose."""

    def __init__(self, port):
        self.sock = socket.create_connection((smdtest.HOST, port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """Read one complete (possibly multi-line) reply."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                assert chunk, f"connection closed, got {lines!r} {self.buf!r}"
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line)
            if line[3:4] != b"-":
                return b"\r\n".join(lines) + b"\r\n"

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def starttls(self, ctx=None):
        ctx = ctx or smdtest.insecure_client_context()
        self.sock = ctx.wrap_socket(self.sock, server_hostname="mx.test")

    def close(self):
        self.sock.close()


def test_plain_delivery_with_swaks():
    with TestMX() as mx:
        rc, out = swaks(mx, "--from", "alice@sender.test", "--to", "bob@plain.test",
                        "--body", "hello\n.dot line\nend")
        assert rc == 0, out
        assert "STARTTLS" not in out, "STARTTLS advertised without --starttls"
        (eml, meta), = mx.wait_messages(1)
        assert meta["mail_from"] == "alice@sender.test", meta
        assert meta["rcpt_to"] == ["bob@plain.test"], meta
        assert meta["tls"] is False and meta["tls_version"] is None, meta
        assert meta["peer"].startswith("127.0.0.1:"), meta
        assert b"\r\nhello\r\n.dot line\r\nend\r\n" in eml, eml  # unstuffed
        assert not eml.endswith(b".\r\n"), eml
        assert b"\n" not in eml.replace(b"\r\n", b""), "bare LF in stored message"
        assert "1 P MAIL FROM:<alice@sender.test>" in mx.transcript(), mx.transcript()


def test_starttls_delivery_with_swaks():
    with TestMX(starttls=True) as mx:
        rc, out = swaks(mx, "--tls", "--from", "alice@sender.test", "--to", "bob@tls.test")
        assert rc == 0, out
        (eml, meta), = mx.wait_messages(1)
        assert meta["tls"] is True, meta
        assert meta["tls_version"] in ("TLSv1.2", "TLSv1.3"), meta
        assert meta["cipher"], meta
        cmds = mx.commands()
        verbs = [(tls, line.split()[0].upper()) for _, tls, line in cmds]
        assert verbs[:3] == [(False, "EHLO"), (False, "STARTTLS"), (True, "EHLO")], cmds
        envelope = [tls for _, tls, line in cmds if line.upper().startswith(("MAIL", "RCPT", "DATA"))]
        assert envelope and all(envelope), cmds


def test_starttls_advertised_only_before_tls():
    with TestMX(starttls=True) as mx:
        with smtplib.SMTP(mx.host, mx.port, timeout=10) as s:
            s.ehlo("client.test")
            assert s.has_extn("starttls") and s.has_extn("pipelining") \
                and s.has_extn("8bitmime") and s.has_extn("size"), s.esmtp_features
            s.starttls(context=smdtest.insecure_client_context())
            code, _ = s.ehlo("client.test")
            assert code == 250
            assert not s.has_extn("starttls"), s.esmtp_features
            # The EHLO state was reset by STARTTLS, and a second STARTTLS is refused.
            assert s.docmd("STARTTLS")[0] == 502


def test_rcpt_replies_sequence():
    with TestMX(rcpt_replies="450 4.2.0 try later,250") as mx:
        rc, out = swaks(mx, "--from", "a@sender.test", "--to", "first@x.test,second@x.test")
        assert "450 4.2.0 try later" in out, out
        (eml, meta), = mx.wait_messages(1)
        assert meta["rcpt_to"] == ["second@x.test"], meta
        # Exhausted: the last entry (a bare code) repeats, with text added.
        with smtplib.SMTP(mx.host, mx.port, timeout=10) as s:
            s.ehlo("client.test")
            s.mail("a@sender.test")
            assert s.rcpt("third@x.test") == (250, b"Ok")
            assert s.rcpt("fourth@x.test") == (250, b"Ok")
        lines = [line for _, _, line in mx.commands()]
        assert lines.count("RCPT TO:<first@x.test>") == 1, lines


def test_data_replies_sequence():
    with TestMX(data_replies="550 5.7.1 no,250 2.0.0 fine") as mx:
        msg = make_message("a@sender.test", "b@x.test")
        try:
            send_mail(mx.port, "a@sender.test", ["b@x.test"], msg)
            raise AssertionError("first DATA should have been refused")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 550 and e.smtp_error == b"5.7.1 no", e
        assert mx.messages() == [], "refused message was stored"
        assert send_mail(mx.port, "a@sender.test", ["b@x.test"], msg) == {}
        (eml, meta), = mx.wait_messages(1)
        assert eml == msg, (eml, msg)


def test_data_ends_only_at_crlf_dot_crlf():
    with TestMX() as mx:
        c = Raw(mx.port)
        assert c.reply().startswith(b"220 ")
        assert c.cmd(b"EHLO client.test").startswith(b"250-")
        assert c.cmd(b"MAIL FROM:<a@sender.test>").startswith(b"250")
        assert c.cmd(b"RCPT TO:<b@x.test>").startswith(b"250")
        assert c.cmd(b"DATA").startswith(b"354")
        # Bare LF and LF.LF must not end DATA; dot-stuffing is undone per line.
        c.send(b"a\nb\r\n.\n..x\r\n.y\r\n\r\n..\r\nz\r.\r\n.\r\n")
        assert c.reply().startswith(b"250 ")
        assert c.cmd(b"QUIT").startswith(b"221")
        c.close()
        (eml, meta), = mx.wait_messages(1)
        assert eml == b"a\nb\r\n\n..x\r\ny\r\n\r\n.\r\nz\r.\r\n", eml


def test_sequence_errors():
    with TestMX() as mx:
        c = Raw(mx.port)
        c.reply()
        assert c.cmd(b"MAIL FROM:<a@x.test>").startswith(b"503"), "MAIL before EHLO"
        assert c.cmd(b"HELO client.test").startswith(b"250")
        assert c.cmd(b"RCPT TO:<b@x.test>").startswith(b"503"), "RCPT before MAIL"
        assert c.cmd(b"DATA").startswith(b"503"), "DATA before MAIL"
        assert c.cmd(b"STARTTLS").startswith(b"502"), "STARTTLS without --starttls"
        assert c.cmd(b"X" * 10000).startswith(b"500"), "over-long line"
        assert c.cmd(b"NOOP").startswith(b"250"), "in sync after over-long line"
        assert c.cmd(b"RSET").startswith(b"250")
        assert c.cmd(b"QUIT").startswith(b"221")
        c.close()


def test_inject_after_starttls():
    with TestMX(starttls=True, inject_after_starttls=True) as mx:
        c = Raw(mx.port)
        c.reply()
        c.cmd(b"EHLO client.test")
        c.send(b"STARTTLS\r\n")
        first = c.reply()
        second = c.reply()
        assert (first, second) == (b"220 2.0.0 Ready to start TLS\r\n", b"250 injected\r\n"), \
            (first, second)
        c.starttls()
        assert c.cmd(b"EHLO client.test").startswith(b"250-mx.test")
        c.cmd(b"QUIT")
        c.close()


def test_plaintext_pipelined_after_starttls_is_discarded():
    with TestMX(starttls=True) as mx:
        c = Raw(mx.port)
        c.reply()
        c.cmd(b"EHLO client.test")
        c.send(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\n")
        assert c.reply().startswith(b"220 ")
        c.starttls()
        c.cmd(b"EHLO client.test")
        assert c.cmd(b"RCPT TO:<b@x.test>").startswith(b"503"), "injected MAIL was obeyed"
        c.cmd(b"QUIT")
        c.close()
        transcript = mx.transcript()
        assert "discarded" in transcript and "evil" not in transcript, transcript


def test_tls_verification_against_test_ca():
    d = tmpdir()
    chain = make_ca_and_cert(d, "mx.test")
    with TestMX(starttls=True, cert=chain.cert, key=chain.key) as mx:
        good = ssl.create_default_context(cafile=chain.ca_cert)
        c = Raw(mx.port)
        c.reply()
        c.cmd(b"EHLO client.test")
        c.cmd(b"STARTTLS")
        c.starttls(good)  # verifies chain and the name mx.test
        der = c.sock.getpeercert()
        assert ("DNS", "mx.test") in der["subjectAltName"], der
        c.close()
        # The same server must fail verification against an unrelated CA.
        other = make_ca_and_cert(d, "other.test")
        bad = ssl.create_default_context(cafile=other.ca_cert)
        c = Raw(mx.port)
        c.reply()
        c.cmd(b"EHLO client.test")
        c.cmd(b"STARTTLS")
        try:
            c.starttls(bad)
            raise AssertionError("certificate from another CA was accepted")
        except ssl.SSLCertVerificationError:
            pass
        c.close()
    # RSA self-signed certificates work too.
    rsa = make_cert(d, "rsa.test", key_type="rsa")
    out = subprocess.run(["openssl", "x509", "-in", rsa.cert, "-noout", "-text"],
                         capture_output=True, text=True).stdout
    assert "rsaEncryption" in out and "IP Address:127.0.0.1" in out, out


def test_many_concurrent_clients():
    with TestMX(starttls=True) as mx:
        idle = Raw(mx.port)  # one silent client must not hold up the others
        idle.reply()
        errors = []

        def client(i):
            try:
                send_mail(mx.port, f"s{i}@sender.test", [f"r{i}@x.test"],
                          make_message(f"s{i}@sender.test", f"r{i}@x.test", f"msg {i}"),
                          starttls=(i % 2 == 0))
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        idle.close()
        assert not errors, errors
        msgs = mx.wait_messages(60)
        assert len(msgs) == 60, len(msgs)
        assert sorted(m["mail_from"] for _, m in msgs) == \
            sorted(f"s{i}@sender.test" for i in range(60))
        assert sum(m["tls"] for _, m in msgs) == 30
        assert len(set(os.listdir(mx.maildir))) == 121  # 60 × (eml, json) + transcript


def test_sigterm_and_restart():
    mx = TestMX().start()
    try:
        send_mail(mx.port, "a@sender.test", ["b@x.test"], make_message("a@sender.test", "b@x.test"))
        port = mx.port
        assert mx.stop() == 0, "testmx did not exit cleanly on SIGTERM"
        mx.start()
        assert mx.port == port
        send_mail(mx.port, "a@sender.test", ["b@x.test"], make_message("a@sender.test", "b@x.test"))
        mx.wait_messages(2)
        names = sorted(n for n in os.listdir(mx.maildir) if n.endswith(".json"))
        assert names == ["000001.json", "000002.json"], names
    finally:
        mx.stop()


FAKE_DAEMON = r'''#!/usr/bin/python3
# Stands in for secumailerd: reads the config, creates a WAL-mode store and listens.
import configparser, os, signal, socket, sqlite3, sys
if os.environ.get("FAKE_FAIL"):
    sys.stderr.write("secumailerd: bad value for key tls-policy at line 9\n")
    sys.exit(1)
cfg = configparser.ConfigParser(interpolation=None)
cfg.read(sys.argv[sys.argv.index("--config") + 1])
db = sqlite3.connect(os.path.join(cfg["store"]["directory"], "secumailer.db"))
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS recipients (id INTEGER PRIMARY KEY, address, state)")
db.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, kind, message)")
db.execute("INSERT INTO recipients (address, state) VALUES ('b@tls.test', 'delivered')")
db.execute("INSERT INTO events (kind, message) VALUES ('start', 'started')")
db.commit()
print("fake daemon started", flush=True)
signal.signal(signal.SIGTERM, lambda *a: (db.close(), sys.exit(0)))
host, port = cfg["smtp"]["listen"].rsplit(":", 1)
srv = socket.create_server((host, int(port)))
while True:
    conn, _ = srv.accept()
    conn.close()
'''


def test_gateway_harness_with_fake_daemon():
    d = tmpdir()
    fake = os.path.join(d, "fake-secumailerd")
    with open(fake, "w") as f:
        f.write(FAKE_DAEMON)
    os.chmod(fake, 0o755)
    with TestMX() as mx:
        gw = Gateway({"tls.test": mx, "plain.test": 2602, "x.test": "127.0.0.2:25"},
                     extra={"delivery": {"retry-schedule": ["1s", "2s"]},
                            "smtp": {"relay-networks": None},
                            "portal": {"listen": "127.0.0.1:0", "enabled": True}},
                     binary=fake)
        with gw:
            cfg = configparser.ConfigParser(interpolation=None)
            cfg.read(gw.config_path)
            assert cfg["delivery"]["routes"] == \
                f"tls.test=127.0.0.1:{mx.port};plain.test=127.0.0.1:2602;x.test=127.0.0.2:25"
            assert cfg["delivery"]["tls-policy"] == "encrypt"
            assert cfg["delivery"]["retry-schedule"] == "1s;2s"
            assert "relay-networks" not in cfg["smtp"]
            assert cfg["portal"]["enabled"] == "true"
            assert cfg["smtp"]["listen"] == f"127.0.0.1:{gw.port}"
            assert cfg["store"]["directory"] == gw.state_dir
            assert os.path.exists(cfg["smtp"]["tls-certificate"])
            assert wait_for(lambda: gw.recipient_states()) == [("b@tls.test", "delivered")]
            assert gw.events("start")[0]["message"] == "started"
            gw.kill9()
            assert not gw.running
            assert gw.recipient_states() == [("b@tls.test", "delivered")], "read after SIGKILL"
            gw.restart()
            assert wait_for(lambda: len(gw.recipient_states()) == 2)
            assert gw.stop() == 0
            # After a clean shutdown the WAL files are gone; read-only open still works.
            assert len(gw.recipient_states()) == 2
            gw.start()
        assert not gw.running
        assert gw.log().count("fake daemon started") == 3, gw.log()
        assert os.path.dirname(gw.log_path) == gw.state_dir

    bad = Gateway({}, binary=fake, env={"FAKE_FAIL": "1"})
    try:
        bad.start()
        raise AssertionError("start() succeeded although the daemon exited")
    except GatewayError as e:
        assert "bad value for key tls-policy" in str(e), e


def test_tap_output():
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        import smdtest
        def passes(): pass
        def two_lines():
            smdtest.ok(True, "first # not a directive")
            smdtest.ok(False, "second", "why it failed")
        def raises(): raise ValueError("boom")
        smdtest.main([passes, two_lines, raises])
    """ % os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([smdtest.PYTHON, "-c", script], capture_output=True, text=True, timeout=30)
    lines = r.stdout.splitlines()
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert lines[0] == "TAP version 13", lines
    assert "ok 1 - passes" in lines, lines
    assert "ok 2 - first \\# not a directive" in lines, lines
    assert "not ok 3 - second" in lines and "# why it failed" in lines, lines
    assert "not ok 4 - raises" in lines, lines
    assert any("ValueError: boom" in line for line in lines), lines
    assert "1..4" in lines, lines


if __name__ == "__main__":
    if not os.access(SWAKS, os.X_OK):
        smdtest.skip_all("swaks not installed")
    smdtest.main([
        test_plain_delivery_with_swaks,
        test_starttls_delivery_with_swaks,
        test_starttls_advertised_only_before_tls,
        test_rcpt_replies_sequence,
        test_data_replies_sequence,
        test_data_ends_only_at_crlf_dot_crlf,
        test_sequence_errors,
        test_inject_after_starttls,
        test_plaintext_pipelined_after_starttls_is_discarded,
        test_tls_verification_against_test_ca,
        test_many_concurrent_clients,
        test_sigterm_and_restart,
        test_gateway_harness_with_fake_daemon,
        test_tap_output,
    ])
