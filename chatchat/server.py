"""The one server: the REST API and the Gradio UI on one port.

`create_app(services)` assembles API routes, API-key check, CORS and error handlers, then mounts the UI
at "/". `serve(settings)` refuses a public address without credentials, takes the configured port
(or the next free one, and says so) and runs uvicorn.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import secrets
import socket
import sys
import threading
import time

import psutil
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers

from chatchat import __version__
from chatchat.api import include_api
from chatchat.api.errors import error_payload, install_error_handlers
from chatchat.api.uploads import clean_stale_uploads
from chatchat.config import Settings
from chatchat.errors import SettingsError
from chatchat.service import Services

log = logging.getLogger("chatchat.server")
PORT_TRIES = 100


DOCS_PATHS = ("/docs", "/redoc", "/openapi.json", "/docs-assets")


def exposed(settings: Settings) -> bool:
    """Other machines can reach the server: any address but loopback, or a share link."""
    return settings.share or not is_loopback(settings.host)


def _docs_allowed(settings: Settings, authorization: str) -> bool:
    """The API key as a bearer token, or HTTP Basic with the API key as password (what a browser can send),
    or the UI's login."""
    scheme, _, value = authorization.partition(" ")
    key = settings.api_key or ""
    if scheme.lower() == "bearer":
        return secrets.compare_digest(value.strip().encode(), key.encode())
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    login = f"{user}:{password}".encode()
    return secrets.compare_digest(password.encode(), key.encode()) or bool(
        settings.auth and secrets.compare_digest(login, settings.auth.encode()))


class DocsGuard:
    """/docs and /openapi.json behind the API's credentials when the server is exposed and has an API key
    (on loopback they stay open: only this machine reaches them). Pure ASGI: streamed responses pass as
    they are."""

    def __init__(self, app, services: Services):
        self.app = app
        self.services = services

    async def __call__(self, scope, receive, send) -> None:
        settings = self.services.settings  # the live settings: a key set while running applies at once
        if (scope["type"] == "http" and scope["path"].startswith(DOCS_PATHS) and settings.api_key and exposed(settings)
                and not _docs_allowed(settings, Headers(scope=scope).get("authorization", ""))):
            message = ("The API docs need the API key: send 'Authorization: Bearer <key>', or sign in with any "
                       "user name and the API key as password (or with the web UI's login).")
            response = JSONResponse(error_payload(401, message, "invalid_api_key"), status_code=401,
                                    headers={"WWW-Authenticate": 'Basic realm="Chatchat API docs", charset="UTF-8"'})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(services: Services, ui: bool = True) -> FastAPI:
    settings = services.settings
    app = FastAPIOffline(
        title="Chatchat API",
        version=__version__,
        description="OpenAI-compatible chat, embeddings and knowledge-base routes of Chatchat; "
        "Langchain-Chatchat 0.2.x routes under /knowledge_base and /chat. See docs/API.md.",
        static_url="/docs-assets",
    )
    app.state.services = services
    clean_stale_uploads(settings.home)
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(DocsGuard, services=services)
    include_api(app, documented_key=bool(settings.api_key))
    if ui:
        from chatchat.ui import mount

        mount(app, services)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_security(settings: Settings) -> None:
    """Other machines can reach any address but loopback, and a share link: then the API needs a key and
    the UI a login, unless the user explicitly allowed an open server."""
    if not exposed(settings):
        return
    missing = [name for name in ("api_key", "auth") if not getattr(settings, name)]
    if not missing:
        return
    where = f"{settings.host} with a public share link" if settings.share else settings.host
    if settings.allow_insecure_public:
        log.warning("Serving on %s without %s: anyone who can reach it can use it.", where, " or ".join(missing))
        return
    raise SettingsError(
        f"Refusing to serve on {where}, which other machines can reach, without {' and '.join(missing)}. "
        "Set CHATCHAT_API_KEY=<key> (the API's bearer key) and CHATCHAT_AUTH=user:password (the UI login), "
        "or the same in settings.yaml; or bind to 127.0.0.1; or set allow_insecure_public: true to serve it open."
    )


