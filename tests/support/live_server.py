"""A real ``stacql serve`` process on a free loopback port, for black-box HTTP clients.

Tools such as stac-api-validator and pystac-client speak HTTP through ``requests``, not
through an ASGI transport, so these tests run the service the way a user does: the
``stacql serve`` command in its own process, configured by ``STACQL_DATABASE_URL`` (and
any other settings passed as ``env``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.support.paths import REPO

# A loaded machine (parallel suites on two cores) can take longer: STACQL_TEST_STARTUP_TIMEOUT.
STARTUP_TIMEOUT_S = float(os.environ.get("STACQL_TEST_STARTUP_TIMEOUT", "30"))
SHUTDOWN_TIMEOUT_S = 10.0
# A port picked free can be taken by another process before uvicorn binds it.
START_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1


class ServerDidNotStart(RuntimeError):
    """``stacql serve`` exited or did not answer ``/`` within the startup timeout."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process is killed outright (no finally
    # blocks run), the kernel still sends the server SIGTERM, so it never outlives pytest.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _log_text(log: IO[bytes]) -> str:
    log.flush()
    log.seek(0)
    text = log.read().decode(errors="replace")
    log.seek(0, os.SEEK_END)
    return text


def _log_tail(log: IO[bytes], lines: int = 40) -> str:
    return "\n".join(_log_text(log).splitlines()[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(SHUTDOWN_TIMEOUT_S)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


def _wait_until_up(process: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    """True once ``GET url`` answers 200; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _answers(url):
            return True
        time.sleep(0.2)
    return False


def _spawn(
    database_url: str, port: int, log: IO[bytes], extra_env: Mapping[str, str],
    python: str, cwd: Path,
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **extra_env, "STACQL_DATABASE_URL": database_url}
    command = [python, "-m", "stacql.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


@contextmanager
def live_server(
    database_url: str,
    *,
    startup_timeout: float = STARTUP_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
    python: str = sys.executable,
    cwd: Path = REPO,
    log_lines: list[str] | None = None,
) -> Iterator[str]:
    """Run ``stacql serve`` on ``database_url``; yields its base URL (with a trailing /).

    ``env`` adds settings (``STACQL_REDIS_URL``, ``STACQL_STORAGE_URL``...) to the
    environment the server inherits. ``python`` and ``cwd`` run another installation of
    stacql (a virtual environment with a built wheel) away from this checkout.

    Raises ``ServerDidNotStart`` with the end of the server's log when it exits or does not
    answer ``GET /`` within ``startup_timeout`` seconds. The process is stopped on exit
    (SIGTERM, then SIGKILL after ``SHUTDOWN_TIMEOUT_S``), whatever happens in the block.
    ``log_lines``, when given, receives the server's output once it has stopped.
    """
    with tempfile.TemporaryFile(prefix="stacql-serve-", suffix=".log") as log:
        for _attempt in range(START_ATTEMPTS):
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            process = _spawn(database_url, port, log, env or {}, python, cwd)
            try:
                if _wait_until_up(process, url, startup_timeout):
                    break
            except BaseException:
                _stop(process)
                raise
            timed_out = process.poll() is None
            _stop(process)
            if timed_out:
                raise ServerDidNotStart(
                    f"stacql serve did not answer {url} within {startup_timeout:.0f} s; "
                    f"log:\n{_log_tail(log)}"
                )
            if "address already in use" not in _log_text(log):
                raise ServerDidNotStart(f"stacql serve exited at startup; log:\n{_log_tail(log)}")
        else:
            raise ServerDidNotStart(f"no free port after {START_ATTEMPTS} attempts")
        try:
            yield url
        finally:
            _stop(process)
            if log_lines is not None:
                log_lines.extend(_log_text(log).splitlines())
