#!/usr/bin/python3
"""Next hops from DNS (RFC 5321 §5.1), through the daemon's real resolver
and a name server on loopback (smdtest.NameServer; the daemon runs with
its own /etc/resolv.conf in a mount namespace): MX preference and the
next MX when the first is down, the domain's own address when it has no
MX, a null MX (RFC 7505), a domain that does not exist, a name server
that does not answer; and one lookup serves all of a domain's mail, also
the mail that comes after its last delivery."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, NameServer, TestMX, make_message, ok, wait_for  # noqa: E402

RECORDS = {
    ("live.test", "MX"): [(20, "mx2.live.test"), (10, "mx1.live.test")],
    ("mx1.live.test", "A"): ["127.0.0.154"],
    ("mx2.live.test", "A"): ["127.0.0.155"],
    ("bare.test", "A"): ["127.0.0.156"],
    ("nullmx.test", "MX"): [(0, ".")],
}


def state_of(gw, address):
    return dict(gw.recipient_states()).get(address)


def test_next_hops_from_dns():
    # the MX servers listen on port 25 of their own loopback addresses,
    # where the DNS answers send the daemon; reports go to org.test
    with TestMX(starttls=True, host="127.0.0.154", port=25) as mx1, \
            TestMX(starttls=True, host="127.0.0.155", port=25) as mx2, \
            TestMX(starttls=True, host="127.0.0.156", port=25) as bare, \
            TestMX(starttls=True) as org, \
            NameServer(RECORDS, silent=lambda name: name == "flaky.test") as dns, \
            Gateway({"org.test": org},
                    binary=dns.resolver_wrapper(smdtest.daemon_binary(), timeout=2)) as gw:
        # the first is delivered and recorded before the others come: the
        # domain's answer outlives its last delivery
        for i in range(5):
            smdtest.send_mail(gw.port, "a@org.test", f"r{i}@live.test",
                              make_message("a@org.test", f"r{i}@live.test", f"m{i}"))
            if i == 0:
                ok(wait_for(lambda: state_of(gw, "r0@live.test") == "delivered", 20),
                   "the first message to live.test is delivered", repr(gw.recipient_states()))
        got = mx1.wait_messages(5)
        ok(len(got) == 5 and not mx2.messages(),
           "mail for live.test goes to its MX of preference 10, not to that of 20",
           f"{len(got)} at mx1, {len(mx2.messages())} at mx2")
        ok(dns.asked("live.test") == 1, "one MX lookup for five messages to the domain",
           f"{dns.queries}")

        mx1.stop()
        smdtest.send_mail(gw.port, "a@org.test", "r5@live.test",
                          make_message("a@org.test", "r5@live.test", "m5"))
        ok(len(mx2.wait_messages(1)) == 1,
           "with the first MX down, the next one by preference gets the mail")

        smdtest.send_mail(gw.port, "a@org.test", "b@bare.test",
                          make_message("a@org.test", "b@bare.test"))
        ok(len(bare.wait_messages(1)) == 1,
           "a domain without MX gets its mail at its own address (RFC 5321 §5.1)")

        smdtest.send_mail(gw.port, "a@org.test", ["c@nullmx.test", "d@gone.test"],
                          make_message("a@org.test", "c@nullmx.test"))
        ok(wait_for(lambda: state_of(gw, "c@nullmx.test") == "bounced"
                    and state_of(gw, "d@gone.test") == "bounced", 20),
           "a null MX and a domain that does not exist bounce at once",
           repr(gw.recipient_states()))
        log = gw.log()
        ok("to=<c@nullmx.test> 550 5.1.10" in log and "to=<d@gone.test> 550 5.1.2" in log,
           "with 5.1.10 for the null MX and 5.1.2 for the unknown domain",
           "\n".join(line for line in log.splitlines() if "bounced" in line))
        ok(wait_for(lambda: len(org.messages()) >= 1, 20),
           "and the sender gets a report")

        smdtest.send_mail(gw.port, "a@org.test", "e@flaky.test",
                          make_message("a@org.test", "e@flaky.test"))
        ok(wait_for(lambda: "to=<e@flaky.test> 451 4.4.3" in gw.log(), 20),
           "a name server that does not answer defers the mail (451 4.4.3)")
        ok(state_of(gw, "e@flaky.test") in ("queued", "deferred"),
           "and it stays in the queue", repr(state_of(gw, "e@flaky.test")))
        ok(gw.running, "the daemon is still running")


if __name__ == "__main__":
    smdtest.main([test_next_hops_from_dns])
