"""Retrieval at scale: build stores of 100k and 1M chunks, report build time, loaded memory, latency, recall.

    .venv/bin/python bench/scale.py [--sizes 100000,1000000] [--json] [--compare] [--exact-limit N]
                                    [--work DIR]
    .venv/bin/python bench/scale.py --compare-only --sizes 100000 [--types 'Flat;IVF2√n,PQ64+rerank16']
    .venv/bin/python bench/scale.py --huge 2000000      # the compact type (IVF-PQ + re-ranking), streamed

Both sizes take ~15 min on 2 shared cores (~23 with --compare) and peak at ~8 GB of RAM.
`--huge N` builds the type used above qa.store.PQ_LIMIT on N vectors made and added 100,000 at a time
(never N float32 at once), with exact ground truth streamed over the same blocks; 2M took 15 min on
2 shared cores, 10M took 62 min (cores shared with a test run).

This measures the store and the search, not the embedder, so texts and vectors are synthetic:

* Vectors: random unit vectors in 384-d are the worst case for approximate search (no structure,
  every neighbour nearly tied), and nothing like sentence embeddings. Real MiniLM embeddings of
  news are clustered at several scales: passages of one story are close (cosine ~0.5), passages
  of one broad topic less so (~0.25), unrelated passages near 0. So vectors are drawn from a
  two-level Gaussian mixture on the sphere: TOPICS random topic centres, STORIES story centres
  around them (cosine ~0.75 to their topic), and each chunk around a story (cosine ~0.7). The
  story count is fixed, so the 1M store has ~250 near-tied chunks per story: inside a story the
  noise is isotropic, which keeps recall@10 honest (ranks 2-10 are decided among many close ties).
  A query is a stored vector perturbed to cosine ~0.8 (a question is close to, not equal to, the
  passage that answers it). Ground truth is exact float32 inner-product search (IndexFlatIP).
* Texts: 80-word chunks whose words follow a Zipf law (s=1 for the 10k most common words, steeper
  beyond, see `word_cdf`) over a vocabulary whose head is the seed articles' words in their real
  frequency order (stop words included, as in real text) and whose tail is generated pronounceable
  tokens (names, places, rare words). So BM25 posting lists have realistic lengths (a few terms in
  a large share of chunks, most terms rare) and the vocabulary grows with the corpus as news
  vocabularies do, which matters for the spelling-variant look-up that scans it. A query's
  text is six words of the chunk its vector came from.

The store is built with `qa.store.write_generation` (SQLite + FAISS + BM25 + manifest, as the
product does), then a fresh subprocess opens it with `Store.open` and reports the RSS growth
(the loaded index's resident memory) and the latency of `qa.answering.retrieve.retrieve` (dense + BM25 +
fusion + SQLite look-ups + relevance gate) with an embedder that returns the precomputed query
vector, so embedding time is excluded (the spelling-variant memo is emptied before each timed
query: every query pays its own look-ups). `--compare` also builds the candidate FAISS index types
directly on the same vectors (Flat, HNSW32+SQ8, IVF+SQ8) and reports each one's build time,
size, single-query latency and recall@10, which is how `faiss_index()` and EXACT_LIMIT were chosen.

The machine is shared (2 cores, other people's jobs): latencies and build times are noisy; the
bench reports the load average next to them.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM = 384
TOPICS = 200
STORIES = 4000
WORDS_PER_CHUNK = 80
CHUNKS_PER_ARTICLE = 8
VOCAB = 3_000_000
ZIPF_HEAD = 10_000
ZIPF_TAIL = 1.7
QUERIES = 200
SEED = 7
PQ_CANDIDATES = (32, 48, 64, 96)  # PQ bytes a vector
BLOCK = 100_000  # vectors generated, added and searched at a time by --huge


# --- synthetic vectors ---------------------------------------------------------------------------

def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _noise(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """n random directions of length `scale`: unit(c + noise) then has cosine 1/sqrt(1+scale²) to c."""
    return _unit(rng.standard_normal((n, DIM), dtype=np.float32)) * np.float32(scale)


def clustered_vectors(n: int, rng: np.random.Generator, block: int = 100_000) -> np.ndarray:
    """n unit vectors from a topic -> story -> chunk mixture (see the module docstring)."""
    topics = _unit(rng.standard_normal((TOPICS, DIM), dtype=np.float32))
    stories = _unit(topics[rng.integers(TOPICS, size=STORIES)] + _noise(rng, STORIES, 0.9))
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, block):  # blocks: never hold a float64 or a second full copy
        m = min(block, n - start)
        out[start:start + m] = _unit(stories[rng.integers(STORIES, size=m)] + _noise(rng, m, 1.0))
    return out


def perturbed(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Queries close to (cosine ~0.8), not equal to, the stored vectors they come from."""
    return _unit(vectors + _noise(rng, len(vectors), 0.75)).astype(np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index.search(queries, k)[1]


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top-k that the approximate top-k found."""
    hits = [len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


# --- synthetic texts -----------------------------------------------------------------------------

@functools.cache
def vocabulary(size: int = VOCAB) -> list[str]:
    """The seed articles' words by frequency, then distinct generated pronounceable tokens up to `size`."""
    rng = np.random.default_rng(SEED)
    text = " ".join(p.read_text().lower() for p in sorted((ROOT / "articles").glob("*.txt")))
    words = [w for w, _ in Counter(re.findall(r"[a-z]+", text)).most_common()]
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    seen = set(words)
    while len(words) < size:
        ids = rng.integers(len(syllables), size=(size, 4))
        lengths = rng.choice([2, 3, 4], p=[0.2, 0.5, 0.3], size=size)
        for row, length in zip(ids.tolist(), lengths.tolist(), strict=True):
            word = "".join(syllables[j] for j in row[:length])
            if word not in seen and len(words) < size:
                seen.add(word)
                words.append(word)
    return words


def word_cdf(size: int) -> np.ndarray:
    """Zipf(s=1) over the first ZIPF_HEAD ranks, then a steeper s=ZIPF_TAIL tail: about 250k distinct
    terms in 100k chunks and 840k in 1M (Heaps' law with beta ~0.53, as in news), 'the' ~9% of words."""
    ranks = np.arange(1, size + 1, dtype=np.float64)
    weights = np.where(ranks <= ZIPF_HEAD, 1 / ranks, ZIPF_HEAD ** (ZIPF_TAIL - 1) * ranks ** -ZIPF_TAIL)
    return np.cumsum(weights / weights.sum())


def synthetic_texts(n: int, words: list[str], rng: np.random.Generator, block: int = 50_000) -> list[str]:
    """n chunks of WORDS_PER_CHUNK words drawn from `word_cdf` over `words` (rank 1 = most common)."""
    cdf = word_cdf(len(words))
    vocab = np.array(words, dtype=object)
    texts: list[str] = []
    for start in range(0, n, block):
        m = min(block, n - start)
        ids = np.minimum(np.searchsorted(cdf, rng.random((m, WORDS_PER_CHUNK))), len(words) - 1)
        texts.extend(" ".join(row) for row in vocab[ids].tolist())
    return texts


def query_text(text: str, rng: np.random.Generator, words: int = 6) -> str:
    picked = rng.choice(text.split(), size=words, replace=False)
    return " ".join(picked) + "?"


# --- building a store the way the product does -------------------------------------------------

def build_store(index_dir: Path, texts: list[str], vectors: np.ndarray) -> tuple[float, str]:
    """write_generation on synthetic articles of CHUNKS_PER_ARTICLE chunks; (seconds, faiss type)."""
    from qa.store import write_generation
    from qa.types import Article, Chunk

    articles, chunks = [], []
    for a in range(0, len(texts), CHUNKS_PER_ARTICLE):
        article_id = f"synthetic/{a // CHUNKS_PER_ARTICLE:07d}.txt"
        parts = texts[a:a + CHUNKS_PER_ARTICLE]
        body = "\n".join(parts)
        start = 0
        for ordinal, part in enumerate(parts):
            end = start + len(part)
            chunks.append(Chunk(f"{article_id}#{ordinal}", article_id, start, end, part, ordinal))
            start = end + 1
        articles.append(Article(article_id, parts[0][:60], body, f"h{a}", "synthetic", None,
                                "2024-01-01", article_id))
    manifest = {"embed_model": "synthetic", "dim": DIM, "chunk_words": WORDS_PER_CHUNK,
                "chunk_overlap": 0, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    started = time.perf_counter()
    written = write_generation(index_dir, articles, chunks, [c.id for c in chunks], vectors, manifest)
    return time.perf_counter() - started, written.faiss_type


# --- measuring a loaded store in a fresh process -------------------------------------------------

class FixedEmbedder:
    """Returns the precomputed query vector: retrieval is timed without the embedding model."""

    name = "synthetic"
    dim = DIM

    def __init__(self) -> None:
        self.vector = np.zeros(DIM, dtype=np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.tile(self.vector, (len(texts), 1))


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _percentiles(ms: list[float]) -> dict[str, float]:
    return {f"p{p}_ms": round(float(np.percentile(ms, p)), 2) for p in (50, 95)}


def measure(index_dir: Path, queries_path: Path) -> dict[str, Any]:
    """Run inside the fresh subprocess: RSS growth from opening the store, then latencies and recall."""
    from qa import lexical
    from qa.answering.query import parse_query
    from qa.answering.retrieve import retrieve
    from qa.config import load
    from qa.store import Store

    for module in ("faiss", "bm25s", "rapidfuzz.process", "Stemmer", "scipy.sparse"):
        importlib.import_module(module)  # libraries are not the index: load them before the baseline
    before = _rss()
    started = time.perf_counter()
    store = Store.open(index_dir)
    open_s = time.perf_counter() - started
    loaded = _rss()
    data = np.load(queries_path, allow_pickle=False)
    vectors, truth, texts = data["vectors"], data["truth"], [str(t) for t in data["texts"]]
    settings, embedder = load({}), FixedEmbedder()
    total, dense, lex, found = [], [], [], []
    memo = store.bm25.vocab_list.found  # spelling variants found so far: each timing starts without
    for vector, text in zip(vectors, texts, strict=True):
        embedder.vector = vector
        memo.clear()
        started = time.perf_counter()
        retrieve(parse_query(text), store, embedder, settings)
        total.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        rows = store.dense(vector, 10)
        dense.append((time.perf_counter() - started) * 1000)
        memo.clear()
        started = time.perf_counter()
        lexical.search(store.bm25, lexical.tokens(text), settings.candidates)
        lex.append((time.perf_counter() - started) * 1000)
        found.append([r for r, _ in rows] + [-1] * (10 - len(rows)))
    return {"faiss_type": store.manifest.faiss_type, "open_s": round(open_s, 2),
            "rss_mb": round((loaded - before) / 2**20, 1),
            "rss_after_queries_mb": round((_rss() - before) / 2**20, 1),
            "retrieve": _percentiles(total), "dense": _percentiles(dense), "bm25": _percentiles(lex),
            "recall_at_10": round(recall_at(np.array(found), truth), 4),
            "bm25_vocab": len(store.bm25.vocab_dict)}


def measure_in_subprocess(index_dir: Path, queries_path: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--measure", str(index_dir), str(queries_path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


# --- comparing FAISS index types directly ------------------------------------------------------

def candidates(n: int) -> dict[str, Any]:
    """The index types to compare, as functions vectors -> trained, filled index."""
    import faiss

    def flat(v: np.ndarray) -> Any:
        index = faiss.IndexFlatIP(DIM)
        index.add(v)
        return index

    def hnsw(ef_construction: int) -> Any:
        def make(v: np.ndarray) -> Any:
            index = faiss.IndexHNSWSQ(DIM, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.train(v[:100_000])
            index.add(v)
            return index

        return make

    def ivf(per_root: int) -> Any:
        from qa.store import ivf_sq8

        return lambda v: ivf_sq8(v, int(per_root * np.sqrt(len(v))))

    def pq(m: int) -> Any:
        from qa.store import ivf_lists, ivf_pq, training_sample

        def make(v: np.ndarray) -> Any:
            index = ivf_pq(training_sample(v, ivf_lists(len(v))), len(v), m)
            index.add(v)
            return Reranked(index, v.astype(np.float16))

        return make

    kinds = {"Flat": flat, "IVF4√n,SQ8": ivf(4), "IVF2√n,SQ8": ivf(2)}
    kinds |= {f"IVF2√n,PQ{m}+rerank16": pq(m) for m in PQ_CANDIDATES}
    if n <= 200_000 or os.environ.get("SCALE_HNSW_1M"):  # at 1M: 10x+ its 100k build, 5-15 min here
        kinds["HNSW32,SQ8,efC40"] = hnsw(40)
        kinds["HNSW32,SQ8,efC100"] = hnsw(100)
    return kinds


class Reranked:
    """IVF-PQ candidates re-ranked from float16 vectors, as qa.store.Store does from its file on disk
    (here in memory: the same arithmetic, without a file per candidate type)."""

    def __init__(self, base: Any, f16: np.ndarray):
        from qa.store import PQ_K_FACTOR

        self.base, self.f16, self.k_factor = base, f16, PQ_K_FACTOR

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.base.search(query, k * self.k_factor)[1][0]
        rows = np.sort(rows[rows >= 0])
        scores = self.f16[rows].astype(np.float32) @ query[0]
        order = np.argsort(-scores, kind="stable")[:k]
        return scores[order][None], rows[order][None]


def index_mb(index: Any) -> float:
    """What a loaded index holds in memory (the float16 copy of a re-ranked one stays on disk)."""
    import faiss

    return faiss.serialize_index(getattr(index, "base", index)).nbytes / 2**20


def search_params(kind: str) -> list[tuple[str, int]]:
    if kind.startswith("HNSW"):
        return [("efSearch", ef) for ef in (64, 128, 256)]
    if "rerank" in kind:
        return [("nprobe,k_factor", p * 1000 + k) for p in (16, 32, 64) for k in (5, 10, 20)]
    if kind.startswith("IVF"):
        return [("nprobe", p) for p in (8, 16, 32, 64)]
    return [("", 0)]


def set_param(index: Any, name: str, value: int) -> None:
    import faiss

    if name == "efSearch":
        faiss.downcast_index(index).hnsw.efSearch = value
    elif name == "nprobe":
        faiss.extract_index_ivf(index).nprobe = value
    elif name == "nprobe,k_factor":  # both in one number: nprobe * 1000 + k_factor
        faiss.extract_index_ivf(index.base).nprobe = value // 1000
        index.k_factor = value % 1000


def param_label(name: str, value: int) -> str:
    if name == "nprobe,k_factor":
        return f"nprobe={value // 1000},k_factor={value % 1000}"
    return f"{name}={value}" if name else ""


def compare(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray,
            types: list[str] | None = None) -> list[dict[str, Any]]:
    import faiss

    rows = []
    for kind, make in candidates(len(vectors)).items():
        if types and kind not in types:
            continue
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # builds use every core, as faiss_index does
        started = time.perf_counter()
        index = make(vectors)
        build_s = time.perf_counter() - started
        faiss.omp_set_num_threads(1)  # one query at a time, as Store does
        size_mb = index_mb(index)
        for name, value in search_params(kind):
            set_param(index, name, value)
            ms, found = [], []
            for q in queries:
                started = time.perf_counter()
                found.append(index.search(q.reshape(1, -1), 10)[1][0])
                ms.append((time.perf_counter() - started) * 1000)
            rows.append({"type": kind, "param": param_label(name, value),
                         "build_s": round(build_s, 1), "size_mb": round(size_mb, 1), **_percentiles(ms),
                         "recall_at_10": round(recall_at(np.array(found), truth), 4)})
            print(json.dumps({"n": len(vectors), **rows[-1]}), file=sys.stderr, flush=True)
        del index
    return rows


# --- one size, end to end ----------------------------------------------------------------------

def compare_only(n: int, types: list[str] | None = None) -> dict[str, Any]:
    """The FAISS types on n vectors, without texts or a product store (no SQLite, no BM25)."""
    rng = np.random.default_rng(SEED)
    vectors = clustered_vectors(n, rng)
    queries = perturbed(vectors[rng.choice(n, size=QUERIES, replace=False)], rng)
    return {"n": n, "compare": compare(vectors, queries, exact_top(vectors, queries), types)}


def run_size(n: int, work: Path, do_compare: bool) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    vectors = clustered_vectors(n, rng)
    texts = synthetic_texts(n, vocabulary(), rng)
    source = rng.choice(n, size=QUERIES, replace=False)
    queries = perturbed(vectors[source], rng)
    q_texts = [query_text(texts[i], rng) for i in source]
    truth = exact_top(vectors, queries)
    result: dict[str, Any] = {"n": n, "generate_s": round(time.perf_counter() - started, 1)}
    if do_compare:
        result["compare"] = compare(vectors, queries, truth)
    index_dir = work / f"store-{n}"
    build_s, kind = build_store(index_dir, texts, vectors)
    result.update({"build_s": round(build_s, 1), "faiss_type": kind})
    del vectors, texts
    queries_path = work / f"queries-{n}.npz"
    np.savez(queries_path, vectors=queries, truth=truth, texts=np.array(q_texts))
    result.update(measure_in_subprocess(index_dir, queries_path))
    result["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    return result


# --- the compact type at 10M, streamed ----------------------------------------------------------

def centres(rng: np.random.Generator) -> np.ndarray:
    """The STORIES story centres of the mixture (`clustered_vectors`), drawn once."""
    topics = _unit(rng.standard_normal((TOPICS, DIM), dtype=np.float32))
    return _unit(topics[rng.integers(TOPICS, size=STORIES)] + _noise(rng, STORIES, 0.9))


def block(stories: np.ndarray, number: int, size: int = BLOCK) -> np.ndarray:
    """Block `number` of the streamed store: the same mixture as `clustered_vectors`, each block from
    its own seed, so any block can be made again without the ones before it."""
    rng = np.random.default_rng([SEED, number])
    return _unit(stories[rng.integers(STORIES, size=size)] + _noise(rng, size, 1.0)).astype(np.float32)


def merge_top(best: tuple[np.ndarray, np.ndarray], scores: np.ndarray, offset: int,
              k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The running exact top-k (scores, ids) merged with one block's scores (queries x block)."""
    part = np.argpartition(-scores, k, axis=1)[:, :k]
    all_scores = np.concatenate([best[0], np.take_along_axis(scores, part, axis=1)], axis=1)
    all_ids = np.concatenate([best[1], part + offset], axis=1)
    order = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(all_scores, order, axis=1), np.take_along_axis(all_ids, order, axis=1)


def huge(n: int, work: Path) -> dict[str, Any]:
    """Build the product's compact type (qa.store.ivf_pq and its float16 copy) on n streamed vectors,
    never holding more than one BLOCK of float32 beside the index; exact top-10 ground truth streamed
    over the same blocks. Then a fresh process loads the written index and reports its memory, and
    the latency and recall of the search a Store runs (PQ candidates re-ranked from the file)."""
    import faiss

    from qa import store

    stories = centres(np.random.default_rng(SEED))
    blocks = (n + BLOCK - 1) // BLOCK
    rng = np.random.default_rng([SEED, blocks + 1])
    # the blocks are independent draws of one mixture, so the first ones are as good a training sample
    # (and source of queries) as a strided one, without a pass over all n first
    wanted = store.IVF_TRAIN_PER_LIST * store.ivf_lists(n)
    sample = np.concatenate([block(stories, b) for b in range((wanted + BLOCK - 1) // BLOCK)])[:wanted]
    queries = perturbed(sample[rng.choice(min(len(sample), BLOCK), size=QUERIES, replace=False)], rng)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    started = time.perf_counter()
    index = store.ivf_pq(sample, n)
    train_s = time.perf_counter() - started
    del sample
    best = (np.full((QUERIES, 10), -np.inf, dtype=np.float32), np.full((QUERIES, 10), -1, dtype=np.int64))
    add_s = 0.0
    rerank = work / store.RERANK_FILE
    with rerank.open("wb") as copy:
        for b in range(blocks):
            vectors = block(stories, b, min(BLOCK, n - b * BLOCK))
            started = time.perf_counter()
            index.add(vectors)
            copy.write(vectors.astype(np.float16).tobytes())
            add_s += time.perf_counter() - started
            best = merge_top(best, queries @ vectors.T, b * BLOCK)
            if b % 10 == 9:
                print(json.dumps({"added": index.ntotal, "add_s": round(add_s, 1)}), file=sys.stderr, flush=True)
    path = work / "vectors.faiss"
    faiss.write_index(index, str(path))
    del index
    queries_path = work / f"huge-queries-{n}.npz"
    np.savez(queries_path, vectors=queries, truth=best[1])
    out = subprocess.run([sys.executable, __file__, "--measure-huge", str(work), str(queries_path)],
                         check=True, capture_output=True, text=True)
    return {"n": n, "faiss_type": store.pq_type(n), "train_s": round(train_s, 1), "add_s": round(add_s, 1),
            "index_file_mb": round(path.stat().st_size / 2**20, 1),
            "rerank_file_mb": round(rerank.stat().st_size / 2**20, 1), **json.loads(out.stdout),
            "load_avg": [round(x, 2) for x in os.getloadavg()]}


def measure_huge(work: Path, queries_path: Path) -> dict[str, Any]:
    """In a fresh process: RSS growth from loading the index, then latency and recall@10 of a Store's
    search (qa.store.Reranker on the float16 file) by nprobe and candidates re-ranked."""
    import faiss

    from qa import store

    importlib.import_module("faiss")
    before = _rss()
    index = faiss.read_index(str(work / "vectors.faiss"))
    store.set_search_params(index)
    reranker = store.Reranker(work / store.RERANK_FILE, DIM, index.ntotal)
    loaded = _rss()
    faiss.omp_set_num_threads(1)  # one query at a time, as Store does
    data = np.load(queries_path, allow_pickle=False)
    queries, truth = data["vectors"], data["truth"]
    runs = []
    for nprobe in (16, 32):
        for k_factor in (5, 10, 20, 40):
            index.nprobe = nprobe
            ms, found = [], []
            for q in queries:
                started = time.perf_counter()
                rows = index.search(q.reshape(1, -1), 10 * k_factor)[1][0]
                found.append([r for r, _ in reranker.top(q, rows.tolist(), 10)])
                ms.append((time.perf_counter() - started) * 1000)
            runs.append({"nprobe": nprobe, "k_factor": k_factor, **_percentiles(ms),
                         "recall_at_10": round(recall_at(np.array(found), truth), 4)})
    return {"rss_mb": round((loaded - before) / 2**20, 1), "rss_after_queries_mb": round((_rss() - before) / 2**20, 1),
            "product_setting": {"nprobe": store.IVF_NPROBE, "k_factor": store.PQ_K_FACTOR}, "runs": runs}


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| chunks | FAISS type | build s | RSS MB | retrieve p50/p95 ms | dense p50/p95 | "
             "bm25 p50/p95 | recall@10 |", "|---|---|---|---|---|---|---|---|"]
    for r in (r for r in results if "faiss_type" in r):  # --compare-only has no product store
        lines.append(f"| {r['n']:,} | {r['faiss_type']} | {r['build_s']} | {r['rss_mb']} | "
                     f"{r['retrieve']['p50_ms']} / {r['retrieve']['p95_ms']} | "
                     f"{r['dense']['p50_ms']} / {r['dense']['p95_ms']} | "
                     f"{r['bm25']['p50_ms']} / {r['bm25']['p95_ms']} | {r['recall_at_10']} |")
    for r in results:
        for c in r.get("compare", []):
            lines.append(f"compare n={r['n']:,} {c['type']} {c['param']}: build {c['build_s']} s, "
                         f"{c['size_mb']} MB, p50/p95 {c['p50_ms']}/{c['p95_ms']} ms, "
                         f"recall@10 {c['recall_at_10']}")
    return "\n".join(lines)


def huge_table(r: dict[str, Any]) -> str:
    lines = [f"{r['n']:,} vectors, {r['faiss_type']}: trained in {r['train_s']} s, added in {r['add_s']} s, "
             f"index file {r['index_file_mb']} MB (loaded: RSS +{r['rss_mb']} MB, +{r['rss_after_queries_mb']} MB "
             f"after the queries), float16 copy on disk {r['rerank_file_mb']} MB (load average {r['load_avg']})",
             "| nprobe | k_factor | p50/p95 ms | recall@10 |", "|---|---|---|---|"]
    lines += [f"| {x['nprobe']} | {x['k_factor']} | {x['p50_ms']} / {x['p95_ms']} | {x['recall_at_10']} |"
              for x in r["runs"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated chunk counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--compare", action="store_true", help="also compare FAISS index types directly")
    parser.add_argument("--exact-limit", type=int, help="override qa.store.EXACT_LIMIT (to measure Flat)")
    parser.add_argument("--work", type=Path, help="where the stores are built (default: a temporary folder)")
    parser.add_argument("--compare-only", action="store_true",
                        help="only compare FAISS index types on the vectors (no texts, SQLite or BM25)")
    parser.add_argument("--types", help="with --compare-only: the types to compare, ';'-separated names")
    parser.add_argument("--huge", type=int, metavar="N",
                        help="build the compact type (IVF-PQ + re-ranking) on N streamed vectors, e.g. 10000000")
    parser.add_argument("--measure", nargs=2, metavar=("INDEX_DIR", "QUERIES"), help=argparse.SUPPRESS)
    parser.add_argument("--measure-huge", nargs=2, metavar=("INDEX", "QUERIES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # the fresh subprocess
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]))))
        return 0
    if args.measure_huge:
        print(json.dumps(measure_huge(Path(args.measure_huge[0]), Path(args.measure_huge[1]))))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.exact_limit is not None:
        import qa.store

        qa.store.EXACT_LIMIT = args.exact_limit
    with tempfile.TemporaryDirectory(prefix="qa-scale-", dir=args.work) as tmp:
        if args.huge:
            report = huge(args.huge, Path(tmp))
            print(json.dumps(report, indent=2) if args.json else huge_table(report))
            return 0
        if args.compare_only:
            results = [compare_only(n, args.types.split(";") if args.types else None) for n in sizes]
        else:
            results = [run_size(n, Path(tmp), args.compare) for n in sizes]
    print(json.dumps({"results": results}, indent=2) if args.json else table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
