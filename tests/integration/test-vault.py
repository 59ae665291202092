#!/usr/bin/python3
"""Encryption at rest: no plaintext subject or body anywhere in the state
directory (database, WAL, log); the body is kept encrypted while a recipient
is held and destroyed (with its key) once every recipient is final."""

import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smdtest  # noqa: E402
from smdtest import Gateway, TestMX, make_message, ok, wait_for  # noqa: E402
from gwtest import wait_settled, gateway_or_skip  # noqa: E402

SUBJECT = "VaultSubject-9e2b7f11"
BODY = "VaultBodyMarker-51c0aa3d"


def leaked(gw, markers):
    """[(file, marker)] for every marker found in any file of the state dir."""
    hits = []
    for root, _, files in os.walk(gw.state_dir):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for m in markers:
                for form in (m.encode(), m.encode("utf-16-le")):
                    if form in data:
                        hits.append((name, m))
    return hits


def body_rows(gw):
    return gw.query("SELECT b.message_id, length(b.envelope) AS n, b.envelope FROM bodies b")


def test_held_message_encrypted():
    with TestMX() as plain, Gateway({"plain.test": plain}) as gw:
        body = (BODY + " line\n") * 200 + "attachment-ish " + BODY + "\n"
        gw.send("a@sender.test", "b@plain.test",
                make_message("a@sender.test", "b@plain.test", SUBJECT, body))
        s = wait_settled(gw, 1)
        ok(s == [("b@plain.test", "held")], "recipient held", repr(s))
        files = sorted(os.listdir(gw.state_dir))
        ok("secumailer.db" in files, "store exists", repr(files))
        hits = leaked(gw, [SUBJECT, BODY])
        ok(not hits, "no plaintext subject/body in db, -wal, -shm, daemon.log or any state file",
           f"{hits} in {files}")
        rows = body_rows(gw)
        ok(len(rows) == 1 and rows[0]["n"] > len(BODY) * 200,
           "bodies.envelope holds the (encrypted) message", repr([(r["message_id"], r["n"])
                                                                  for r in rows]))
        ok(rows and BODY.encode() not in rows[0]["envelope"], "envelope is not plaintext")
        m = gw.query("SELECT wrapped_key FROM messages")[0]
        ok(m["wrapped_key"] is not None and len(m["wrapped_key"]) >= 32,
           "messages.wrapped_key set", repr(m))
        ok(SUBJECT not in gw.log() and BODY not in gw.log(), "daemon.log has no content")
        key = os.path.join(gw.state_dir, "master.key")
        if os.path.exists(key):
            mode = stat.S_IMODE(os.stat(key).st_mode)
            ok(mode == 0o600, "master.key is mode 0600", oct(mode))
        # After a restart (checkpointed WAL) the same holds.
        gw.restart()
        ok(gw.recipient_states() == [("b@plain.test", "held")], "held state survives restart")
        ok(not leaked(gw, [SUBJECT, BODY]), "still no plaintext after restart",
           repr(leaked(gw, [SUBJECT, BODY])))
        ok(len(body_rows(gw)) == 1, "body kept while held")


def test_body_destroyed_after_final():
    with TestMX(starttls=True) as mx, \
            TestMX(starttls=True, rcpt_replies="550 5.1.1 unknown") as bad, \
            TestMX(starttls=True) as sender_mx, TestMX() as plain, \
            Gateway({"tls.test": mx, "bad.test": bad, "sender.test": sender_mx,
                     "plain.test": plain}) as gw:
        gw.send("a@sender.test", ["b@tls.test", "c@tls.test"],
                make_message("a@sender.test", ["b@tls.test", "c@tls.test"], SUBJECT + "-1",
                             BODY + "-1\n"))
        ok(wait_for(lambda: len(gw.recipient_states()) == 2 and
                    all(st == "delivered" for _, st in gw.recipient_states())),
           "all recipients delivered", repr(gw.recipient_states()))
        qid1 = gw.query("SELECT queue_id FROM messages ORDER BY id")[0]["queue_id"]

        def destroyed(qid):
            rows = gw.query("SELECT m.wrapped_key, b.message_id AS body FROM messages m "
                            "LEFT JOIN bodies b ON b.message_id = m.id WHERE m.queue_id = ?",
                            (qid,))
            return rows and rows[0]["wrapped_key"] is None and rows[0]["body"] is None
        ok(wait_for(lambda: destroyed(qid1), 10),
           "delivered to all: body row deleted and wrapped_key NULL",
           repr(gw.query("SELECT id, queue_id, wrapped_key IS NULL AS nokey FROM messages")))

        # delivered + bounced → final too
        gw.send("a@sender.test", ["d@tls.test", "e@bad.test"],
                make_message("a@sender.test", ["d@tls.test", "e@bad.test"], SUBJECT + "-2",
                             BODY + "-2\n"))
        qid2 = wait_for(lambda: len(gw.query("SELECT 1 FROM messages")) >= 2 and
                        gw.query("SELECT queue_id FROM messages ORDER BY id")[1]["queue_id"])
        ok(wait_for(lambda: destroyed(qid2), 10),
           "delivered + bounced: body row deleted and wrapped_key NULL",
           repr(gw.recipient_states()))

        # delivered + held → body kept
        gw.send("a@sender.test", ["f@tls.test", "g@plain.test"],
                make_message("a@sender.test", ["f@tls.test", "g@plain.test"], SUBJECT + "-3",
                             BODY + "-3\n"))
        ok(wait_for(lambda: ("g@plain.test", "held") in gw.recipient_states() and
                    ("f@tls.test", "delivered") in gw.recipient_states()),
           "third message: delivered + held", repr(gw.recipient_states()))
        qid3 = gw.query("SELECT queue_id FROM messages WHERE sender = 'a@sender.test' "
                        "ORDER BY id DESC LIMIT 1")[0]["queue_id"]
        time.sleep(0.5)
        rows = gw.query("SELECT m.wrapped_key, b.message_id AS body FROM messages m "
                        "LEFT JOIN bodies b ON b.message_id = m.id WHERE m.queue_id = ?", (qid3,))
        ok(rows and rows[0]["wrapped_key"] is not None and rows[0]["body"] is not None,
           "one recipient held: body and key kept", repr(rows))
        hits = leaked(gw, [SUBJECT, BODY])
        ok(not hits, "no plaintext in the state directory after delivery and bounce "
           "(DSN text included)", repr(hits))


if __name__ == "__main__":
    gateway_or_skip()
    smdtest.main([test_held_message_encrypted, test_body_destroyed_after_final])
