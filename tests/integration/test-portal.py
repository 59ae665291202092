#!/usr/bin/python3
"""The portal end to end over HTTP against the real daemon: a held message
→ registration request to the sender → the number is stored → invitation to
the recipient → pin by SMS (file provider) → wrong pin refused, right pin
shows the message → Download returns the original bytes. Plus the rules:
CSRF, security headers, scanner-safe GET, rate limits, lock-out, and
unknown links that all look alike."""

import email
import email.message
import email.policy
import hashlib
import http.client
import http.server
import threading
import json
import os
import re
import socket
import sqlite3
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Browser, Gateway, TestMX, ok, raw_http, wait_for  # noqa: E402

SECRET = "portal-secret-8d2e"
PDF = b"%PDF-1.4 fake\n" * 40


def set_cookie_headers(resp):
    return [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]


def message_with_attachment():
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = "Dr. Jansen <doctor@org.test>"
    m["To"] = "pat@plain.test"
    m["Subject"] = f"Lab results {SECRET}"
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = "<lab-1@org.test>"
    m.set_content(f"Dear patient,\n\nYour results are attached. {SECRET}\n")
    m.add_alternative("<p>Dear patient,</p><script>alert(1)</script>"
                      "<img src=\"https://tracker.example/p.gif\"><p>HTML part</p>", subtype="html")
    m.add_attachment(PDF, maintype="application", subtype="pdf",
                     filename="résultat \"lab\".pdf")
    return m.as_bytes()


def follow(r, resp):
    """The GET a browser makes after a 303: (its response, its page)."""
    location = urllib.parse.urlsplit(resp.getheader("Location", ""))
    return r.request("GET", location.path + ("?" + location.query if location.query else ""))


