#!/usr/bin/python3
"""tls-policy = verify: delivery only to servers whose certificate chains to
ca-file and matches the route host (127.0.0.1); anything else is held and
never sees the envelope or the message."""

import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import (Gateway, TestMX, make_ca_and_cert, make_cert, make_message, ok,  # noqa: E402
                     tmpdir, wait_for)
from gwtest import der_sha256, wait_settled, gateway_or_skip  # noqa: E402

MARKER = "policy-secret-4c1d"


def leaf_without_ip(d, chain, cn):
    """A leaf for DNS:cn only (no IP SAN), signed by chain's CA."""
    key, csr, cert, ext = (os.path.join(d, cn + s) for s in (".key", ".csr", ".pem", ".ext"))
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", f"/CN={cn}"], check=True, capture_output=True)
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{cn}\nbasicConstraints=critical,CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", chain.ca_cert, "-CAkey",
                    chain.ca_key, "-set_serial", "4242", "-days", "30", "-extfile", ext,
                    "-out", cert], check=True, capture_output=True)
    return cert, key


def no_envelope(mx):
    t = mx.transcript()
    return "MAIL FROM" not in t.upper() and "RCPT" not in t.upper() and MARKER not in t


def test_verify_policy():
    d = tmpdir("pki-")
    chain = make_ca_and_cert(d, "mx.test")            # leaf has IP:127.0.0.1
    other = make_ca_and_cert(d, "other.test")          # a different CA
    self_signed = make_cert(d, "self.test")
    noip_cert, noip_key = leaf_without_ip(d, chain, "noip.test")
    with TestMX(starttls=True, cert=chain.cert, key=chain.key) as good, \
            TestMX(starttls=True, cert=self_signed.cert, key=self_signed.key) as selfmx, \
            TestMX(starttls=True, cert=other.cert, key=other.key) as othermx, \
            TestMX(starttls=True, cert=noip_cert, key=noip_key) as noipmx, \
            TestMX() as plain, \
            Gateway({"good.test": good, "self.test": selfmx, "other.test": othermx,
                     "noip.test": noipmx, "plain.test": plain},
                    {"delivery": {"tls-policy": "verify", "ca-file": chain.ca_cert}}) as gw:
        rcpts = ["b@good.test", "b@self.test", "b@other.test", "b@noip.test", "b@plain.test"]
        gw.send("a@sender.test", rcpts,
                make_message("a@sender.test", rcpts, f"Subject {MARKER}", f"{MARKER}\n"))
        s = dict(wait_settled(gw, len(rcpts)))
        ok(s.get("b@good.test") == "delivered",
           "CA-signed certificate with IP:127.0.0.1: delivered", repr(s))
        row = gw.query("SELECT * FROM recipients WHERE address = 'b@good.test'")[0]
        ok(row["tls_verified"] == 1, "tls_verified = 1", repr(row))
        ok(row["tls_peer_sha256"] == der_sha256(chain.cert), "peer sha256 is the leaf's",
           repr(row))
        msgs = good.wait_messages(1)
        ok(len(msgs) == 1 and msgs[0][1]["rcpt_to"] == ["b@good.test"],
           "verified MX got the message", repr([m for _, m in msgs]))
        for addr, mx, what in (("b@self.test", selfmx, "self-signed certificate"),
                               ("b@other.test", othermx, "certificate from another CA"),
                               ("b@noip.test", noipmx, "CA-signed but not for 127.0.0.1"),
                               ("b@plain.test", plain, "no STARTTLS")):
            ok(s.get(addr) == "held", f"verify policy, {what}: held", repr(s))
            ok(no_envelope(mx) and mx.messages() == [],
               f"verify policy, {what}: no MAIL/RCPT/message byte sent", mx.transcript())
        held = {e["recipient"] for e in gw.events("held")}
        ok(held == {"b@self.test", "b@other.test", "b@noip.test", "b@plain.test"},
           "one held event per unverified recipient", repr(held))


def test_reload_rereads_ca_file():
    """The CAs of ca-file are read again on reload: a CA taken out is out
    for the next message, and one put in is trusted."""
    d = tmpdir("pki-")
    chain = make_ca_and_cert(d, "mx.test")
    other = make_ca_and_cert(d, "other.test")
    ca_file = os.path.join(d, "trusted.pem")
    shutil.copy(chain.ca_cert, ca_file)

    def trust(cert):
        # rewritten in place, as an editor or a deployment tool would
        with open(cert) as src, open(ca_file, "w") as dst:
            dst.write(src.read())
        reloads = gw.log().count("configuration reloaded from")
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: gw.log().count("configuration reloaded from") > reloads, 10),
           "reloaded")

    with TestMX(starttls=True, cert=chain.cert, key=chain.key) as good, \
            Gateway({"good.test": good},
                    {"delivery": {"tls-policy": "verify", "ca-file": ca_file}}) as gw:
        gw.send("a@sender.test", "b1@good.test", make_message("a@sender.test", "b1@good.test"))
        ok(dict(wait_settled(gw, 1)).get("b1@good.test") == "delivered",
           "the MX's CA in ca-file: delivered")

        trust(other.ca_cert)
        gw.send("a@sender.test", "b2@good.test", make_message("a@sender.test", "b2@good.test"))
        s = dict(wait_settled(gw, 2))
        ok(s.get("b2@good.test") == "held",
           "its CA taken out of ca-file and reloaded: held (the file is read again)",
           repr(s))
        ok(len(good.messages()) == 1, "the MX got nothing more", repr(good.messages()))

        trust(chain.ca_cert)
        gw.send("a@sender.test", "b3@good.test", make_message("a@sender.test", "b3@good.test"))
        s = dict(wait_settled(gw, 3))
        ok(s.get("b3@good.test") == "delivered", "put back and reloaded: delivered", repr(s))
        ok(wait_for(lambda: len(good.messages()) == 2, 10), "the MX got it")

        with open(ca_file, "w") as f:
            f.write("not a certificate\n")
        reloads = gw.log().count("configuration reloaded from")
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: "not reloading" in gw.log(), 10)
           and "ca-file" in gw.log().split("not reloading")[-1][:400]
           and gw.log().count("configuration reloaded from") == reloads,
           "a ca-file without certificates: the reload is refused and names the key",
           gw.log()[-800:])
        gw.send("a@sender.test", "b4@good.test", make_message("a@sender.test", "b4@good.test"))
        s = dict(wait_settled(gw, 4))
        ok(s.get("b4@good.test") == "delivered", "and the CAs loaded before still apply",
           repr(s))


def test_encrypt_policy_not_verified():
    d = tmpdir("pki-")
    chain = make_ca_and_cert(d, "mx.test")
    with TestMX(starttls=True, cert=chain.cert, key=chain.key) as good, \
            Gateway({"good.test": good}) as gw:
        gw.send("a@sender.test", "b@good.test", make_message("a@sender.test", "b@good.test"))
        s = wait_settled(gw, 1)
        ok(s == [("b@good.test", "delivered")], "encrypt policy: delivered", repr(s))
        row = gw.query("SELECT tls_verified FROM recipients")[0]
        ok(row["tls_verified"] == 0, "encrypt policy, CA not configured: tls_verified = 0",
           repr(row))


if __name__ == "__main__":
    gateway_or_skip()
    smdtest.main([test_verify_policy, test_reload_rereads_ca_file,
                  test_encrypt_policy_not_verified])
