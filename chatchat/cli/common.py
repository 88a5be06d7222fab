"""Helpers shared by the CLI sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatchat.service import Services


def open_services(args: argparse.Namespace, recover: bool = True) -> Services:
    from chatchat.config import load_settings  # the settings (pydantic): not for `chatchat --help`
    from chatchat.service import Services  # the store, embeddings and parsers: only for commands that use them

    return Services.open(load_settings(home=getattr(args, "home", None)), recover=recover)


def print_json(value: Any) -> None:
    def plain(item: Any) -> Any:
        if is_dataclass(item):
            return asdict(item)
        if isinstance(item, list):
            return [plain(i) for i in item]
        return item

    json.dump(plain(value), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