def sms_lines(gw):
    path = os.path.join(gw.state_dir, "sms.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def link_from(raw, kind):
    text = raw.decode("utf-8", "replace").replace("=\r\n", "")
    found = re.findall(r"http://127\.0\.0\.1:\d+/" + kind + r"/([A-Za-z0-9_-]{32})", text)
    return found[0] if found else None


def test_portal_flow():
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"},
                           "organisation": {"name": "Example Clinic",
                                            "notify-from": "secure@org.test"}}) as gw:
        original = message_with_attachment()
        gw.send("doctor@org.test", "pat@plain.test", original)
        ok(wait_for(lambda: org.messages(), 20), "registration request reaches the sender")
        rtoken = link_from(org.messages()[0][0], "r")
        ok(rtoken is not None, "it carries a registration link")

        b = Browser(pport)
        resp, page = b.request("GET", f"/r/{rtoken}")
        ok(resp.status == 200 and b"Submit" in page and b"pat@plain.test" in page,
           "registration page shows the recipient and Submit", page[:300])
        h = {k.lower(): v for k, v in resp.getheaders()}
        ok("frame-ancestors 'none'" in h.get("content-security-policy", "")
           and "script-src" not in h.get("content-security-policy", ""),
           "CSP blocks framing (and scripts by default-src 'none')", h.get("content-security-policy"))
        ok(h.get("x-content-type-options") == "nosniff" and h.get("referrer-policy") == "no-referrer"
           and h.get("cache-control") == "no-store", "nosniff, no-referrer, no-store")
        cookie = set_cookie_headers(resp)
        ok(any("smd_csrf=" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookie),
           "CSRF cookie is HttpOnly and SameSite=Lax (it comes along when the e-mail's link "
           "is opened again, so an open form in another tab keeps working)", cookie)

        resp, _ = b.request("POST", f"/r/{rtoken}", {"phone": "06 12345678"})
        ok(resp.status == 403, "POST without CSRF token: 403", resp.status)
        resp, page = b.request("POST", f"/r/{rtoken}", {"csrf": b.csrf(), "phone": "06 1234"})
        ok(resp.status == 400 and b'class="error"' in page and b"Submit" in page
           and b'aria-invalid="true"' in page,
           "invalid number: a clear message and the form again", page[-400:])
        resp, page = b.request("POST", f"/r/{rtoken}", headers={
            "Content-Type": "application/x-www-form-urlencoded"},
            raw=f"csrf={b.csrf()}&phone=06%F0%28%8C%28".encode())
        ok(resp.status == 400 and b'class="error"' in page and b"\xf0" not in page
           and page.decode("utf-8", "replace") == page.decode("utf-8", "ignore"),
           "a number that is not UTF-8: the form again, with nothing of it echoed",
           page[-400:])
        resp, page = b.request("POST", f"/r/{rtoken}", {"csrf": b.csrf(), "phone": "06 12345678"})
        ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/r/{rtoken}"),
           "a number submitted: a redirect to the link (a reload stores nothing again)",
           resp.status)
        resp, page = follow(b, resp)
        ok(resp.status == 200 and b"Stored" in page and "+31 6••••••78".encode() in page
           and b"12345678" not in page, "Stored, with the number masked", page[-400:])
        ok(gw.query("SELECT number FROM phones")[0]["number"] == "+31612345678",
           "stored in E.164")
        ev = gw.events("phone-registered")
        ok(len(ev) == 1 and "by=<doctor@org.test>" in ev[0]["detail"] and "client=127.0.0.1" in ev[0]["detail"],
           "the registration and who made it are logged", repr(ev))
        resp, page = b.request("GET", f"/r/{rtoken}")
        ok(b"Stored" in page, "re-opening the link shows the stored state")
        for who, client in (("the same browser", b), ("another browser", Browser(pport))):
            client.request("GET", f"/r/{rtoken}")
            resp, page = client.request("POST", f"/r/{rtoken}",
                                        {"csrf": client.csrf(), "phone": "06 99999999"})
            ok(resp.status == 200 and b"Stored" in page and "+31 6••••••78".encode() in page,
               f"the form sent again from {who} with another number: the stored page",
               page[-400:])
        ok(gw.query("SELECT number FROM phones")[0]["number"] == "+31612345678"
           and len(gw.events("phone-registered")) == 1,
           "the number stays: whoever else has the link cannot have the pins sent to a "
           "phone of theirs", repr(gw.query("SELECT number FROM phones")))

        ok(wait_for(lambda: plain.messages(), 20), "the invitation reaches the recipient")
        mtoken = link_from(plain.messages()[0][0], "m")
        ok(mtoken is not None, "it carries a recipient link")

        r = Browser(pport)
        resp, page = r.request("GET", f"/m/{mtoken}")
        ok(resp.status == 200 and b"Request pin code" in page and b"doctor@org.test" in page,
           "recipient page: sender and Request pin code", page[-400:])
        r.request("GET", f"/m/{mtoken}")
        ok(sms_lines(gw) == [], "GETs (mail scanners) send no SMS")
        r.request("GET", f"/m/{mtoken}")
        ok(wait_for(lambda: len(gw.events("page-opened")) == 1, 5) and
           (time.sleep(0.5) or len(gw.events("page-opened")) == 1),
           "three views by one visitor within minutes: one page-opened event",
           repr(gw.events("page-opened")))

        resp, page = r.request("GET", f"/m/{mtoken}/pin")
        ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/m/{mtoken}")
           and sms_lines(gw) == [],
           "the pin form before a pin was asked for (it would say one was sent): back to "
           "the page that asks for one", resp.getheader("Location"))
        resp, page = r.request("POST", f"/m/{mtoken}/pin", {"csrf": "forged"})
        ok(resp.status == 403 and sms_lines(gw) == [], "forged CSRF: 403, no SMS")
        resp, page = r.request("POST", f"/m/{mtoken}/pin", {"csrf": r.csrf()})
        ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/m/{mtoken}/pin"),
           "pin requested: a redirect to the pin form (a reload sends no second SMS)",
           resp.getheader("Location"))
        resp, page = follow(r, resp)
        ok(resp.status == 200 and b"Pin code" in page and b"We sent a pin code by SMS to" in page
           and b"+31 6" in page, "the pin form, with the number masked", page[-400:])
        sms = sms_lines(gw)
        ok(len(sms) == 1 and sms[0]["to"] == "+31612345678", "one SMS to the number", repr(sms))
        pin = re.search(r"\b(\d{6})\b", sms[0]["text"]).group(1)
        ev = gw.events("pin-requested")
        ok(len(ev) == 1 and ev[0]["recipient"] == "pat@plain.test" and
           gw.recipient_states(raw=True) == [("pat@plain.test", "pin-sent")],
           "the recipient is pin-sent, and the event names it (StatusChanged follows)", repr(ev))
        resp, page = follow(r, r.request("POST", f"/m/{mtoken}/pin", {"csrf": r.csrf()})[0])
        ok(len(sms_lines(gw)) == 1 and b"moment ago" in page, "a second request within 60 s sends nothing")

        for slip in ("", "12345", "12345a", "1234567"):
            resp, page = follow(r, r.request("POST", f"/m/{mtoken}/login",
                                             {"csrf": r.csrf(), "pin": slip})[0])
            ok(resp.status == 400 and b"6 digits" in page,
               f"a typing slip ({slip!r}): the form again, saying a pin is 6 digits")
        ok(gw.query("SELECT failures FROM links WHERE kind = 'recipient'")[0]["failures"] == 0
           and gw.query("SELECT tries FROM pins")[0]["tries"] == 0,
           "and no try is used up by a slip", repr(gw.query("SELECT failures FROM links")))
        wrong = "000000" if pin != "000000" else "111111"
        resp, page = r.request("POST", f"/m/{mtoken}/login", {"csrf": r.csrf(), "pin": wrong})
        ok(resp.status == 303 and resp.getheader("Location", "").endswith("/pin?n=wrong"),
           "wrong pin: a redirect to the form again", resp.getheader("Location"))
        redirect = resp
        for _ in range(2):  # the answer, and a reload of it
            resp, page = follow(r, redirect)
            ok(resp.status == 400 and b"not right" in page, "wrong pin: refused with the form again")
        ok(gw.query("SELECT failures FROM links WHERE kind = 'recipient'")[0]["failures"] == 1,
           "a reload of that answer does not try the pin again",
           repr(gw.query("SELECT failures FROM links")))
        resp, page = r.request("GET", f"/m/{mtoken}/view")
        ok(resp.status == 303, "no session: the message is not shown", resp.status)
        resp, _ = r.request("GET", f"/m/{mtoken}/view", headers={"Host": "evil.example"})
        ok(resp.status == 303 and resp.getheader("Location", "") ==
           f"http://127.0.0.1:{pport}/m/{mtoken}",
           "a redirect goes under public-url, whatever Host the request names",
           resp.getheader("Location"))
        resp, page = r.request("POST", f"/m/{mtoken}/login", {"csrf": r.csrf(), "pin": pin})
        ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/m/{mtoken}/view"),
           "right pin: on to the message", resp.status)
        ok(any("smd_session=" in c and "HttpOnly" in c and "SameSite=Strict" in c
               and "Max-Age" not in c and "Expires" not in c
               for c in set_cookie_headers(resp)),
           "session cookie HttpOnly, SameSite=Strict, gone when the browser closes",
           set_cookie_headers(resp))
        for path in (f"/m/{mtoken}", f"/m/{mtoken}/pin"):
            resp, page = r.request("GET", path)
            ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/m/{mtoken}/view"),
               f"logged in, {path[len(mtoken) + 3:] or 'the link'} leads to the message (no "
               "second pin)", resp.status)
        sent = len(sms_lines(gw))
        resp, page = r.request("POST", f"/m/{mtoken}/pin", {"csrf": r.csrf()})
        ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/m/{mtoken}/view")
           and (time.sleep(0.5) or len(sms_lines(gw)) == sent),
           "logged in, Request pin code (on a page from before, or reached from the e-mail, "
           "which the session cookie does not come along with) leads to the message and sends "
           "no SMS", f"{resp.status} {len(sms_lines(gw)) - sent} more SMS")
        failures = gw.query("SELECT failures FROM links WHERE kind = 'recipient'")[0]["failures"]
        resp, page = r.request("POST", f"/m/{mtoken}/login", {"csrf": r.csrf(), "pin": pin})
        ok(resp.status == 303 and resp.getheader("Location", "").endswith("/pin?n=wrong")
           and gw.query("SELECT failures FROM links WHERE kind = 'recipient'")[0]["failures"]
           == failures + 1, "a pin works once", resp.getheader("Location"))

        resp, page = r.request("GET", f"/m/{mtoken}/view")
        text = page.decode()
        ok(resp.status == 200 and f"Lab results {SECRET}" in text and "Dr. Jansen" in text
           and "résultat &quot;lab&quot;.pdf" in text and "Your results are attached" in text
           and "Download" in text,
           "the message: subject, sender, text and attachment", text[-600:])
        dated = re.search(r"<dt>Date</dt><dd>([^<]*)</dd>", text)
        ok(dated and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", dated.group(1)),
           "the date in the page's language (English: year first), not the daemon's locale",
           dated and dated.group(1))
        ok(f'<iframe class="html" sandbox="allow-popups allow-popups-to-escape-sandbox" '
           f'src="/m/{mtoken}/html"' in text,
           "the HTML body only in a sandboxed iframe (no allow-scripts, no allow-same-origin; "
           "links may open a tab)")
        ok(re.search(r'<details class="alternative"><summary>Plain-text version</summary>'
                     r'<pre class="body">[^<]*Your results are attached', text) is not None,
           "the text alternative of the HTML body is not shown twice: on request", text[-900:])
        ok(f'<a href="/m/{mtoken}/html">Open the message on a page of its own</a>' in text,
           "and the HTML body can be opened on a page of its own")
        ok("<script>" not in text and "tracker.example" not in text,
           "nothing of the HTML body in the page itself")
        ok(f'<a class="button" href="/m/{mtoken}/download">' in text
           and re.search(r"<a [^>]*\sdownload[\s=>]", text) is None,
           "Download and the attachments are plain links (their answers say attachment): "
           "once the session has ended they open the pin page instead of saving it as a "
           "file named after the link", re.findall(r"<a [^>]*>", text))
        resp, html = r.request("GET", f"/m/{mtoken}/html")
        csp = resp.getheader("Content-Security-Policy", "")
        ok(resp.status == 200 and b"HTML part" in html
           and csp.startswith("sandbox allow-popups allow-popups-to-escape-sandbox;")
           and "allow-scripts" not in csp and "allow-same-origin" not in csp
           and "default-src 'none'" in csp and "img-src data:" in csp,
           "the frame's own CSP: sandbox, no scripts, no remote loads", csp)
        ok(html.startswith(b'<base target="_blank">'),
           "its links open a tab of their own (not a broken page in the frame)", html[:80])
        resp, data = r.request("GET", f"/m/{mtoken}/attachment/0")
        disp = resp.getheader("Content-Disposition", "")
        ok(resp.status == 200 and data == PDF and resp.getheader("Content-Type") == "application/octet-stream"
           and "filename*=UTF-8''r%C3%A9sultat%20%22lab%22.pdf" in disp,
           "attachment downloads with its name encoded", disp)
        resp, _ = r.request("GET", f"/m/{mtoken}/attachment/7")
        ok(resp.status == 404, "no such attachment: 404")
        resp, data = r.request("GET", f"/m/{mtoken}/download")
        ok(resp.status == 200 and resp.getheader("Content-Type") == "message/rfc822"
           and "attachment" in resp.getheader("Content-Disposition", ""), "Download: an .eml attachment")
        ok(hashlib.sha256(data).hexdigest() == hashlib.sha256(original).hexdigest(),
           "Download returns the original bytes", (len(data), len(original)))
        ok(wait_for(lambda: gw.recipient_states(raw=True) == [("pat@plain.test", "downloaded")], 10),
           "recipient state: downloaded", repr(gw.recipient_states(raw=True)))
        kinds = [e["kind"] for e in gw.events()]
        ok(all(k in kinds for k in ("page-opened", "pin-requested", "pin-failed", "opened",
                                    "downloaded", "attachment-downloaded")),
           "portal actions are events", repr(kinds))
        acted = [e for e in gw.events() if e["kind"] in ("opened", "downloaded",
                                                          "attachment-downloaded")]
        ok(len(acted) == 3 and all(e["recipient"] == "pat@plain.test" for e in acted),
           "each names the recipient who did it", repr(acted))

        other = Browser(pport)
        resp, _ = other.request("GET", f"/m/{mtoken}/view")
        ok(resp.status == 303, "another browser has no session")


