"""Inter-process locks on a file: one build per index, one fetching run per articles folder.

filelock's native lock is flock on Linux, so the kernel releases it when its process dies, even by
kill -9: a crashed build never leaves a stale lock behind. Its soft fallback (a marker file that a
dead process leaves in place) is turned off for that reason.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from qa.errors import QAError

POLL = 0.2  # seconds between tries while waiting for the holder to finish


def _record_holder(fd: int) -> None:
    """Write "pid N" into the lock file once it is held, for the message a waiting process gives."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)


def _holder(path: Path) -> str:
    """Who holds the lock, as the holder recorded it; the file can be empty for an instant after it is taken."""
    with contextlib.suppress(OSError):
        if text := path.read_text(encoding="utf-8", errors="replace").strip():
            return text
    return "another process"


@contextlib.contextmanager
def hold(path: Path, busy: Callable[[str], QAError], wait: float = 0.0) -> Iterator[None]:
    """Hold the exclusive lock on `path`, trying for up to `wait` seconds (once when 0).

    `busy(holder)` is raised when another process keeps it, `holder` being what that process recorded
    ("pid 123") or "another process". A second `hold` in the same process is refused too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, fallback_to_soft=False, on_acquired=_record_holder)
    try:
        lock.acquire(timeout=max(wait, 0.0), poll_interval=POLL)  # filelock waits forever on a negative timeout
    except Timeout:
        raise busy(_holder(path)) from None
    try:
        yield
    finally:
        lock.release()
