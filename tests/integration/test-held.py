#!/usr/bin/python3
"""No TLS, no message: a recipient server without (working) STARTTLS never
sees MAIL FROM or a byte of the message, and the recipient is held."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, make_message, ok  # noqa: E402
from gwtest import FakeMX, split_received, wait_settled, gateway_or_skip  # noqa: E402

MARKER = "held-marker-7f3a91"


def msg(rcpts, tag=""):
    return make_message("a@sender.test", rcpts, f"Subject {MARKER}{tag}",
                        f"Body line {MARKER}{tag}\n")


def never_sent_message(transcript_or_bytes):
    t = transcript_or_bytes
    if isinstance(t, bytes):
        t = t.decode("latin-1")
    upper = t.upper()
    return "MAIL FROM" not in upper and "RCPT" not in upper and "DATA" not in upper \
        and MARKER not in t


def test_plain_mx_held():
    with TestMX() as plain, Gateway({"plain.test": plain}) as gw:
        gw.send("a@sender.test", "b@plain.test", msg("b@plain.test"))
        s = wait_settled(gw, 1)
        ok(s == [("b@plain.test", "held")], "recipient held", repr(s))
        t = plain.transcript()
        ok("EHLO" in t, "gateway did talk to the MX (EHLO)", t)
        ok(never_sent_message(t), "no MAIL/RCPT/DATA nor message byte at the plain MX", t)
        cmds = [line.split()[0].upper() for _, _, line in plain.commands()]
        ok(cmds == ["EHLO", "QUIT"], "only EHLO and QUIT", repr(cmds))
        ok(plain.messages() == [], "nothing stored at the plain MX")
        ok(len(gw.events("held")) == 1 and gw.events("held")[0]["recipient"] == "b@plain.test",
           "one 'held' event for the recipient", repr(gw.events()))
        # (the registration request to the sender is another message)
        mine = [e for e in gw.events("delivered") + gw.events("bounced")
                if e["recipient"] == "b@plain.test"]
        ok(not mine, "no delivered/bounced event", repr(mine))
        bodies = gw.query("SELECT count(*) AS n FROM bodies")[0]["n"]
        ok(bodies == 1, "held message body kept in the vault", repr(bodies))
        # held is final for delivery: no retries to the plain MX
        n_conn = t.count("* connect")
        time.sleep(2.5)
        ok(plain.transcript().count("* connect") == n_conn, "held recipient is not retried",
           plain.transcript())


def test_held_goes_on_to_a_portal_configured_later():
    """Mail held while the gateway had no portal goes on to the portal at
    the next start with one: an invitation where the recipient's number is
    known, a request for it otherwise, and once only. It stayed 'held' for
    good, and a number entered later released nothing."""
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org}) as gw:
        rcpts = ["pat@plain.test", "kim@plain.test"]
        gw.send("doctor@org.test", rcpts, make_message("doctor@org.test", rcpts, "scan", "x\n"))
        s = wait_settled(gw, 2)
        ok(sorted(s) == [("kim@plain.test", "held"), ("pat@plain.test", "held")],
           "no portal: both held", repr(s))
        smdtest.register_phone(gw, "pat@plain.test", "+31612345678")
        gw.extra = {"portal": {"listen": f"127.0.0.1:{pport}",
                               "public-url": f"http://127.0.0.1:{pport}"}}
        gw.restart()

        def states():
            return dict(gw.recipient_states(raw=True))
        ok(smdtest.wait_for(lambda: states() == {"pat@plain.test": "invited",
                                                 "kim@plain.test": "awaiting-registration"},
                            20),
           "started with a portal: the one with a number invited, the other awaits one",
           repr(states()))
        ok(smdtest.wait_for(lambda: len(plain.messages()) == 1, 20)
           and b"/m/" in plain.messages()[0][0].replace(b"=\r\n", b""),
           "the invitation reaches the recipient", repr(len(plain.messages())))
        ok(smdtest.wait_for(lambda: any(b"/r/" in raw.replace(b"=\r\n", b"")
                                        for raw, _ in org.messages()), 20),
           "and the sender is asked for the other's number")
        before = (len(plain.messages()), len(org.messages()))
        gw.restart()
        time.sleep(2)
        ok((len(plain.messages()), len(org.messages())) == before,
           "a start after that invites and asks nobody again", repr(before))


def test_mixed_recipients():
    with TestMX(starttls=True) as mx, TestMX() as plain, \
            Gateway({"tls.test": mx, "plain.test": plain}) as gw:
        data = msg(["b@tls.test", "c@plain.test"], "-mixed")
        gw.send("a@sender.test", ["b@tls.test", "c@plain.test"], data)
        s = wait_settled(gw, 2)
        ok(dict(s) == {"b@tls.test": "delivered", "c@plain.test": "held"},
           "TLS recipient delivered, plain recipient held", repr(s))
        msgs = mx.wait_messages(1)
        ok(len(msgs) == 1 and msgs[0][1]["rcpt_to"] == ["b@tls.test"],
           "TLS MX got the message for its recipient only", repr([m for _, m in msgs]))
        ok(msgs and split_received(msgs[0][0])[1] == data, "TLS copy intact")
        ok(never_sent_message(plain.transcript()), "plain MX saw no envelope or content",
           plain.transcript())
        row = gw.query("SELECT count(*) AS n FROM bodies")[0]["n"]
        ok(row == 1, "body kept while one recipient is held", repr(row))


def fake_case(mode, what):
    with FakeMX(mode) as fake, Gateway({"fake.test": fake.address}) as gw:
        gw.send("a@sender.test", "b@fake.test", msg("b@fake.test", "-" + mode))
        s = wait_settled(gw, 1)
        ok(s == [("b@fake.test", "held")], f"{what}: recipient held", repr(s) + "\n" + gw.log()[-2000:])
        got = fake.all_bytes()
        ok(b"STARTTLS" in got, f"{what}: gateway tried STARTTLS", repr(got))
        after = got.split(b"STARTTLS\r\n", 1)[-1]
        ok(never_sent_message(got), f"{what}: no MAIL/RCPT/DATA nor message byte sent", repr(got))
        if mode == "refuse":
            ok(after.strip() in (b"QUIT",), f"{what}: QUIT right after the refusal", repr(after))
        ok(len(gw.events("held")) == 1, f"{what}: one held event", repr(gw.events()))


def test_starttls_refused():
    fake_case("refuse", "STARTTLS answered 454")


def test_handshake_garbage():
    fake_case("garbage", "TLS handshake fails (non-TLS bytes)")


def test_handshake_eof():
    fake_case("close", "server closes after 220 to STARTTLS")


def test_starttls_injection():
    # The MX sends "220 ...\r\n250 injected\r\n" in one write: a classic
    # response-injection; the gateway must not believe this server.
    with TestMX(starttls=True, inject_after_starttls=True) as mx, \
            Gateway({"inject.test": mx}) as gw:
        gw.send("a@sender.test", "b@inject.test", msg("b@inject.test", "-inject"))
        s = wait_settled(gw, 1)
        ok(s == [("b@inject.test", "held")], "extra data after 220 to STARTTLS: held",
           repr(s) + "\n" + gw.log()[-2000:])
        ok(never_sent_message(mx.transcript()), "no MAIL/RCPT/DATA sent", mx.transcript())
        ok(mx.messages() == [], "nothing stored at the injecting MX")


if __name__ == "__main__":
    gateway_or_skip()
    smdtest.main([test_plain_mx_held, test_held_goes_on_to_a_portal_configured_later,
                  test_mixed_recipients, test_starttls_refused, test_handshake_garbage,
                  test_handshake_eof, test_starttls_injection])
