"""The FAISS index type is chosen by size: exact up to EXACT_LIMIT, IVF-SQ8 up to PQ_LIMIT, IVF-PQ re-ranked
from a float16 copy on disk above (bench/scale.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa import store as store_module
from qa.answering.query import parse_query
from qa.answering.retrieve import retrieve
from qa.config import load
from qa.errors import IndexCorrupt
from qa.store import Store, faiss_index, pq_bytes, write_generation
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


@pytest.fixture
def small_pq(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compact type from 5,000 vectors, with 16 sub-quantisers: training 64 of them on 128-d
    vectors (2 dimensions each) takes a minute, which the quick tier cannot spend."""
    monkeypatch.setattr(store_module, "EXACT_LIMIT", 1_000)
    monkeypatch.setattr(store_module, "PQ_LIMIT", 5_000)
    monkeypatch.setattr(store_module, "PQ_M", 16)


def test_pq_bytes_divide_the_dimension(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pq_bytes(384) == store_module.PQ_M
    monkeypatch.setattr(store_module, "PQ_M", 64)
    assert [pq_bytes(d) for d in (384, 128, 100, 7)] == [64, 64, 50, 7]


def _synthetic_store(tmp_path: Path, vectors: np.ndarray) -> tuple[list[str], str]:
    n = len(vectors)
    texts = [f"dispatch number{i} about story {i % 97} and the ministers" for i in range(n)]
    articles = [Article(f"a{i}.txt", f"Title {i}", texts[i], f"h{i}") for i in range(n)]
    chunks = [Chunk(f"c{i}", f"a{i}.txt", 0, len(texts[i]), texts[i], 0) for i in range(n)]
    manifest = {"embed_model": "synthetic", "dim": DIM, "chunk_words": 80, "chunk_overlap": 1,
                "built_at": "2024-01-01T00:00:00"}
    written = write_generation(tmp_path, articles, chunks, [c.id for c in chunks], vectors, manifest)
    return texts, written.faiss_type


@pytest.mark.usefixtures("small_pq")
def test_a_product_quantised_store_reranks_from_disk(tmp_path: Path) -> None:
    n = 12_000
    vectors = clustered(n, seed=3)
    texts, kind = _synthetic_store(tmp_path, vectors)
    assert kind == f"IVF{store_module.ivf_lists(n)},PQ16{store_module.RERANKED}"
    store = Store.open(tmp_path)
    assert store.faiss.code_size == 16  # bytes a vector in memory
    gen = tmp_path / store.manifest.generation
    assert (gen / store_module.RERANK_FILE).stat().st_size == n * DIM * 2  # float16, on disk
    assert store.reranker is not None and store.faiss.nprobe == store_module.IVF_NPROBE
    probes = list(range(0, n, 600))
    top = [store.dense(vectors[i], 10) for i in probes]
    assert [t[0][0] for t in top] == probes
    for t in top:  # scores are the float16 copy's inner products, best first
        assert [s for _, s in t] == sorted((s for _, s in t), reverse=True)
        assert all(abs(s - float(vectors[r] @ vectors[t[0][0]])) < 2e-3 for r, s in t)
    rng = np.random.default_rng(4)
    queries = vectors[rng.choice(n, 100, replace=False)] + 0.05 * rng.standard_normal((100, DIM))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    found = np.array([[r for r, _ in store.dense(q, 10)] for q in queries])
    assert recall(found, exact_top(vectors, queries, 10)) >= 0.95
    result = retrieve(parse_query("number1234 ministers"), store, FixedEmbedder(vectors[1234]), load({}))
    assert result.hits[0].chunk.text == texts[1234]
    with (gen / store_module.RERANK_FILE).open("r+b") as f:
        f.truncate(1000)
    with pytest.raises(IndexCorrupt, match=store_module.RERANK_FILE):
        Store.open(tmp_path)


def test_an_approximate_store_searches_correctly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "EXACT_LIMIT", 1_000)
    n = 6_000
    vectors = clustered(n, seed=2)
    texts, kind = _synthetic_store(tmp_path, vectors)
    assert kind.startswith("IVF")

    store = Store.open(tmp_path)
    assert store.manifest.faiss_type == kind
    assert store.faiss.nprobe == store_module.IVF_NPROBE
    probes = list(range(0, n, 600))
    assert [store.dense(vectors[i], 1)[0][0] for i in probes] == probes
    found = np.array([[r for r, _ in store.dense(vectors[i], 10)] for i in probes])
    assert recall(found, exact_top(vectors, vectors[probes], 10)) >= 0.95

    result = retrieve(parse_query("number1234 ministers"), store, FixedEmbedder(vectors[1234]), load({}))
    assert result.hits[0].chunk.id == "c1234"
    assert result.hits[0].chunk.text == texts[1234]
