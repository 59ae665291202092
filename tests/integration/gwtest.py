"""gwtest — small helpers shared by the gateway-core integration tests.

  Raw         line-level SMTP client for what smtplib won't do on purpose
  FakeMX      a threaded, scripted recipient server that records every byte
              it receives (for STARTTLS refusal and handshake failures,
              which testmx.py does not simulate)
  split_received, der_sha256, wait_settled, states, gateway_or_skip

Only the standard library; see smdtest.py for the main harness.
"""

import hashlib
import os
import re
import select
import socket
import ssl
import subprocess
import threading
import time

import smdtest
from smdtest import HOST, wait_for

TERMINAL = ("delivered", "bounced", "held", "awaiting-registration", "invited")


def gateway_or_skip():
    if not os.access(smdtest.daemon_binary(), os.X_OK):
        smdtest.skip_all(f"secumailerd not built: {smdtest.daemon_binary()}")


class Raw:
    """A line-level SMTP client."""

    def __init__(self, port, host=HOST, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """One complete (possibly multi-line) reply as bytes (CRLF-terminated lines)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"connection closed, got {lines!r} {self.buf!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line)
            if line[3:4] != b"-":
                return b"\r\n".join(lines) + b"\r\n"

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def rest_until_close(self, timeout=10):
        """Everything the server sends until it closes; raises on timeout."""
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk

    def closed_by_peer(self, timeout=5):
        """True if the server closes the connection (EOF/reset) within timeout."""
        try:
            self.rest_until_close(timeout)
            return True
        except (socket.timeout, TimeoutError):
            return False

    def starttls(self, ctx=None, server_hostname="gateway.test"):
        ctx = ctx or smdtest.insecure_client_context()
        # a handshake may wait its turn on a loaded machine (ASan, two test
        # processes, the test MX's TLS in this process): 30 s, then as before
        timeout = self.sock.gettimeout()
        self.sock.settimeout(max(timeout or 0, 30))
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.sock.settimeout(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def split_received(eml):
    """(first header field incl. folded lines, rest) of a message."""
    m = re.match(rb"(Received:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)", eml)
    if not m:
        return None, eml
    return m.group(1), eml[m.end():]


def der_sha256(cert_path):
    der = subprocess.run(["openssl", "x509", "-in", cert_path, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def states(gw):
    return gw.recipient_states()


def wait_settled(gw, n=None, timeout=20, accept=TERMINAL):
    """Wait until (n) recipients exist and all are in a state of accept; returns states."""
    def settled():
        s = gw.recipient_states()
        if not s or (n is not None and len(s) < n):
            return None
        return s if all(st in accept for _, st in s) else None
    return wait_for(settled, timeout) or gw.recipient_states()


class FakeMX:
    """A scripted SMTP server on a thread; records every byte per connection.

    mode:
      "refuse"    advertises STARTTLS, answers it with 454
      "garbage"   answers STARTTLS with 220 then sends non-TLS bytes
      "close"     answers STARTTLS with 220 and closes the connection
      "notls"     never advertises STARTTLS; accepts anything (records it)
      "silent"    accepts the connection and never says anything
      "dropdata"  real STARTTLS (cert/key needed), then closes the connection
                  in the middle of the message data (first attempt only;
                  later connections behave normally)
      "stalldata" like dropdata, but never answers the end of data
      "trickle"   answers STARTTLS with 220, then sends a TLS record a byte
                  every half second (each byte within any read timeout)
    Connections after the first behave like a normal TLS server when
    cert/key are given.
    """

    def __init__(self, mode, cert=None, key=None):
        self.mode = mode
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
        self.delivered = []  # message data accepted with 250
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.address = f"{HOST}:{self.port}"
        self.received = []  # one bytearray per connection
        self.lock = threading.Lock()
        self.active = 0  # connections open now
        self.max_active = 0  # the most open at once
        self.hellos = []  # "trickle": when each client's ClientHello came
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.sock.close()

    def all_bytes(self):
        with self.lock:
            return b"".join(bytes(b) for b in self.received)

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self._converse(conn)
        finally:
            with self.lock:
                self.active -= 1

    def _converse(self, conn):
        rec = bytearray()
        with self.lock:
            self.received.append(rec)
            first = len(self.received) == 1
        mode = self.mode if first or self.mode in ("refuse", "garbage", "close", "notls",
                                                  "silent", "trickle") else "normal"
        conn.settimeout(20)
        buf = b""
        try:
            if mode == "silent":
                while conn.recv(65536):
                    pass
                return
            conn.sendall(b"220 fake.test ESMTP\r\n")
            while True:
                while b"\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    with self.lock:
                        rec += chunk
                    buf += chunk
                line, buf = buf.split(b"\r\n", 1)
                verb = line.split(b" ")[0].upper()
                if verb in (b"EHLO", b"HELO"):
                    ext = b"" if self.mode == "notls" else b"250-STARTTLS\r\n"
                    conn.sendall(b"250-fake.test\r\n250-PIPELINING\r\n" + ext +
                                 b"250 8BITMIME\r\n")
                elif verb == b"STARTTLS" and self.mode == "trickle":
                    conn.sendall(b"220 2.0.0 go ahead\r\n")
                    conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 KiB
                    hello = False
                    while not self.stopping:
                        # what the client sends is read (so its close is
                        # seen at once), and every half second a byte goes
                        if select.select([conn], [], [], 0.5)[0]:
                            if not conn.recv(65536):
                                return
                            if not hello:  # its ClientHello
                                hello = True
                                with self.lock:
                                    self.hellos.append(time.monotonic())
                        else:
                            conn.sendall(b"\x02")
                elif verb == b"STARTTLS" and self.ctx is not None and mode not in (
                        "refuse", "garbage", "close"):
                    conn.sendall(b"220 2.0.0 go ahead\r\n")
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                    buf = b""
                elif verb == b"STARTTLS":
                    if self.mode == "refuse":
                        conn.sendall(b"454 4.7.0 TLS not available\r\n")
                    elif self.mode == "garbage":
                        conn.sendall(b"220 2.0.0 go ahead\r\n")
                        time.sleep(0.1)
                        conn.sendall(b"this is not a TLS ServerHello\r\n" * 4)
                    elif self.mode == "close":
                        conn.sendall(b"220 2.0.0 go ahead\r\n")
                        return
                    else:
                        conn.sendall(b"502 5.5.1 no\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                elif verb == b"DATA":
                    conn.sendall(b"354 go\r\n")
                    if mode == "dropdata":
                        if not buf:
                            chunk = conn.recv(65536)
                            with self.lock:
                                rec += chunk
                        conn.shutdown(socket.SHUT_RDWR)
                        return
                    while b"\r\n.\r\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        with self.lock:
                            rec += chunk
                        buf += chunk
                    data, buf = buf.split(b"\r\n.\r\n", 1)
                    if mode == "stalldata":
                        while conn.recv(65536):
                            pass
                        return
                    if mode == "slowdata":
                        time.sleep(2)  # the gateway is stopped meanwhile
                    with self.lock:
                        self.delivered.append(data + b"\r\n")
                    conn.sendall(b"250 ok\r\n")
                else:
                    conn.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            conn.close()


_CIPHER_NAMES = None


def same_cipher(a, b):
    """True if a and b name the same TLS cipher suite (IANA or OpenSSL spelling)."""
    global _CIPHER_NAMES
    if a == b:
        return True
    if not a or not b:
        return False
    if _CIPHER_NAMES is None:
        _CIPHER_NAMES = {}
        out = subprocess.run(["openssl", "ciphers", "-stdname", "ALL:@SECLEVEL=0"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "-":
                _CIPHER_NAMES[parts[0]] = parts[2]
                _CIPHER_NAMES[parts[2]] = parts[2]
    return _CIPHER_NAMES.get(a, a) == _CIPHER_NAMES.get(b, b)
