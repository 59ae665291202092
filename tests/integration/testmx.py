#!/usr/bin/python3
"""testmx — a scriptable recipient mail server for SecuMailer integration tests.

It plays the role of a remote MX: it accepts SMTP (optionally with STARTTLS),
answers RCPT and end-of-DATA with a configurable sequence of replies, and
records what it received so tests can inspect it afterwards:

  DIR/NNNNNN.eml       the message exactly as received (dot-unstuffed, CRLF)
  DIR/NNNNNN.json      envelope and TLS facts; written after the .eml, by rename
  DIR/transcript.log   one line per received command or connection event:
                         "<conn> P <command>"   command received in plaintext
                         "<conn> T <command>"   command received inside TLS
                         "<conn> * <event>"     connect, tls, discard, close, ...

Only the standard library is used; run it with /usr/bin/python3.
"""

import argparse
import asyncio
import itertools
import json
import os
import re
import signal
import ssl
import sys
import time

MAX_COMMAND = 4096              # RFC 5321 allows 512; be lenient but bounded
STREAM_LIMIT = 1 << 20          # longest chunk the stream reader buffers
DEFAULT_SIZE = 50 * 1024 * 1024 # advertised SIZE and enforced message limit


class ReplySequence:
    """Replies handed out in order over the server lifetime; the last repeats."""

    def __init__(self, spec, default):
        entries = [e.strip() for e in (spec or default).split(",") if e.strip()]
        if not entries:
            entries = [default]
        self.replies = [self._normalise(e) for e in entries]
        self.index = 0

    @staticmethod
    def _normalise(entry):
        if not re.fullmatch(r"[2-5]\d\d( .*)?", entry):
            raise ValueError(f"bad reply {entry!r}: must start with a 3-digit code")
        if len(entry) == 3:
            # A bare code is legal SMTP, but some clients choke on it.
            entry += {"2": " Ok", "4": " Temporary failure"}.get(entry[0], " Rejected")
        return entry

    def next(self):
        reply = self.replies[min(self.index, len(self.replies) - 1)]
        self.index += 1
        return reply


class Recorder:
    """Owns the maildir: message numbering, message files and the transcript."""

    def __init__(self, maildir):
        self.maildir = maildir
        os.makedirs(maildir, exist_ok=True)
        # Continue numbering after existing messages so a restarted server
        # never overwrites what an earlier run stored.
        numbers = [int(n[:6]) for n in os.listdir(maildir)
                   if re.fullmatch(r"\d{6}\.(eml|json)", n)]
        self.counter = itertools.count(max(numbers, default=0) + 1)
        self.transcript = open(os.path.join(maildir, "transcript.log"), "a",
                               encoding="latin-1", buffering=1)

    def log(self, conn, tag, text):
        # Keep one record per line even if a client sent bare CR/LF.
        text = text.replace("\r", "\\r").replace("\n", "\\n")
        self.transcript.write(f"{conn} {tag} {text}\n")
        self.transcript.flush()

    def store(self, data, meta):
        n = next(self.counter)
        base = os.path.join(self.maildir, f"{n:06d}")
        # The .json is the commit marker: a reader that sees it may read the .eml.
        self._atomic_write(base + ".eml", data)
        self._atomic_write(base + ".json",
                           json.dumps(meta, indent=1, sort_keys=True).encode() + b"\n")
        return n

    @staticmethod
    def _atomic_write(path, data):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)


class LineTooLong(Exception):
    pass


async def read_line(reader, limit):
    """Read up to and including CRLF (the only line end); None at EOF.

    Bare CR or LF stay inside the line. More than `limit` bytes raises
    LineTooLong after the rest of the line has been consumed, so the
    session can continue in sync.
    """
    parts, size = [], 0
    while True:
        try:
            chunk = await reader.readuntil(b"\r\n")
        except asyncio.IncompleteReadError:
            return None  # EOF, possibly mid-line: an unterminated line is no command
        except asyncio.LimitOverrunError as e:
            # Chunk longer than the reader's buffer limit: take what is there
            # (never a trailing lone CR, see LimitOverrunError.consumed).
            chunk = await reader.readexactly(max(e.consumed, 1))
            size += len(chunk)
            if size <= limit:
                parts.append(chunk)
            continue
        size += len(chunk)
        if size > limit:
            raise LineTooLong()
        parts.append(chunk)
        return b"".join(parts)


