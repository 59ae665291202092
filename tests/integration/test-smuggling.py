#!/usr/bin/python3
"""SMTP smuggling: only CRLF.CRLF ends DATA and only CRLF ends a line. A
stream with a bare CR/LF (or NUL) end-of-data look-alike followed by a
pipelined second transaction is refused with 554 and closed; neither the
first nor a smuggled second message is ever queued."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, ok, wait_for  # noqa: E402
from gwtest import Raw, gateway_or_skip  # noqa: E402

SEQUENCES = [b"\n.\n", b"\n.\r\n", b"\r.\n", b"\r.\r\n", b"\r\n.\n", b"\r\n.\r",
             b"\r\n\x00.\r\n"]

HEADER = (b"From: a@sender.test\r\nTo: b@tls.test\r\nSubject: first\r\n\r\n"
          b"first body line\r\n")
SMUGGLED = (b"MAIL FROM:<ceo@sender.test>\r\n"
            b"RCPT TO:<victim@tls.test>\r\n"
            b"DATA\r\n"
            b"From: ceo@sender.test\r\nTo: victim@tls.test\r\nSubject: SMUGGLED\r\n\r\n"
            b"smuggled body\r\n"
            b".\r\n")


def open_data(gw, tls=False):
    c = Raw(gw.port)
    assert c.reply().startswith(b"220 ")
    assert c.cmd(b"EHLO client.test").startswith(b"250")
    if tls:
        assert c.cmd(b"STARTTLS").startswith(b"220")
        c.starttls()
        assert c.cmd(b"EHLO client.test").startswith(b"250")
    assert c.cmd(b"MAIL FROM:<a@sender.test>").startswith(b"250")
    assert c.cmd(b"RCPT TO:<b@tls.test>").startswith(b"250")
    assert c.cmd(b"DATA").startswith(b"354")
    return c


def counts(gw):
    try:
        return (gw.query("SELECT count(*) AS n FROM messages")[0]["n"],
                gw.query("SELECT count(*) AS n FROM recipients")[0]["n"])
    except Exception:
        return (0, 0)


def refused_and_closed(c, what):
    """The first reply is 554 5.5.2 and the server closes the connection."""
    try:
        reply = c.reply()
    except (ConnectionError, OSError) as e:
        reply = repr(e).encode()
    ok(reply.startswith(b"554 5.5.2"), f"{what}: 554 5.5.2", repr(reply))
    ok(c.closed_by_peer(5), f"{what}: connection closed")
    c.close()


def test_smuggling_sequences(gw, mx):
    for seq in SEQUENCES:
        name = f"DATA with {seq!r} + pipelined transaction"
        c = open_data(gw)
        c.send(HEADER + b"before" + seq + SMUGGLED + b"tail\r\n.\r\n")
        refused_and_closed(c, name)
        ok(counts(gw) == (0, 0), f"{name}: nothing queued", repr(counts(gw)))


def test_smuggling_inside_tls(gw, mx):
    c = open_data(gw, tls=True)
    c.send(HEADER + b"x\n.\n" + SMUGGLED + b"\r\n.\r\n")
    refused_and_closed(c, "inside TLS: LF.LF + pipelined transaction")
    ok(counts(gw) == (0, 0), "inside TLS: nothing queued", repr(counts(gw)))


def test_bare_lf_in_commands(gw, mx):
    cases = [
        (b"bare LF between MAIL and RCPT",
         b"MAIL FROM:<a@sender.test>\nRCPT TO:<b@tls.test>\r\n"),
        (b"bare CR in MAIL", b"MAIL FROM:<a@sender.test>\rRCPT TO:<b@tls.test>\r\n"),
        (b"NUL in MAIL", b"MAIL FROM:<a@sender.test>\x00\r\n"),
        (b"bare LF in EHLO", b"EHLO client.test\n"),
    ]
    for name, line in cases:
        name = name.decode()
        c = Raw(gw.port)
        assert c.reply().startswith(b"220 ")
        if not line.startswith(b"EHLO"):
            assert c.cmd(b"EHLO client.test").startswith(b"250")
        # a full valid transaction pipelined behind the bad line
        c.send(line + b"RCPT TO:<b@tls.test>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\n")
        refused_and_closed(c, name)
        ok(counts(gw) == (0, 0), f"{name}: nothing queued", repr(counts(gw)))


def test_nothing_reached_the_mx(gw, mx):
    time.sleep(1.5)
    ok(mx.transcript() == "", "the MX never got a connection", mx.transcript())
    ok(gw.running, "daemon still running")


def test_control_pipelined_two_messages(gw, mx):
    # The same stream with a proper CRLF.CRLF is two legitimate messages:
    # this shows the refusals above come from the bare line ends.
    c = open_data(gw)
    c.send(HEADER + b"before\r\n.\r\n" + SMUGGLED)
    r1, r2, r3, r4 = c.reply(), c.reply(), c.reply(), c.reply()
    ok(r1.startswith(b"250 2.0.0 Ok: queued as ") and r2.startswith(b"250") and
       r3.startswith(b"250") and r4.startswith(b"354"), "pipelined DATA/MAIL/RCPT/DATA replies",
       repr((r1, r2, r3, r4)))
    ok(c.reply().startswith(b"250 2.0.0 Ok: queued as "), "second message queued")
    c.cmd(b"QUIT")
    c.close()
    ok(wait_for(lambda: len(mx.messages()) == 2), "both messages delivered",
       repr(len(mx.messages())))


def main():
    gateway_or_skip()
    with TestMX(starttls=True) as mx, TestMX(starttls=True) as mx2, \
            Gateway({"tls.test": mx}) as gw, Gateway({"tls.test": mx2}) as gw2:
        tests = [lambda: test_smuggling_sequences(gw, mx),
                 lambda: test_smuggling_inside_tls(gw, mx),
                 lambda: test_bare_lf_in_commands(gw, mx),
                 lambda: test_nothing_reached_the_mx(gw, mx),
                 lambda: test_control_pipelined_two_messages(gw2, mx2)]
        for fn, name in zip(tests, ["sequences", "tls", "commands", "mx", "control"]):
            fn.__name__ = name
        try:
            smdtest.main(tests)
        except SystemExit as e:
            status = e.code
    sys.exit(status)


if __name__ == "__main__":
    main()
