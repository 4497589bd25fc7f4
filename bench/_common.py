"""Small helpers shared by the benchmarks: paths, timing, machine load, corpus replication.

The machine is shared (2 cores, other people's jobs), so every figure is reported with the
load average next to it, and timings are never asserted.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "articles"
EVAL = ROOT.parent / "shared" / "eval"
CLAPNQ = EVAL / "clapnq"

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # benches never download
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds on the clock
    cpu: float  # seconds of CPU used by this process (all threads): less sensitive to other jobs

    def rate(self, n: int) -> dict[str, float]:
        """Items per wall second and per CPU second."""
        return {"per_s": round(n / max(self.wall, 1e-9), 1), "per_cpu_s": round(n / max(self.cpu, 1e-9), 1)}


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Timing]:
    """Call fn and measure it: `(result, Timing)`."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


def load_average() -> float:
    """The 1-minute load average; above the core count, other jobs compete for the CPU."""
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "load_average": load_average()}


def replicate_articles(src: Path, dst: Path, copies: int) -> int:
    """Write `copies` variants of every article file of `src` into `dst`; returns the file count.

    Each copy rotates the paragraphs (moving chunk boundaries), ends every paragraph with a
    short sentence naming the edition and closes with a unique line. So every copy's content
    hash and every chunk text differ: the embedding cache (keyed by text) cannot shortcut the
    work as it would for verbatim copies. (The headline, or a file's front matter, is left alone:
    the cleaner rewrites some headlines, which would drop a marker put there.) Copy k of `a.md`
    is `copy_name("a.md", k)`.

    >>> # replicate_articles(Path("articles"), Path("/tmp/big"), 3) -> 15 files for 5 articles
    """
    dst.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(p for p in src.iterdir() if p.is_file()):
        head, body = _head_and_body(path.read_text(encoding="utf-8"))
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
        for k in range(1, copies + 1):
            turn = k % max(len(paragraphs), 1)
            rotated = [f"{p} Edition {k}." for p in paragraphs[turn:] + paragraphs[:turn]]
            text = (f"{head}\n\n" + "\n\n".join(rotated)
                    + f"\n\nThis is edition {k} of the story, filed as copy number {k}.\n")
            (dst / copy_name(path.name, k)).write_text(text, encoding="utf-8")
            written += 1
    return written


def copy_name(name: str, k: int) -> str:
    """The file name of copy k of article file `name` (replicate_articles)."""
    path = Path(name)
    return f"{path.stem}-copy{k:04d}{path.suffix}"


def _head_and_body(text: str) -> tuple[str, str]:
    """What a copy keeps as it is (a leading front-matter block, else the headline line), and the rest."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end >= 0:
            return text[:end + 4], text[end + 5:]
    title, _, body = text.partition("\n")
    return title.strip(), body


def say(*parts: Any, quiet: bool = False) -> None:
    """Progress and figures on stderr when --json keeps stdout for the JSON object."""
    print(*parts, file=sys.stderr if quiet else sys.stdout, flush=True)
