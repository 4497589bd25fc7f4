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
EVAL = ROOT.parent / "shared" / "eval"


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
