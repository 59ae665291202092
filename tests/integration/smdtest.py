"""smdtest — shared helpers for SecuMailer integration tests.

  TAP:        plan, ok, skip, skip_all, diag, done, main
  Utilities:  free_port, make_cert, make_ca_and_cert, wait_for, tmpdir,
              make_message, send_mail
  Processes:  TestMX (testmx.py recipient server), Gateway (secumailerd)

Everything listens on loopback only. Every child process is registered and
killed at interpreter exit (and by the kernel if this process dies first),
so a failing or aborted test leaves nothing running. Temporary files live
under one directory per run; it is removed at exit unless a test failed or
SMDTEST_KEEP=1 is set, in which case its path is printed as a TAP comment.

Only the Python standard library is used; run tests with /usr/bin/python3.
"""

import atexit
import collections
import contextlib
import ctypes
import email.message
import email.policy
import email.utils
import http.client
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TESTMX = os.path.join(HERE, "testmx.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
HOST = "127.0.0.1"
# recipient states of a message held for the portal (DESIGN.md)
PORTAL_STATES = ("held", "awaiting-registration", "invited", "pin-sent", "opened",
                 "downloaded")


# --------------------------------------------------------------------- TAP

class _Tap:
    started = False
    count = 0
    failed = 0
    planned = None


def _emit(line):
    if not _Tap.started:
        _Tap.started = True
        sys.stdout.write("TAP version 13\n")
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _clean_name(name):
    # '#' would start a TAP directive and a newline would end the test line.
    return " ".join(str(name).split()).replace("#", "\\#")


def diag(text):
    """Write text as TAP comment lines."""
    for line in str(text).rstrip("\n").splitlines() or [""]:
        _emit("# " + line)


def plan(n):
    _Tap.planned = n
    _emit(f"1..{n}")


def ok(cond, name, diag_text=None):
    """One TAP test line; diag_text (str) is shown on failure. Returns bool(cond)."""
    _Tap.count += 1
    if not cond:
        _Tap.failed += 1
    _emit(f"{'ok' if cond else 'not ok'} {_Tap.count} - {_clean_name(name)}")
    if not cond and diag_text:
        diag(diag_text)
    return bool(cond)


def skip(name, reason=""):
    _Tap.count += 1
    _emit(f"ok {_Tap.count} - {_clean_name(name)} # SKIP {_clean_name(reason)}")


def skip_all(reason):
    """Skip the whole test file (e.g. binary not built) and exit 0."""
    _emit(f"1..0 # SKIP {_clean_name(reason)}")
    sys.exit(0)


def done():
    """Emit a trailing plan if none was given; return the exit status."""
    if _Tap.planned is None:
        plan(_Tap.count)
    elif _Tap.planned != _Tap.count:
        diag(f"planned {_Tap.planned} tests but ran {_Tap.count}")
        return 1
    return 1 if _Tap.failed else 0


def main(tests):
    """Run test functions in order and exit with the TAP status.

    A function may call ok() itself (any number of times); if it returns
    without doing so it counts as one passing test named after it. An
    exception becomes a failing test with the traceback as diagnostics, and
    the remaining functions still run. The plan is emitted at the end so the
    number of ok lines per function does not matter.
    """
    for fn in tests:
        name = fn.__name__
        before = _Tap.count
        try:
            fn()
        except Exception:
            ok(False, name if _Tap.count == before else f"{name} (exception)",
               traceback.format_exc())
        else:
            if _Tap.count == before:
                ok(True, name)
    sys.exit(done())


def _sigterm(signum, frame):
    # meson and friends stop a hung test with SIGTERM; turn it into a normal
    # exit so the atexit cleanup below still kills the children.
    sys.exit(128 + signum)


if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _sigterm)


# ------------------------------------------------------ processes and files

_children = []
_tmproot = None
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent():
    # Runs in the child between fork and exec: if the test process is killed
    # with SIGKILL (no atexit), the kernel still takes the child down.
    if _prctl:
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _spawn(argv, **kwargs):
    # PDEATHSIG fires when the spawning *thread* ends, so only use it from
    # the main thread; atexit covers children started by other threads.
    if threading.current_thread() is threading.main_thread():
        kwargs["preexec_fn"] = _die_with_parent
    proc = subprocess.Popen(argv, **kwargs)
    _children.append(proc)
    return proc


