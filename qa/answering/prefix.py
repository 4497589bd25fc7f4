"""The opening every prompt shares, evaluated once per model and saved, so that a fresh process restores it.

llama-cpp-python reuses the longest token prefix its context already holds, so within one process the
constant system prompt and instruction are evaluated once. A fresh `qa ask`, or the app's start, holds
nothing and paid for them again. Here their llama.cpp state is written to a file once, and the next
process reads it back instead of evaluating them.

The file holds llama.cpp's state of sequence 0 (the KV cache of those tokens). It does not use
`Llama.save_state()`, which also copies a float32 row of 151,936 logits per token (about 150 MB for
this prefix) that nothing reads without `logits_all`; and `Llama.load_state()` scans the whole
300 MB logits buffer.

A file is named by a key over everything that makes its bytes valid: the model file (path, size,
mtime), the exact prefix tokens, n_ctx and the llama-cpp-python version. The file is checked again
when read (magic, key, tokens, length, sha256). A file that fails a check, or that llama.cpp refuses,
is logged and replaced. It is never trusted, and it never stops an answer.

The judge's context (qa.answering.judge) has an opening of its own, its worked examples (about 540
tokens, 7 s to evaluate here): it is saved and restored the same way, in a file of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.config import Settings

log = logging.getLogger(__name__)

MAGIC = b"news-qa prefix state v1\n"
SUFFIX = ".state"
KEEP = 4  # files kept per folder: a changed prompt or model leaves its old file behind (~7 MB each)
SEQ = 0  # llama-cpp-python evaluates every prompt as sequence 0


def folder(settings: Settings) -> Path | None:
    """Where the states live (beside the ONNX export, in the cache folder); None when turned off."""
    return settings.cache_dir / "prefix-state" if settings.prefix_cache else None


def state_key(model: Path, tokens: Sequence[int], n_ctx: int, version: str) -> str:
    """What makes a saved state valid: the model file (stat-based, as the ONNX export's cache is, so a
    start costs no read of a 1 GB file), the exact tokens, the context size and llama-cpp-python's version."""
    st = model.stat()
    ident = {"model": str(model.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
             "tokens": list(tokens), "n_ctx": n_ctx, "llama_cpp": version, "format": MAGIC.decode().strip()}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def state_path(where: Path, key: str) -> Path:
    return where / f"{key[:32]}{SUFFIX}"


def encode(key: str, tokens: Sequence[int], state: bytes) -> bytes:
    """The file: the magic line, a one-line JSON header, then llama.cpp's bytes."""
    header = {"key": key, "tokens": list(tokens), "bytes": len(state), "sha256": hashlib.sha256(state).hexdigest()}
    return MAGIC + json.dumps(header).encode() + b"\n" + state


def decode(data: bytes, key: str, tokens: Sequence[int]) -> bytes:
    """llama.cpp's bytes of a file made by `encode` for this key and these tokens; ValueError says why not."""
    if not data.startswith(MAGIC):
        raise ValueError("not a prefix state file of this version")
    line, _, state = data[len(MAGIC):].partition(b"\n")
    header = json.loads(line)
    if not isinstance(header, dict) or header.get("key") != key or header.get("tokens") != list(tokens):
        raise ValueError("made for another model, prompt or llama-cpp-python")
    if header.get("bytes") != len(state) or header.get("sha256") != hashlib.sha256(state).hexdigest():
        raise ValueError("truncated or damaged")
    return state


def read(path: Path, key: str, tokens: Sequence[int]) -> bytes | None:
    """The saved state, or None (logged unless there is simply no file yet)."""
    try:
        state = decode(path.read_bytes(), key, tokens)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # JSON and UTF-8 errors are ValueErrors
        log.warning("ignoring the saved prefix state %s (%s): evaluating the prompt again", path, exc)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # in use: `prune` keeps the most recently used files
    return state


def write(path: Path, key: str, tokens: Sequence[int], state: bytes) -> None:
    """Write atomically (a reader sees the old file or the whole new one), then prune the folder.
    A failure (read-only or full disk) is logged: the next process evaluates the prompt again."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(encode(key, tokens, state))
        os.replace(tmp, path)
        prune(path.parent, KEEP)
    except OSError as exc:
        log.warning("could not save the prefix state to %s (%s)", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def prune(where: Path, keep: int) -> None:
    """Delete all but the `keep` most recently used state files of the folder (another process may be
    pruning too: a file gone meanwhile is no error)."""
    def used(path: Path) -> int:
        try:
            return path.stat().st_mtime_ns
        except OSError:
            return 0

    for old in sorted(where.glob(f"*{SUFFIX}"), key=used, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


# --- llama-cpp-python 0.3.36: its Llama object's context (`_ctx`) and the bookkeeping load_state does ----

def capture(llm: Any) -> bytes:
    """llama.cpp's serialised state of the context's sequence: the KV cache of the tokens it holds."""
    import llama_cpp

    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, SEQ)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, SEQ)
    if not 0 < written <= size:
        raise RuntimeError(f"llama.cpp copied {written} of {size} bytes of the state")
    return bytes(memoryview(buffer)[:written])


def apply(llm: Any, tokens: Sequence[int], state: bytes) -> bool:
    """Put a captured state into an emptied context, and tell the Llama object which tokens it now holds
    (as `Llama.load_state` does, without its logits). False, with the context empty, when llama.cpp refuses."""
    import llama_cpp

    llm.reset()
    llm._ctx.kv_cache_clear()
    buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
    loaded = llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(state), SEQ)
    last = llama_cpp.llama_memory_seq_pos_max(llm._ctx.memory, SEQ) if loaded else -1
    if loaded != len(state) or last != len(tokens) - 1:  # refused, or not these tokens' positions
        llm._ctx.kv_cache_clear()
        return False
    llm.input_ids[:len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    llm._requires_eval = True  # no logits were restored: the next prompt evaluates at least one token
    return True


def restore(llm: Any, tokens: Sequence[int], path: Path, key: str) -> bool:
    """The saved state of these tokens put in the context; False when there is none that works."""
    state = read(path, key, tokens)
    if state is None:
        return False
    if apply(llm, tokens, state):
        return True
    log.warning("llama.cpp refused the saved prefix state %s: evaluating the prompt again", path)
    return False


def save(llm: Any, tokens: Sequence[int], path: Path, key: str) -> None:
    """Save the context's state, which must hold exactly `tokens`."""
    try:
        state = capture(llm)
    except RuntimeError as exc:
        log.warning("could not save the prefix state (%s)", exc)
        return
    write(path, key, tokens, state)
