"""Helpers for the end-to-end tests that run the app as a user does: `qa index` and `python app.py`
as subprocesses on a free local port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic"]


@dataclass(frozen=True)
class Corpus:
    articles: Path
    index: Path


@dataclass(frozen=True)
class App:
    url: str
    proc: subprocess.Popen[bytes]
    articles: Path
    index: Path
    log: Path
    startup_s: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(corpus: Corpus, **extra: str) -> dict[str, str]:
    """The environment of a user who points the app at `corpus` (no password, default host)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "QA_ARTICLES_DIR": str(corpus.articles), "QA_INDEX_DIR": str(corpus.index)}
    for name in ("QA_AUTH", "QA_HOST", "QA_PORT"):
        env.pop(name, None)
    return {**env, **extra}


def copy_seed_articles(target: Path) -> Path:
    shutil.copytree(ROOT / "articles", target)
    for path in target.iterdir():  # the copies may be read-only: tests add and remove files
        path.chmod(0o644)
    return target


def qa_index(corpus: Corpus) -> None:
    """`qa index` as a user runs it; fails the test with its stderr when it fails."""
    built = subprocess.run([sys.executable, "-m", "qa.cli", "index", "--articles", str(corpus.articles),
                            "--index", str(corpus.index), "--json"], cwd=ROOT, env=app_env(corpus),
                           capture_output=True, text=True, timeout=900)
    if built.returncode:
        pytest.fail(f"qa index failed ({built.returncode}):\n{built.stderr[-4000:]}")


def wait_for_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"app.py did not answer on {url} within {timeout} s:\n{log.read_text()[-4000:]}")


@contextmanager
def running_app(corpus: Corpus, log: Path, **env: str) -> Iterator[App]:
    """`python app.py` on a free port (contacted on 127.0.0.1 whatever QA_HOST is), stopped on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with log.open("wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=app_env(corpus, QA_PORT=str(port), **env),
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_http(url, proc, log)
            yield App(url, proc, corpus.articles, corpus.index, log, time.monotonic() - started)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def log_lines(log: Path, needle: str) -> list[str]:
    """Lines of a server log holding `needle` (read line by line: a log may be large)."""
    with log.open("rb") as f:
        return [line.decode(errors="replace").strip() for line in f if needle.encode() in line]