def test_languages():
    """Each visitor in their language: Accept-Language, or the switch
    (?lang=, remembered in a cookie), else the organisation's first."""
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"},
                           "organisation": {"name": "Kliniek", "language": "nl+en"}},
                    env={"LANGUAGE": "nl"}) as gw:  # a daemon in Dutch
        gw.send("doctor@org.test", "pat@plain.test", message_with_attachment())
        ok(wait_for(lambda: org.messages(), 20), "registration request sent")
        rtoken = link_from(org.messages()[0][0], "r")

        def page(headers=None, path=None, browser=None):
            b = browser or Browser(pport)
            resp, body = b.request("GET", path or f"/r/{rtoken}", headers=headers)
            return resp, body.decode()

        resp, body = page({"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8"})
        ok('<html lang="nl">' in body and ">Verzenden</button>" in body and
           "Mobiel nummer" in body, "Accept-Language: nl gives Dutch labels", body[-600:])
        resp, body = page({"Accept-Language": "en-GB,en;q=0.9,nl;q=0.5"})
        ok('<html lang="en">' in body and ">Submit</button>" in body,
           "Accept-Language: en gives English", body[-400:])
        resp, body = page({"Accept-Language": "fr, de;q=0.8"})
        ok('<html lang="nl">' in body, "a language we do not have: the organisation's first")
        ok('hreflang="nl"' in body and 'hreflang="en"' in body and
           f'href="/r/{rtoken}?lang=en"' in body, "every page has the language switch")

        b = Browser(pport)
        resp, body = page({"Accept-Language": "nl"}, f"/r/{rtoken}?lang=en", b)
        ok('<html lang="en">' in body and any(
            "smd_lang=en" in c and "SameSite=Lax" in c for c in set_cookie_headers(resp)),
           "the switch overrides Accept-Language and is remembered in a cookie (Lax: it holds "
           "when the visitor comes back from an e-mail link)")
        resp, body = page({"Accept-Language": "nl"}, None, b)
        ok('<html lang="en">' in body, "the next page keeps the chosen language")
        for hostile in (",", "nl,", ";q=1", ",,,;;", "x" * 5000, "*;q=abc, -, nl-"):
            resp, body = page({"Accept-Language": hostile})
            ok(resp.status == 200, f"Accept-Language {hostile[:20]!r}: a page, no crash",
               resp.status)
        resp, body = page({"Accept-Language": "en"}, f"/r/{rtoken}?lang=xx")
        ok('<html lang="en">' in body and not any("smd_lang" in c for c in set_cookie_headers(resp)),
           "an unknown ?lang= is ignored")

        en = Browser(pport)
        en.request("GET", f"/r/{rtoken}", headers={"Accept-Language": "en"})
        resp, body = en.request("POST", f"/r/{rtoken}", {"csrf": en.csrf(), "phone": "06 1234"},
                                headers={"Accept-Language": "en"})
        ok(resp.status == 400 and b"This is not a valid phone number" in body
           and b"Dit is" not in body,
           "an invalid number, an English visitor of a daemon in Dutch: the error in English",
           body[-500:])
        nl = Browser(pport)
        hdr = {"Accept-Language": "nl"}
        nl.request("GET", f"/r/{rtoken}", headers=hdr)
        resp, body = nl.request("POST", f"/r/{rtoken}", {"csrf": nl.csrf(), "phone": "06 1234"},
                                headers=hdr)
        ok(resp.status == 400 and b"Dit is geen geldig telefoonnummer" in body,
           "an invalid number: the error in Dutch", body[-500:])
        resp, body = nl.request("POST", f"/r/{rtoken}", {"csrf": nl.csrf(), "phone": "06 12345678"},
                                headers=hdr)
        resp, body = nl.request("GET", f"/r/{rtoken}", headers=hdr)
        ok(b"<h1>Opgeslagen</h1>" in body, "Stored in Dutch: Opgeslagen", body[-400:])
        ok(wait_for(lambda: plain.messages(), 20), "invitation sent")
        mtoken = link_from(plain.messages()[0][0], "m")
        resp, body = nl.request("GET", f"/m/{mtoken}", headers=hdr)
        ok(">Pincode aanvragen</button>".encode() in body, "Request pin code in Dutch")
        nl.request("POST", f"/m/{mtoken}/pin", {"csrf": nl.csrf()}, headers=hdr)
        sms = sms_lines(gw)
        ok(len(sms) == 1 and sms[0]["text"].startswith("Uw pincode is ") and
           "Your pin code is " in sms[0]["text"], "the SMS in Dutch, then English", repr(sms))
        pin = re.search(r"\b(\d{6})\b", sms[0]["text"]).group(1)
        nl.request("POST", f"/m/{mtoken}/login", {"csrf": nl.csrf(), "pin": pin}, headers=hdr)
        resp, body = nl.request("GET", f"/m/{mtoken}/view", headers=hdr)
        ok(resp.status == 200 and b">Downloaden</a>" in body and b"<dt>Van</dt>" in body,
           "the message page in Dutch: Downloaden", body[:600])
        dated = re.search(r"<dt>Datum</dt><dd>([^<]*)</dd>", body.decode())
        ok(dated and re.fullmatch(r"\d{2}-\d{2}-\d{4} \d{2}:\d{2}", dated.group(1)),
           "and its date as Dutch readers write it (day first)", dated and dated.group(1))


