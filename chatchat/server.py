"""The one server: the REST API and the Gradio UI on one port.

`create_app(services)` assembles API routes, API-key check, CORS and error handlers, then mounts the UI
at "/". `serve(settings)` refuses a public address without credentials, takes the configured port
(or the next free one, and says so) and runs uvicorn.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import sys
import threading
import time

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from chatchat import __version__
from chatchat.api import include_api
from chatchat.api.errors import install_error_handlers
from chatchat.api.uploads import clean_stale_uploads
from chatchat.config import Settings
from chatchat.errors import SettingsError
from chatchat.service import Services

log = logging.getLogger("chatchat.server")
PORT_TRIES = 100


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
    if is_loopback(settings.host) and not settings.share:
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
    """The uvicorn server and its bound socket, not yet running: `server.run(sockets=[sock])`."""
    check_bind_security(settings)
    sock = bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    if port != settings.port:
        print(f"Port {settings.port} is in use; serving on port {port} instead.", file=sys.stderr)
    app = create_app(services or Services.open(settings), ui=ui)
    config = uvicorn.Config(app, host=settings.host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    return uvicorn.Server(config), sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}"


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
    base = url_of(sock)
    print(f"Chatchat is running at {base}  (API docs: {base}/docs, OpenAI base URL: {base}/v1)", file=sys.stderr)
    if settings.share:
        threading.Thread(target=open_share_link, args=(server, sock.getsockname()[1]), daemon=True).start()
    server.run(sockets=[sock])
