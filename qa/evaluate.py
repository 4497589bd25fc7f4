"""Metrics over a question file: retrieval, answers, citations, abstention, latency.

Formats are those of ../shared/eval/README.md: one question a line (`question`,
`answerable`, `gold_articles`, `expect_all`, `answers`), or conversations (`turns`
of `question`, `expect_any`, `gold_articles`), asked turn by turn with their history.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa import lexical
from qa.answer import Engine
from qa.build import build_index
from qa.config import Settings
from qa.errors import QAError
from qa.types import Answer, Turn

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
    if q.answerable:
        rec["correct"] = (not a.refused) and expect_ok(a.text, q.expect) if q.expect else None
        rec["citation_ok"] = bool(cited & set(q.gold)) and all(c.supported for c in a.citations)
        if q.answers:
            rec["f1"] = round(token_f1(strip_refs(a.text), q.answers), 4)
    return rec


def strip_refs(text: str) -> str:
    return re.sub(r"\[[\d,\s\-–]+\]", "", text)


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
    s["refused_unanswerable"] = _mean([r["refused"] for r in una])
    s["refused_answerable"] = _mean([r["refused"] for r in ans])
    s["answer_f1"] = _mean([r.get("f1") for r in ans])
    llm = [r for r in records if r["llm_called"]]
    for key in ("ttft_ms", "total_ms"):
        s[f"{key}_p50"] = _pct([r[key] for r in llm], 50)
        s[f"{key}_p95"] = _pct([r[key] for r in llm], 95)
    s["prompt_tokens_mean"] = _mean([r["prompt_tokens"] for r in llm])
    s["answer_tokens_mean"] = _mean([r["answer_tokens"] for r in llm])
    return s


def run_eval(questions: Sequence[Question], engine: Engine, retrieval_only: bool = False,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
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
            answer = engine.answer(q.question, history)
            rec.update(answer_record(q, answer))
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
