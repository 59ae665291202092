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


if __name__ == "__main__":
    smdtest.main([test_sighup_applies_routes])
