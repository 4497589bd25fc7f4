"""The on-disk index: generations of FAISS + SQLite + BM25 + manifest, and an embedding cache.

    index/
      CURRENT             name of the live generation; switched with os.replace
      gen-000007/         one complete, immutable build
        manifest.json     format version, model, dimension, chunking, counts, FAISS type
        meta.sqlite       articles and chunks (chunk rowid == FAISS id == BM25 doc id)
        vectors.faiss     the dense index
        rerank.f16        above PQ_LIMIT chunks: float16 vectors the IVF-PQ candidates are re-ranked from
        bm25/             the bm25s index
      embeddings.sqlite   vectors by content hash: reused across builds, checkpointed as they are made
      .lock               held by a build

Readers only ever open the generation CURRENT names, so a build that dies half-way
leaves the previous index untouched; its leftovers (`*.tmp`) are removed by the next build.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import Settings
from qa.errors import IndexCorrupt, IndexMismatch, IndexMissing
from qa.types import Article, Chunk

FORMAT_VERSION = 1
CURRENT = "CURRENT"
EXACT_LIMIT = 50_000  # chunks: above this FAISS uses IVF over 8-bit scalar-quantised vectors (faiss_index)
PQ_LIMIT = 1_000_000  # chunks: above this, IVF over product-quantised codes, re-ranked (see PQ_M below)
REBUILD = "run `qa index --rebuild`"


@dataclass(frozen=True)
class Manifest:
    format_version: int
    generation: str
    embed_model: str
    dim: int
    chunk_words: int
    chunk_overlap: int
    articles: int
    chunks: int
    built_at: str
    faiss_type: str
    duplicate_groups: int = 0
    embed_words: int = 0  # indexes written before it existed embedded whole chunks

    @staticmethod
    def read(path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text())
            return Manifest(**data)
        except FileNotFoundError:
            raise IndexCorrupt(f"{path} is missing: the index is damaged; {REBUILD}.") from None
        except (ValueError, TypeError) as exc:
            raise IndexCorrupt(f"{path} is unreadable ({exc}): the index is damaged; {REBUILD}.") from None


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.exists():
        return None
    name = pointer.read_text().strip()
    if not name or "/" in name or name.startswith("."):
        raise IndexCorrupt(f"{pointer} holds {name!r}, not a generation name; {REBUILD}.")
    return index_dir / name


def read_manifest(index_dir: Path) -> Manifest:
    """The live manifest, without touching FAISS, SQLite or any model (for `qa status`)."""
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexMissing(f"no index in {index_dir}/: run `qa index` (or `make run`) to build it.")
    if not gen.is_dir():
        raise IndexCorrupt(f"{gen} (named by {index_dir / CURRENT}) is missing; {REBUILD}.")
    return Manifest.read(gen / "manifest.json")


def check_compatible(manifest: Manifest, embed_model: str, settings: Settings) -> None:
    """Refuse an index built with another model, chunking or embedded text, saying what to run."""
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(f"index format {manifest.format_version}, this version reads "
                            f"{FORMAT_VERSION}: {REBUILD}.")
    if manifest.embed_model != embed_model:
        raise IndexMismatch(f"index built with model {manifest.embed_model}, configured {embed_model}: "
                            f"{REBUILD}.")
    built = (manifest.chunk_words, manifest.chunk_overlap, manifest.embed_words)
    wanted = (settings.chunk_words, settings.chunk_overlap, settings.embed_words)
    if built != wanted:
        raise IndexMismatch(
            "index built with chunks of {} words / {} overlap / {} embedded words, configured {} / {} / {} "
            "(0 embedded words: all): {}.".format(*built, *wanted, REBUILD))


# --- the embedding cache -------------------------------------------------------------------------

class EmbeddingCache:
    """Vectors keyed by sha256(model + embedded text). Written batch by batch, so a build
    killed mid-way keeps what it embedded and the next build resumes from there."""

    def __init__(self, path: Path, dim: int):
        self.dim = dim
        self.db = sqlite3.connect(path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            batch = list(keys[i:i + 500])
            marks = ",".join("?" * len(batch))
            for key, blob in self.db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", batch):
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == self.dim:
                    found[key] = vec
        return found

    def put(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)

    def keep_only(self, keys: Iterable[str]) -> None:
        """Drop vectors no live chunk uses (after a successful build)."""
        with self.db:
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY)")
            self.db.execute("DELETE FROM live")
            self.db.executemany("INSERT OR IGNORE INTO live VALUES (?)", ((k,) for k in keys))
            self.db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM live)")

    def close(self) -> None:
        self.db.close()


# --- writing a generation ------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE articles (id TEXT PRIMARY KEY, title TEXT, text TEXT, content_hash TEXT, source TEXT,
                       url TEXT, published TEXT, path TEXT, group_id TEXT, n_chunks INTEGER);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, id TEXT UNIQUE, article_id TEXT, start INTEGER,
                     end INTEGER, ordinal INTEGER, text TEXT, embed_key TEXT);
CREATE INDEX chunks_article ON chunks(article_id);
"""


