"""A TCP forwarder in front of a service (PostgreSQL, an S3 server), so a test can make it
unreachable for a worker (the port refuses or drops connections) and then bring it back."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


def free_port() -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
        target.shutdown(socket.SHUT_WR)  # an orderly end passes through
    except OSError:
        # One side is gone: close both, or the other would wait for an answer forever.
        for sock in (source, target):
            with suppress(OSError):
                sock.close()


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target`` once :meth:`open` is called; until then
    connections to the port are refused. The first ``drop_first`` connections accepted
    are closed at once (a service that is down, then back)."""

    def __init__(self, port: int, target: tuple[str, int], drop_first: int = 0) -> None:
        self.port, self.target = port, target
        self.drop_first = drop_first
        self._server: socket.socket | None = None

    def open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._server is not None
        with suppress(OSError):
            while True:
                client, _ = self._server.accept()
                if self.drop_first > 0:
                    self.drop_first -= 1
                    client.close()
                    continue
                upstream = socket.create_connection(self.target)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
