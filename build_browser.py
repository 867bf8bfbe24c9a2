"""Packaging step: the built catalog browser goes into the sdist and the wheel.

``browser/dist`` is git-ignored output of ``npm run build`` (see browser/build.mjs). The
sdist carries it beside the sources, and the wheel copies it to ``stacql/browser``, where
``stacql.settings`` looks when stacql runs from an install rather than a checkout
(issue 16: a plain ``pip install`` served a 503 at /browse/). A present build is reused as
it is (``scripts/setup.sh`` rebuilds it when its sources change); a missing one is built
with npm, and without npm the build stops and says how to make one. Editable installs
serve the checkout's ``browser/dist`` directly and copy nothing.

Wired in pyproject.toml (``[tool.setuptools.cmdclass]``); shipped in the sdist by
MANIFEST.in.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools.command.build_py import build_py as _build_py
from setuptools.command.sdist import sdist as _sdist

BROWSER = Path(__file__).resolve().parent / "browser"
BUILD = BROWSER / "dist"
PACKAGED = Path("stacql") / "browser"
"""Where the build lands inside the wheel, relative to its root."""


class BrowserNotBuilt(RuntimeError):
    """``browser/dist`` is missing and npm is not there to build it."""


def ensure_browser_build() -> Path:
    """``browser/dist``, built with npm first when it has no ``index.html``."""
    if (BUILD / "index.html").is_file():
        return BUILD
    npm = shutil.which("npm")
    if npm is None:
        raise BrowserNotBuilt(
            f"{BUILD} has no index.html and npm is not on PATH: build the catalog browser "
            "first (cd browser && npm ci && npm run build, or scripts/setup.sh), then "
            "package stacql again"
        )
    for args in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
        subprocess.run([npm, *args], cwd=BROWSER, check=True)
    if not (BUILD / "index.html").is_file():
        raise BrowserNotBuilt(f"npm run build wrote no {BUILD / 'index.html'}")
    return BUILD


class build_py(_build_py):
    """setuptools' build_py, plus the built browser copied to ``stacql/browser``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / PACKAGED
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ensure_browser_build(), target)


class sdist(_sdist):
    """setuptools' sdist, with the browser built before MANIFEST.in's ``graft`` of it."""

    def run(self) -> None:
        ensure_browser_build()
        super().run()
