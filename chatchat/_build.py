"""Build hook, named in pyproject.toml ([tool.setuptools.cmdclass]); never imported by the app.

It copies the top-level `models.yaml` and `assets/` into the wheel as `chatchat/_shipped/`, where
`chatchat.resources.shipped` finds them once installed. setuptools loads this file by its path, before
the package can be imported, so it names the folder itself (`chatchat.resources.PACKAGED_DIR`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py

SHIPPED = ("models.yaml", "assets")
PACKAGED_DIR = "_shipped"
ROOT = Path(__file__).resolve().parent.parent


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout
            return
        target = Path(self.build_lib) / "chatchat" / PACKAGED_DIR
        shutil.rmtree(target, ignore_errors=True)  # a stale copy from an earlier build must not ship
        target.mkdir(parents=True)
        for name in SHIPPED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target / name)