def _reap(proc, timeout=5):
    """SIGTERM, then SIGKILL if needed; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _children:
        _children.remove(proc)
    return proc.returncode


@atexit.register
def _cleanup():
    for proc in list(_children):
        if proc.poll() is None:
            proc.terminate()
    for proc in list(_children):
        _reap(proc, timeout=3)
    if _tmproot and os.path.isdir(_tmproot):
        if _Tap.failed or os.environ.get("SMDTEST_KEEP"):
            diag(f"kept temporary files in {_tmproot}")
        else:
            shutil.rmtree(_tmproot, ignore_errors=True)


def tmpdir(prefix="t-"):
    """A fresh directory under this run's temporary root."""
    global _tmproot
    if _tmproot is None:
        _tmproot = tempfile.mkdtemp(prefix="smdtest-")
    return tempfile.mkdtemp(prefix=prefix, dir=_tmproot)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_open(port, host=HOST):
    """Whether something accepts TCP connections on host:port now."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_for(predicate, timeout=20, interval=0.05):
    """Poll predicate until it returns a truthy value; return that value.

    On timeout the last (falsy) value is returned, so `ok(wait_for(...))`
    reads naturally. OSError and sqlite3.OperationalError count as "not
    yet" (files or tables not created yet, a busy database); if the last
    attempt raised one, it is re-raised at the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value, error = predicate(), None
        except (OSError, sqlite3.OperationalError) as e:
            value, error = None, e
        if value:
            return value
        if time.monotonic() >= deadline:
            if error:
                raise error
            return value
        time.sleep(interval)


# ----------------------------------------------------------- certificates

Cert = collections.namedtuple("Cert", "cert key")
CertChain = collections.namedtuple("CertChain", "ca_cert ca_key cert key")


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{r.stderr}")


def _newkey(key_type):
    if key_type == "ec":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    if key_type == "rsa":
        return ["-newkey", "rsa:2048"]
    raise ValueError(f"key_type must be 'ec' or 'rsa', not {key_type!r}")


def _safe(cn):
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in cn)


def make_cert(dir, cn, key_type="ec", days=30):
    """Self-signed certificate for cn (SAN DNS:cn, IP:127.0.0.1) → Cert(cert, key)."""
    cert = os.path.join(dir, _safe(cn) + ".pem")
    key = os.path.join(dir, _safe(cn) + ".key")
    _openssl("req", "-x509", *_newkey(key_type), "-nodes", "-keyout", key, "-out", cert,
             "-days", str(days), "-subj", f"/CN={cn}",
             "-addext", f"subjectAltName=DNS:{cn},IP:127.0.0.1")
    return Cert(cert, key)


def make_ca_and_cert(dir, cn, key_type="ec", days=30):
    """A test CA and a leaf for cn signed by it → CertChain(ca_cert, ca_key, cert, key)."""
    base = os.path.join(dir, _safe(cn))
    ca_cert, ca_key = base + "-ca.pem", base + "-ca.key"
    cert, key, csr, ext = base + ".pem", base + ".key", base + ".csr", base + ".ext"
    _openssl("req", "-x509", *_newkey(key_type), "-nodes", "-keyout", ca_key,
             "-out", ca_cert, "-days", str(days), "-subj", f"/CN=SecuMailer Test CA for {cn}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-new", *_newkey(key_type), "-nodes", "-keyout", key, "-out", csr,
             "-subj", f"/CN={cn}")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{cn},IP:127.0.0.1\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
             "-days", str(days), "-extfile", ext, "-out", cert)
    return CertChain(ca_cert, ca_key, cert, key)


# ------------------------------------------------------------- SMTP client

