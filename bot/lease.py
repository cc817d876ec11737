"""Leases on build directories: while a process serves a build it holds a shared lock on that build's directory, so
a build written by any process removes an old build only once nobody serves it any more (`bot/index/store.py`,
`_remove_old_builds`, tries the exclusive lock before deleting).

An flock belongs to the open directory; the kernel drops it when the process exits, however it exits, so a killed
bot never pins a build for good.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class BuildLease:
    """A shared lock on one build directory, held until `release()`."""

    def __init__(self, build: Path, fd: int) -> None:
        self.build = build
        self._fd: int | None = fd

    @classmethod
    def take(cls, build: Path) -> BuildLease | None:
        """Lease `build`; None when it is gone or being removed (a newer build has replaced it)."""
        try:
            fd = os.open(build, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        if not (build / "manifest.json").exists():  # removed between open and lock
            os.close(fd)
            return None
        return cls(build, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = None
