#!/usr/bin/python3
"""The portal in a real browser: Debian's chromium, driven by playwright-core,
clicks Submit, Request pin code, Submit and Download by their labels, on a
desktop and a phone-sized viewport. Screenshots are saved as artefacts
(SMD_ARTEFACTS or the build folder). Untrusted HTML mail full of scripts and
remote content executes nothing and loads nothing."""

import hashlib
import http.server
import json
import re
import os
import shutil
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, ok, wait_for  # noqa: E402

NODE = shutil.which("node")
SCRIPT = os.path.join(HERE, "portal.mjs")
ARTEFACTS = os.environ.get("SMD_ARTEFACTS") or smdtest.tmpdir("shots-")


class Beacon(http.server.BaseHTTPRequestHandler):
    """Counts every request: the HTML mail must never reach it."""
    hits = []
    referers = []  # a followed link must not tell where it was found

    def do_GET(self):
        Beacon.hits.append(self.path)
        if self.headers.get("Referer"):
            Beacon.referers.append(self.headers["Referer"])
        if self.path == "/followed":  # a page a link of the mail leads to
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<title>Followed</title><link rel=icon href=\"data:,\">"
                             b"<p>A page of the web")
            return
        self.send_response(204)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass


def hostile_message(beacon):
    b = f"http://127.0.0.1:{beacon}"
    html = f"""<html><head><link rel="stylesheet" href="{b}/link-css">
<style>@import url({b}/import); body {{ background: url({b}/bg); }}</style></head>
<body onload="fetch('{b}/onload')"><p>HTML part of the message</p>
<script>fetch('{b}/script'); alert('xss');</script>
<img src="{b}/img" onerror="fetch('{b}/onerror')">
<a href="javascript:fetch('{b}/js-url')">click</a> <a href="{b}/followed">a link</a>
<svg><image href="{b}/svg-image"/><animate attributeName="href" to="{b}/animate"/>
<filter><feImage href="{b}/feimage"/></filter></svg>
<iframe src="{b}/nested"></iframe><form action="{b}/form"><input name=x></form>
<meta http-equiv="refresh" content="0;url={b}/refresh"></body></html>"""
    import email.message
    import email.policy
    import email.utils
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = "Dr. Jansen <doctor@org.test>"
    m["To"] = "pat@plain.test"
    m["Subject"] = "Lab results for you"
    m["Date"] = email.utils.formatdate()
    m["Message-ID"] = "<browser-1@org.test>"
    m.set_content("Dear patient,\nThe text part of the message.\n")
    m.add_alternative(html, subtype="html")
    m.add_attachment(b"%PDF-1.4\n" * 20, maintype="application", subtype="pdf",
                     filename="results.pdf")
    return m.as_bytes()


def run_node(*args):
    p = subprocess.run([NODE, SCRIPT, *args], capture_output=True, text=True, timeout=120,
                       cwd=HERE)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except Exception:
        return {"ok": False, "error": p.stdout + p.stderr}


def test_portal_in_chromium():
    beacon = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Beacon)
    threading.Thread(target=beacon.serve_forever, daemon=True).start()
    bport = beacon.server_address[1]
    pport = smdtest.free_port()
    try:
        for viewport in ("desktop", "phone"):
            with TestMX() as plain, TestMX(starttls=True) as org, \
                    Gateway({"plain.test": plain, "org.test": org},
                            extra={"portal": {"listen": f"127.0.0.1:{pport}",
                                              "public-url": f"http://127.0.0.1:{pport}"},
                                   "organisation": {"name": "Example Clinic"}}) as gw:
                original = hostile_message(bport)
                gw.send("doctor@org.test", "pat@plain.test", original)
                ok(wait_for(lambda: org.messages(), 20), f"{viewport}: registration request")
                link = re.findall(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_-]{32}",
                                          org.messages()[0][0].decode().replace("=\r\n", ""))[0]
                res = run_node("switch", link, "-", ARTEFACTS, viewport)
                ok(res.get("ok") and res.get("before") == "en" and res.get("dutchLang") == "nl"
                   and res.get("dutchLabel") == 1 and res.get("afterReload") == "nl"
                   and res.get("back") == "en",
                   f"{viewport}: the language switch: Nederlands gives Verzenden, kept on "
                   "reload, English back", repr(res))
                res = run_node("register", link, "06 12345678", ARTEFACTS, viewport)
                ok(res.get("ok") and res.get("stored") and "+31 6" in res.get("text", ""),
                   f"{viewport}: Submit → Stored (number masked)", repr(res))

                ok(wait_for(lambda: plain.messages(), 20), f"{viewport}: invitation")
                link = re.findall(r"http://127\.0\.0\.1:\d+/m/[A-Za-z0-9_-]{32}",
                                          plain.messages()[0][0].decode().replace("=\r\n", ""))[0]
                sms = os.path.join(gw.state_dir, "sms.jsonl")
                res = run_node("read", link, sms, ARTEFACTS, viewport, gw.workdir)
                ok(res.get("ok"), f"{viewport}: Request pin code → pin → Submit → Download",
                   repr(res))
                ok(res.get("title") == "Lab results for you" and
                   "HTML part of the message" in res.get("frameText", "") and
                   "The text part of the message." not in res.get("text", "") and
                   "Plain-text version" in res.get("text", "") and
                   "results.pdf" in res.get("text", ""),
                   f"{viewport}: the message (its HTML; the text alternative on request) with "
                   "its attachment is shown", repr(res))
                ok(res.get("iframeSandbox") == "allow-popups allow-popups-to-escape-sandbox",
                   f"{viewport}: HTML in an iframe sandboxed without allow-scripts",
                   repr(res.get("iframeSandbox")))
                ok(res.get("dialogs") == 0, f"{viewport}: no script ran (no alert)")
                ok(res.get("popupUrl", "").endswith("/followed") and
                   Beacon.hits == ["/followed"],
                   f"{viewport}: a link of the mail opens in a tab of its own, and nothing else "
                   "remote was loaded (not by the javascript: link either)",
                   repr((res.get("popupUrl"), Beacon.hits)))
                ok(Beacon.referers == [], f"{viewport}: without the portal's address as referrer",
                   repr(Beacon.referers))
                ok(res.get("pagesAfterJsLink") == 1 and
                   "HTML part of the message" in res.get("frameAfterLinks", ""),
                   f"{viewport}: and the message stays in its frame", repr(res))
                Beacon.hits.clear()
                data = open(res["download"], "rb").read() if res.get("download") else b""
                ok(hashlib.sha256(data).digest() == hashlib.sha256(original).digest(),
                   f"{viewport}: Download gives the original message", res.get("suggestedFilename"))
    finally:
        beacon.shutdown()
    shots = sorted(f for f in os.listdir(ARTEFACTS) if f.endswith(".png"))
    ok(len(shots) >= 10, "screenshots saved as artefacts", f"{ARTEFACTS}: {shots}")
    smdtest.diag(f"screenshots in {ARTEFACTS}")


if __name__ == "__main__":
    if NODE is None or not os.path.exists("/usr/bin/chromium") or \
            not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        smdtest.skip_all("needs node, /usr/bin/chromium and npm ci in tests/browser")
    smdtest.main([test_portal_in_chromium])