def test_unknown_links_and_lockout():
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"}}) as gw:
        b = Browser(pport)
        bodies = set()
        for path in ("/m/" + "A" * 32, "/r/" + "B" * 32, "/m/short", "/m/" + "A" * 32 + "/view", "/x"):
            resp, page = b.request("GET", path)
            ok(resp.status == 404, f"{path}: 404", resp.status)
            bodies.add(page)
        ok(len(bodies) == 1, "unknown and malformed links get the very same page")

        # a registered number, then an invitation
        smdtest.register_phone(gw, "pat@plain.test", "+31612345678")
        gw.send("doctor@org.test", "pat@plain.test",
                smdtest.make_message("doctor@org.test", "pat@plain.test", "x", "y\n"))
        ok(wait_for(lambda: plain.messages(), 20), "invitation sent")
        mtoken = link_from(plain.messages()[0][0], "m")
        r = Browser(pport)
        r.request("GET", f"/m/{mtoken}")
        r.request("POST", f"/m/{mtoken}/pin", {"csrf": r.csrf()})
        statuses = []
        for i in range(10):
            resp, page = r.request("POST", f"/m/{mtoken}/login", {"csrf": r.csrf(), "pin": "%06d" % i})
            statuses.append(resp.status)
        sms = sms_lines(gw)
        resp, page = r.request("POST", f"/m/{mtoken}/login",
                               {"csrf": r.csrf(), "pin": re.search(r"\d{6}", sms[0]["text"]).group(0)})
        ok(resp.status == 403 and b"locked" in page, "after 10 failures the link is locked, "
           "even for the right pin", (statuses, resp.status))
        resp, page = r.request("GET", f"/m/{mtoken}")
        ok(resp.status == 403 and b"locked" in page, "the locked link says so")
        locked = gw.events("link-locked")
        failed = gw.events("pin-failed")
        held_id = gw.query("SELECT m.queue_id FROM messages m JOIN recipients r ON "
                           "r.message_id = m.id WHERE r.address = 'pat@plain.test' "
                           "AND m.notification = 0")[0]["queue_id"]
        ok(len(locked) == 1 and len(failed) == 9, "lock-out is an event, each wrong pin too",
           (len(locked), len(failed)))
        ok(all(e["queue_id"] == held_id and e["recipient"] == "pat@plain.test"
               for e in locked + failed),
           "naming the held message and its recipient, for the admin who unlocks it",
           repr([(e["queue_id"], e["recipient"]) for e in locked + failed][:2]))