class Session:
    def __init__(self, server, conn, reader, writer):
        self.server = server
        self.opts = server.opts
        self.conn = conn
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        self.tls = False
        self.reset_all()

    def reset_all(self):
        self.helo = None
        self.reset_transaction()

    def reset_transaction(self):
        self.mail_from = None
        self.mail_params = ""
        self.rcpt_to = []

    def log(self, tag, text):
        self.server.recorder.log(self.conn, tag, text)

    async def reply(self, *lines):
        """Send a (possibly multi-line) reply; all lines share the first's code."""
        out = []
        for i, line in enumerate(lines):
            if i < len(lines) - 1:
                line = line[:3] + "-" + line[4:]
            out.append(line + "\r\n")
        self.writer.write("".join(out).encode("latin-1"))
        await self.writer.drain()

    async def readline(self, limit):
        return await asyncio.wait_for(read_line(self.reader, limit),
                                      self.opts.timeout)

    async def run(self):
        self.log("*", f"connect {self.peer}")
        await self.reply(self.opts.greeting)
        while True:
            try:
                raw = await self.readline(MAX_COMMAND)
            except LineTooLong:
                self.log("*", "command line too long")
                await self.reply("500 5.5.2 Line too long")
                continue
            if raw is None:
                self.log("*", "eof")
                return
            line = raw[:-2].decode("latin-1")
            self.log("T" if self.tls else "P", line)
            if not await self.dispatch(line):
                return

    async def dispatch(self, line):
        """Handle one command; False ends the session."""
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if "\r" in line or "\n" in line:
            await self.reply("500 5.5.2 Bare CR or LF in command")
        elif verb == "EHLO":
            await self.ehlo(arg)
        elif verb == "HELO":
            self.reset_all()
            self.helo = arg
            await self.reply(f"250 {self.opts.hostname}")
        elif verb == "STARTTLS":
            await self.starttls(arg)
        elif verb == "MAIL":
            await self.mail(arg)
        elif verb == "RCPT":
            await self.rcpt(arg)
        elif verb == "DATA":
            await self.data(arg)
        elif verb == "RSET":
            self.reset_transaction()
            await self.reply("250 2.0.0 Ok")
        elif verb == "NOOP":
            await self.reply("250 2.0.0 Ok")
        elif verb == "QUIT":
            await self.reply("221 2.0.0 Bye")
            return False
        else:
            await self.reply("502 5.5.2 Command not recognised")
        return True

    async def ehlo(self, arg):
        self.reset_all()
        self.helo = arg
        lines = [f"250 {self.opts.hostname}", "250 PIPELINING", "250 8BITMIME",
                 f"250 SIZE {self.opts.size}", "250 ENHANCEDSTATUSCODES"]
        if self.server.ssl_context and not self.tls:
            lines.append("250 STARTTLS")
        await self.reply(*lines)

    async def starttls(self, arg):
        if not self.server.ssl_context or self.tls:
            await self.reply("502 5.5.1 STARTTLS not available")
            return
        if arg:
            await self.reply("501 5.5.4 No parameters allowed")
            return
        # Anything the client pipelined after STARTTLS arrived in plaintext;
        # acting on it would be the classic injection bug, so drop it. The
        # stream API has no public way to inspect its buffer.
        pending = self.reader._buffer
        if pending:
            self.log("*", f"discarded {len(pending)} plaintext bytes pipelined after STARTTLS")
            pending.clear()
        if self.opts.inject_after_starttls:
            # One write, so the injected line sits right behind the 220.
            self.writer.write(b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n")
        else:
            self.writer.write(b"220 2.0.0 Ready to start TLS\r\n")
        try:
            await self.writer.start_tls(self.server.ssl_context,
                                        ssl_handshake_timeout=self.opts.timeout)
        except Exception as e:
            self.log("*", f"tls handshake failed: {e!r}")
            raise
        self.tls = True
        self.reset_all()
        obj = self.writer.get_extra_info("ssl_object")
        self.log("*", f"tls {obj.version()} {obj.cipher()[0]}")

    async def mail(self, arg):
        m = re.fullmatch(r"(?i)FROM:\s*<([^>]*)>\s*(.*)", arg)
        if not self.helo:
            await self.reply("503 5.5.1 Send EHLO/HELO first")
        elif self.mail_from is not None:
            await self.reply("503 5.5.1 Nested MAIL command")
        elif not m:
            await self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
        else:
            reply = self.server.mail_replies.next()
            if reply.startswith("2"):
                self.mail_from, self.mail_params = m.group(1), m.group(2)
            await self.reply(reply)

    async def rcpt(self, arg):
        m = re.fullmatch(r"(?i)TO:\s*<([^>]*)>\s*(.*)", arg)
        if self.mail_from is None:
            await self.reply("503 5.5.1 Need MAIL first")
        elif not m:
            await self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
        else:
            reply = self.server.rcpt_replies.next()
            if reply.startswith("2"):
                self.rcpt_to.append(m.group(1))
            await self.reply(reply)

    async def data(self, arg):
        if arg:
            await self.reply("501 5.5.4 No parameters allowed")
            return
        if self.mail_from is None:
            await self.reply("503 5.5.1 Need MAIL first")
            return
        if not self.rcpt_to:
            await self.reply("554 5.5.1 No valid recipients")
            return
        await self.reply("354 End data with <CR><LF>.<CR><LF>")
        parts, size = [], 0
        while True:
            try:
                raw = await self.readline(self.opts.size + 3)
            except LineTooLong:
                raw = b""
                size = self.opts.size + 1
                continue
            if raw is None:
                raise ConnectionResetError("eof during DATA")
            if raw == b".\r\n":
                break
            if raw.startswith(b"."):
                raw = raw[1:]
            size += len(raw)
            if size <= self.opts.size:
                parts.append(raw)
        self.log("*", f"data {size} bytes")
        if size > self.opts.size:
            await self.reply("552 5.3.4 Message too big")
        else:
            reply = self.server.data_replies.next()
            if reply.startswith("2"):
                n = self.server.recorder.store(b"".join(parts), self.meta())
                self.log("*", f"stored {n:06d}")
            await self.reply(reply)
        self.reset_transaction()

    def meta(self):
        obj = self.writer.get_extra_info("ssl_object") if self.tls else None
        return {
            "mail_from": self.mail_from,
            "mail_params": self.mail_params,
            "rcpt_to": list(self.rcpt_to),
            "helo": self.helo,
            "tls": self.tls,
            "tls_version": obj.version() if obj else None,
            "cipher": obj.cipher()[0] if obj else None,
            "peer": self.peer,
            "conn": self.conn,
            "received_at": time.time(),
        }


class Server:
    def __init__(self, opts):
        self.opts = opts
        self.recorder = Recorder(opts.maildir)
        self.mail_replies = ReplySequence(opts.mail_replies, "250 2.1.0 Ok")
        self.rcpt_replies = ReplySequence(opts.rcpt_replies, "250 2.1.5 Ok")
        self.data_replies = ReplySequence(opts.data_replies, "250 2.0.0 Ok: queued")
        self.ssl_context = self._ssl_context() if opts.starttls else None
        self.conn_ids = itertools.count(1)
        self.sessions = set()

    def _ssl_context(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.opts.cert, self.opts.key)
        versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        if self.opts.tls_min:
            ctx.minimum_version = versions[self.opts.tls_min]
        if self.opts.tls_max:
            ctx.maximum_version = versions[self.opts.tls_max]
        return ctx

    async def handle(self, reader, writer):
        conn = next(self.conn_ids)
        session = Session(self, conn, reader, writer)
        task = asyncio.current_task()
        self.sessions.add(task)
        try:
            await session.run()
        except asyncio.CancelledError:
            session.log("*", "cancelled")
        except asyncio.TimeoutError:
            session.log("*", "timeout")
        except Exception as e:  # one broken client must not affect the others
            session.log("*", f"error {e!r}")
        finally:
            self.sessions.discard(task)
            session.log("*", "close")
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 2)
            except BaseException:
                pass

    async def serve(self):
        host, _, port = self.opts.listen.rpartition(":")
        server = await asyncio.start_server(self.handle, host.strip("[]"), int(port),
                                            limit=STREAM_LIMIT, backlog=512,
                                            reuse_address=True)
        actual_port = server.sockets[0].getsockname()[1]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if self.opts.ready_file:
            tmp = self.opts.ready_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{actual_port}\n")
            os.rename(tmp, self.opts.ready_file)
        async with server:
            await stop.wait()
            server.close()
            for task in list(self.sessions):
                task.cancel()
            if self.sessions:
                await asyncio.wait(list(self.sessions), timeout=5)
        self.recorder.transcript.close()


def parse_args(argv):
    p = argparse.ArgumentParser(description="SMTP test recipient server")
    p.add_argument("--listen", required=True, help="HOST:PORT (port 0: any free port)")
    p.add_argument("--maildir", required=True)
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--tls-min", choices=["1.2", "1.3"])
    p.add_argument("--tls-max", choices=["1.2", "1.3"])
    p.add_argument("--mail-replies", help="comma-separated replies for MAIL")
    p.add_argument("--rcpt-replies", help="comma-separated replies for RCPT")
    p.add_argument("--data-replies", help="comma-separated replies for end of DATA")
    p.add_argument("--greeting", default="220 mx.test ESMTP testmx")
    p.add_argument("--hostname", default="mx.test")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE)
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds of client silence before the session is dropped")
    p.add_argument("--inject-after-starttls", action="store_true")
    p.add_argument("--ready-file")
    opts = p.parse_args(argv)
    if opts.starttls and not (opts.cert and opts.key):
        p.error("--starttls needs --cert and --key")
    for name in ("mail_replies", "rcpt_replies", "data_replies"):
        try:
            ReplySequence(getattr(opts, name), "250")
        except ValueError as e:
            p.error(str(e))
    return opts


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    asyncio.run(Server(opts).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
