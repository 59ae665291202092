#!/usr/bin/python3
"""Held mail reaches people: without a registered number the sender is asked
for it (once per recipient while pending); with one, the recipient gets an
invitation. Both are plain text+HTML e-mails with one portal link and no
content of the message."""

import email
import email.policy
import hashlib
import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, make_message, ok, wait_for  # noqa: E402

SECRET = "notify-secret-31c5"
LINK = re.compile(r"http://127\.0\.0\.1:8080/([mr])/([A-Za-z0-9_-]{32})")


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def check_notice(raw, kind, what):
    m = parse(raw)
    text = m.get_body(("plain",)).get_content()
    html = m.get_body(("html",)).get_content()
    ok(m.get_content_type() == "multipart/alternative", f"{what}: text + HTML", m.get_content_type())
    ok(m["Auto-Submitted"] == "auto-generated", f"{what}: Auto-Submitted: auto-generated")
    ok(m["Message-ID"] is not None and m["Date"] is not None, f"{what}: Message-ID and Date")
    links = set(LINK.findall(text))
    ok(len(links) == 1 and next(iter(links))[0] == kind, f"{what}: exactly one /{kind}/ link",
       repr(links))
    ok(SECRET not in raw.decode("utf-8", "replace"), f"{what}: no subject or content of the message")
    ok(next(iter(links))[1] in html, f"{what}: the HTML part has the same link")
    return next(iter(links))[1]


def write_phone(gw, address, number):
    # the daemon has the database open; SQLite's locking makes this safe
    con = sqlite3.connect(gw.db_path, timeout=10)
    with con:
        con.execute("INSERT INTO phones (address, number, registered_by, registered_at) "
                    "VALUES (?, ?, 'test', 0)", (address, number))
    con.close()


def test_registration_request():
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{smdtest.free_port()}", "public-url": "http://127.0.0.1:8080"},
                           "organisation": {"name": "Clinic", "notify-from": "secure@org.test"}}) as gw:
        msg = make_message("doctor@org.test", "pat@plain.test", f"Lab {SECRET}", f"Body {SECRET}\n")
        gw.send("doctor@org.test", "pat@plain.test", msg)
        ok(wait_for(lambda: len(org.messages()) >= 1, 20), "registration request arrives at the sender")
        raw, meta = org.messages()[0]
        ok(meta["rcpt_to"] == ["doctor@org.test"] and meta["mail_from"] == "secure@org.test",
           "from notify-from to the sender", repr(meta))
        token = check_notice(raw, "r", "registration request")
        ok(parse(raw)["Subject"].find("pat@plain.test") >= 0, "the subject names the recipient")
        rows = gw.query("SELECT kind, address, requested_by, token_hash FROM links")
        ok(len(rows) == 1 and rows[0]["kind"] == "registration"
           and rows[0]["address"] == "pat@plain.test" and rows[0]["requested_by"] == "doctor@org.test",
           "one registration link", repr(rows))
        ok(rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
           and token not in repr(gw.query("SELECT * FROM links")),
           "the store keeps only the token's hash")
        ok(gw.recipient_states(raw=True) == [("pat@plain.test", "awaiting-registration")],
           "recipient awaits registration", repr(gw.recipient_states(raw=True)))

        # a second message to the same recipient: no second request
        gw.send("doctor@org.test", "pat@plain.test", msg)
        ok(wait_for(lambda: len(gw.recipient_states(raw=True)) == 2 and all(
            s == "awaiting-registration" for _, s in gw.recipient_states(raw=True)), 20),
           "second message awaits registration too")
        time.sleep(1.5)
        ok(len(org.messages()) == 1, "one request per recipient while pending", len(org.messages()))


def test_invitation():
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{smdtest.free_port()}",
                                      "public-url": "http://127.0.0.1:8080/"}}) as gw:
        wait_for(lambda: os.path.exists(gw.db_path))
        write_phone(gw, "pat@plain.test", "+31612345678")
        msg = make_message("doctor@org.test", "Pat@plain.test", f"Lab {SECRET}", f"Body {SECRET}\n")
        gw.send("doctor@org.test", "Pat@plain.test", msg)
        ok(wait_for(lambda: len(plain.messages()) >= 1, 20),
           "invitation arrives at the recipient's server (no TLS needed: no content)")
        raw, meta = plain.messages()[0]
        ok(meta["rcpt_to"] == ["Pat@plain.test"], "addressed to the recipient", repr(meta))
        check_notice(raw, "m", "invitation")
        ok(gw.recipient_states(raw=True) == [("Pat@plain.test", "invited")], "recipient invited",
           repr(gw.recipient_states(raw=True)))
        ok(org.messages() == [], "no registration request")
        ok(len(gw.events("invited")) == 1, "an 'invited' event")
        ok(wait_for(lambda: len(gw.events("delivered")) == 1, 10), "a 'delivered' event")
        ev = gw.events("delivered")[0]
        ok("without TLS" in ev["message"] and "tls=-" in ev["detail"],
           "which says the invitation went without TLS, never 'over TLS'",
           f"{ev['message']!r} {ev['detail']!r}")