def bind_socket(host: str, port: int, tries: int = PORT_TRIES) -> socket.socket:
    """A listening socket on `port`, or on the next free port after it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    last_error: OSError | None = None
    for candidate in range(port, min(port + tries, 65536)):
        # proto given explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP; without it
        # every response on a kept-alive connection waited ~40 ms for the client's delayed ACK
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), candidate))
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        sock.listen(2048)
        sock.set_inheritable(True)
        return sock
    raise SettingsError(f"No free port on {host} in {port}–{port + tries - 1} ({last_error}). Set another port (CHATCHAT_PORT).")


def make_server(settings: Settings, services: Services | None = None, ui: bool = True) -> tuple[uvicorn.Server, socket.socket]:
    """The uvicorn server and its bound socket, not yet running: `server.run(sockets=[sock])`. Services it
    opens itself finish what a crash left half done after the first paint (RecoveryGate)."""
    check_bind_security(settings)
    sock = bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    if port != settings.port:
        print(f"Port {settings.port} is in use; serving on port {port} instead.", file=sys.stderr)
    own = services is None
    services = services or Services.open(settings, recover=False)
    app = create_app(services, ui=ui)
    gate = RecoveryGate(app) if own else None
    config = uvicorn.Config(gate or app, host=settings.host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if gate is not None:
        threading.Thread(target=gate.recover, args=(server, services), name="chatchat-recover", daemon=True).start()
    return server, sock


class RecoveryGate:
    """The store's crash recovery (Services.recover) after the first paint, not before it: it reads every
    knowledge base's tables, and LanceDB's import alone took longer than the rest of the start. It begins
    once the first response has gone out, or at once when a request that may change something comes
    first; such requests (any method but GET, HEAD and OPTIONS: the API's writes, every UI event; not the
    UI's login, which touches no knowledge base) wait until it has run, so none races it. Pure ASGI, around
    the whole app."""

    def __init__(self, app):
        self.app = app
        self.begin = threading.Event()  # the recovery may start
        self.done = threading.Event()  # it has run, failed or not

    def recover(self, server: uvicorn.Server, services: Services) -> None:
        try:
            while not self.begin.wait(0.1):
                if server.should_exit:
                    return
            services.recover()
        except Exception:  # a damaged table must not stop the app: using that knowledge base reports it
            log.exception("Finishing what a crash left half done in the knowledge bases failed")
        finally:
            self.done.set()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self.done.is_set():
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and scope["path"] not in ("/login", "/login/"):
            self.begin.set()
            while not self.done.is_set():
                await asyncio.sleep(0.05)
            await self.app(scope, receive, send)
            return

        async def sending(message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.begin.set()

        await self.app(scope, receive, sending)


def url_of(sock: socket.socket) -> str:
    """One URL that reaches the server from this machine."""
    return reachable_urls(sock)[0]


def reachable_urls(sock: socket.socket) -> list[str]:
    """The URLs the server answers at: for a wildcard bind (0.0.0.0, ::) loopback first, then each
    address of this machine's network interfaces; else the bound address."""
    host, port = sock.getsockname()[:2]
    if host not in ("0.0.0.0", "::"):
        return [f"http://{_url_host(host)}:{port}"]
    family = socket.AF_INET6 if host == "::" else socket.AF_INET
    addresses = ["::1" if host == "::" else "127.0.0.1"]
    for entries in psutil.net_if_addrs().values():
        addresses += [e.address.split("%")[0] for e in entries if e.family == family]
    return [f"http://{_url_host(a)}:{port}" for a in dict.fromkeys(addresses) if not a.startswith("fe80:")]


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def banner(sock: socket.socket) -> str:
    urls = reachable_urls(sock)
    lines = [f"Chatchat is running at {urls[0]}  (API docs: {urls[0]}/docs, OpenAI base URL: {urls[0]}/v1)"]
    lines += [f"  also reachable at {url}" for url in urls[1:]]
    return "\n".join(lines)


def open_share_link(server: uvicorn.Server, port: int) -> None:
    """Gradio's share tunnel to this port (the user asked for it: it contacts Gradio's share server and,
    the first time, downloads Gradio's frpc client). Failure leaves the app running locally."""
    from gradio.networking import setup_tunnel

    while not server.started and not server.should_exit:
        time.sleep(0.1)
    try:
        url = setup_tunnel("127.0.0.1", port, secrets.token_urlsafe(32), None, None)
    except Exception as exc:  # no network, frpc download or share server failing: many types
        print(f"No share link ({type(exc).__name__}: {exc}); Chatchat still runs locally.", file=sys.stderr)
        return
    print(f"Public share link: {url}", file=sys.stderr)


def serve(settings: Settings, services: Services | None = None) -> None:
    """Run until interrupted. Raises SettingsError (before binding) when the address needs credentials."""
    server, sock = make_server(settings, services)
    print(banner(sock), file=sys.stderr)
    if settings.share:
        threading.Thread(target=open_share_link, args=(server, sock.getsockname()[1]), daemon=True).start()
    server.run(sockets=[sock])
