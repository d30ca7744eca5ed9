"""A real SMTP server (aiosmtpd) for Switchboard's SMTP connection tests.

Usage: smtp_server.py --port N [--auth USER:PASSWORD] [--starttls CERT KEY] [--implicit-tls CERT KEY] [--inbox DIR]
Prints "ready" once it accepts connections; runs until killed. With --inbox, each message is parsed
with Python's email package and written to DIR/N.json (envelope, headers, text and HTML bodies,
attachments with their SHA-256), so a test reads what a mail client would see. Recipients at
refused.example are refused with 550.
"""
import argparse
import hashlib
import json
import os
import ssl
import threading
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, inbox=None):
        self.inbox = inbox
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().endswith("@refused.example"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.inbox:
            msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
            text = msg.get_body(preferencelist=("plain",))
            html = msg.get_body(preferencelist=("html",))
            summary = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "headers": {k.lower(): str(v) for k, v in msg.items()},
                "text": text.get_content() if text is not None else None,
                "html": html.get_content() if html is not None else None,
                "attachments": [
                    {
                        "filename": part.get_filename(),
                        "content_type": part.get_content_type(),
                        "sha256": hashlib.sha256(part.get_payload(decode=True)).hexdigest(),
                        "size": len(part.get_payload(decode=True)),
                    }
                    for part in msg.iter_attachments()
                ],
            }
            self.count += 1
            path = os.path.join(self.inbox, "%d.json" % self.count)
            with open(path + ".tmp", "w") as f:
                json.dump(summary, f)
            os.rename(path + ".tmp", path)
        return "250 OK: queued as %d" % self.count


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    return authenticate


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--auth")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--inbox")
    a = p.parse_args()
    sink = Sink(a.inbox)

    kwargs = {}
    if a.auth:
        user, password = a.auth.split(":", 1)
        kwargs["authenticator"] = authenticator_for(user, password)
        kwargs["auth_required"] = True
        # Plain-text login is allowed only when the server offers no TLS at all.
        kwargs["auth_require_tls"] = bool(a.starttls)
    if a.starttls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.starttls[0], a.starttls[1])
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = False
    if a.implicit_tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.implicit_tls[0], a.implicit_tls[1])
        controller = Controller(sink, hostname="127.0.0.1", port=a.port, ssl_context=ctx, **kwargs)
    else:
        controller = Controller(sink, hostname="127.0.0.1", port=a.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
