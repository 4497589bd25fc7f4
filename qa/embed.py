"""Embedder protocol and the sentence-transformers implementation.

The model is loaded on first use (a cheap constructor), so `qa status` and
`import qa` never pay for it. Vectors are float32 and L2-normalised, so inner
product is cosine similarity.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.config import Settings
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


def make_embedder(settings: Settings) -> Embedder:
    """The configured embedder (the bundled MiniLM unless QA_EMBED_MODEL says otherwise)."""
    return SentenceTransformerEmbedder(embed_model_path(settings), embed_model_name(settings),
                                       threads=settings.n_threads)
