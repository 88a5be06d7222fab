"""The `chatchat` command. Each sub-command lives in its own module with `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

from chatchat.errors import ChatchatError

# module name under chatchat.cli → the sub-commands it registers
COMMAND_MODULES = ["serve", "kb", "ask", "models", "doctor"]

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and something in it failed (e.g. one file of a batch)
EXIT_USAGE = 2  # bad arguments or settings, unknown names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatchat", description="Chatchat: your documents, your model.")
    parser.add_argument("--home", help="data directory (default: platform data dir, or $CHATCHAT_HOME)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"chatchat.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"chatchat.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args) or EXIT_OK)
    except ChatchatError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE if exc.status in (400, 404, 409) else EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
