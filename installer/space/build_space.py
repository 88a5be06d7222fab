"""Assemble a Hugging Face Space folder from this repository.

    python installer/space/build_space.py OUT_DIR
    cd OUT_DIR && git init && git remote add space https://huggingface.co/spaces/<you>/chatchat \
        && git add -A && git commit -m "Chatchat" && git push --force space HEAD:main

The repository's own README must start with its set-up commands, so the Space's README (its front
matter) lives here and replaces the repository's in the copy. requirements.txt is written from
pyproject.toml (dependencies + the `local` extra) after the pip options in requirements-head.txt, so
it never drifts from the app's. The app runs unchanged: app.py sees SPACE_ID, which Hugging Face
sets, and starts in Space mode. Needs Python 3.11+ (tomllib).
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COPIED = ["app.py", "chatchat", "assets", "models.yaml", "pyproject.toml", "LICENSE"]


def requirements() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["local"]]
    return (HERE / "requirements-head.txt").read_text(encoding="utf-8") + "\n".join(wanted) + "\n"


def build(out: Path) -> None:
    if not (REPO / "app.py").is_file():
        raise SystemExit(f"{REPO / 'app.py'} is missing: nothing to put in a Space.")
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: give a new or empty folder.")
    out.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, out / name)
    shutil.copy2(HERE / "README.md", out / "README.md")
    (out / "requirements.txt").write_text(requirements(), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    build(Path(sys.argv[1]).resolve())
    print(f"Space folder ready: {sys.argv[1]}")
