"""Where the files that ship with Chatchat are: the model catalog `models.yaml` and `assets/`.

They have one source, the top-level `models.yaml` and `assets/` of the checkout. A checkout (and an
editable install) reads them there; a built wheel carries them as `chatchat/_shipped/`, copied in at
build time by `chatchat/_build.py`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGED_DIR = "_shipped"  # the folder inside the package that chatchat/_build.py fills

_PACKAGED = Path(str(files("chatchat").joinpath(PACKAGED_DIR)))
_CHECKOUT = Path(__file__).resolve().parent.parent


def shipped(name: str) -> Path:
    """The path of a shipped file or folder: `shipped("models.yaml")`, `shipped("assets") / "logo.svg"`."""
    return (_PACKAGED if _PACKAGED.is_dir() else _CHECKOUT) / name


ASSETS_DIR = shipped("assets")
