"""`chatchat serve [--host H] [--port N] [--share] [--auth user:password] [--lite]`: the web UI and the
API on one port (default http://127.0.0.1:7860). `python app.py` takes the same options."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from chatchat.cli import EXIT_OK

if TYPE_CHECKING:  # the settings (pydantic) load when the command runs, not for `chatchat --help`
    from chatchat.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start the web UI and the API (http://127.0.0.1:7860)")
    # its own --home too, so that `python app.py --home DIR` works (app.py runs `serve` with its arguments)
    p.add_argument("--home", dest="serve_home", metavar="DIR", help="data directory (default: platform data dir, or $CHATCHAT_HOME)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; others need --auth and an API key)")
    p.add_argument("--port", type=int, help="port (default 7860; the next free one if taken)")
    p.add_argument("--share", action="store_true", default=None, help="also create a public Gradio share link")
    p.add_argument("--auth", metavar="USER:PASSWORD", help="require this login for the UI")
    p.add_argument("--lite", action="store_true", default=None, help="cloud models only: load no local model")
    p.set_defaults(handler=run)


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings as the data dir, the env and these options make them (options win)."""
    from chatchat.config import load_settings

    return load_settings(
        home=getattr(args, "serve_home", None) or getattr(args, "home", None),
        host=args.host, port=args.port, share=args.share, auth=args.auth, lite=args.lite,
    )


def run(args: argparse.Namespace) -> int:
    from chatchat import policy
    from chatchat.server import serve

    settings = settings_from(args)
    services = None
    active = policy.current()
    if active.public:
        from chatchat import space
        from chatchat.service import Services

        settings = space.space_settings(settings)
        services = Services.open(settings, policy=active)
        space.start_space(services)
    serve(settings, services)
    return EXIT_OK