# Chosen with bench/scale.py: 2 cores shared with other jobs (load ~6, so timings are noisy),
# clustered synthetic 384-d vectors, 200 queries, one search thread:
# - Flat: dense search p50/p95 8.5/9 ms at 50k chunks, 14/18 ms at 100k, 120/140 ms at 1M. The whole
#   `qa search` path: p95 18 ms at 50k, 27 ms at 100k, where the 30 ms target has no margin left:
#   hence EXACT_LIMIT = 50k.
# - IVF-SQ8 with 2*sqrt(n) lists, nprobe 32: 0.3-1 ms p50, recall@10 0.994 at 100k, 0.984 at 1M,
#   built in 6.5 s / 114 s. 4*sqrt(n) lists: the same recall in twice the build time. Recall stops
#   rising at nprobe 8 here (SQ8 rounding is the rest); 32 leaves room for less clustered real data.
# - HNSW32-SQ8: efConstruction 40 reaches 0.97 at 100k (efSearch 256); 100 reaches 0.995 but builds
#   8x slower than IVF (52 s at 100k, 10+ min extrapolated to 1M) and its graph takes 60% more memory.
IVF_LISTS_PER_ROOT = 2
IVF_NPROBE = 32
IVF_TRAIN_ITER = 10  # k-means iterations: the lists only steer the search, nprobe absorbs rough edges
IVF_TRAIN_PER_LIST = 40
# IVF-PQ above PQ_LIMIT, chosen with bench/scale.py on 2026-11-30 (2 cores shared, load average 6,
# 24 GB; the same synthetic mixture, which is harder than MiniLM's news vectors; 200 queries):
# - Re-ranking from codes held in memory cannot reach recall@10 0.95 at 10M within 4 GB. Exact top-100
#   re-ranked from SQ6 codes (288 B a vector, 2.9 GB at 10M): 0.978 at 100k but 0.935 at 1M; from SQ8
#   (3.8 GB at 10M before any PQ code): 0.992 / 0.981; from float16: 0.999 at 1M.
# - So the float16 copy stays on disk (768 B a vector) and a query reads only its candidates
#   (PQ_K_FACTOR * k rows, pread); memory holds the PQ codes and ids: 71-72 B a vector (RSS +72.7 MB
#   at 1M, +142.7 MB at 2M, +697.6 MB at 10M). PQ64 over 2*sqrt(n) lists, nprobe 32, recall@10 with
#   5 / 10 / 20 / 40 candidates a result (p50 ms, file in the page cache):
#       300k  0.986 / 1.000 / 1.000 / -
#       1M    0.911 / 0.985 / 1.000 / -
#       2M    0.858 / 0.966 / 0.993 / 0.999     (1.2 / 1.3 / 1.6 / 2.2 ms)
#       10M   0.761 / 0.886 / 0.959 / 0.993     (2.9 / 3.1 / 3.6 / 3.0 ms)
#   The loss grows a little faster than n: at 10M, 20 candidates sit just above the 0.95 line and
#   40 keep 0.993: hence 40. nprobe 16 gives the same recall here; 32 is kept for less clustered real
#   data, as for IVF-SQ8.
# - Built under load 4-6: 1M in 113 s (training) + 273 s (adding), 2M in 200 s + 581 s, 10M in
#   283 s + 3,367 s (adding costs n x lists).
# - PQ_LIMIT: IVF-SQ8 meets its targets up to 1M (recall@10 0.984, bench figures above); beyond, its
#   recall falls as stories crowd and its 392 B a vector in memory grow 5x faster than PQ's 72.
PQ_M = 64  # bytes of PQ code a vector (8 bits per sub-quantiser, 384 / 64 = 6 dimensions each)
PQ_K_FACTOR = 40  # candidates re-ranked from the float16 copy on disk: PQ_K_FACTOR * k
ADD_BATCH = 100_000  # vectors handed to faiss (and to the float16 copy) at a time
RERANK_FILE = "rerank.f16"  # the compact type's vectors as float16, row by row: read per query, never loaded
RERANKED = "+rerank16"  # the suffix of a compact type's name in the manifest


