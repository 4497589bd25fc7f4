from __future__ import annotations

import numpy as np
import pytest

from qa.answering.engine import Engine
from qa.answering.query import conversation_query
from qa.answering.retrieve import diversify, rrf
from qa.config import Settings
from qa.indexing.build import build_index
from qa.types import Turn

from .fakes import HashEmbedder


def test_rrf_rewards_agreement() -> None:
    fused = rrf([[1, 2, 3], [3, 2, 9]])
    ranked = sorted(fused, key=lambda r: -fused[r])
    assert ranked[:2] == [2, 3] or ranked[:2] == [3, 2]
    assert set(fused) == {1, 2, 3, 9}


def test_diversify_caps_one_article_and_backfills() -> None:
    article = {1: "a", 2: "a", 3: "a", 4: "b", 5: "c"}
    assert diversify([1, 2, 3, 4, 5], article.__getitem__, 2, 4) == [1, 2, 4, 5]
    assert diversify([1, 2, 3], article.__getitem__, 1, 3) == [1, 2, 3]  # nothing else: backfill


def test_conversation_query_keeps_the_subject() -> None:
    history = [Turn("user", "Who visited Kyiv with Lloyd Austin?"), Turn("assistant", "Blinken [1].")]
    assert conversation_query("How long does aid take?", history).startswith("Who visited Kyiv")
    assert conversation_query("  Plain?  ") == "Plain?"


@pytest.fixture
def engine(settings: Settings, fake_embedder: HashEmbedder) -> Engine:
    build_index(settings, embedder=fake_embedder)
    return Engine(settings, embedder=fake_embedder)


def test_hybrid_finds_a_misspelled_name(engine: Engine) -> None:
    found = engine.search("Where did Blinken and Lavrov meet on December 2?")
    assert found.relevant
    assert found.hits[0].chunk.article_id == "004_76ac13b7a8ec9be8.txt"
    assert "Stockholm" in " ".join(h.chunk.text for h in found.hits[:2])


def test_gate_refuses_an_unrelated_question(engine: Engine, settings: Settings) -> None:
    # the hash embedder's cosines mean nothing: judge by term coverage alone
    found = engine.search("Who won the 2018 FIFA World Cup?", settings=settings.replace(gate_dense=1.1))
    assert not found.relevant
    assert found.hits  # the closest articles are still reported


def test_one_article_cannot_fill_every_slot(engine: Engine, settings: Settings) -> None:
    found = engine.search("Blinken Lavrov Putin Biden sanctions Russia Ukraine", settings=settings.replace(top_k=4))
    counts: dict[str, int] = {}
    for h in found.hits:
        counts[h.chunk.article_id] = counts.get(h.chunk.article_id, 0) + 1
    assert max(counts.values()) <= settings.per_article


def test_retrieval_hands_on_the_search_texts_vector(engine: Engine, fake_embedder: HashEmbedder) -> None:
    history = [Turn("user", "Where did Blinken and Lavrov meet?"), Turn("assistant", "In Stockholm [1].")]
    found = engine.search("What did Lavrov say?", history)
    assert found.query.search_text == "Where did Blinken and Lavrov meet? What did Lavrov say?"
    assert found.query.embedding is not None  # sentence selection reuses it instead of embedding it again
    assert np.array_equal(found.query.embedding, fake_embedder.embed([found.query.search_text])[0])