def make_message(sender, recipients, subject="Test message", body="Hello.\n"):
    """A small RFC 5322 message as bytes with CRLF line ends."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join([recipients] if isinstance(recipients, str) else recipients)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain="client.test")
    msg.set_content(body)
    return msg.as_bytes()


def insecure_client_context():
    """Client TLS context that accepts the tests' self-signed certificates."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def send_mail(port, sender, recipients, data, *, host=HOST, starttls=False,
              helo="client.test", timeout=30):
    """Submit one message with smtplib; returns the dict of refused recipients.

    Raises smtplib.SMTPException subclasses as smtplib does (e.g. when every
    recipient is refused or DATA is rejected).
    """
    if isinstance(recipients, str):
        recipients = [recipients]
    with smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout) as s:
        if starttls:
            s.starttls(context=insecure_client_context())
        return s.sendmail(sender, recipients, data)


# ------------------------------------------------------------------ TestMX

class TestMX:
    """testmx.py as a subprocess; see testmx.py for its behaviour and files.

        with TestMX(starttls=True) as mx:
            ... deliver to 127.0.0.1:mx.port ...
            mx.wait_messages(1)

    port=0 (default) lets the server pick a free port; it is known after
    start() and kept for later restarts.
    """
    __test__ = False  # not a pytest class, despite the name

    def __init__(self, *, starttls=False, cert=None, key=None, rcpt_replies=None,
                 data_replies=None, mail_replies=None, greeting=None,
                 inject_after_starttls=False, hostname="mx.test", tls_min=None,
                 tls_max=None, port=0, maildir=None, extra_args=(), host=HOST):
        self.workdir = tmpdir("mx-")
        self.maildir = maildir or os.path.join(self.workdir, "maildir")
        self.port = port
        self.host = host
        if starttls and not cert:
            cert, key = make_cert(self.workdir, hostname)
        self.cert, self.key = cert, key
        args = ["--maildir", self.maildir, "--hostname", hostname]
        if starttls:
            args += ["--starttls", "--cert", cert, "--key", key]
        for flag, value in (("--rcpt-replies", rcpt_replies), ("--data-replies", data_replies),
                            ("--mail-replies", mail_replies), ("--greeting", greeting),
                            ("--tls-min", tls_min), ("--tls-max", tls_max)):
            if value is not None:
                args += [flag, value]
        if inject_after_starttls:
            args.append("--inject-after-starttls")
        self.args = args + list(extra_args)
        self.proc = None
        self.stderr_path = os.path.join(self.workdir, "testmx.stderr")

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def start(self, timeout=10):
        ready = os.path.join(self.workdir, "ready")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(ready)
        with open(self.stderr_path, "ab") as err:
            self.proc = _spawn([PYTHON, TESTMX, "--listen", f"{self.host}:{self.port}",
                                "--ready-file", ready, *self.args],
                               stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                _reap(self.proc)
                raise RuntimeError(f"testmx did not start:\n{self._stderr()}")
            time.sleep(0.02)
        with open(ready) as f:
            self.port = int(f.read())
        return self

    def stop(self):
        """Stop the server (SIGTERM); returns its exit status."""
        if self.proc is None:
            return None
        return _reap(self.proc)

    def restart(self):
        self.stop()
        return self.start()

    def _stderr(self):
        with contextlib.suppress(OSError), open(self.stderr_path, errors="replace") as f:
            return f.read()
        return ""

    def messages(self):
        """Stored messages as [(eml bytes, envelope dict)], oldest first."""
        out = []
        for name in sorted(os.listdir(self.maildir)):
            if name.endswith(".json"):
                base = os.path.join(self.maildir, name[:-5])
                with open(base + ".json") as f:
                    meta = json.load(f)
                with open(base + ".eml", "rb") as f:
                    out.append((f.read(), meta))
        return out

    def wait_messages(self, n, timeout=20):
        """Wait until at least n messages are stored; returns messages() (maybe fewer)."""
        wait_for(lambda: len(self.messages()) >= n, timeout)
        return self.messages()

    def transcript(self):
        path = os.path.join(self.maildir, "transcript.log")
        if not os.path.exists(path):
            return ""
        with open(path, encoding="latin-1") as f:
            return f.read()

    def commands(self):
        """Received commands as [(connection number, in_tls, line)]."""
        out = []
        for record in self.transcript().splitlines():
            conn, tag, line = (record.split(" ", 2) + ["", ""])[:3]
            if tag in ("P", "T"):
                out.append((int(conn), tag == "T", line))
        return out

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


# -------------------------------------------------------------- NameServer

class NameServer:
    """A name server (UDP) on a loopback address, port 53 as resolv.conf
    has no port, answering from records, a dict {(name, type): [data]}:
    "MX": (preference, host) with host "." for a null MX, "A": an IPv4
    address. A name with no record at all is NXDOMAIN, a name with records
    of other types only has no data. A name for which silent(name) is true
    is never answered, until release(): then SERVFAIL, to the waiting
    queries and from then on. The daemon uses it when started through
    resolver_wrapper(). queries: [(name, type)] as they came."""

    TYPES = {1: "A", 15: "MX", 28: "AAAA"}

    def __init__(self, records=None, silent=lambda name: False, address="127.0.0.153"):
        import threading
        self.address = address
        self.records = {(n.lower(), t): v for (n, t), v in (records or {}).items()}
        self.silent = silent
        self.queries, self.held, self.released = [], [], False
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 53))
        threading.Thread(target=self._serve, daemon=True).start()

    @staticmethod
    def _name(labels):
        out = b""
        for label in labels.strip(".").split(".") if labels.strip(".") else []:
            out += bytes([len(label)]) + label.encode()
        return out + b"\0"

    def _answer(self, query, rcode=None):
        """The response to @query, or None for one that is not understood."""
        pos, labels = 12, []
        while pos < len(query) and query[pos] != 0:
            n = query[pos]
            labels.append(query[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        if pos + 5 > len(query):
            return None
        qtype = int.from_bytes(query[pos + 1:pos + 3], "big")
        name, question = ".".join(labels).lower(), query[12:pos + 5]
        answers = []
        if rcode is None:
            rtype = self.TYPES.get(qtype, str(qtype))
            data = self.records.get((name, rtype), [])
            rcode = 0 if data or any(n == name for n, _ in self.records) else 3
            for item in data:
                if rtype == "MX":
                    rdata = item[0].to_bytes(2, "big") + self._name(item[1])
                else:
                    rdata = socket.inet_aton(item)
                answers.append(b"\xc0\x0c" + qtype.to_bytes(2, "big") + b"\x00\x01" +
                               (60).to_bytes(4, "big") + len(rdata).to_bytes(2, "big") + rdata)
        # QR, AA, RD as asked, RA
        flags = 0x8400 | (query[2] << 8 & 0x0100) | 0x0080 | rcode
        return (query[:2] + flags.to_bytes(2, "big") + b"\x00\x01" +
                len(answers).to_bytes(2, "big") + bytes(4) + question + b"".join(answers))

    def _serve(self):
        while True:
            try:
                query, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(query) < 17:
                continue
            with self.lock:
                answer = self._answer(query)
                if answer is None:
                    continue
                pos, labels = 12, []
                while query[pos] != 0:
                    labels.append(query[pos + 1:pos + 1 + query[pos]].decode("ascii", "replace"))
                    pos += 1 + query[pos]
                name = ".".join(labels).lower()
                qtype = int.from_bytes(query[pos + 1:pos + 3], "big")
                self.queries.append((name, self.TYPES.get(qtype, str(qtype))))
                if self.silent(name) and not self.released:
                    self.held.append((query, peer))
                    continue
                if self.silent(name):
                    answer = self._answer(query, rcode=2)
                self.sock.sendto(answer, peer)

    def release(self):
        with self.lock:
            self.released = True
            for query, peer in self.held:
                self.sock.sendto(self._answer(query, rcode=2), peer)
            self.held = []

    def asked(self, name, rtype="MX"):
        with self.lock:
            return self.queries.count((name, rtype))

    def resolver_wrapper(self, daemon, timeout=15):
        """A program that runs @daemon with this server alone in its
        /etc/resolv.conf (a mount namespace of its own), same pid."""
        d = tmpdir("dns-")
        conf = os.path.join(d, "resolv.conf")
        with open(conf, "w") as f:
            f.write(f"nameserver {self.address}\noptions timeout:{timeout} attempts:1\n")
        wrapper = os.path.join(d, "secumailerd")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec unshare -m --propagation private /bin/sh -c "
                    "'mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"' "
                    f"{conf} {daemon} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        return wrapper

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----------------------------------------------------------------- Gateway

class GatewayError(RuntimeError):
    pass


def _ini_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(_ini_value(v) for v in value)
    return str(value)


def daemon_binary():
    """Path of secumailerd under test: $SECUMAILERD, else build/daemon/secumailerd."""
    return os.environ.get("SECUMAILERD") or os.path.join(ROOT, "build", "daemon", "secumailerd")


def failsync_env(name, **settings):
    """The environment that preloads the failsync shim
    (tests/integration/failsync.c) into the daemon, with @settings such as
    SMD_SYNC_LOG=path; None, with test @name reported skipped, when the
    shim is not built."""
    shim = os.environ.get("SMD_FAILSYNC")
    if not shim or not os.path.exists(shim):
        skip(name, "the failsync shim is not built")
        return None
    env = {"LD_PRELOAD": shim, **settings}
    if "ASAN_OPTIONS" in os.environ:  # the shim comes before ASan's runtime
        env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":verify_asan_link_order=0"
    return env


def register_phone(gw, address, number):
    """A number in the directory, as staff would set it (the daemon has the
    database open; SQLite's locking makes this safe)."""
    wait_for(lambda: os.path.exists(gw.db_path))
    con = sqlite3.connect(gw.db_path, timeout=10)
    with con:
        con.execute("INSERT OR REPLACE INTO phones (address, number, registered_by, "
                    "registered_at) VALUES (?, ?, 't', 0)", (address, number))
    con.close()


def held_message_link(gw, mx, sender="doctor@org.test", recipient="pat@plain.test",
                      number="+31612345678", raw=None):
    """Registers @number for @recipient, sends a message (@raw, or a short
    one) that @gw holds (@mx, the recipient's, has no STARTTLS) and
    returns the token of the link (/m/TOKEN) in the invitation @mx gets;
    None if none comes."""
    register_phone(gw, recipient, number)
    before = len(mx.messages())
    gw.send(sender, recipient, raw or make_message(sender, recipient, "x", "y\n"))
    if not wait_for(lambda: len(mx.messages()) > before, 20):
        return None
    found = re.search(rb"/m/([A-Za-z0-9_-]{32})", mx.messages()[-1][0].replace(b"=\r\n", b""))
    return found.group(1).decode() if found else None


class Gateway:
    """secumailerd with a generated config and a private state directory.

        with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
            gw.send("a@sender.test", "b@tls.test", make_message(...))
            wait_for(lambda: gw.recipient_states() == [("b@tls.test", "delivered")])

    routes maps domain → port (int), TestMX, or "host:port". extra is
    {group: {key: value}} merged over the defaults; a value of None removes
    the key, lists become ';'-separated, bools true/false.
    The binary is daemon_binary() unless given.
    """

    def __init__(self, routes=None, extra=None, *, binary=None, port=None,
                 args=(), env=None, hostname="gateway.test"):
        self.workdir = tmpdir("gw-")
        self.state_dir = os.path.join(self.workdir, "state")
        os.makedirs(self.state_dir, mode=0o700)
        self.config_path = os.path.join(self.workdir, "secumailerd.conf")
        self.log_path = os.path.join(self.state_dir, "daemon.log")
        self.db_path = os.path.join(self.state_dir, "secumailer.db")
        self.binary = binary or daemon_binary()
        self.port = port or free_port()
        self.host = HOST
        self.hostname = hostname
        self.cert, self.key = make_cert(self.workdir, hostname)
        self.routes = dict(routes or {})
        self.extra = extra or {}
        self.args = list(args)
        self.env = dict(os.environ)
        # Same as g_test_init: a g_critical is a bug, so make it crash visibly.
        self.env.setdefault("G_DEBUG", "fatal-criticals")
        # ASan builds: LeakSanitizer checks the daemon at every exit and
        # stop() fails a test on its report (tests/lsan.supp, meson.build).
        self.env.update(env or {})
        self.proc = None

    def _route(self, target):
        if isinstance(target, TestMX):
            return target.address
        if isinstance(target, int):
            return f"{HOST}:{target}"
        return str(target)

    def config(self):
        """The configuration as {group: {key: value}} (strings)."""
        groups = {
            "smtp": {
                "listen": f"{HOST}:{self.port}",
                "hostname": self.hostname,
                "relay-networks": "127.0.0.0/8;::1/128",
                "tls-certificate": self.cert,
                "tls-key": self.key,
            },
            "delivery": {
                "routes": ";".join(f"{d}={self._route(t)}" for d, t in self.routes.items()),
                "tls-policy": "encrypt",
                "retry-schedule": "1s",
            },
            "store": {"directory": self.state_dir},
        }
        for group, keys in self.extra.items():
            target = groups.setdefault(group, {})
            for key, value in keys.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = _ini_value(value)
        return groups

    def write_config(self):
        # Routes are resolved now, so a TestMX started after the constructor
        # (port 0 until then) still gets its real port.
        lines = []
        for group, keys in self.config().items():
            lines.append(f"[{group}]")
            lines += [f"{k} = {v}" for k, v in keys.items()]
            lines.append("")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines))
        return self.config_path

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=20):
        """Start the daemon and wait until its SMTP port accepts connections."""
        if self.running:
            raise GatewayError("gateway already running")
        if not os.access(self.binary, os.X_OK):
            raise GatewayError(f"secumailerd binary not found: {self.binary} "
                               "(set SECUMAILERD)")
        self.write_config()
        with open(self.log_path, "ab") as log:
            log.write(f"=== start {time.strftime('%H:%M:%S')} ===\n".encode())
            log.flush()
            self.proc = _spawn([self.binary, "--config", self.config_path, *self.args],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                               env=self.env, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise GatewayError(f"secumailerd exited with status {self.proc.returncode} "
                                   f"before listening:\n{self.log()}")
            if port_open(self.port):
                return self
            if time.monotonic() > deadline:
                _reap(self.proc)
                raise GatewayError(f"secumailerd not listening on {HOST}:{self.port} "
                                   f"after {timeout}s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, timeout=25, check=True):
        """SIGTERM and wait; returns the exit status.

        With check, a daemon that needs SIGKILL or dies from a signal raises.
        The default timeout is longer than the daemon's drain (20 s for
        running deliveries, smd-main.c), so a slow drain is not a failure.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _reap(self.proc, 0)
                if check:
                    raise GatewayError(f"secumailerd ignored SIGTERM for {timeout}s")
        _reap(self.proc)
        rc = self.proc.returncode
        # LeakSanitizer's report (or its own failure) in this run's output
        # fails the test whatever check says; with abort_on_error it, not
        # a crash, is what turned the exit into SIGABRT
        run = self.log().rsplit("=== start ", 1)[-1]
        lsan = [i for i in (run.find("ERROR: LeakSanitizer"), run.find("Tracer caught signal"),
                            run.find("LeakSanitizer has encountered")) if i >= 0]
        if lsan:
            ok(False, "secumailerd exits without a LeakSanitizer report", run[min(lsan):][:20000])
        elif check and rc < 0 and rc != -signal.SIGTERM:
            raise GatewayError(f"secumailerd died from signal {-rc}:\n{self.log()}")
        return rc

    def kill9(self):
        """Simulate a crash / power cut (SIGKILL); a later stop() is a no-op."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            _reap(self.proc)
            self.proc = None

    def restart(self, kill=False, timeout=20):
        """Stop (SIGTERM, or SIGKILL with kill=True) and start again, same state."""
        self.kill9() if kill else self.stop()
        return self.start(timeout)

    def log(self):
        """The daemon's stdout+stderr so far (all runs)."""
        with contextlib.suppress(OSError), open(self.log_path, errors="replace") as f:
            return f.read()
        return ""

    def send(self, sender, recipients, data, **kwargs):
        """Submit a message to the gateway; see send_mail."""
        return send_mail(self.port, sender, recipients, data, **kwargs)

    # -- the daemon's SQLite store, read-only

    def db(self):
        """A read-only connection (sqlite3.Row rows); the caller closes it."""
        if not os.path.exists(self.db_path):
            raise FileNotFoundError(self.db_path)
        uri = "file:" + urllib.parse.quote(self.db_path) + "?mode=ro"
        con = sqlite3.connect(uri, uri=True, timeout=5)
        con.execute("PRAGMA busy_timeout = 5000")
        con.row_factory = sqlite3.Row
        return con

    def query(self, sql, params=()):
        """Rows of a read-only query as a list of dicts."""
        with contextlib.closing(self.db()) as con:
            return [dict(r) for r in con.execute(sql, params)]

    def recipient_states(self, raw=False):
        """[(address, state)] in insertion order; [] before the store exists.

        Unless raw, the portal's states of a held message (awaiting
        registration, invited, …) read as "held": kept in the vault, not
        sent. Notifications the gateway itself sends are left out."""
        if not os.path.exists(self.db_path):
            return []
        with contextlib.closing(self.db()) as con:
            try:
                rows = [tuple(r) for r in con.execute(
                    "SELECT r.address, r.state FROM recipients r JOIN messages m "
                    "ON m.id = r.message_id WHERE m.notification = 0 ORDER BY r.id")]
            except sqlite3.OperationalError:
                # a store without notifications (older schema, test fakes)
                rows = [tuple(r) for r in con.execute(
                    "SELECT address, state FROM recipients ORDER BY id")]
        if raw:
            return rows
        return [(a, "held" if s in PORTAL_STATES else s) for a, s in rows]

    def events(self, kind=None):
        if kind is None:
            return self.query("SELECT * FROM events ORDER BY id")
        return self.query("SELECT * FROM events WHERE kind = ? ORDER BY id", (kind,))

    def __enter__(self):
        if not self.running:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            diag(f"--- tail of {self.log_path} ---\n" + self.log()[-4000:])
        # Don't let a stop problem hide the original exception.
        self.stop(check=exc_type is None)
        return False


class Browser:
    """Just enough of a browser: cookies, forms, no redirects followed;
    with @tls over HTTPS, any certificate accepted."""

    def __init__(self, port, tls=False):
        self.port = port
        self.tls = tls
        self.cookies = {}

    def connection(self, timeout=20):
        if not self.tls:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=insecure_client_context())

    def request(self, method, path, form=None, headers=None, raw=None):
        """raw: a body sent as it is, instead of the encoded form"""
        con = self.connection()
        headers = dict(headers or {})
        body = raw
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        con.request(method, path, body=body, headers=headers)
        resp = con.getresponse()
        data = resp.read()
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                k, v = value.split(";", 1)[0].split("=", 1)
                self.cookies[k] = v
        con.close()
        return resp, data

    def csrf(self):
        # over HTTPS the cookie is __Host-smd_csrf
        return self.cookies.get("smd_csrf", self.cookies.get("__Host-smd_csrf", ""))

    def cookie_header(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def portal_session(gw, pport, plain, raw, b=None, tls=False):
    """Sends @raw to pat@plain.test, whose number is registered, and opens
    it on the portal with the pin (in browser @b, if given, which keeps
    what it had open): (the browser, the link's token)."""
    token = held_message_link(gw, plain, raw=raw)
    ok(token is not None, "invitation sent")
    b = b or Browser(pport, tls)
    sms = os.path.join(gw.state_dir, "sms.jsonl")

    def pins():
        with contextlib.suppress(OSError), open(sms) as f:
            return re.findall(r"\b(\d{6})\b", f.read())
        return []
    sent = len(pins())
    b.request("GET", f"/m/{token}")
    b.request("POST", f"/m/{token}/pin", {"csrf": b.csrf()})
    ok(wait_for(lambda: len(pins()) > sent, 10), "pin sent")
    pin = (pins() or ["000000"])[-1]
    resp, _ = b.request("POST", f"/m/{token}/login", {"csrf": b.csrf(), "pin": pin})
    ok(resp.status == 303, "logged in", resp.status)
    return b, token


def read_to_end(sock):
    """What @sock still gives until the peer closes it (or it fails); closes it."""
    received = b""
    with contextlib.suppress(OSError):
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    sock.close()
    return received


def raw_http(port, request, timeout=10):
    """Sends @request as it is; returns (status line, headers, body, closed):
    closed is whether the server ended the connection after its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data, closed = b"", False
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                data += chunk
        except socket.timeout:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return lines[0], headers, body, closed


def start_bus():
    """A private D-Bus daemon (killed with everything else the test
    started); returns the process and its address."""
    proc = _spawn(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, proc.stdout.readline().strip()
