"""Metrics over a question file: retrieval, answers, citations, abstention, latency.

Formats are those of ../shared/eval/README.md: one question a line (`question`,
`answerable`, `gold_articles`, `expect_all`, `answers`), or conversations (`turns`
of `question`, `expect_any`, `gold_articles`), asked turn by turn with their history.

Several files can run over one index (`evaluate_sets`), and a `ReplayGenerator` can
serve answers recorded by an earlier run, so a change after generation (citation
checks, refusals) is re-scored in seconds instead of re-running the LLM.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa import lexical
from qa.answering.engine import Engine
from qa.answering.generate import Generator, Message, llama_generator
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import QAError
from qa.indexing.build import build_index
from qa.models import GGUF_NAME, llm_model_path
from qa.types import Answer, Turn

log = logging.getLogger(__name__)

RECALL_KS = (1, 3, 5)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    gold: tuple[str, ...]
    expect: tuple[tuple[str, ...], ...]
    answers: tuple[str, ...]
    conversation: str = ""  # the conversation id for a turn
    turn: int = 0


def load_questions(path: Path) -> list[Question]:
    """Questions of a QA file or the turns of a conversations file, in order."""
    out: list[Question] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise QAError(f"{path}:{lineno} is not valid JSON ({exc}): fix or remove that line") from None
        for t, turn in enumerate(rec.get("turns") or [rec]):
            out.append(Question(
                id=f"{rec['id']}#{t + 1}" if "turns" in rec else rec["id"], question=turn["question"],
                answerable=bool(turn.get("answerable", True)), gold=tuple(turn.get("gold_articles", ())),
                expect=tuple(tuple(g) for g in turn.get("expect_all") or turn.get("expect_any") or ()),
                answers=tuple(turn.get("answers", ())), conversation=rec["id"] if "turns" in rec else "",
                turn=t))
    return out


def expect_ok(text: str, expect: Sequence[Sequence[str]]) -> bool:
    """Every group has at least one string in the text (case-insensitive)."""
    low = text.lower()
    return all(any(s.lower() in low for s in group) for group in expect)


def token_f1(text: str, references: Sequence[str]) -> float:
    """Best bag-of-stems F1 against the reference answers (CLAP-NQ's answers are long prose)."""
    got = lexical.tokens(text)
    best = 0.0
    for ref in references:
        want = lexical.tokens(ref)
        common = sum(min(got.count(w), want.count(w)) for w in set(got))
        if common:
            p, r = common / len(got), common / len(want)
            best = max(best, 2 * p * r / (p + r))
    return best


def _articles_ranked(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def retrieval_record(q: Question, ranked_articles: Sequence[str]) -> dict[str, Any]:
    rank = next((i for i, a in enumerate(ranked_articles[:10], 1) if a in q.gold), None)
    rec: dict[str, Any] = {f"recall@{k}": bool(rank and rank <= k) for k in RECALL_KS}
    rec["mrr"] = 1.0 / rank if rank else 0.0
    return rec


def answer_record(q: Question, a: Answer) -> dict[str, Any]:
    cited = {c.article_id for c in a.citations}
    rec: dict[str, Any] = {
        "answer": a.text, "refused": a.refused, "llm_called": a.llm_called,
        "citations": [{"n": c.n, "article_id": c.article_id, "supported": c.supported,
                       "support": c.support, "posthoc": c.posthoc} for c in a.citations],
        **{k: v for k, v in asdict(a.timings).items()}}
    rec["supported"] = is_supported(rec)
    if q.answerable:
        rec["correct"] = (not a.refused) and expect_ok(a.text, q.expect) if q.expect else None
        rec["citation_ok"] = bool(cited & set(q.gold)) and all(c.supported for c in a.citations)
        if q.answers:
            rec["f1"] = round(token_f1(a.render(lambda _: ""), q.answers), 4)  # its words: no marker numbers
    return rec


def is_supported(rec: dict[str, Any]) -> bool:
    """An answer, not a refusal, with at least one citation the support check confirmed.

    A refusal that points at nearby passages asserts nothing, so it is never supported:

    >>> is_supported({"refused": True, "citations": [{"supported": True}]})
    False
    >>> is_supported({"refused": False, "citations": [{"supported": False}, {"supported": True}]})
    True
    """
    return not rec["refused"] and any(c["supported"] for c in rec["citations"])


def _mean(values: Sequence[float | bool | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def _pct(values: Sequence[float | None], q: float) -> float | None:
    vals = [v for v in values if v is not None]
    return round(float(np.percentile(vals, q)), 1) if vals else None


def summarise(records: Sequence[dict[str, Any]], retrieval_only: bool) -> dict[str, Any]:
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    s: dict[str, Any] = {"questions": len(records), "answerable": len(ans), "unanswerable": len(una)}
    for k in RECALL_KS:
        s[f"recall@{k}"] = _mean([r[f"recall@{k}"] for r in ans])
    s["mrr@10"] = _mean([r["mrr"] for r in ans])
    s["gate_refused_unanswerable"] = _mean([not r["relevant"] for r in una])
    s["gate_refused_answerable"] = _mean([not r["relevant"] for r in ans])
    s["retrieval_ms_p50"] = _pct([r["retrieval_ms"] for r in records], 50)
    if retrieval_only:
        return s
    s["answer_accuracy"] = _mean([r["correct"] for r in ans])
    s["citation_accuracy"] = _mean([r["citation_ok"] for r in ans])
    # counts beside rates: one question of 18 moves a rate by 5 points
    s["refused_unanswerable"] = _mean([r["refused"] for r in una])
    s["refused_unanswerable_n"] = sum(bool(r["refused"]) for r in una)
    s["refused_answerable"] = _mean([r["refused"] for r in ans])
    s["refused_answerable_n"] = sum(bool(r["refused"]) for r in ans)
    s.update(trust_figures(records))
    s["answer_f1"] = _mean([r.get("f1") for r in ans])
    llm = [r for r in records if r["llm_called"]]
    measured = [r for r in llm if not r.get("replayed")]  # a replayed answer's timings measure the cache
    for key in ("ttft_ms", "total_ms"):
        s[f"{key}_p50"] = _pct([r[key] for r in measured], 50)
        s[f"{key}_p95"] = _pct([r[key] for r in measured], 95)
    s["prompt_tokens_mean"] = _mean([r["prompt_tokens"] for r in llm])
    s["answer_tokens_mean"] = _mean([r["answer_tokens"] for r in llm])
    s["replayed"] = len(llm) - len(measured)
    return s


def trust_figures(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How often an answer looks trustworthy (a supported citation) when it should not.

    `fabricated`: unanswerable questions answered with a supported citation, the reader's worst case;
    `wrong_supported`: wrong answers to answerable ones that still carry one (over those whose
    correctness is known, as answer_accuracy); `grounded_rate`: non-refused answers carrying one.
    """
    una = [r for r in records if not r["answerable"]]
    judged = [r for r in records if r["answerable"] and r.get("correct") is not None]
    answered = [r for r in records if not r["refused"]]
    fabricated = sum(is_supported(r) for r in una)
    wrong = sum(is_supported(r) for r in judged if not r["correct"])
    return {"fabricated": fabricated, "fabrication_rate": _ratio(fabricated, len(una)),
            "wrong_supported": wrong, "wrong_supported_rate": _ratio(wrong, len(judged)),
            "grounded_rate": _mean([is_supported(r) for r in answered])}


def _ratio(n: int, total: int) -> float | None:
    return round(n / total, 4) if total else None


def run_eval(questions: Sequence[Question], engine: Engine, retrieval_only: bool = False,
             progress: Callable[[int, int], None] | None = None, replay: ReplayGenerator | None = None
             ) -> dict[str, Any]:
    """Ask every question; `replay`, the engine's generator when it has one, marks replayed answers."""
    records: list[dict[str, Any]] = []
    history: list[Turn] = []
    wide = engine.settings.replace(top_k=10)
    for i, q in enumerate(questions):
        if q.turn == 0:
            history = []
        found = engine.search(q.question, history, wide)
        rec: dict[str, Any] = {"id": q.id, "question": q.question, "answerable": q.answerable,
                               "relevant": found.relevant, "best_dense": round(found.best_dense, 4),
                               "best_coverage": round(found.best_coverage, 4), "retrieval_ms": found.ms,
                               "top_articles": _articles_ranked([h.chunk.article_id for h in found.hits])[:5],
                               **retrieval_record(q, _articles_ranked([h.chunk.article_id for h in found.hits]))}
        if not retrieval_only:
            before = replay.replayed if replay else 0
            answer = engine.answer(q.question, history)
            rec.update(answer_record(q, answer))
            rec["replayed"] = bool(replay and replay.replayed > before)
            history += [Turn("user", q.question), Turn("assistant", answer.text)]
        records.append(rec)
        if progress:
            progress(i + 1, len(questions))
    return {"summary": summarise(records, retrieval_only), "records": records}


def evaluate(path: Path, settings: Settings, corpus: Path | None = None, retrieval_only: bool = False,
             progress: Callable[[int, int], None] | None = None, engine: Engine | None = None
             ) -> dict[str, Any]:
    """Evaluate a question file; with `corpus` (a folder or a corpus.jsonl), over a temporary index."""
    questions = load_questions(path)
    with ExitStack() as stack:
        if corpus is not None:
            settings = _temporary_index(corpus, settings, stack)
        return run_eval(questions, engine or Engine(settings), retrieval_only, progress)


def evaluate_sets(paths: Sequence[Path], settings: Settings, corpus: Path | None = None,
                  retrieval_only: bool = False, progress: Callable[[str, int, int], None] | None = None,
                  embedder: Embedder | None = None, generator: Generator | None = None,
                  llm_cache: Path | None = None) -> dict[str, Any]:
    """Evaluate several question files over one index (built once from `corpus` when given).

    Returns `{"summary", "records"}` over all questions, as `evaluate` does for one file, and with
    several files also `"sets": {name: {"summary", "records"}}`, a name being the file's stem.
    With `llm_cache`, answers come from (and new ones go to) that JSONL file: see ReplayGenerator.
    """
    sets = dict(zip(set_names(paths), [load_questions(p) for p in paths], strict=True))  # bad files fail first
    with ExitStack() as stack:
        if corpus is not None:
            settings = _temporary_index(corpus, settings, stack)
        replay = None
        if llm_cache is not None and not retrieval_only:  # --retrieval-only never touches the LLM
            replay = replay_generator(settings, llm_cache, generator)
        engine = Engine(settings, embedder, replay or generator)
        results: dict[str, Any] = {}
        for name, questions in sets.items():
            step = (lambda done, total, name=name: progress(name, done, total)) if progress else None
            results[name] = run_eval(questions, engine, retrieval_only, step, replay)
            for rec in results[name]["records"]:
                rec["set"] = name
    records = [rec for result in results.values() for rec in result["records"]]
    out: dict[str, Any] = {"summary": summarise(records, retrieval_only), "records": records}
    if len(results) > 1:
        out["sets"] = results
    return out


def set_names(paths: Sequence[Path]) -> list[str]:
    """File stems, numbered when two files share one.

    >>> set_names([Path("a/seeds_qa.jsonl"), Path("clapnq/questions.jsonl"), Path("b/seeds_qa.jsonl")])
    ['seeds_qa', 'questions', 'seeds_qa-2']
    """
    names: list[str] = []
    for p in paths:
        name, n = p.stem, 1
        while name in names:
            n += 1
            name = f"{p.stem}-{n}"
        names.append(name)
    return names


def _temporary_index(corpus: Path, settings: Settings, stack: ExitStack) -> Settings:
    if not corpus.exists():
        raise QAError(f"corpus {corpus} does not exist: pass a folder of articles or a corpus.jsonl")
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qa-eval-")))
    articles = corpus
    if corpus.is_file():  # a corpus.jsonl: give it a folder of its own
        articles = tmp / "articles"
        articles.mkdir()
        (articles / corpus.name).symlink_to(corpus.resolve())
    settings = settings.replace(articles_dir=articles, index_dir=tmp / "index")
    build_index(settings)
    return settings


def replay_key(model: str, messages: Sequence[Message], max_tokens: int, temperature: float) -> str:
    """What a recorded answer is filed under: everything that decides it (the seed is fixed).

    >>> one = replay_key("m.gguf", [{"role": "user", "content": "Hi"}], 64, 0.1)
    >>> len(one), one == replay_key("m.gguf", [{"role": "user", "content": "Hi"}], 64, 0.1)
    (64, True)
    >>> one == replay_key("m.gguf", [{"role": "user", "content": "Hi"}], 64, 0.2)
    False
    """
    payload = json.dumps([model, list(messages), max_tokens, temperature], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ReplayGenerator:
    """A Generator that replays answers recorded in a JSONL file and records the ones it has not seen.

    A hit yields the stored pieces without calling the inner generator; a miss streams the inner one
    and appends `{"key", "pieces"}` as soon as that answer ends, so an interrupted run keeps what it
    did. The inner generator is made on first use (`count` needs its tokenizer). Timings of replayed
    answers are not measurements.
    """

    def __init__(self, inner: Callable[[], Generator], path: Path, model: str):
        self.path, self.model = path, model
        self._make: Callable[[], Generator] = inner
        self._inner: Generator | None = None
        self._cache = read_replays(path)
        self.replayed = 0  # answers served from the file
        self.recorded = 0  # answers added to it

    @property
    def inner(self) -> Generator:
        if self._inner is None:
            self._inner = self._make()
        return self._inner

    @property
    def n_ctx(self) -> int:
        return self.inner.n_ctx

    def __getattr__(self, name: str) -> Any:
        # the Engine looks these up with getattr(..., default): present only when the inner one has them.
        # `primed` too: without it the Engine takes a replay for primed, never primes the model, and every
        # answer it generates evaluates the whole prompt (the opening is the only prefix a prompt reuses)
        if name in ("loaded", "warm_up", "prime", "primed"):
            return getattr(self.inner, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def count(self, messages: Sequence[Message]) -> int:
        return self.inner.count(messages)

    def stream(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        key = replay_key(self.model, messages, max_tokens, temperature)
        stored = self._cache.get(key)
        if stored is not None:
            self.replayed += 1
            yield from stored
            return
        pieces: list[str] = []
        inner = self.inner.stream(messages, max_tokens, temperature)
        try:
            for piece in inner:
                pieces.append(piece)
                yield piece
        except GeneratorExit:
            # the Engine stops reading a model that repeats itself: what it read is its whole answer,
            # and a replay stops at the same piece
            self._record(key, pieces)
            raise
        else:
            self._record(key, pieces)
        finally:
            close = getattr(inner, "close", None)
            if close is not None:  # frees the model's lock now, not when garbage is collected
                close()

    def _record(self, key: str, pieces: list[str]) -> None:
        self._cache[key] = tuple(pieces)
        line = (json.dumps({"key": key, "pieces": pieces}, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab+") as f:
            if f.seek(0, 2):  # a run killed mid-line left no newline: start this record on a line of its own
                f.seek(-1, 2)
                line = line if f.read(1) == b"\n" else b"\n" + line
            f.write(line)
        self.recorded += 1


def read_replays(path: Path) -> dict[str, tuple[str, ...]]:
    """The recorded answers of a replay file by key; a line cut short by a killed run is skipped."""
    if not path.exists():
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rec = json.loads(line)
            out[str(rec["key"])] = tuple(str(p) for p in rec["pieces"])
        except (ValueError, KeyError, TypeError):
            log.warning("%s:%d is not a recorded answer; skipped", path, lineno)
    return out


def replay_generator(settings: Settings, path: Path, inner: Generator | None = None) -> ReplayGenerator:
    """A ReplayGenerator over `inner`, or over the configured LLM, which it makes on first use."""
    model = Path(settings.llm_model).name if settings.llm_model else GGUF_NAME
    if inner is not None:
        return ReplayGenerator(lambda: inner, path, model)
    return ReplayGenerator(lambda: llama_generator(llm_model_path(settings), settings.n_ctx, settings.n_threads,
                                                   None, settings.speculate),
                           path, model)


_ANSWER_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("questions", lambda s: str(s["questions"])),
    ("answer acc.", lambda s: _fmt(s["answer_accuracy"])),
    ("citation acc.", lambda s: _fmt(s["citation_accuracy"])),
    ("unanswerable refused", lambda s: f"{s['refused_unanswerable_n']}/{s['unanswerable']}"),
    ("answerable refused", lambda s: f"{s['refused_answerable_n']}/{s['answerable']}"),
    ("fabricated", lambda s: str(s["fabricated"])),
    ("wrong but supported", lambda s: str(s["wrong_supported"])),
    ("prompt tokens", lambda s: _fmt(s["prompt_tokens_mean"], ".0f")),
    ("TTFT p50 s", lambda s: _seconds(s["ttft_ms_p50"])),
    ("total p50 s", lambda s: _seconds(s["total_ms_p50"])),
)
_RETRIEVAL_COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("questions", lambda s: str(s["questions"])),
    ("recall@1", lambda s: _fmt(s["recall@1"])),
    ("recall@5", lambda s: _fmt(s["recall@5"])),
    ("MRR@10", lambda s: _fmt(s["mrr@10"])),
    ("gate refused unanswerable", lambda s: _fmt(s["gate_refused_unanswerable"])),
    ("gate refused answerable", lambda s: _fmt(s["gate_refused_answerable"])),
    ("retrieval p50 ms", lambda s: _fmt(s["retrieval_ms_p50"], ".0f")),
)


def markdown_table(result: dict[str, Any]) -> str:
    """One row per question set, then the combined row when there are several (retrieval columns only
    for a --retrieval-only result), and a note when replayed answers' timings were left out."""
    combined = result["summary"]
    only = result["records"][0].get("set", "all") if result["records"] else "all"
    rows = [(name, r["summary"]) for name, r in result.get("sets", {}).items()] or [(only, combined)]
    if "sets" in result:
        rows.append(("all", combined))
    columns = _ANSWER_COLUMNS if "answer_accuracy" in combined else _RETRIEVAL_COLUMNS
    lines = ["| set | " + " | ".join(h for h, _ in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    lines += [f"| {name} | " + " | ".join(cell(s) for _, cell in columns) + " |" for name, s in rows]
    if combined.get("replayed"):
        lines.append(f"\n{combined['replayed']} answers were replayed from the LLM cache: timings of replayed "
                     "answers are not measurements, so TTFT and total are over the others only.")
    return "\n".join(lines)


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.1f}"
