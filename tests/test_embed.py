"""The embedders: the int8 ONNX export against torch, its cache, fallbacks and the backend name rule.

The slow tests use the real bundled all-MiniLM-L6-v2 and export it once per session into a
temporary cache (about 20 s on 2 cores); the fast ones stub the export.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import models
from qa.config import Settings, load
from qa.embed import OnnxEmbedder, SentenceTransformerEmbedder, make_embedder
from qa.errors import ModelError
from qa.models import embed_backend, embed_model_name, onnx_export_dir

NEWS = [
    "Blinken and Lavrov met in Geneva on Sunday to discuss the crisis.",
    "The US is not seeking regime change in Russia, the Secretary of State said.",
    "Biden urged Putin to resume diplomacy with Ukraine after the talks stalled.",
    "Shares fell sharply in Tokyo as investors weighed the central bank's decision on interest rates.",
    "Flood warnings",
    "Heavy rain is expected across the north of the country on Thursday, with up to 80 mm in places, "
    "and the authorities have asked residents near rivers to prepare for evacuation.",
]


def _settings(cache: Path, backend: str = "auto") -> Settings:
    return load({}, cache_dir=cache, embed_backend=backend)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache_dir holding a fresh export of the bundled model (made once per module)."""
    cache = tmp_path_factory.mktemp("cache")
    make_embedder(_settings(cache, "onnx"))
    return cache


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    embedder = make_embedder(load({}, embed_backend="torch"))
    return embedder.embed(NEWS)


# --- the name rule and backend choice (no model is loaded) ---------------------------------------

def test_backend_names(tmp_path: Path) -> None:
    assert embed_model_name(_settings(tmp_path, "torch")) == "all-MiniLM-L6-v2"
    assert embed_model_name(_settings(tmp_path, "onnx")) == "all-MiniLM-L6-v2+onnx-int8"
    # onnxruntime is a dependency, so "auto" means onnx, decided without exporting anything
    assert embed_model_name(_settings(tmp_path, "auto")) == "all-MiniLM-L6-v2+onnx-int8"
    assert not (tmp_path / "onnx").exists()


def test_torch_backend_gives_the_torch_embedder(tmp_path: Path) -> None:
    embedder = make_embedder(_settings(tmp_path, "torch"))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.name == "all-MiniLM-L6-v2"
    assert embedder.embed([]).shape == (0, 384)  # no model load for nothing


def test_failed_export_falls_back_to_torch_and_renames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    def broken(path: Path, target: Path) -> Path:
        raise RuntimeError("exporter exploded\n" + "0.123 " * 1000)

    monkeypatch.setattr(models, "export_onnx_int8", broken)
    settings = _settings(tmp_path)
    assert embed_model_name(settings).endswith("+onnx-int8")
    with caplog.at_level(logging.WARNING):
        embedder = make_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert "exporter exploded" in caplog.text and "qa index --rebuild" in caplog.text
    # the failure is remembered (briefly), so every later process names and uses torch alike
    marker = onnx_export_dir(settings, models.embed_model_path(settings)) / models.FAILED_FILE
    assert len(marker.read_text()) < 500
    assert embed_backend(settings) == "torch"
    assert embed_model_name(settings) == embedder.name == "all-MiniLM-L6-v2"
    with pytest.raises(ModelError, match="QA_EMBED_BACKEND=torch"):
        make_embedder(_settings(tmp_path, "onnx"))  # asked for onnx explicitly: no silent fallback


def test_unsupported_pipeline_stays_on_torch(tmp_path: Path) -> None:
    """A CLS-pooling model would give other vectors through our mean-pooling export."""
    model = tmp_path / "cls-model"
    shutil.copytree(models.embed_model_path(load({})), model)
    (model / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 384, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    settings = load({}, cache_dir=tmp_path / "cache", embed_model=str(model))
    assert "not mean pooling" in models.onnx_unsupported(model)
    assert embed_backend(settings) == "torch"
    assert embed_model_name(settings) == str(model)
    with pytest.raises(ModelError, match="cannot run as ONNX"):
        make_embedder(settings.replace(embed_backend="onnx"))


# --- the real export ------------------------------------------------------------------------------

@pytest.mark.slow
def test_onnx_vectors_match_torch(onnx_cache: Path, torch_vectors: np.ndarray) -> None:
    embedder = make_embedder(_settings(onnx_cache))
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.name == embed_model_name(_settings(onnx_cache)) == "all-MiniLM-L6-v2+onnx-int8"
    vectors = embedder.embed(NEWS)
    assert vectors.shape == (len(NEWS), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(vectors * torch_vectors, axis=1)
    assert cosine.min() > 0.98, cosine
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_vectors_do_not_depend_on_batch_mates(onnx_cache: Path) -> None:
    """One text per run by default: a text's vector is the same alone or among others, so the
    vectors cached at index time are exactly what a query-time embed of the text gives."""
    embedder = make_embedder(_settings(onnx_cache))
    alone = np.stack([embedder.embed([t])[0] for t in NEWS])
    assert np.allclose(embedder.embed(NEWS), alone, atol=1e-5)
    # batched: sorted by length, padded per batch; padding must not leak between texts or reorder
    # them (int8 activation scales are per batch, so batch-mates move a vector a little, never far)
    embedder.batch_size = 3
    assert np.sum(embedder.embed(NEWS) * alone, axis=1).min() > 0.98


@pytest.mark.slow
def test_export_is_cached(onnx_cache: Path) -> None:
    settings = _settings(onnx_cache)
    model_file = onnx_export_dir(settings, models.embed_model_path(settings)) / models.ONNX_FILE
    before = model_file.stat().st_mtime_ns
    embedder = make_embedder(settings)
    assert isinstance(embedder, OnnxEmbedder) and embedder.model_file == model_file
    assert model_file.stat().st_mtime_ns == before
    assert not list(model_file.parent.glob(".tmp*"))  # the export's scratch folder is gone


@pytest.mark.slow
def test_garbage_export_is_made_again(onnx_cache: Path, tmp_path: Path, torch_vectors: np.ndarray,
                                      caplog: pytest.LogCaptureFixture) -> None:
    shutil.copytree(onnx_cache / "onnx", tmp_path / "onnx")
    settings = _settings(tmp_path)
    model_file = onnx_export_dir(settings, models.embed_model_path(settings)) / models.ONNX_FILE
    model_file.write_bytes(b"\x00garbage, not a protobuf" * 100)
    with caplog.at_level(logging.WARNING):
        embedder = make_embedder(settings)
    assert "does not load" in caplog.text
    assert isinstance(embedder, OnnxEmbedder)
    assert model_file.stat().st_size > 10_000_000
    assert np.sum(embedder.embed(NEWS) * torch_vectors, axis=1).min() > 0.98


@pytest.mark.slow
def test_query_path_never_imports_torch(onnx_cache: Path) -> None:
    """A cold `qa search` must not pay the ~4 s of importing torch and sentence-transformers."""
    code = (
        "import sys; from pathlib import Path; from qa.config import load; from qa.embed import make_embedder\n"
        f"e = make_embedder(load({{}}, cache_dir=Path({str(onnx_cache)!r})))\n"
        "assert e.embed(['Where did Blinken and Lavrov meet?']).shape == (1, 384)\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
