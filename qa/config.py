"""One frozen Settings object: defaults < environment (QA_*) < command-line flags.

Settings are passed explicitly; nothing reads the environment after `load()`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from qa import tuning
from qa.errors import ConfigError


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "news-qa"


@dataclass(frozen=True)
class Settings:
    articles_dir: Path = Path("articles")
    index_dir: Path = Path("index")
    embed_model: str = ""  # "" = the bundled all-MiniLM-L6-v2; else a sentence-transformers folder
    llm_model: str = ""  # "" = the bundled Qwen2.5-Coder-1.5B GGUF; else a .gguf path
    embed_backend: str = "auto"  # auto | onnx | torch
    cache_dir: Path = dataclasses.field(default_factory=_default_cache_dir)
    # the evaluated opening of every prompt, saved in cache_dir/prefix-state for the next process
    prefix_cache: bool = True
    # chunking (chosen by recall@k on ../shared/eval, see README)
    chunk_words: int = 80
    chunk_overlap: int = 1  # sentences shared by neighbouring chunks
    # words of each chunk the embedder reads after its headline (0: all); BM25 indexes every word.
    # The embedding is most of a build's time: see qa/tuning.py EMBED_WORDS
    embed_words: int = tuning.EMBED_WORDS
    max_file_mb: float = 20.0
    # fetching pages and feeds (`qa add`, `qa update`)
    fetch_timeout: float = 20.0  # seconds for one whole request (connect, headers and body)
    fetch_max_mb: float = 5.0  # a page or feed larger than this is refused, not truncated
    user_agent: str = "news-qa/0.1 (offline news archive; fetches only the pages its user asks for)"
    # retrieval
    top_k: int = 3  # passages (the numbered sources of a prompt); 3 x 60 words: see qa/tuning.py
    candidates: int = 30  # per retriever, before fusion
    per_article: int = 2  # diversity: at most this many passages of one article
    gate: bool = True  # refuse without calling the LLM when nothing is relevant
    gate_dense: float = 0.55  # best cosine below this ...
    gate_lexical: float = 0.33  # ... and best IDF-weighted term coverage below this: refuse
    # generation
    temperature: float = 0.0  # greedy: the most faithful choice for a small model, and reproducible
    max_tokens: int = 192
    passage_words: int = 60  # the best-matching sentences of each passage, up to this many words; 0: whole passages
    lead_sentences: int = 3  # an article's first passage near its top also offers its lead's sentences; 0: off
    follow_sentence: bool = True  # a passage also offers the next sentence in its paragraph (a quote after it)
    # greedy answers verify this many prompt-lookup draft tokens a model pass (qa/answering/speculate.py;
    # the same text but for near-tied logits); 0: off. The default and its figures: qa/tuning.py SPECULATE_DRAFT
    speculate: int = tuning.SPECULATE_DRAFT
    judge: bool = True  # the LLM reads an accepted answer against its cited sentences before it is shown
    source_ratio: float = 0.6  # drop a passage whose best sentence scores below this share of the best one's
    n_ctx: int = 4096
    threads: int = 0  # 0 = all cores
    history_turns: int = 4  # recent turns that go into the prompt (budget permitting)
    # news filters
    since: str = ""
    until: str = ""
    source: str = ""
    today: str = ""  # reference date for "last week" (default: the real today)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **_coerce_all(changes))

    @property
    def n_threads(self) -> int:
        return self.threads or os.cpu_count() or 1


def _coerce(name: str, kind: Any, value: Any) -> Any:
    if isinstance(value, str):
        raw = value.strip()
        try:
            if kind in (int, "int"):
                return int(raw)
            if kind in (float, "float"):
                return float(raw)
            if kind in (bool, "bool"):
                if raw.lower() in ("1", "true", "yes", "on"):
                    return True
                if raw.lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(raw)
            if kind in (Path, "Path"):
                return Path(raw).expanduser()
        except ValueError:
            env = f"QA_{name.upper()}"
            raise ConfigError(
                f"{name} must be a {getattr(kind, '__name__', kind)}. Currently, it is {value!r}: "
                f"fix the flag or the environment variable {env}."
            ) from None
    return value


def _coerce_all(values: Mapping[str, Any]) -> dict[str, Any]:
    kinds = {f.name: f.type for f in fields(Settings)}
    unknown = set(values) - set(kinds)
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)}; known: {sorted(kinds)}")
    return {k: _coerce(k, kinds[k], v) for k, v in values.items()}


def load(env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """Defaults, then QA_* environment variables, then flags that are not None.

    >>> load({"QA_TOP_K": "6"}, top_k=None).top_k
    6
    """
    env = os.environ if env is None else env
    names = [f.name for f in fields(Settings)]
    from_env = {n: env[f"QA_{n.upper()}"] for n in names if f"QA_{n.upper()}" in env}
    from_flags = {k: v for k, v in flags.items() if v is not None}
    settings = Settings(**_coerce_all({**from_env, **from_flags}))
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    checks = [
        (s.top_k > 0, f"top_k must be greater than 0. Currently, it is {s.top_k}"),
        (s.chunk_words >= 10, f"chunk_words must be at least 10. Currently, it is {s.chunk_words}"),
        (s.chunk_overlap >= 0, f"chunk_overlap must be >= 0. Currently, it is {s.chunk_overlap}"),
        (s.embed_words >= 0, f"embed_words must be >= 0 (0: every word). Currently, it is {s.embed_words}"),
        (s.max_tokens > 0, f"max_tokens must be greater than 0. Currently, it is {s.max_tokens}"),
        (0 <= s.speculate <= 16, f"speculate must be in [0, 16]. Currently, it is {s.speculate}"),
        (s.lead_sentences >= 0, f"lead_sentences must be >= 0. Currently, it is {s.lead_sentences}"),
        (0 <= s.source_ratio <= 1, f"source_ratio must be in [0, 1]. Currently, it is {s.source_ratio}"),
        (s.passage_words >= 0, f"passage_words must be >= 0. Currently, it is {s.passage_words}"),
        (0 <= s.temperature <= 2, f"temperature must be in [0, 2]. Currently, it is {s.temperature}"),
        (s.fetch_timeout > 0, f"fetch_timeout must be greater than 0. Currently, it is {s.fetch_timeout}"),
        (s.fetch_max_mb > 0, f"fetch_max_mb must be greater than 0. Currently, it is {s.fetch_max_mb}"),
        (bool(s.user_agent.strip()) and s.user_agent.isprintable(),
         f"user_agent must be one line of printable text. Currently, it is {s.user_agent!r}"),
        (s.embed_backend in ("auto", "onnx", "torch"),
         f"embed_backend must be auto, onnx or torch. Currently, it is {s.embed_backend!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
