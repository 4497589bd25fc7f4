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
    work as it would for verbatim copies. (The headline is left alone: the cleaner rewrites
    some headlines, which would drop a marker put there.)

    >>> # replicate_articles(Path("articles"), Path("/tmp/big"), 3) -> 15 files for 5 articles
    """
    dst.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(p for p in src.iterdir() if p.is_file()):
        title, _, body = path.read_text(encoding="utf-8").partition("\n")
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
        for k in range(1, copies + 1):
            turn = k % max(len(paragraphs), 1)
            rotated = [f"{p} Edition {k}." for p in paragraphs[turn:] + paragraphs[:turn]]
            text = (f"{title.strip()}\n\n" + "\n\n".join(rotated)
                    + f"\n\nThis is edition {k} of the story, filed as copy number {k}.\n")
            (dst / f"{path.stem}-copy{k:04d}{path.suffix}").write_text(text, encoding="utf-8")
            written += 1
    return written


def say(*parts: Any, quiet: bool = False) -> None:
    """Progress and figures on stderr when --json keeps stdout for the JSON object."""
    print(*parts, file=sys.stderr if quiet else sys.stdout, flush=True)
