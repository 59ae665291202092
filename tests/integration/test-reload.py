#!/usr/bin/python3
"""SIGHUP applies a changed configuration without a restart; a broken file
changes nothing and the gateway keeps running."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, make_message, ok, wait_for  # noqa: E402


def test_sighup_applies_routes():
    with TestMX(starttls=True) as first, TestMX(starttls=True) as second, \
            Gateway({"tls.test": first}) as gw:
        gw.send("a@sender.test", "b@tls.test", make_message("a@sender.test", "b@tls.test"))
        ok(wait_for(lambda: first.messages(), 20), "delivered to the first route")

        # a broken file: nothing changes, the gateway goes on
        with open(gw.config_path, "a") as f:
            f.write("\n[smtp]\nbogus-key = 1\n")
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: "not reloading" in gw.log(), 10), "a bad file is refused, and said so")
        gw.send("a@sender.test", "c@tls.test", make_message("a@sender.test", "c@tls.test"))
        ok(wait_for(lambda: len(first.messages()) == 2, 20), "the old routes still apply")

        gw.routes["tls.test"] = second
        gw.write_config()
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: "configuration reloaded" in gw.log(), 10), "reloaded")
        gw.send("a@sender.test", "d@tls.test", make_message("a@sender.test", "d@tls.test"))
        ok(wait_for(lambda: second.messages(), 20), "the new route applies")
        ok(len(first.messages()) == 2, "the old route gets nothing more")
        ok(gw.running, "still running")


def test_restart_needed():
    """A reload names what only a restart changes, compared with what the
    process runs, not with the file before."""
    with TestMX(starttls=True) as mx, Gateway({"tls.test": mx}) as gw:
        port = gw.port
        gw.extra = {"smtp": {"listen": f"127.0.0.1:{smdtest.free_port()}"}}
        gw.write_config()
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: gw.log().count("configuration reloaded from") == 1, 10)
           and "a restart is needed for: [smtp] listen" in gw.log(),
           "another listen address: a restart is needed, and the log says so")
        gw.extra = {}
        gw.write_config()
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: gw.log().count("configuration reloaded from") == 2, 10),
           "the address it listens on again: reloaded")
        ok(gw.log().count("a restart is needed") == 1,
           "and no restart is asked for: it never stopped listening there",
           gw.log()[-600:])
        ok(smdtest.port_open(port), "it still listens there")


if __name__ == "__main__":
    smdtest.main([test_sighup_applies_routes, test_restart_needed])
