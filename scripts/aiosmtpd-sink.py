#!/usr/bin/env python3
"""An SMTP server for tests: aiosmtpd on 127.0.0.1, on a free port.

Prints the port on the first line of stdout, then writes every message it receives as one
JSON line, to the file given as argument (appended, flushed per message) or else to
stdout after the port line:

    {"mail_from": ..., "rcpt_tos": [...], "login": ..., "password": ...,
     "subject": ..., "body": ..., "data": ...}

`data` is the message exactly as received (decoded as UTF-8, undecodable bytes
replaced); `subject` and `body` are what a mail reader shows: the Subject header with any
RFC 2047 encoding undone and the text body with its transfer encoding undone.

It offers AUTH PLAIN and LOGIN without TLS (loopback only) and accepts any credentials,
keeping them in the message's record (`login`/`password`, null without AUTH) so a test
can check what the client sent. Runs until killed (SIGTERM/SIGINT), or, with
--exit-on-stdin-eof, until its stdin closes (the test that started it is gone).

Run it with the virtualenv scripts/aiosmtpd-venv.sh prints.
"""

import argparse
import email
import email.policy
import json
import logging
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, out):
        self.out = out
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        auth = session.auth_data
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "login": auth.login.decode("utf-8", "replace") if auth else None,
            "password": auth.password.decode("utf-8", "replace") if auth else None,
            "subject": str(msg.get("subject", "")),
            "body": part.get_content() if part is not None else "",
            "data": raw.decode("utf-8", "replace"),
        }
        with self.lock:
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        return "250 OK"


class _NoLoginDataNotice(logging.Filter):
    """aiosmtpd itself sets its deprecated Session.login_data on every AUTH and logs a
    warning about it; noise in a test log."""

    def filter(self, record):
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_NoLoginDataNotice())


def accept_any(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, auth_data=auth_data)


class LoopbackController(Controller):
    """aiosmtpd's Controller on a socket bound beforehand to 127.0.0.1:0, so the port is
    the kernel's choice and no other process can take it between choosing and binding."""

    def __init__(self, handler, **kwargs):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self.sock.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", help="file to append the messages to (default: stdout)")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="stop when stdin closes")
    args = p.parse_args()
    out = open(args.out, "a", encoding="utf-8") if args.out else sys.stdout

    controller = LoopbackController(
        Sink(out),
        authenticator=accept_any,
        auth_require_tls=False,
        server_hostname="aiosmtpd-sink",
    )
    controller.start()
    print(controller.port, flush=True)

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    if args.exit_on_stdin_eof:
        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            done.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
