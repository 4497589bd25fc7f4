from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from qa.config import Settings, load

from .fakes import HashEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "articles"
EVAL = ROOT / "eval" / "seeds"  # the project's own copies of the seed question sets
NEWS = [ROOT / "eval" / "newsA" / "articles", ROOT / "eval" / "newsB" / "articles"]


def bulk_corpus(path: Path, records: int = 600) -> Path:
    """A corpus.jsonl of `records` distinct articles made from the paragraphs of the repository's
    news sets: enough text for a build that takes a minute, with nothing read from outside."""
    import json
    import re

    paragraphs = [p.strip() for folder in NEWS for f in sorted(folder.glob("*.md"))
                  for p in re.split(r"\n\s*\n", f.read_text(encoding="utf-8").split("---", 2)[-1])
                  if len(p.split()) > 20]
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            a, b = paragraphs[i % len(paragraphs)], paragraphs[(7 * i + 3) % len(paragraphs)]
            out.write(json.dumps({"doc_id": f"bulk-{i:04d}", "title": f"Bulletin {i}: {a.split('.')[0][:60]}",
                                  "text": f"{a}\n\n{b}\n\nBulletin number {i}."}) + "\n")
    return path


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A private copy of the five seed articles."""
    target = tmp_path / "articles"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, articles: Path) -> Settings:
    return load({}, articles_dir=articles, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")


@pytest.fixture
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    from qa.embed import make_embedder

    return make_embedder(load({}))


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium, headless, driven by Playwright (never `playwright install`: it downloads)."""
    from playwright.sync_api import sync_playwright

    from .live import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make chromium` (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):  # type: ignore[no-untyped-def]
    """A fresh browser tab on the module's `server` (a live app), once its chat box is there."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server.url)
    page.wait_for_selector("#question textarea")
    yield page
    context.close()