def faiss_index(vectors: np.ndarray) -> tuple[Any, str]:
    """Exact inner product up to EXACT_LIMIT vectors, IVF over 8-bit scalar-quantised codes up to
    PQ_LIMIT, and above it IVF over product-quantised codes, whose candidates a Store re-ranks from
    a float16 copy of the vectors on disk (`write_rerank`, `Reranker`).

    Chosen with bench/scale.py (figures above): IVF-SQ8 searches a 1M store in about a millisecond
    at recall@10 ~0.98, holds a quarter of Flat's memory and builds 8x faster than an HNSW of equal
    recall on 2 cores; IVF-PQ with re-ranking holds a third less again, which is what lets 10M
    passages fit in a few GB.
    """
    import faiss

    n, dim = vectors.shape
    if n <= EXACT_LIMIT:
        index = faiss.IndexFlatIP(dim)
        if n:
            index.add(vectors)
        return index, "Flat"
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # k-means and list assignment use every core
    try:
        if n <= PQ_LIMIT:
            return ivf_sq8(vectors), f"IVF{ivf_lists(n)},SQ8"
        m = pq_bytes(dim)
        index = ivf_pq(training_sample(vectors, ivf_lists(n)), n, m)
        for start in range(0, n, ADD_BATCH):  # in slices: faiss copies what it is given to add
            index.add(vectors[start:start + ADD_BATCH])
        return index, pq_type(n, m)
    finally:
        faiss.omp_set_num_threads(threads)  # searches in this process keep their setting (Store)


