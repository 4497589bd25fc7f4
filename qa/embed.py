"""Embedder protocol and two implementations: int8 ONNX Runtime and sentence-transformers.

The ONNX embedder (the default where onnxruntime is installed) runs an int8 export of
the model with the `tokenizers` library: about 3.6 times the throughput of torch on
2 cores (bench/index_throughput.py), and it never imports torch, so a cold `qa search`
starts fast. The export is made once, by `make_embedder` during the first `qa index`
(see qa.models.onnx_export).
The sentence-transformers model is loaded on first use (a cheap constructor).
Vectors are float32 and L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from qa import models
from qa.config import Settings
from qa.errors import ModelError
from qa.models import embed_model_name, embed_model_path

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder:
    """A sentence-transformers model folder, loaded offline on first use."""

    def __init__(self, path: Path, name: str, dim: int = 384, batch_size: int = 64, threads: int = 0):
        self.path, self.name, self.dim = path, name, dim
        self.batch_size, self.threads = batch_size, threads
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
                import torch
                from sentence_transformers import SentenceTransformer

                if self.threads:
                    torch.set_num_threads(self.threads)
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # no "Loading weights" bar in the terminal
                model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
                dim = getattr(model, "get_embedding_dimension", model.get_sentence_embedding_dimension)()
                self.dim = int(dim or self.dim)
                self._model = model
        return self._model

    def warm_up(self) -> None:
        self._load()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        with self._lock:  # a fast tokenizer is not thread-safe ("Already borrowed")
            vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return normalise(vectors)


class OnnxEmbedder:
    """An int8 ONNX export of a transformer + mean pooling model, tokenised by `tokenizers`.

    Truncation at the model's max_seq_length, as sentence-transformers. One text per run by
    default: measured fastest here (no padding at all, activations stay in cache: ~95 chunks
    per CPU-second against ~70 at batch 32 and ~60 at 64), and it makes a text's vector
    independent of its batch-mates, which int8 would not (activation scales are per batch,
    cosine ~0.99 between a text embedded alone and in a batch). With batch_size > 1, texts are
    sorted by token count so each batch pads only to its own longest text.

    Each core runs its own texts: a one-thread session shared by one worker per core. A text of
    ~110 tokens is too small to split across cores: measured on 1,500 CLAP-NQ chunks, 196 texts/s
    against 118 for one session using both cores on each text (103 with one core).
    """

    def __init__(self, model_file: Path, model_dir: Path, name: str, batch_size: int = 1, threads: int = 0):
        self.model_file, self.model_dir, self.name = model_file, model_dir, name
        self.batch_size, self.threads = batch_size, threads
        self.dim = 384
        self._session = None
        self._tokenizer = None
        self._workers: ThreadPoolExecutor | None = None
        self._lowercase = models.lowercases_input(model_dir)
        # one embed at a time: its workers already use every core, and the tokenizer's truncation is shared state
        self._lock = threading.Lock()

    def _load(self):  # type: ignore[no-untyped-def]
        if self._session is None:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tokenizer.enable_truncation(models.max_seq_length(self.model_dir))
            tokenizer.no_padding()  # we pad per batch
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # parallel across texts, not inside one (see the class doc)
            options.inter_op_num_threads = 1  # one sequential graph: extra pools only contend for cores
            # no busy-waiting between ops: the cores are shared (LLM, app, other jobs), and spinning
            # threads burn the CPU the working ones need (+10% throughput measured under load)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
            width = session.get_outputs()[0].shape[-1]
            self.dim = int(width) if isinstance(width, int) else self.dim
            self._workers = ThreadPoolExecutor(self.threads or os.cpu_count() or 1, thread_name_prefix="embed")
            self._tokenizer, self._session = tokenizer, session
        return self._session, self._tokenizer, self._workers

    def warm_up(self) -> None:
        with self._lock:
            self._load()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            session, tokenizer, workers = self._load()
            inputs = {i.name for i in session.get_inputs()}
            texts = [t.lower() for t in texts] if self._lowercase else list(texts)
            encodings = tokenizer.encode_batch(texts)
            order = np.argsort([-len(e.ids) for e in encodings], kind="stable")  # longest first: even loads
            batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]

            def run(rows: np.ndarray) -> np.ndarray:  # ORT releases the GIL: workers run in parallel
                feeds = _pad([encodings[r].ids for r in rows])
                hidden = session.run(None, {k: v for k, v in feeds.items() if k in inputs})[0]
                return models.mean_pool(hidden, feeds["attention_mask"])

            out = np.empty((len(texts), self.dim), dtype=np.float32)
            for rows, vectors in zip(batches, workers.map(run, batches), strict=True):
                out[rows] = vectors
        return normalise(out)


def _pad(ids: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """A right-padded batch (pad id 0, as BERT's [PAD]) with its mask; one segment, so type ids are 0."""
    width = max(len(row) for row in ids)
    input_ids = np.zeros((len(ids), width), dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, :len(row)] = row
        mask[i, :len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}


def make_embedder(settings: Settings) -> Embedder:
    """The configured embedder: ONNX int8 or sentence-transformers, per `models.embed_backend`.

    The ONNX export is made (once) and loaded here, so a failure shows now: with
    embed_backend="auto" it falls back to torch with a warning and records the failure, so
    `embed_model_name` names torch from then on; with "onnx" it is an error.
    """
    path = embed_model_path(settings)
    backend = models.embed_backend(settings)
    if backend == "torch":
        _explain_torch(settings, path)
        return _torch_embedder(settings, path)
    why = models.onnx_unsupported(path)
    if why:  # only reachable with embed_backend="onnx": "auto" would have chosen torch
        raise ModelError(f"QA_EMBED_BACKEND=onnx, but the embedding model {path} cannot run as ONNX: {why}. "
                         "Set QA_EMBED_BACKEND=auto or torch.")
    export_dir = models.onnx_export_dir(settings, path)
    try:
        embedder = _onnx_embedder(settings, path)
    except Exception as exc:  # export and load touch torch tracing, onnx and ORT: any failure falls back
        reason = _short(exc)
        if settings.embed_backend == "onnx":
            raise ModelError(f"the ONNX embedder failed ({reason}): set QA_EMBED_BACKEND=torch or auto.") from exc
        models.record_onnx_failure(export_dir, reason)
        log.warning("the int8 ONNX embedder is unavailable (%s); embedding with sentence-transformers (torch) "
                    "instead, which is slower. Indexes are now recorded as %s: an index built as %s must "
                    "be rebuilt (`qa index --rebuild`). Delete %s to try ONNX again.", reason,
                    embed_model_name(settings), embed_model_name(settings) + models.ONNX_SUFFIX,
                    export_dir / models.FAILED_FILE)
        return _torch_embedder(settings, path)
    models.clear_onnx_failure(export_dir)  # an explicit "onnx" that works re-enables "auto"
    return embedder


def _onnx_embedder(settings: Settings, path: Path) -> OnnxEmbedder:
    """Export if needed, then load; a cached file that does not load is re-exported once."""
    model_file = models.onnx_export(settings, path)
    name = (settings.embed_model or models.BUNDLED_EMBED) + models.ONNX_SUFFIX
    embedder = OnnxEmbedder(model_file, path, name, threads=settings.n_threads)
    try:
        embedder.warm_up()
    except Exception as exc:  # a truncated or garbage cache file: ORT raises its own exception types
        log.warning("the cached ONNX export %s does not load (%s): exporting it again", model_file, exc)
        models.export_onnx_int8(path, model_file)
        embedder = OnnxEmbedder(model_file, path, name, threads=settings.n_threads)
        embedder.warm_up()
    return embedder


def _short(exc: BaseException) -> str:
    """First line of an error, capped: a failed trace can print a whole weight tensor."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


def _torch_embedder(settings: Settings, path: Path) -> SentenceTransformerEmbedder:
    name = settings.embed_model or models.BUNDLED_EMBED
    return SentenceTransformerEmbedder(path, name, threads=settings.n_threads)


def _explain_torch(settings: Settings, path: Path) -> None:
    """Say once per embedder why "auto" runs on torch: it is slower than the user may expect."""
    if settings.embed_backend != "auto":
        return
    failure = models.onnx_failure(models.onnx_export_dir(settings, path))
    if failure:
        log.warning("embedding with torch: an earlier ONNX export failed (%s); delete %s to try again",
                    failure, models.onnx_export_dir(settings, path) / models.FAILED_FILE)
    else:
        log.info("embedding with torch: %s", models.onnx_unsupported(path) or "onnxruntime is not installed")