def test_retention():
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"},
                           "store": {"retention": "3s"}}) as gw:
        smdtest.register_phone(gw, "pat@plain.test", "+31612345678")
        gw.send("doctor@org.test", "pat@plain.test",
                smdtest.make_message("doctor@org.test", "pat@plain.test", "x", "y\n"))
        ok(wait_for(lambda: plain.messages(), 20), "invitation sent")
        mtoken = link_from(plain.messages()[0][0], "m")
        b = Browser(pport)
        resp, _ = b.request("GET", f"/m/{mtoken}")
        ok(resp.status == 200, "the link works before the retention ends")
        ok(wait_for(lambda: gw.recipient_states(raw=True) == [("pat@plain.test", "expired")], 15),
           "after the retention the recipient is expired", repr(gw.recipient_states(raw=True)))
        rows = gw.query("SELECT b.message_id FROM bodies b JOIN messages m ON m.id = b.message_id "
                        "WHERE m.notification = 0")
        ok(rows == [], "the body is destroyed", repr(rows))
        ok(gw.query("SELECT wrapped_key FROM messages WHERE notification = 0")[0]["wrapped_key"] is None,
           "and its key")
        resp, page = b.request("GET", f"/m/{mtoken}")
        ok(resp.status == 410 and b"no longer available" in page, "the link says it expired",
           resp.status)
        ok(gw.events("expired"), "expiry is an event")


def test_retention_raised_by_reload():
    """A longer retention set by a reload keeps the links already sent
    working as long as it keeps their messages (they said 410 on the old
    date while the message was still there)."""
    import signal
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"},
                           "store": {"retention": "6s"}}) as gw:
        mtoken = smdtest.held_message_link(gw, plain)
        ok(mtoken is not None, "invitation sent")
        gw.extra["store"]["retention"] = "1h"
        gw.write_config()
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: "configuration reloaded" in gw.log(), 10), "reloaded")
        time.sleep(8)
        resp, _ = Browser(pport).request("GET", f"/m/{mtoken}")
        ok(resp.status == 200 and gw.recipient_states(raw=True) == [("pat@plain.test",
                                                                     "invited")],
           "past the old retention the link still works, and the message is kept",
           f"{resp.status} {gw.recipient_states(raw=True)}")