def ivf_lists(n: int) -> int:
    """About IVF_LISTS_PER_ROOT * sqrt(n) inverted lists, but at least 39 training vectors a list
    (fewer and faiss warns that k-means is under-trained)."""
    return max(1, min(int(IVF_LISTS_PER_ROOT * np.sqrt(n)), n // 39))


def ivf_sq8(vectors: np.ndarray, nlist: int | None = None) -> Any:
    import faiss

    n, dim = vectors.shape
    nlist = nlist or ivf_lists(n)
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist,
                                          faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True  # unit vectors: centroids on the sphere suit inner product
    index.cp.niter = IVF_TRAIN_ITER
    index.train(training_sample(vectors, nlist))
    index.add(vectors)
    index.nprobe = IVF_NPROBE
    return index


def training_sample(vectors: np.ndarray, nlist: int) -> np.ndarray:
    """A strided sample of about IVF_TRAIN_PER_LIST vectors a list: k-means on all 1M vectors would
    take most of the build, and a stride keeps the sample's spread of topics."""
    n = len(vectors)
    return np.ascontiguousarray(vectors[:: max(1, n // (IVF_TRAIN_PER_LIST * nlist))], dtype=np.float32)


def pq_type(n: int, m: int | None = None) -> str:
    """The manifest's name for the compact type: IVF lists, PQ bytes a vector, re-ranked from float16."""
    return f"IVF{ivf_lists(n)},PQ{m or PQ_M}{RERANKED}"


def ivf_pq(sample: np.ndarray, n: int, m: int | None = None) -> Any:
    """An empty IVF-PQ index for `n` vectors, trained on `sample` (`training_sample`).

    Vectors are added afterwards, in slices if need be, so a caller never holds more than one slice
    beside the index. PQ codes rank near-ties too roughly for recall@10 on their own: a Store
    re-ranks PQ_K_FACTOR * k candidates from the float16 copy (`Reranker`).
    """
    import faiss

    dim = sample.shape[1]
    m = m or pq_bytes(dim)
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, ivf_lists(n), m, 8, faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True
    index.cp.niter = IVF_TRAIN_ITER
    index.do_polysemous_training = False  # minutes of annealing for Hamming filtering, which search does not use
    index.pq.cp.niter = IVF_TRAIN_ITER  # the codes only pick candidates: re-ranking orders them
    index.train(sample)
    index.nprobe = IVF_NPROBE
    return index


def pq_bytes(dim: int) -> int:
    """PQ_M, or the largest smaller count of sub-quantisers that divides `dim` (faiss needs one)."""
    return next(m for m in range(min(PQ_M, dim), 0, -1) if dim % m == 0)


def write_rerank(path: Path, vectors: np.ndarray) -> None:
    """The float16 copy the compact type re-ranks from, written slice by slice."""
    with path.open("wb") as f:
        for start in range(0, len(vectors), ADD_BATCH):
            f.write(np.ascontiguousarray(vectors[start:start + ADD_BATCH], dtype=np.float16).tobytes())


class Reranker:
    """Exact-enough scores of a few candidate rows, read from the float16 copy on disk.

    Rows are read with pread, a few hundred bytes each, so the copy costs disk, not memory: only the
    PQ codes are loaded. float16 keeps ~3 significant digits, enough to order near-ties (recall@10
    0.999 against float32 at 1M, bench/scale.py), where 6-bit codes in memory fell to 0.935.
    """

    def __init__(self, path: Path, dim: int, rows: int):
        self.path, self.dim, self.row_bytes = path, dim, dim * 2
        size = path.stat().st_size if path.exists() else -1
        if size != rows * self.row_bytes:
            raise IndexCorrupt(f"{path} holds {max(size, 0)} bytes, {rows} vectors need {rows * self.row_bytes}; "
                               f"{REBUILD}.")
        self.fd = os.open(path, os.O_RDONLY)  # pread on one descriptor is safe from many threads
        weakref.finalize(self, os.close, self.fd)  # closed with the Store that opened it

    def top(self, query: np.ndarray, rows: Sequence[int], k: int) -> list[tuple[int, float]]:
        wanted = sorted({int(r) for r in rows if r >= 0})  # in file order: neighbouring rows share pages
        if not wanted:
            return []
        data = b"".join(os.pread(self.fd, self.row_bytes, r * self.row_bytes) for r in wanted)
        scores = np.frombuffer(data, dtype=np.float16).reshape(len(wanted), self.dim).astype(np.float32) @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return [(wanted[i], float(scores[i])) for i in order]


def set_search_params(index: Any) -> None:
    """nprobe on an IVF index (written indexes do not keep it: it is a search-time setting)."""
    if hasattr(index, "nprobe"):
        index.nprobe = IVF_NPROBE


def write_bm25(path: Path, texts: Sequence[str]) -> None:
    from qa import lexical

    lexical.build(texts).save(str(path))


def write_generation(index_dir: Path, articles: Sequence[Article], chunks: Sequence[Chunk],
                     embed_keys: Sequence[str], vectors: np.ndarray, manifest: dict[str, Any],
                     groups: dict[str, str] | None = None) -> Manifest:
    """Write a complete generation beside the live one, then switch CURRENT to it atomically."""
    import faiss

    name = _next_generation_name(index_dir)
    tmp = index_dir / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts = {a.id: 0 for a in articles}
    for c in chunks:
        counts[c.article_id] += 1
    groups = groups or {}
    db = sqlite3.connect(tmp / "meta.sqlite")
    with db:
        db.executescript(_SCHEMA)
        db.executemany("INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?)", [
            (a.id, a.title, a.text, a.content_hash, a.source, a.url, a.published, a.path,
             groups.get(a.id), counts[a.id]) for a in articles])
        db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)", [
            (row, c.id, c.article_id, c.start, c.end, c.ordinal, c.text, key)
            for row, (c, key) in enumerate(zip(chunks, embed_keys, strict=True))])
    db.close()
    index, kind = faiss_index(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(tmp / "vectors.faiss"))
    if kind.endswith(RERANKED):
        write_rerank(tmp / RERANK_FILE, vectors)
    write_bm25(tmp / "bm25", [c.text for c in chunks])
    final = Manifest(format_version=FORMAT_VERSION, generation=name, articles=len(articles),
                     chunks=len(chunks), faiss_type=kind, **manifest)
    (tmp / "manifest.json").write_text(json.dumps(asdict(final), indent=2))
    _fsync_tree(tmp)
    os.replace(tmp, index_dir / name)
    pointer_tmp = index_dir / f"{CURRENT}.tmp"
    pointer_tmp.write_text(name + "\n")
    _fsync_file(pointer_tmp)
    os.replace(pointer_tmp, index_dir / CURRENT)  # the atomic switch
    _fsync_dir(index_dir)
    return final


def _next_generation_name(index_dir: Path) -> str:
    numbers = [int(p.name[4:10]) for p in index_dir.glob("gen-*") if p.name[4:10].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def remove_leftovers(index_dir: Path, keep: int = 2) -> list[str]:
    """Delete half-written generations and all but the `keep` newest complete ones
    (the previous generation stays for readers that still have it open)."""
    removed = []
    live = current_generation(index_dir)
    for p in index_dir.glob("*.tmp"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed.append(p.name)
    complete = sorted(p for p in index_dir.glob("gen-*") if p.is_dir())
    for p in complete[:-keep] if keep else complete:
        if live is None or p.name != live.name:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            _fsync_file(p)
    _fsync_dir(root)


# --- reading a generation ------------------------------------------------------------------------

@dataclass(frozen=True)
class ArticleInfo:
    """An indexed article as the library view and citations need it (no text)."""

    id: str
    title: str
    source: str | None
    url: str | None
    published: str | None
    chunks: int
    group_id: str | None


class Store:
    """One loaded generation: FAISS in memory, BM25 loaded, SQLite opened read-only."""

    def __init__(self, path: Path, manifest: Manifest):
        import faiss

        self.path, self.manifest = path, manifest
        self._local = threading.local()
        with _corrupt_on_error(path / "vectors.faiss"):
            self.faiss = faiss.read_index(str(path / "vectors.faiss"))
        if self.faiss.ntotal != manifest.chunks:
            raise IndexCorrupt(f"{path / 'vectors.faiss'} holds {self.faiss.ntotal} vectors, the manifest "
                               f"says {manifest.chunks}; {REBUILD}.")
        if hasattr(self.faiss, "hnsw"):
            self.faiss.hnsw.efSearch = 64
        set_search_params(self.faiss)
        self.reranker = (Reranker(path / RERANK_FILE, manifest.dim, manifest.chunks)
                         if manifest.faiss_type.endswith(RERANKED) else None)
        # one query at a time: a second OpenMP thread only waits, and on a busy machine the wait
        # made a 100k Flat search 4-5x slower (bench/scale.py)
        faiss.omp_set_num_threads(1)
        from qa import lexical

        with _corrupt_on_error(path / "bm25"):
            self.bm25 = lexical.load(str(path / "bm25"))
        with _corrupt_on_error(path / "meta.sqlite"):
            n = self._db().execute("SELECT count(*) FROM chunks").fetchone()[0]
        if n != manifest.chunks:
            raise IndexCorrupt(f"{path / 'meta.sqlite'} holds {n} chunks, the manifest says "
                               f"{manifest.chunks}; {REBUILD}.")

    @classmethod
    def open(cls, index_dir: Path) -> Store:
        manifest = read_manifest(index_dir)
        return cls(index_dir / manifest.generation, manifest)

    def _db(self) -> sqlite3.Connection:
        # one read-only connection per thread: the app answers from several threads
        db = getattr(self._local, "db", None)
        if db is None:
            uri = f"file:{self.path / 'meta.sqlite'}?mode=ro&immutable=1"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.db = db
        return db

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.manifest.chunks)
        if k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if self.reranker is not None:  # the compact type: PQ candidates, re-ranked from float16
            _, rows = self.faiss.search(query, min(k * PQ_K_FACTOR, self.manifest.chunks))
            return self.reranker.top(query[0], rows[0].tolist(), k)
        scores, rows = self.faiss.search(query, k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        cur = self._db().execute(
            f"SELECT row, id, article_id, start, end, text, ordinal FROM chunks WHERE row IN ({marks})",
            list(rows))
        return {r[0]: Chunk(r[1], r[2], r[3], r[4], r[5], r[6]) for r in cur}

    def article_chunks(self, article_id: str) -> list[Chunk]:
        cur = self._db().execute("SELECT id, article_id, start, end, text, ordinal FROM chunks "
                                 "WHERE article_id = ? ORDER BY ordinal", (article_id,))
        return [Chunk(*r) for r in cur]

    def article(self, article_id: str) -> Article | None:
        row = self._db().execute("SELECT id, title, text, content_hash, source, url, published, path "
                                 "FROM articles WHERE id = ?", (article_id,)).fetchone()
        return Article(*row) if row else None

    def articles(self) -> list[ArticleInfo]:
        cur = self._db().execute("SELECT id, title, source, url, published, n_chunks, group_id "
                                 "FROM articles ORDER BY id")
        return [ArticleInfo(*r) for r in cur]

    def infos(self, ids: Iterable[str]) -> dict[str, ArticleInfo]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        cur = self._db().execute("SELECT id, title, source, url, published, n_chunks, group_id "
                                 f"FROM articles WHERE id IN ({marks})", wanted)
        return {r[0]: ArticleInfo(*r) for r in cur}

    def group_members(self, group_id: str) -> list[ArticleInfo]:
        cur = self._db().execute("SELECT id, title, source, url, published, n_chunks, group_id "
                                 "FROM articles WHERE group_id = ? ORDER BY published, id", (group_id,))
        return [ArticleInfo(*r) for r in cur]

    def content(self) -> Iterator[tuple[Article, list[tuple[Chunk, str]]]]:
        """Every article with its chunks and embedding keys (for incremental builds)."""
        db = self._db()
        by_article: dict[str, list[tuple[Chunk, str]]] = {}
        for r in db.execute("SELECT id, article_id, start, end, text, ordinal, embed_key FROM chunks "
                            "ORDER BY row"):
            by_article.setdefault(r[1], []).append((Chunk(*r[:6]), r[6]))
        for r in db.execute("SELECT id, title, text, content_hash, source, url, published, path "
                            "FROM articles"):
            yield Article(*r), by_article.get(r[0], [])


@contextlib.contextmanager
def _corrupt_on_error(path: Path) -> Iterator[None]:
    """Any failure reading an index file becomes one clear message naming the file."""
    try:
        yield
    except IndexCorrupt:
        raise
    except Exception as exc:  # faiss raises RuntimeError, sqlite DatabaseError, bm25s anything
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise IndexCorrupt(f"{path} is damaged or unreadable ({reason}); {REBUILD}.") from None
