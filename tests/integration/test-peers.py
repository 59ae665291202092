#!/usr/bin/python3
"""Interoperability with real SMTP software: swaks (plain and STARTTLS),
Postfix smtp-source, posttls-finger, openssl s_client as clients of the
gateway, and Postfix smtp-sink (no STARTTLS) as a next hop."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import (Gateway, TestMX, free_port, make_ca_and_cert, ok, tmpdir,  # noqa: E402
                     wait_for)
from gwtest import split_received, gateway_or_skip  # noqa: E402

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
POSTTLS_FINGER = shutil.which("posttls-finger") or "/usr/sbin/posttls-finger"


def have(path):
    return os.access(path, os.X_OK)


def run(argv, timeout=60, input=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL if input is None else None, input=input)
    return r.returncode, r.stdout + r.stderr


def swaks(gw, *args):
    return run([SWAKS, "--server", gw.host, "--port", str(gw.port), "--helo", "client.test",
                "--timeout", "20", *args])


STATE = {}


def test_swaks_plain_and_tls():
    gw, mx = STATE["gw"], STATE["mx"]
    if not have(SWAKS):
        smdtest.skip("swaks", "swaks not installed")
        return
    before = len(mx.messages())
    rc, out = swaks(gw, "--from", "a@sender.test", "--to", "b@tls.test",
                    "--header", "Subject: swaks plain", "--body", "plain body\n.dot\nend")
    ok(rc == 0 and "250 2.0.0 Ok: queued as" in out, "swaks (plain) accepted", out)
    rc, out = swaks(gw, "--tls", "--from", "a@sender.test", "--to", "b@tls.test",
                    "--header", "Subject: swaks tls")
    ok(rc == 0 and "TLS started" in out and "250 2.0.0 Ok: queued as" in out,
       "swaks --tls accepted over STARTTLS", out)
    msgs = mx.wait_messages(before + 2)[before:]
    subjects = sorted(m for eml, _ in msgs for m in
                      [ln for ln in eml.split(b"\r\n") if ln.startswith(b"Subject: swaks")])
    ok(subjects == [b"Subject: swaks plain", b"Subject: swaks tls"],
       "both swaks messages delivered to the TLS sink", repr(subjects))
    plain = [eml for eml, _ in msgs if b"Subject: swaks plain" in eml]
    ok(plain and b"\r\nplain body\r\n.dot\r\nend\r\n" in plain[0],
       "dot line survived (stuffed by swaks, unstuffed by both servers)", repr(plain[:1]))
    tls = [eml for eml, _ in msgs if b"Subject: swaks tls" in eml]
    ok(tls and b"with ESMTPS id" in split_received(tls[0])[0] and b"(version=TLS" in tls[0],
       "Received header of the swaks --tls message records inbound TLS", repr(tls[:1]))


def test_smtp_source():
    gw, mx = STATE["gw"], STATE["mx"]
    if not have(SMTP_SOURCE):
        smdtest.skip("smtp-source", "smtp-source not installed")
        return
    before = len(mx.messages())
    t0 = time.monotonic()
    rc, out = run([SMTP_SOURCE, "-c", "-m", "50", "-s", "5", "-l", "2048",
                   "-f", "a@sender.test", "-t", "src@tls.test", f"127.0.0.1:{gw.port}"],
                  timeout=120)
    ok(rc == 0, "smtp-source -m 50 -s 5 exits 0", out)
    msgs = wait_for(lambda: len(mx.messages()) >= before + 50 and mx.messages(), 40) \
        or mx.messages()
    new = [m for m in msgs[before:] if m[1]["rcpt_to"] == ["src@tls.test"]]
    ok(len(new) == 50, "all 50 smtp-source messages delivered to the TLS sink",
       f"{len(new)} in {time.monotonic() - t0:.1f}s")
    ok(all(m["tls"] and m["mail_from"] == "a@sender.test" for _, m in new),
       "all over TLS with the right envelope sender")
    ok(all(len(split_received(e)[1]) >= 2048 for e, _ in new), "bodies intact (>= 2048 bytes)")


def test_posttls_finger():
    gw = STATE["gw"]
    if not have(POSTTLS_FINGER):
        smdtest.skip("posttls-finger", "posttls-finger not installed")
        return
    rc, out = run([POSTTLS_FINGER, "-c", "-l", "secure", "-F", STATE["chain"].ca_cert,
                   f"[127.0.0.1]:{gw.port}", "gateway.test"], timeout=30)
    ok("Verified TLS connection established" in out,
       "posttls-finger -l secure: verified TLS handshake with the gateway", out)
    ok("TLSv1.3" in out or "TLSv1.2" in out, "posttls-finger shows TLS 1.2+", out)


def test_openssl_s_client():
    gw = STATE["gw"]
    rc, out = run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{gw.port}",
                   "-CAfile", STATE["chain"].ca_cert, "-verify_hostname", "gateway.test",
                   "-verify_return_error", "-brief"], input="QUIT\r\n", timeout=30)
    ok(rc == 0 and "Verification: OK" in out, "openssl s_client -starttls smtp verifies", out)
    ok("Protocol version: TLSv1.3" in out or "Protocol version: TLSv1.2" in out,
       "s_client negotiated TLS 1.2+", out)


def test_smtp_sink_next_hop_held():
    if not have(SMTP_SINK):
        smdtest.skip("smtp-sink", "smtp-sink not installed")
        return
    d = tmpdir("sink-")
    port = free_port()
    log = os.path.join(d, "smtp-sink.log")
    dump = os.path.join(d, "dump")
    argv = [SMTP_SINK, "-v", "-D", dump]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    with open(log, "wb") as f:
        sink = smdtest._spawn(argv + [f"127.0.0.1:{port}", "10"], stdout=f, stderr=f,
                              stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: smdtest.port_open(port), 10)
        with Gateway({"sink.test": port}) as gw:
            gw.send("a@sender.test", "b@sink.test",
                    smdtest.make_message("a@sender.test", "b@sink.test", "sink", "secret sink\n"))
            s = wait_for(lambda: gw.recipient_states() == [("b@sink.test", "held")], 20)
            ok(s, "smtp-sink (no STARTTLS) as next hop: recipient held", repr(gw.recipient_states()))
            time.sleep(0.5)
        with open(log, errors="replace") as f:
            text = f.read()
        ok("EHLO" in text, "gateway talked to smtp-sink", text[-2000:])
        ok("MAIL FROM" not in text.upper() and "RCPT" not in text.upper(),
           "smtp-sink never received MAIL FROM or RCPT", text[-2000:])
        ok(not os.path.exists(dump) or os.path.getsize(dump) == 0, "smtp-sink dumped no message")
    finally:
        smdtest._reap(sink)



def main():
    gateway_or_skip()
    d = tmpdir("peers-")
    chain = make_ca_and_cert(d, "gateway.test")
    STATE["chain"] = chain
    status = 1
    with TestMX(starttls=True) as mx:
        gw = Gateway({"tls.test": mx}, {"smtp": {"tls-certificate": chain.cert,
                                                 "tls-key": chain.key}})
        STATE.update(gw=gw, mx=mx)
        try:
            gw.start()
            smdtest.main([test_swaks_plain_and_tls, test_smtp_source, test_posttls_finger,
                          test_openssl_s_client, test_smtp_sink_next_hop_held])
        except SystemExit as e:
            status = e.code
        finally:
            if status:
                smdtest.diag(gw.log()[-3000:])
            gw.stop(check=False)
    sys.exit(status)


if __name__ == "__main__":
    main()