class SmsApi(http.server.BaseHTTPRequestHandler):
    """A stand-in SMS provider: records requests; answers 500 when told."""
    requests = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        SmsApi.requests.append((self.path, dict(self.headers), body))
        self.send_response(SmsApi.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_portal_options_and_http_sms():
    api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SmsApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    pport = smdtest.free_port()
    logo = os.path.join(smdtest.tmpdir("logo-"), "logo.svg")
    with open(logo, "w") as f:
        f.write('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    try:
        with TestMX() as plain, TestMX(starttls=True) as org, \
                Gateway({"plain.test": plain, "org.test": org},
                        extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                          "public-url": f"http://127.0.0.1:{pport}",
                                          "default-country": "BE", "show-subject": "true",
                                          "registration-networks": "10.0.0.0/8"},
                               "organisation": {"colour": "#aa3300", "logo": logo},
                               "sms": {"provider": "http",
                                       "url": f"http://127.0.0.1:{api.server_address[1]}/send",
                                       "token": "t0ken", "path": None,
                                       "body": '{"to": "{to}", "text": "{text}"}'}}) as gw:
            gw.send("doctor@org.test", "pat@plain.test",
                    smdtest.make_message("doctor@org.test", "pat@plain.test", "Lab 42", "y\n"))
            ok(wait_for(lambda: org.messages(), 20), "registration request")
            rtoken = link_from(org.messages()[0][0], "r")
            b = Browser(pport)
            resp, page = b.request("GET", f"/r/{rtoken}")
            ok(resp.status == 403 and b"not possible from here" in page,
               "registration-networks: other clients cannot register", resp.status)
            resp, page = b.request("POST", f"/r/{rtoken}", {"csrf": b.csrf(), "phone": "0470 12 34 56"})
            ok(resp.status == 403 and gw.query("SELECT * FROM phones") == [],
               "nor POST a number")

            # staff (later: the admin app) registered the number
            smdtest.register_phone(gw, "pat@plain.test", "+32470123456")
            gw.send("doctor@org.test", "pat@plain.test",
                    smdtest.make_message("doctor@org.test", "pat@plain.test", "Lab 43", "y\n"))
            ok(wait_for(lambda: plain.messages(), 20), "invitation")
            inv = email.message_from_bytes(plain.messages()[0][0], policy=email.policy.default)
            ok("Lab 43" in inv["Subject"], "show-subject: the invitation names the subject",
               inv["Subject"])
            mtoken = link_from(plain.messages()[0][0], "m")
            r = Browser(pport)
            resp, page = r.request("GET", f"/m/{mtoken}")
            ok(b'href="/static/theme.css"' in page and b'src="/static/logo"' in page,
               "the page uses the organisation's colour and logo")
            resp, css = r.request("GET", "/static/theme.css")
            ok(b"#aa3300" in css, "theme.css carries the colour")
            resp, svg = r.request("GET", "/static/logo")
            ok(resp.status == 200 and resp.getheader("Content-Type") == "image/svg+xml"
               and resp.getheader("Content-Security-Policy", "").startswith("sandbox"),
               "the logo is served, sandboxed")

            resp, page = r.request("POST", f"/m/{mtoken}/pin", {"csrf": r.csrf()})
            ok(resp.status == 303 and len(SmsApi.requests) == 1, "pin sent through the HTTP provider")
            path, headers, body = SmsApi.requests[0]
            sent = json.loads(body)
            ok(path == "/send" and headers.get("Authorization") == "Bearer t0ken"
               and sent["to"] == "+32470123456", "provider got the number and the token", repr(sent))
            pin = re.search(r"\b(\d{6})\b", sent["text"]).group(1)
            resp, _ = r.request("POST", f"/m/{mtoken}/login", {"csrf": r.csrf(), "pin": pin})
            ok(resp.status == 303, "the pin from the provider works")

            # a failing provider: a clear page, an event, no crash
            # (on a new link: the first one may send one SMS a minute)
            SmsApi.status = 500
            gw.send("doctor@org.test", "pat@plain.test",
                    smdtest.make_message("doctor@org.test", "pat@plain.test", "Lab 44", "y\n"))
            ok(wait_for(lambda: len(plain.messages()) >= 2, 20), "second invitation")
            mtoken2 = link_from(plain.messages()[1][0], "m")
            r2 = Browser(pport)
            r2.request("GET", f"/m/{mtoken2}")
            resp, page = r2.request("POST", f"/m/{mtoken2}/pin", {"csrf": r2.csrf()})
            ok(resp.status == 503 and b"could not be sent" in page,
               "provider error: try again later", resp.status)
            ok(wait_for(lambda: gw.events("sms-failed"), 5), "an sms-failed event")
            resp, page = r2.request("GET", f"/m/{mtoken2}/pin")
            ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/m/{mtoken2}"),
               "its pin went nowhere: the pin form leads back to asking for one, not 'We sent'",
               resp.getheader("Location"))
    finally:
        api.shutdown()


def test_sessions():
    """One browser, two messages: each opened with its own pin, both stay
    open; Log out closes both; the hourly SMS limit says so."""
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"}}) as gw:
        smdtest.register_phone(gw, "pat@plain.test", "+31612345678")
        for subject in ("First", "Second"):
            gw.send("doctor@org.test", "pat@plain.test",
                    smdtest.make_message("doctor@org.test", "pat@plain.test", subject, "y\n"))
        ok(wait_for(lambda: len(plain.messages()) == 2, 20), "two invitations")
        tokens = [link_from(m[0], "m") for m in plain.messages()]
        b = Browser(pport)
        for i, token in enumerate(tokens):
            b.request("GET", f"/m/{token}")
            b.request("POST", f"/m/{token}/pin", {"csrf": b.csrf()})
            ok(wait_for(lambda: len(sms_lines(gw)) == i + 1, 10), f"pin {i + 1} sent")
            pin = re.search(r"\b(\d{6})\b", sms_lines(gw)[i]["text"]).group(1)
            resp, _ = b.request("POST", f"/m/{token}/login", {"csrf": b.csrf(), "pin": pin})
            ok(resp.status == 303, f"message {i + 1}: the right pin")
        for token, subject in zip(tokens, ("First", "Second")):
            resp, page = b.request("GET", f"/m/{token}/view")
            ok(resp.status == 200 and f"<h1>{subject}</h1>".encode() in page,
               f"both stay open in one browser: {subject}", resp.status)
        ok(b'action="/m/' + tokens[0].encode() + b'/logout"' in page or
           b'/logout"' in page and b">Log out</button>" in page, "the message page has Log out")
        resp, _ = b.request("POST", f"/m/{tokens[1]}/logout", {"csrf": b.csrf()})
        ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/m/{tokens[1]}")
           and any("Max-Age=0" in c for c in set_cookie_headers(resp)),
           "Log out: the cookie is cleared, back to the link's first page", resp.status)
        for token in tokens:
            resp, _ = b.request("GET", f"/m/{token}/view")
            ok(resp.status == 303, "after Log out no message opens without a pin", resp.status)
        resp, _ = b.request("GET", f"/m/{tokens[1]}/pin")
        ok(resp.status == 303 and resp.getheader("Location", "").endswith(f"/m/{tokens[1]}"),
           "and its pin form, the pin used up: back to the page that asks for a new one",
           resp.getheader("Location"))

        # the hourly limit of pin codes per link: said as it is
        con = sqlite3.connect(gw.db_path, timeout=10)
        with con:
            link = con.execute("SELECT id FROM links WHERE kind = 'recipient' "
                               "ORDER BY id LIMIT 1").fetchone()[0]
            for minutes in (10, 20, 30, 40):
                con.execute("INSERT INTO sms_sends (link_id, number, client_address, sent_at) "
                            "VALUES (?, '+31612345678', 'x', strftime('%s','now') - ?)",
                            (link, minutes * 60))
        con.close()
        resp, _ = b.request("POST", f"/m/{tokens[0]}/pin", {"csrf": b.csrf()})
        ok(resp.getheader("Location", "").endswith("/pin?n=hour"), "five in an hour: no sixth",
           resp.getheader("Location"))
        resp, page = follow(b, resp)
        ok(b"Too many pin codes were asked for in the last hour" in page
           and b"moment ago" not in page, "and the page says why, not 'wait a minute'",
           page[-500:])


