#!/usr/bin/python3
"""Configuration errors: a bad file names FILE:LINE, the group and the key on
stderr and exits non-zero; nothing starts half-configured."""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import free_port, make_cert, ok, tmpdir  # noqa: E402
from gwtest import gateway_or_skip  # noqa: E402

D = None
PORT = None


def base_groups():
    return {
        "smtp": [("listen", f"127.0.0.1:{PORT}"), ("hostname", "gateway.test"),
                 ("relay-networks", "127.0.0.0/8;::1/128")],
        "delivery": [("routes", "tls.test=127.0.0.1:2601;plain.test=127.0.0.1:2602"),
                     ("tls-policy", "encrypt"), ("retry-schedule", "1s;5m;1h")],
        "store": [("directory", os.path.join(D, "state"))],
    }


def write_config(name, bad_group, bad_key, bad_value):
    """Config with one extra/overriding line; returns (path, its line number)."""
    groups = base_groups()
    groups.setdefault(bad_group, [])
    groups[bad_group] = [(k, v) for k, v in groups[bad_group] if k != bad_key]
    groups[bad_group].append((bad_key, bad_value))
    lines, bad_line = ["# test configuration"], None
    for g, kv in groups.items():
        lines.append(f"[{g}]")
        for k, v in kv:
            lines.append(f"{k} = {v}")
            if (g, k) == (bad_group, bad_key):
                bad_line = len(lines)
        if g == bad_group and not kv:
            bad_line = len(lines)
        lines.append("")
    path = os.path.join(D, name + ".conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, bad_line


def run(*args, timeout=20):
    r = subprocess.run([smdtest.daemon_binary(), *args], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=timeout, cwd=D)
    return r.returncode, r.stdout, r.stderr


CASES = [
    # name, group, key, value
    ("unknown-key", "smtp", "bogus-key", "1"),
    ("bad-size", "smtp", "max-message-size", "abc"),
    ("bad-size-unit", "smtp", "max-message-size", "10Q"),
    ("bad-policy", "delivery", "tls-policy", "maybe"),
    ("route-no-equals", "delivery", "routes", "example.org"),
    ("route-bad-port", "delivery", "routes", "example.org=127.0.0.1:notaport"),
    ("route-port-range", "delivery", "routes", "example.org=127.0.0.1:70000"),
    ("bad-duration", "smtp", "idle-timeout", "5 parsecs"),
    ("bad-retry", "delivery", "retry-schedule", "soon"),
    ("bad-network", "smtp", "relay-networks", "999.1.1.1/8"),
    ("bad-prefix", "smtp", "relay-networks", "127.0.0.0/33"),
    ("zero-recipients", "smtp", "max-recipients", "0"),
    ("zero-per-domain", "delivery", "max-connections-per-domain", "0"),
    ("bad-listen", "smtp", "listen", "127.0.0.1:notaport"),
    ("missing-ca-file", "delivery", "ca-file", "/nonexistent/ca.pem"),
    ("ca-file-without-certificates", "delivery", "ca-file", "/etc/passwd"),
    ("unknown-key-store", "store", "colour", "blue"),
]


def test_bad_values():
    for name, group, key, value in CASES:
        path, line = write_config(name, group, key, value)
        rc, out, err = run("--config", path, "--check-config")
        ok(rc != 0, f"{name}: [{group}] {key} = {value!r} → non-zero exit", f"rc={rc} {err}")
        ok(f"{path}:{line}:" in err or f"{os.path.basename(path)}:{line}:" in err,
           f"{name}: stderr names FILE:LINE ({line})", err)
        ok(f"[{group}] {key}" in err, f"{name}: stderr names [{group}] {key}", err)


def test_unknown_group():
    path, _ = write_config("unknown-group", "smtp", "hostname", "gateway.test")
    with open(path, "a") as f:
        f.write("[nonsense]\nfoo = bar\n")
    n = sum(1 for _ in open(path))
    rc, out, err = run("--config", path, "--check-config")
    ok(rc != 0, "unknown group → non-zero exit", f"rc={rc} {err}")
    ok(f"{path}:{n - 1}:" in err and "[nonsense]" in err,
       "unknown group: stderr names FILE:LINE and the group", err)


def test_syntax_error():
    path = os.path.join(D, "syntax.conf")
    with open(path, "w") as f:
        f.write("[smtp]\nthis line has no equals sign\n")
    rc, out, err = run("--config", path, "--check-config")
    ok(rc != 0 and err.strip(), "unparsable file → non-zero exit with a message", f"rc={rc} {err}")


def test_missing_required():
    path = os.path.join(D, "missing-listen.conf")
    with open(path, "w") as f:
        f.write("[smtp]\nhostname = gateway.test\nrelay-networks = 127.0.0.0/8\n"
                f"[store]\ndirectory = {D}/state\n")
    rc, out, err = run("--config", path, "--check-config")
    ok(rc != 0 and "listen" in err, "missing [smtp] listen → non-zero, names the key",
       f"rc={rc} {err}")


def test_missing_file():
    rc, out, err = run("--config", os.path.join(D, "does-not-exist.conf"), "--check-config")
    ok(rc != 0 and "does-not-exist.conf" in err, "missing config file → non-zero exit, named",
       f"rc={rc} {err}")
    rc, out, err = run("--config", os.path.join(D, "does-not-exist.conf"))
    ok(rc != 0, "missing config file (no --check-config) → non-zero exit", f"rc={rc} {err}")


def test_valid_config():
    path, _ = write_config("valid", "smtp", "max-message-size", "25M")
    rc, out, err = run("--config", path, "--check-config")
    ok(rc == 0, "valid config: --check-config exits 0", f"rc={rc} {out} {err}")
    c = make_cert(D, "gateway.test")
    path, _ = write_config("valid-full", "smtp", "tls-key", c.key)
    with open(path) as f:
        text = f.read()
    text = text.replace("[smtp]\n", f"[smtp]\ntls-certificate = {c.cert}\nmax-recipients = 50\n"
                        "max-sessions = 10\nidle-timeout = 5m\n", 1)
    text = text.replace("[delivery]\n", "[delivery]\nmax-queue-lifetime = 5d\n"
                        "max-connections = 5\nconnect-timeout = 30s\ncommand-timeout = 5m\n", 1)
    text += ("[organisation]\nname = Example Organisation\nnotify-from = secure@example.org\n")
    with open(path, "w") as f:
        f.write(text)
    rc, out, err = run("--config", path, "--check-config")
    ok(rc == 0, "full valid config: --check-config exits 0", f"rc={rc} {out} {err}\n{text}")


def test_certificate_and_key_checked():
    """A key that is not the certificate's (a renewed certificate with the
    old key), or a certificate file that is no certificate, is found by
    --check-config and named with its line, for SMTP and for the portal."""
    a, b = make_cert(D, "a.gateway.test"), make_cert(D, "b.gateway.test")
    junk = os.path.join(D, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    for group, cert, key, why in (("smtp", a.cert, b.key, "does not belong to the certificate"),
                                  ("portal", a.cert, b.key, "does not belong to the certificate"),
                                  ("portal", junk, a.key, "cannot load")):
        path, line = write_config(f"pair-{group}", group, "tls-certificate", cert)
        with open(path) as f:
            text = f.read()
        extra = f"tls-key = {key}\n"
        if group == "portal":
            extra += "listen = 127.0.0.1:1\npublic-url = https://portal.test\n"
        with open(path, "w") as f:
            f.write(text.replace(f"tls-certificate = {cert}\n",
                                 f"tls-certificate = {cert}\n{extra}", 1))
        rc, out, err = run("--config", path, "--check-config")
        ok(rc != 0 and f":{line}: [{group}] tls-certificate" in err and why in err,
           f"[{group}] {os.path.basename(cert)} with {os.path.basename(key)}: refused, "
           "naming key and line", f"rc={rc} {err}")


def test_not_a_config_file():
    """A FIFO (which would hang the start), a device or a huge file as the
    configuration: a clear error at once."""
    fifo = os.path.join(D, "fifo.conf")
    os.mkfifo(fifo)
    big = os.path.join(D, "big.conf")
    with open(big, "w") as f:
        f.write("# x\n" * (1 << 19))
    for path, why in ((fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                      (big, "too large for a configuration file")):
        try:
            rc, out, err = run("--config", path, "--check-config", timeout=10)
        except subprocess.TimeoutExpired:
            rc, err = None, "still reading after 10 s"
        ok(rc == 1 and why in err, f"{os.path.basename(path)}: {why}", f"rc={rc} {err}")


def test_bad_config_does_not_start():
    path, line = write_config("start-bad", "delivery", "tls-policy", "maybe")
    try:
        rc, out, err = run("--config", path, timeout=10)
    except subprocess.TimeoutExpired:
        rc, err = None, "still running after 10 s"
    ok(rc == 1, "daemon with a bad config exits with status 1", f"rc={rc} {err}")
    with socket.socket() as s:
        ok(s.connect_ex(("127.0.0.1", PORT)) != 0, "and never listened")


if __name__ == "__main__":
    gateway_or_skip()
    D = tmpdir("cfg-")
    os.makedirs(os.path.join(D, "state"), mode=0o700)
    PORT = free_port()
    smdtest.main([test_bad_values, test_unknown_group, test_syntax_error, test_missing_required,
                  test_certificate_and_key_checked, test_not_a_config_file,
                  test_missing_file, test_valid_config, test_bad_config_does_not_start])
