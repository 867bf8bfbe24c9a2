"""The type hints of ``catalog/`` hold: mypy, configured in pyproject.toml ([tool.mypy]:
every function typed, optional values checked), reports no error."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import REPO


def test_catalog_type_checks() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"], cwd=REPO, capture_output=True,
        text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
