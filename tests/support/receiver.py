"""A webhook receiver in its own process, on a loopback port, for the notice tests.

``python -m tests.support.receiver LOG PORT_FILE FAILURES`` answers 500 to its first
FAILURES posts and 204 to the rest, and appends each post (path, headers, body, the
status it answered) to LOG as a JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.live_server import _die_with_parent, _stop
from tests.support.paths import REPO


@dataclass(frozen=True)
class Receiver:
    """A running receiver: its base URL and the posts it got so far."""

    url: str
    log: Path

    def calls(self) -> list[dict[str, Any]]:
        """Every post received, in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


@contextmanager
def notice_receiver(folder: Path, failures: int = 0) -> Iterator[Receiver]:
    """Run a receiver failing its first ``failures`` posts; stopped on exit."""
    log, port_file = folder / "receiver.jsonl", folder / "receiver.port"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.receiver", str(log), str(port_file), str(failures)],
        cwd=REPO, stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.05)
        yield Receiver(f"http://127.0.0.1:{port_file.read_text().strip()}", log)
    finally:
        _stop(process)


def _serve(log: Path, port_file: Path, failures: int) -> None:
    lock = threading.Lock()
    received = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                received[0] += 1
                status = 500 if received[0] <= failures else 204
                entry = {
                    "path": self.path, "status": status, "headers": dict(self.headers),
                    "body": body.decode(),
                }
                with log.open("a") as file:
                    file.write(json.dumps(entry) + "\n")
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
