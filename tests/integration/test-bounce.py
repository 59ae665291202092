#!/usr/bin/python3
"""Permanent failures: a 5xx bounces the recipient and a DSN goes back to the
sender (MAIL FROM:<>, multipart/report); never a DSN for a null sender."""

import email
import email.policy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, make_message, ok, wait_for  # noqa: E402
from gwtest import gateway_or_skip  # noqa: E402


def state_of(gw, address):
    for a, s in gw.recipient_states():
        if a == address:
            return s
    return None


def check_dsn(dsn_mx, failed, reply_text, what):
    msgs = dsn_mx.wait_messages(1, timeout=15)
    ok(len(msgs) == 1, f"{what}: one DSN at the sender's MX", repr([m for _, m in msgs]))
    if not msgs:
        return None
    eml, meta = msgs[0]
    ok(meta["mail_from"] == "", f"{what}: DSN has MAIL FROM:<>", repr(meta))
    ok(meta["rcpt_to"] == ["a@sender.test"], f"{what}: DSN to the original sender", repr(meta))
    ok(meta["tls"] is True, f"{what}: DSN delivered over TLS too", repr(meta))
    m = email.message_from_bytes(eml, policy=email.policy.default)
    ok(m.get_content_type() == "multipart/report" and
       m.get_param("report-type") == "delivery-status",
       f"{what}: multipart/report; report-type=delivery-status", m.get("Content-Type"))
    ok(m.get("From", "").lower().find("mailer-daemon@gateway.test") >= 0,
       f"{what}: From MAILER-DAEMON@hostname", m.get("From"))
    ok(m.get("Auto-Submitted", "").strip().lower() == "auto-replied",
       f"{what}: Auto-Submitted: auto-replied", m.get("Auto-Submitted"))
    parts = [p.get_content_type() for p in m.walk()]
    ok("message/delivery-status" in parts, f"{what}: has a message/delivery-status part",
       repr(parts))
    text = eml.decode("utf-8", "replace")
    ok(failed in text, f"{what}: DSN names the failed address", text[:3000])
    ok(reply_text in text, f"{what}: DSN quotes the remote reply", text[:3000])
    ok("Action: failed" in text and "Status: 5." in text,
       f"{what}: delivery-status says Action: failed, Status: 5.x.x", text[:3000])
    return m


def test_rcpt_550():
    with TestMX(starttls=True, rcpt_replies="550 5.1.1 no such user here") as mx, \
            TestMX(starttls=True) as sender_mx, \
            Gateway({"tls.test": mx, "sender.test": sender_mx}) as gw:
        gw.send("a@sender.test", "gone@tls.test",
                make_message("a@sender.test", "gone@tls.test", "to bounce", "bounce me\n"))
        ok(wait_for(lambda: state_of(gw, "gone@tls.test") == "bounced"),
           "RCPT 550: recipient bounced", repr(gw.recipient_states()))
        row = gw.query("SELECT attempts, last_reply FROM recipients WHERE address='gone@tls.test'")[0]
        ok(row["attempts"] == 1, "no retry after 5xx", repr(row))
        ok("550" in (row["last_reply"] or ""), "last_reply records the 550", repr(row))
        ok(len(gw.events("bounced")) == 1, "one bounced event", repr(gw.events()))
        check_dsn(sender_mx, "gone@tls.test", "no such user here", "RCPT 550")
        data_cmds = [ln for _, _, ln in mx.commands() if ln.upper().startswith("DATA")]
        ok(not data_cmds, "no DATA after the only recipient was refused", repr(mx.commands()))


