"""Checksums a worker computed, kept in Redis, so a stored file ingested again unchanged
(a folder ingested again, a watcher restarted) is not read whole again for
``file:checksum``.

An entry is keyed by the hash function and the file's real path, and holds the file's
device, inode, size, modification and change times (nanoseconds) as they were before
it was hashed. It is used only while all five still match: writing to the file or
replacing it changes its change time or inode, and the change time cannot be set back
from user space. An entry is written only when the file did not change while it was
hashed, and expires after ``ttl`` seconds. Redis failing costs a hash, never the job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from catalog.checksums import is_multihash
from workers.extract.files import KnownChecksum

log = logging.getLogger(__name__)

KEY_PREFIX = "stacql:checksum:"


@dataclass(frozen=True)
class FileState:
    """What identifies one version of a file's bytes without reading them."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileState:
        """The state of ``path`` now."""
        st = os.stat(path)
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ChecksumCache:
    """Checksums of local files in Redis (see the module's docstring)."""

    def __init__(self, redis: Redis, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl

    @staticmethod
    def key(path: Path, algorithm: str) -> str:
        """The Redis key of ``path``'s checksum with ``algorithm``."""
        where = hashlib.sha256(os.fsencode(os.path.realpath(path))).hexdigest()
        return f"{KEY_PREFIX}{algorithm}:{where}"

    def get(self, path: Path, algorithm: str) -> tuple[FileState, KnownChecksum | None]:
        """The file's state now, and its checksum when one was stored for that state."""
        state = FileState.of(path)
        try:
            raw = self.redis.get(self.key(path, algorithm))
        except RedisError as exc:
            log.warning("checksum cache: %s", exc)
            return state, None
        if raw is None:
            return state, None
        try:
            entry = json.loads(raw)
            stored, checksum = FileState(**entry["state"]), entry["checksum"]
        except (ValueError, TypeError, KeyError):
            return state, None  # not an entry of this version: hash again
        if stored != state or not is_multihash(checksum):
            return state, None
        return state, KnownChecksum(state.size, checksum)

    def put(self, path: Path, algorithm: str, before: FileState, checksum: str) -> None:
        """Store ``checksum``, computed from the file in state ``before``, unless the
        file has changed since."""
        if FileState.of(path) != before:
            return
        entry = json.dumps({"state": asdict(before), "checksum": checksum})
        try:
            self.redis.set(self.key(path, algorithm), entry, ex=self.ttl)
        except RedisError as exc:
            log.warning("checksum cache: %s", exc)
