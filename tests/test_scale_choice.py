"""The FAISS index type is chosen by size: exact below EXACT_LIMIT, IVF-SQ8 above (bench/scale.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa import store as store_module
from qa.answering.query import parse_query
from qa.answering.retrieve import retrieve
from qa.config import load
from qa.store import Store, faiss_index, write_generation
from qa.types import Article, Chunk

DIM = 128


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors in topics -> stories -> chunks, like sentence embeddings (random ones are the
    worst case for approximate search and nothing like real data)."""
    rng = np.random.default_rng(seed)

    def unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def around(centres: np.ndarray, m: int, spread: float) -> np.ndarray:
        picked = centres[rng.integers(len(centres), size=m)]
        return unit(picked + spread * unit(rng.standard_normal((m, DIM))))

    return around(around(unit(rng.standard_normal((40, DIM))), 800, 0.9), n, 1.0)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def test_small_stores_are_exact() -> None:
    vectors = clustered(500)
    index, kind = faiss_index(vectors)
    assert kind == "Flat"
    assert index.ntotal == 500
    assert index.search(vectors[:1], 1)[1][0][0] == 0


def test_large_stores_are_approximate_with_high_recall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "EXACT_LIMIT", 5_000)
    vectors = clustered(20_000)
    index, kind = faiss_index(vectors)
    assert kind.startswith("IVF") and kind.endswith("SQ8")
    assert index.ntotal == 20_000
    rng = np.random.default_rng(1)
    queries = vectors[rng.choice(20_000, 100, replace=False)] + 0.05 * rng.standard_normal((100, DIM))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    found = index.search(queries, 10)[1]
    assert recall(found, exact_top(vectors, queries, 10)) >= 0.95


class FixedEmbedder:
    name, dim = "synthetic", DIM

    def __init__(self, vector: np.ndarray):
        self.vector = vector

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.tile(self.vector, (len(texts), 1))


def test_an_approximate_store_searches_correctly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "EXACT_LIMIT", 1_000)
    n = 6_000
    vectors = clustered(n, seed=2)
    texts = [f"dispatch number{i} about story {i % 97} and the ministers" for i in range(n)]
    articles = [Article(f"a{i}.txt", f"Title {i}", texts[i], f"h{i}") for i in range(n)]
    chunks = [Chunk(f"c{i}", f"a{i}.txt", 0, len(texts[i]), texts[i], 0) for i in range(n)]
    manifest = {"embed_model": "synthetic", "dim": DIM, "chunk_words": 80, "chunk_overlap": 1,
                "built_at": "2024-01-01T00:00:00"}
    written = write_generation(tmp_path, articles, chunks, [c.id for c in chunks], vectors, manifest)
    assert written.faiss_type.startswith("IVF")

    store = Store.open(tmp_path)
    assert store.manifest.faiss_type == written.faiss_type
    assert store.faiss.nprobe == store_module.IVF_NPROBE
    probes = list(range(0, n, 600))
    assert [store.dense(vectors[i], 1)[0][0] for i in probes] == probes
    found = np.array([[r for r, _ in store.dense(vectors[i], 10)] for i in probes])
    assert recall(found, exact_top(vectors, vectors[probes], 10)) >= 0.95

    result = retrieve(parse_query("number1234 ministers"), store, FixedEmbedder(vectors[1234]), load({}))
    assert result.hits[0].chunk.id == "c1234"
    assert result.hits[0].chunk.text == texts[1234]