def test_languages():
    """[organisation] language: Dutch, or Dutch and English in one message,
    for the invitation, the registration request and the SMS."""
    for language in ("nl", "nl+en"):
        with TestMX() as plain, TestMX(starttls=True) as org, \
                Gateway({"plain.test": plain, "org.test": org},
                        extra={"portal": {"listen": f"127.0.0.1:{smdtest.free_port()}",
                                          "public-url": "http://127.0.0.1:8080"},
                               "organisation": {"name": "Kliniek", "language": language}}) as gw:
            wait_for(lambda: os.path.exists(gw.db_path))
            write_phone(gw, "pat@plain.test", "+31612345678")
            gw.send("doctor@org.test", "pat@plain.test",
                    make_message("doctor@org.test", "pat@plain.test", "x", "y\n"))
            gw.send("doctor@org.test", "new@plain.test",
                    make_message("doctor@org.test", "new@plain.test", "x", "y\n"))
            ok(wait_for(lambda: plain.messages() and org.messages(), 20),
               f"{language}: invitation and registration request sent")
            inv = parse(plain.messages()[0][0])
            req = parse(org.messages()[0][0])
            text = inv.get_body(("plain",)).get_content()
            html = inv.get_body(("html",)).get_content()
            dutch = "heeft een bericht van doctor@org.test voor u"
            english = "has a message for you from doctor@org.test"
            ok(dutch in text and dutch in html and "Er staat een beveiligd bericht" in inv["Subject"],
               f"{language}: the invitation is in Dutch", text[:300])
            if language == "nl":
                ok(english not in text and inv["Content-Language"] == "nl",
                   "nl: and only in Dutch", inv["Content-Language"])
                ok("Mobiel nummer nodig" in req["Subject"], "nl: the registration request too",
                   req["Subject"])
            else:
                ok(english in text and text.index(dutch) < text.index(english) and
                   english in html and html.index(dutch) < html.index(english),
                   "nl+en: both languages in one message, Dutch first", text)
                ok(inv["Subject"].index("Er staat") < inv["Subject"].index("A secure message"),
                   "nl+en: both in the subject, Dutch first", inv["Subject"])
                ok(inv["Content-Language"] == "nl, en", "nl+en: Content-Language: nl, en",
                   inv["Content-Language"])
                reqtext = req.get_body(("plain",)).get_content()
                ok("Uw bericht aan new@plain.test" in reqtext and
                   "Your message to new@plain.test" in reqtext,
                   "nl+en: the registration request has both", reqtext[:400])


def test_language_config_errors():
    empty = smdtest.tmpdir()
    for value, why, env in (("fr", "not a language SecuMailer has (it has: en, nl)", None),
                            ("nl+nl", "one language, or two", None),
                            ("nl+en+de", "one language, or two", None),
                            ("nl", "the “nl” translation is not installed: "
                             f"{empty}/nl/LC_MESSAGES/secumailer.mo cannot be read",
                             {"SECUMAILER_LOCALEDIR": empty})):
        with TestMX() as plain:
            gw = Gateway({"plain.test": plain}, extra={"organisation": {"language": value}},
                         env=env)
            try:
                gw.start(timeout=5)
                started = True
            except smdtest.GatewayError as e:
                started = False
                ok("[organisation] language" in str(e) and why in str(e),
                   f"language = {value}: refused, naming the key", str(e)[-300:])
            if started:
                ok(False, f"language = {value}: refused")
                gw.stop(check=False)


def test_no_header_injection():
    """A subject crafted to smuggle a header into the invitation stays one
    encoded header (show-subject on)."""
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{smdtest.free_port()}",
                                      "public-url": "http://127.0.0.1:8080",
                                      "show-subject": "true"},
                           "organisation": {"name": "Clinic\\r\\nX-Org: 1"}}) as gw:
        wait_for(lambda: os.path.exists(gw.db_path))
        write_phone(gw, "pat@plain.test", "+31612345678")
        raw = (b"From: doctor@org.test\r\nTo: pat@plain.test\r\n"
               b"Subject: =?utf-8?q?Lab=0D=0AX-Injected:_1=0D=0A=0D=0Abody?=\r\n"
               b"Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n")
        gw.send("doctor@org.test", "pat@plain.test", raw)
        ok(wait_for(lambda: plain.messages(), 20), "invitation sent")
        inv = plain.messages()[0][0]
        head = inv.split(b"\r\n\r\n", 1)[0]
        names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n")
                 if line and line[:1] not in (b" ", b"\t")]
        ok(b"x-injected" not in names and b"x-org" not in names,
           "no header injected through the subject or the organisation name", repr(names))
        ok(names.count(b"subject") == 1, "one Subject header")


if __name__ == "__main__":
    smdtest.main([test_languages, test_language_config_errors, test_registration_request, test_invitation, test_no_header_injection])