def test_refused_requests():
    """What the portal refuses before any link is looked at still gets a
    page that says why, in the visitor's language, and the connection is
    closed: an address libsoup cannot decode (%00), "*", a method no page
    takes, a body larger than any form (which is not kept in memory) or
    not a form at all."""
    pport = smdtest.free_port()
    # under ASan freed memory waits in a quarantine (256 MB): a small one,
    # or the memory read and dropped would count as kept
    asan = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"
    with Gateway({}, extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                       "public-url": f"http://127.0.0.1:{pport}"}},
                 env={"ASAN_OPTIONS": asan.lstrip(":")}) as gw:
        for target in (b"/m/%00%ff", b"/%00"):
            status, headers, body, closed = raw_http(
                pport, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
            ok(status.startswith("HTTP/1.1 400") and b"This address is not valid" in body
               and b"whole link" in body, f"{target.decode()}: a 400 page that says why",
               f"{status} {body[:200]!r}")
            ok(headers.get("connection") == "close" and closed
               and "default-src 'none'" in headers.get("content-security-policy", ""),
               "with the portal's headers, and the connection is closed", repr(headers))
        status, headers, body, closed = raw_http(
            pport, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        ok(status.startswith("HTTP/1.1 404") and b"This link does not work" in body and closed,
           "'*': the page of an unknown link", f"{status} {body[:200]!r}")
        status, headers, body, closed = raw_http(
            pport, b"PUT /m/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", timeout=5)
        ok(status.startswith("HTTP/1.1 405") and b"This request is not possible" in body
           and headers.get("allow") == "GET, HEAD, POST" and closed,
           "PUT: 405 with Allow and a page that says why", f"{status} {headers} {body[:200]!r}")
        big = (b"POST /m/x HTTP/1.1\r\nHost: x\r\nAccept-Language: nl\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: %d\r\n" % (64 << 20))
        status, headers, body, closed = raw_http(
            pport, big + b"Expect: 100-continue\r\n\r\n", timeout=5)
        ok(status.startswith("HTTP/1.1 413") and b'lang="nl"' in body and closed,
           "a body larger than any form, announced: 413 before it is sent, in the "
           "visitor's language", f"{status} {body[:300]!r}")

        def rss_kb():
            with open(f"/proc/{gw.proc.pid}/status") as f:
                return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS"))
        before = rss_kb()
        status, headers, body, closed = raw_http(
            pport, big + b"\r\n" + b"a" * (64 << 20), timeout=20)
        grown = rss_kb() - before
        ok(status.startswith("HTTP/1.1 413") and b"Wat er verstuurd is, is te groot" in body,
           "sent all the same (64 MB): 413 with the page", f"{status} {body[:300]!r}")
        ok(grown < 16 << 10, "and the body was not kept in memory", f"RSS grew {grown} KB")
        # "-1" and lengths past 2^64 are read by libsoup as "until the end"
        for length in (b"-1", b"18446744073709551616"):
            before = rss_kb()
            with socket.create_connection(("127.0.0.1", pport), timeout=20) as s:
                s.sendall(b"POST /m/x HTTP/1.1\r\nHost: x\r\nContent-Length: " + length
                          + b"\r\n\r\n" + b"a" * (64 << 20))
            grown = rss_kb() - before
            ok(grown < 16 << 10, f"Content-Length: {length.decode()} and 64 MB: not kept in "
               "memory", f"RSS grew {grown} KB")
        for ctype in (b"multipart/form-data; boundary=x", b"application/json", None):
            head = b"POST /m/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            if ctype is not None:
                head += b"Content-Type: " + ctype + b"\r\n"
            status, headers, body, closed = raw_http(pport, head + b"\r\n{}", timeout=5)
            ok(status.startswith("HTTP/1.1 415") and b"not a form of this portal" in body
               and closed, f"a POST of {ctype!r}: 415 with a page that says why",
               f"{status} {body[:300]!r}")
        status, headers, body, closed = raw_http(
            pport, b"POST /m/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Type: "
            b"Application/X-WWW-Form-URLencoded; charset=UTF-8\r\n\r\na=b", timeout=5)
        ok(status.startswith("HTTP/1.1 404"),
           "a form, with parameters to its type: read (an unknown link here)", status)
        con = http.client.HTTPConnection("127.0.0.1", pport, timeout=20)
        con.request("HEAD", "/static/portal.css")
        resp = con.getresponse()
        ok(resp.status == 200 and resp.getheader("Content-Type", "").startswith("text/css"),
           "HEAD of the style sheet: 200, as GET", f"{resp.status} {resp.getheaders()}")
        con.close()
        ok(gw.running, "the daemon is still running")


def test_trusted_proxy():
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}",
                                      "registration-networks": "10.0.0.0/8",
                                      "trusted-proxies": "127.0.0.0/8"}}) as gw:
        gw.send("doctor@org.test", "pat@plain.test",
                smdtest.make_message("doctor@org.test", "pat@plain.test", "x", "y\n"))
        ok(wait_for(lambda: org.messages(), 20), "registration request")
        rtoken = link_from(org.messages()[0][0], "r")
        b = Browser(pport)
        resp, _ = b.request("GET", f"/r/{rtoken}",
                            headers={"X-Forwarded-For": "203.0.113.9, 10.1.2.3"})
        ok(resp.status == 200, "behind a trusted proxy the forwarded client counts", resp.status)
        resp, _ = b.request("GET", f"/r/{rtoken}",
                            headers={"X-Forwarded-For": "10.1.2.3, 203.0.113.9"})
        ok(resp.status == 403, "only the proxy's own entry is believed, not the client's", resp.status)