def test_data_550_two_recipients():
    with TestMX(starttls=True, data_replies="550 5.7.1 content rejected by policy") as mx, \
            TestMX(starttls=True) as ok_mx, TestMX(starttls=True) as sender_mx, \
            Gateway({"tls.test": mx, "good.test": ok_mx, "sender.test": sender_mx}) as gw:
        gw.send("a@sender.test", ["bad@tls.test", "fine@good.test"],
                make_message("a@sender.test", ["bad@tls.test", "fine@good.test"], "mixed", "x\n"))
        ok(wait_for(lambda: state_of(gw, "bad@tls.test") == "bounced" and
                    state_of(gw, "fine@good.test") == "delivered"),
           "DATA 550: that recipient bounced, the other delivered", repr(gw.recipient_states()))
        m = check_dsn(sender_mx, "bad@tls.test", "content rejected by policy", "DATA 550")
        if m is not None:
            report = "".join(p.as_string() for p in m.walk()
                             if p.get_content_type() == "message/delivery-status")
            ok("bad@tls.test" in report and "fine@good.test" not in report,
               "delivery-status lists the failed recipient only", report)
        ok(len(ok_mx.wait_messages(1)) == 1, "the good recipient got the message")


def test_no_dsn_for_null_sender():
    with TestMX(starttls=True, rcpt_replies="550 5.1.1 no such user") as mx, \
            TestMX(starttls=True) as sender_mx, \
            Gateway({"tls.test": mx, "sender.test": sender_mx}) as gw:
        gw.send("", "gone@tls.test",
                make_message("MAILER-DAEMON@sender.test", "gone@tls.test", "null", "x\n"))
        ok(wait_for(lambda: state_of(gw, "gone@tls.test") == "bounced"),
           "null-sender message bounced", repr(gw.recipient_states()))
        time.sleep(2)
        ok(sender_mx.messages() == [] and sender_mx.transcript() == "",
           "no DSN sent for a message from <>", sender_mx.transcript())
        ok(len(gw.recipient_states()) == 1, "no DSN queued either", repr(gw.recipient_states()))


def test_dsn_bounce_does_not_loop():
    # The sender's own MX refuses everything: the DSN bounces, and that must
    # not produce another DSN (its sender is <>).
    with TestMX(starttls=True, rcpt_replies="550 5.1.1 nobody") as mx, \
            Gateway({"tls.test": mx, "sender.test": mx}) as gw:
        gw.send("a@sender.test", "gone@tls.test",
                make_message("a@sender.test", "gone@tls.test", "loop", "x\n"))
        ok(wait_for(lambda: len(gw.recipient_states()) == 2 and
                    all(s == "bounced" for _, s in gw.recipient_states())),
           "message and its DSN both bounced", repr(gw.recipient_states()))
        time.sleep(2)
        ok(len(gw.recipient_states()) == 2, "no DSN for the bounced DSN",
           repr(gw.recipient_states()))
        mails = [ln for _, _, ln in mx.commands() if ln.upper().startswith("MAIL")]
        ok(mails == ["MAIL FROM:<a@sender.test>" + mails[0][len("MAIL FROM:<a@sender.test>"):],
                     "MAIL FROM:<>" + mails[1][len("MAIL FROM:<>"):]] if len(mails) == 2 else False,
           "exactly two transactions: the message and one DSN", repr(mails))


def test_mixed_rcpt_replies_one_transaction():
    with TestMX(starttls=True, rcpt_replies="250,550 5.1.1 nope,450 4.2.0 later,250") as mx, \
            TestMX(starttls=True) as sender_mx, \
            Gateway({"tls.test": mx, "sender.test": sender_mx}) as gw:
        rcpts = ["r1@tls.test", "r2@tls.test", "r3@tls.test"]
        gw.send("a@sender.test", rcpts, make_message("a@sender.test", rcpts, "mixed", "x\n"))
        ok(wait_for(lambda: [state_of(gw, r) for r in rcpts] == ["delivered", "bounced",
                                                                   "delivered"], 15),
           "250/550/450 in one transaction: delivered, bounced, delivered after retry",
           repr(gw.query("SELECT address, state, attempts, last_reply FROM recipients")))
        got = sorted(r for _, m in mx.messages() for r in m["rcpt_to"])
        ok(got == ["r1@tls.test", "r3@tls.test"], "MX got r1 and (later) r3 once each", repr(got))
        check_dsn(sender_mx, "r2@tls.test", "nope", "mixed replies")


if __name__ == "__main__":
    gateway_or_skip()
    smdtest.main([test_rcpt_550, test_data_550_two_recipients, test_no_dsn_for_null_sender,
                  test_dsn_bounce_does_not_loop, test_mixed_rcpt_replies_one_transaction])
