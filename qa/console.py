"""What an index build shows on a terminal: progress bars, the summary, and the first start's build.

Its own module so that the CLI and the web app's start-up share it without importing each other.
"""

from __future__ import annotations

import sys
from typing import Any

from qa.config import Settings
from qa.errors import QAError
from qa.types import BuildSummary


class ProgressBars:
    """tqdm bars on stderr, one per build stage (chunking, embedding), with ETA."""

    def __init__(self, enabled: bool):
        self.enabled, self.skipped = enabled, 0
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "skip":
            self.skipped += 1
            return
        if not self.enabled or stage == "write":
            return
        from tqdm import tqdm

        label = {"chunk": "articles", "embed": "chunks embedded", "fetch": "pages and feeds"}.get(stage, stage)
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=label, unit="", file=sys.stderr, leave=True)
        bar.total = total
        bar.n = done
        bar.refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def print_summary(summary: BuildSummary, settings: Settings) -> None:
    print(f"index {settings.index_dir}/ {summary.generation}: {summary.articles} articles, "
          f"{summary.chunks} chunks in {summary.seconds:.1f} s", flush=True)
    print(f"  added {summary.added}, updated {summary.updated}, removed {summary.removed}, "
          f"unchanged {summary.unchanged}; embedded {summary.embedded_chunks} chunks; "
          f"skipped {len(summary.skipped)}", flush=True)
    for s in summary.skipped:
        print(f"  skipped {s.path}: {s.reason}", flush=True)


def ensure_index(settings: Settings) -> None:
    """Build the index of the articles folder when there is none yet (a server's first start)."""
    from qa import store

    try:
        if store.current_generation(settings.index_dir) is not None:
            return
    except QAError:
        return  # a damaged pointer: the app shows the message and the Library tab can rebuild
    from qa.indexing.build import build_index

    print(f"news-qa: no index in {settings.index_dir}/ yet: indexing {settings.articles_dir}/ first…",
          flush=True)
    bars = ProgressBars(enabled=True)
    try:
        summary = build_index(settings, progress=bars)
    except QAError as exc:
        print(f"news-qa: could not build the index: {exc}", file=sys.stderr)
        return
    finally:
        bars.close()
    print_summary(summary, settings)