def test_number_removed():
    """Staff removed the recipient's number: the link says so and sends no
    SMS, rather than an empty number and then "This link is locked"."""
    pport = smdtest.free_port()
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"http://127.0.0.1:{pport}"}}) as gw:
        token = smdtest.held_message_link(gw, plain)
        ok(token is not None, "the invitation is sent")
        con = sqlite3.connect(gw.db_path, timeout=10)
        with con:  # the row change RemovePhone makes
            con.execute("DELETE FROM phones WHERE address = 'pat@plain.test'")
        con.close()
        b = Browser(pport)
        resp, page = b.request("GET", f"/m/{token}")
        ok(resp.status == 200 and b"no mobile number is registered for you now" in page
           and b"Request pin code" not in page,
           "the link says no number is registered, and offers no pin", page[-500:])
        resp, page = b.request("POST", f"/m/{token}/pin", {"csrf": b.csrf()})
        ok(resp.status == 409 and b"No mobile number is known for you" in page
           and b"locked" not in page,
           "a pin asked for all the same (an older page): 409, not 'locked'", page[-500:])
        time.sleep(0.5)
        ok(sms_lines(gw) == [], "no SMS")
        ok(gw.query("SELECT locked, failures FROM links WHERE kind = 'recipient'")[0]["locked"]
           == 0, "and the link is not locked")


def test_portal_https():
    import ssl
    pport = smdtest.free_port()
    with TestMX() as plain, Gateway({"plain.test": plain}) as gw0:
        cert, key = gw0.cert, gw0.key
    with TestMX() as plain, \
            Gateway({"plain.test": plain},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"https://127.0.0.1:{pport}",
                                      "tls-certificate": cert, "tls-key": key}}):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        con = http.client.HTTPSConnection("127.0.0.1", pport, timeout=20, context=ctx)
        con.request("GET", "/m/" + "A" * 32)
        resp = con.getresponse()
        resp.read()
        cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
        ok(resp.status == 404, "portal answers over HTTPS")
        ok("max-age" in resp.getheader("Strict-Transport-Security", ""), "HSTS over TLS")
        ok(any(c.startswith("__Host-smd_csrf=") and "Secure" in c for c in cookies),
           "cookies are __Host- and Secure", cookies)
        con.close()


def test_portal_https_stalled_download():
    """Over HTTPS too, a download nobody reads is cut off after 30 s and
    what it held is free again, while the portal answers everyone else at
    once: the cut shuts the socket down (libsoup's own timeout would end
    the TLS connection with a close_notify that blocks the main loop on
    the full socket)."""
    pport = smdtest.free_port()
    cert, key = smdtest.make_cert(smdtest.tmpdir("portal-"), "portal.test")
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"], m["To"], m["Subject"] = "doctor@org.test", "pat@plain.test", "Scan"
    m.set_content("The scan is attached.\n")
    m.add_attachment(os.urandom(3 << 20), maintype="application", subtype="octet-stream",
                     filename="scan.bin")
    with TestMX() as plain, TestMX(starttls=True) as org, \
            Gateway({"plain.test": plain, "org.test": org},
                    extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                      "public-url": f"https://127.0.0.1:{pport}",
                                      "tls-certificate": cert, "tls-key": key,
                                      "max-message-memory": "1M"}}) as gw:
        b, scan = smdtest.portal_session(gw, pport, plain, m.as_bytes(), tls=True)
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(60)
        raw.connect(("127.0.0.1", pport))
        stalled = smdtest.insecure_client_context().wrap_socket(raw)
        stalled.sendall(f"GET /m/{scan}/attachment/0 HTTP/1.1\r\nHost: x\r\n"
                        f"Cookie: {b.cookie_header()}\r\n\r\n".encode())
        t0 = time.monotonic()
        time.sleep(2)
        resp, _ = b.request("GET", f"/m/{scan}/view")
        ok(resp.status == 503, "the stalled download holds the memory: the link gets 503",
           resp.status)
        slowest, freed = 0.0, None
        while time.monotonic() - t0 < 50:
            t1 = time.monotonic()
            resp, page = b.request("GET", f"/m/{scan}/view")
            slowest = max(slowest, time.monotonic() - t1)
            if resp.status == 200:
                freed = time.monotonic() - t0
                break
            time.sleep(0.5)
        ok(freed is not None and 28 <= freed <= 45,
           "the stalled HTTPS download is cut off after 30 s, and its memory is free again",
           f"after {freed} s")
        ok(slowest < 5, "meanwhile every request is answered at once",
           f"the slowest took {slowest:.1f} s")
        received = smdtest.read_to_end(stalled)
        ok(len(received) < 3 << 20, "the stalled download got only part of it",
           f"{len(received)} bytes")
        ok(gw.running, "the daemon is still running")


if __name__ == "__main__":
    smdtest.main([test_languages, test_portal_flow, test_unknown_links_and_lockout, test_retention,
                  test_retention_raised_by_reload,
                  test_portal_options_and_http_sms, test_trusted_proxy, test_number_removed,
                  test_portal_https,
                  test_portal_https_stalled_download,
                  test_refused_requests, test_sessions])
