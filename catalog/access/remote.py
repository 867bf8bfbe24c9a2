"""Which URLs the server may fetch on a caller's behalf (``ingestCatalog(href)``...).

By default: ``https`` and ``http`` only (no ``file://``, ``ftp://``, GDAL ``/vsi*`` paths),
and never a loopback, private, link-local or otherwise non-public address, checked on
every address the host name resolves to, so a caller cannot make stacql read its own
files or probe the internal network. An allow-list of hosts narrows it further.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from catalog.errors import Forbidden, InvalidInput

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise InvalidInput(f"the host {host!r} cannot be resolved") from exc
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class FetchPolicy:
    """What remote fetches are allowed."""

    schemes: tuple[str, ...] = ("https", "http")
    allowed_hosts: tuple[str, ...] = ()
    """When not empty, only these hosts (exact names, case-insensitive)."""
    allow_private: bool = False
    local_roots: tuple[str, ...] = ()
    """Server folders whose files (absolute paths or ``file://`` URLs) may be read; none
    by default."""
    resolver: Resolver = field(default=resolve, compare=False)

    def check(self, url: str) -> str:
        """``url`` if it may be fetched; ``InvalidInput`` or ``Forbidden`` otherwise."""
        parts = urlsplit(url.strip())
        if parts.scheme in ("", "file"):
            return self._check_local(url.strip(), parts.path)
        if parts.scheme.lower() not in self.schemes:
            raise Forbidden(
                f"only {', '.join(self.schemes)} URLs may be fetched, not {parts.scheme or url!r}"
            )
        host = (parts.hostname or "").lower()
        if not host:
            raise InvalidInput(f"{url!r} names no host")
        if self.allowed_hosts and host not in {h.lower() for h in self.allowed_hosts}:
            raise Forbidden(f"the host {host!r} is not in the allowed list")
        if not self.allow_private:
            for address in self._addresses(host):
                if not ipaddress.ip_address(address).is_global:
                    raise Forbidden(f"{host!r} is a local or private address ({address})")
        return url.strip()

    def _check_local(self, url: str, path: str) -> str:
        if not self.local_roots:
            raise Forbidden("server files cannot be ingested here; give an http(s) URL")
        resolved = Path(path).resolve()
        for root in self.local_roots:
            if resolved.is_relative_to(Path(root).resolve()):
                return str(resolved)
        raise Forbidden(f"{url!r} is outside the folders ingests may read")

    def _addresses(self, host: str) -> Sequence[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return self.resolver(host)
