# A real SMTP server for the tests: Debian's aiosmtpd (run with /usr/bin/python3; pyenv's python3
# lacks it), on loopback, with TLS (STARTTLS required, or implicit TLS for smtps://) and AUTH
# against one user and password. Every message it accepts becomes a JSON file in the output
# directory: envelope, the authenticated user, whether the session was encrypted, the raw message.
#
#   /usr/bin/python3 smtp-server.py PORT CERT KEY CREDENTIALS OUTDIR DELAY_MS starttls|smtps|plain
#
# CREDENTIALS: a file holding the user on its first line and the password on its second (not on
# this command line: the tests scan the process list for the password).
#
# plain: no TLS at all, AUTH offered anyway (to show a client that must not send its password in
# clear); every AUTH attempt is recorded in OUTDIR/auth-attempts. open: no TLS, no AUTH (a relay
# on the host's own network, which the hosts' curl reaches with the system's CA store).
#
# Prints "ready" on stdout once it accepts connections; stops on SIGTERM.
import asyncio
import json
import os
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, credentials, outdir, delay_ms, mode = sys.argv[1:8]
with open(credentials) as f:
    user, password = f.read().split("\n")[:2]
delay = int(delay_ms) / 1000


def authenticator(server, session, envelope, mechanism, auth_data):
    with open(os.path.join(outdir, "auth-attempts"), "a") as f:
        f.write(f"{mechanism} tls={session.ssl is not None or server.transport.get_extra_info('ssl_object') is not None}\n")
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class Handler:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        # Slow on purpose: the test samples the process list while the client waits.
        await asyncio.sleep(delay)
        Handler.count += 1
        msg = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "content": envelope.original_content.decode("utf-8", "replace"),
            "received_at": time.time(),
        }
        path = os.path.join(outdir, f"{Handler.count:04d}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(msg, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted"


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
common = dict(authenticator=authenticator, auth_required=True, auth_require_tls=True)
if mode == "smtps":
    # Implicit TLS: aiosmtpd only counts STARTTLS as TLS for AUTH, so it is allowed here (the
    # whole session is encrypted; "tls" in the record says so).
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=int(port), ssl_context=ctx, **{**common, "auth_require_tls": False}
    )
elif mode == "plain":
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=int(port), authenticator=authenticator, auth_required=True, auth_require_tls=False
    )
elif mode == "open":
    controller = Controller(Handler(), hostname="127.0.0.1", port=int(port))
else:
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx, require_starttls=True, **common
    )
controller.start()
print("ready", flush=True)
signal.sigwait([signal.SIGTERM, signal.SIGINT])
controller.stop()
