"""A real SMTP server (aiosmtpd) for Switchboard's SMTP connection tests.

Usage: smtp_server.py --port N [--auth USER:PASSWORD] [--starttls CERT KEY] [--implicit-tls CERT KEY]
Prints "ready" once it accepts connections; runs until killed.
"""
import argparse
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


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
    a = p.parse_args()

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
        controller = Controller(Sink(), hostname="127.0.0.1", port=a.port, ssl_context=ctx, **kwargs)
    else:
        controller = Controller(Sink(), hostname="127.0.0.1", port=a.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
