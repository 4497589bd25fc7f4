"""Measure rules for the LLM judge on recorded readings (how qa/tuning.py's JUDGE_MIN was chosen).

record: answers each question (a conversation's turns with their history) with the judge off,
replayed from an LLM cache written by `qa eval --llm-cache`, then records the judge's readings of the
top two citations that pass the lexical check: "a", the shipped reading (does the cited sentence +-1
contain the answer to the question, after the worked examples of qa.answering.judge), and the two
readings it replaced, without examples: "s0" (does the passage say the claim) and "a0" (the answer
question alone).

    python eval/judge_rules.py record OUT.jsonl --index IDX --llm-cache CACHE QUESTIONS.jsonl...
    python eval/judge_rules.py score OUT.jsonl...

score prints, for each rule and threshold: right answers kept / unanswerable questions let through /
wrong answers kept (questions with expected words), and the summed F1 of the answers kept (CLAP-NQ).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Reading = dict[str, float]
RULES: dict[str, Callable[[Reading], float]] = {
    "answers with examples (shipped)": lambda c: c["a"],
    "min(says, answers) no examples": lambda c: min(c["s0"], c["a0"]),
    "min(says no examples, answers)": lambda c: min(c["s0"], c["a"]),
}
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85)
SYSTEM0 = "You are a careful fact checker."


def _says0(evidence: str, claim: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM0},
            {"role": "user", "content": f"Passage: {evidence}\n\nDoes the passage say that {claim.rstrip('.!? ')}? "
                                        "Reply with yes or no."}]


def _answers0(evidence: str, question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM0},
            {"role": "user", "content": f"Passage: {evidence}\n\nQuestion: {question}\n\nDoes the passage contain "
                                        "the answer to this exact question? Reply with yes or no."}]


def record(out: Path, index: Path, cache: Path, files: list[Path]) -> None:
    from qa import tuning
    from qa.answering import judge as J
    from qa.answering.engine import Engine
    from qa.answering.generate import llama_generator
    from qa.config import load
    from qa.evaluate import expect_ok, load_questions, replay_generator, token_f1
    from qa.models import llm_model_path
    from qa.types import Turn

    settings = load().replace(index_dir=index, judge=False)
    engine = Engine(settings, None, replay_generator(settings, cache))
    model = llama_generator(llm_model_path(settings), tuning.JUDGE_CTX, settings.n_threads)
    history: list[Turn] = []
    with out.open("a", encoding="utf-8") as sink:
        for q in [q for f in files for q in load_questions(f)]:
            history = history if q.turn else []
            a = engine.answer(q.question, history)
            history += [Turn("user", q.question), Turn("assistant", a.text)]
            right = q.answerable and not a.refused and (not q.expect or expect_ok(a.text, q.expect))
            rec: dict[str, Any] = {"id": q.id, "answerable": q.answerable, "refused": a.refused,
                                   "correct": bool(right) if q.expect or not q.answerable else None,
                                   "f1": token_f1(a.text, q.answers) if q.answers and not a.refused else 0.0,
                                   "answer": a.text[:300], "cits": []}
            by_id = {h.chunk.id: h for h in a.sources}
            stating = sorted((c for c in a.citations if c.supported and c.on_topic and c.chunk_id in by_id),
                             key=lambda c: -c.support)[:2] if not a.refused else []
            for c in stating:
                ev = J.evidence(c, by_id[c.chunk_id])
                rec["cits"].append({"a": model.yes_probability(J.answers(ev, a.question)),
                                    "s0": model.yes_probability(_says0(ev, c.sentence)),
                                    "a0": model.yes_probability(_answers0(ev, a.question))})
            sink.write(json.dumps(rec) + "\n")
            sink.flush()


def score(files: list[Path]) -> None:
    recs = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    answerable = [r for r in recs if r["answerable"] and r["correct"] is not None]
    unanswerable = [r for r in recs if not r["answerable"]]
    scored = [r for r in recs if r["answerable"] and r["correct"] is None]  # no expected words: F1
    print(f"{len(recs)} questions: {len(answerable)} answerable with expected words "
          f"({sum(r['correct'] for r in answerable)} right before the judge), {len(scored)} scored by F1 "
          f"(sum {sum(r['f1'] for r in scored):.1f}), {len(unanswerable)} unanswerable "
          f"({sum(bool(r['cits']) for r in unanswerable)} answered with a stating citation)")
    for name, rule in RULES.items():
        cells = []
        best = {id(r): max((rule(c) for c in r["cits"]), default=0.0) for r in recs}
        for t in THRESHOLDS:
            kept = sum(r["correct"] and best[id(r)] >= t for r in answerable)
            through = sum(best[id(r)] >= t for r in unanswerable)
            wrong = sum(not r["correct"] and best[id(r)] >= t for r in answerable)
            f1 = sum(r["f1"] for r in scored if best[id(r)] >= t)
            cells.append(f"{t}: {kept}/{through}/{wrong}" + (f" F1 {f1:.1f}" if scored else ""))
        print(f"{name:32s} " + "  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("out", type=Path)
    r.add_argument("questions", type=Path, nargs="+")
    r.add_argument("--index", type=Path, required=True)
    r.add_argument("--llm-cache", type=Path, required=True)
    s = sub.add_parser("score")
    s.add_argument("files", type=Path, nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "record":
        record(args.out, args.index, args.llm_cache, args.questions)
    else:
        score(args.files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
