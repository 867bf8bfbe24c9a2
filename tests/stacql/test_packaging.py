"""The sdist and wheel carry the built catalog browser: a plain install serves /browse/,
and GraphiQL at /graphql from the same build.

Builds both with ``python -m build`` (the wheel from the sdist, as a release would),
installs the wheel into a fresh virtual environment away from this checkout, and runs
``stacql serve`` from there. The environment borrows its dependencies from the one running
the tests (a path line, so nothing is downloaded); stacql itself comes only from the wheel.
``browser/dist`` is reused when built (``scripts/setup.sh``); otherwise the build step
runs npm. About 30 s: marked ``packaging``.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import live_server
from tests.support.paths import REPO

pytestmark = pytest.mark.packaging

INDEX = "browser/dist/index.html"
GRAPHIQL = "browser/dist/graphiql/index.html"


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True)
    return next(out.glob("stacql-*.tar.gz")), next(out.glob("stacql-*.whl"))


def _fresh_venv(root: Path, wheel: Path) -> Path:
    """A virtual environment with the wheel installed; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # A plain path line: the dependencies, without this environment's editable stacql.
    (Path(site) / "borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_the_sdist_carries_the_browser_sources_and_build(
    distributions: tuple[Path, Path],
) -> None:
    sdist, _ = distributions
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {INDEX, GRAPHIQL, "browser/src/main.ts", "browser/src/graphiql/main.ts",
            "browser/package-lock.json"} <= names
    assert not any(name.startswith("browser/node_modules") for name in names)


def test_an_installed_wheel_serves_the_browser(
    distributions: tuple[Path, Path], scratch_url: str, tmp_path: Path
) -> None:
    _, wheel = distributions
    with zipfile.ZipFile(wheel) as archive:
        packaged_index = archive.read("stacql/browser/index.html")
        assert "stacql/browser/graphiql/graphiql.js" in archive.namelist()
    assert packaged_index == (REPO / INDEX).read_bytes()
    python = _fresh_venv(tmp_path / "venv", wheel)
    origin = subprocess.run(
        [str(python), "-c", "import stacql; print(stacql.__file__)"],
        cwd=tmp_path, check=True, capture_output=True, text=True,
    ).stdout
    assert origin.startswith(str(tmp_path / "venv"))
    with live_server(scratch_url, python=str(python), cwd=tmp_path) as url:
        page = httpx.get(f"{url}browse/", timeout=10)
        script = httpx.get(f"{url}browse/app.js", timeout=10)
        graphiql = httpx.get(f"{url}graphql", headers={"accept": "text/html"}, timeout=10)
        graphiql_script = httpx.get(f"{url}browse/graphiql/graphiql.js", timeout=10)
    assert page.status_code == 200
    assert page.content == packaged_index
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert graphiql.status_code == 200
    assert '<base href="browse/graphiql/">' in graphiql.text
    assert graphiql_script.status_code == 200
