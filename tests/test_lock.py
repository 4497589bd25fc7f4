"""qa.indexing.lock: one holder at a time, a wait with a deadline, the holder named, released when its process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa.errors import IndexBusy, QAError
from qa.indexing.build import build_lock
from qa.indexing.lock import hold

ROOT = Path(__file__).resolve().parent.parent

# Holds the build lock of the index folder given, says so, then sleeps until killed.
HOLDER = """
import sys, time
from pathlib import Path
from qa.indexing.lock import hold
from qa.errors import QAError
with hold(Path(sys.argv[1]) / ".lock", QAError):
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_holder_is_named_and_the_lock_is_free_again_after_release(tmp_path: Path) -> None:
    index = tmp_path / "index"  # created by the lock
    with build_lock(index):
        assert (index / ".lock").read_text() == f"pid {os.getpid()}"
        with pytest.raises(IndexBusy, match=rf"being built by pid {os.getpid()}: wait for that build"), \
                build_lock(index):
            pass
    with build_lock(index):  # released, in the same process too
        pass


def test_waits_up_to_wait_seconds_then_refuses(tmp_path: Path) -> None:
    with build_lock(tmp_path):
        started = time.monotonic()
        with pytest.raises(IndexBusy), build_lock(tmp_path, wait=0.5):
            pass
        assert 0.5 <= time.monotonic() - started < 5
        started = time.monotonic()
        with pytest.raises(IndexBusy), build_lock(tmp_path, wait=-1):  # one try, never "wait forever"
            pass
        assert time.monotonic() - started < 1


def test_a_waiting_build_gets_the_lock_when_the_holder_finishes(tmp_path: Path) -> None:
    held, release = threading.Event(), threading.Event()

    def first() -> None:
        with build_lock(tmp_path):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert held.wait(10)
    threading.Timer(0.3, release.set).start()
    with build_lock(tmp_path, wait=10):
        assert (tmp_path / ".lock").read_text() == f"pid {os.getpid()}"
    thread.join()


def test_the_busy_error_is_the_callers(tmp_path: Path) -> None:
    with hold(tmp_path / ".x.lock", QAError), pytest.raises(QAError, match=r"^someone$"), \
            hold(tmp_path / ".x.lock", lambda holder: QAError("someone")):
        pass


def test_kill_9_releases_the_lock(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(IndexBusy, match=rf"being built by pid {holder.pid}:"), build_lock(tmp_path):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        with build_lock(tmp_path, wait=5):  # the kernel dropped the dead process's lock; the file stays
            assert (tmp_path / ".lock").read_text() == f"pid {os.getpid()}"
    finally:
        holder.kill()
        holder.wait(10)
