"""Measure rules for the LLM judge on recorded readings (how qa/tuning.py's JUDGE_MIN was chosen).

record: answers each question with the judge off (replayed from an LLM cache written by
`qa eval --llm-cache`), then records the judge's readings of the top two citations that pass the
lexical check: "says" (cited sentence +-1), "answers" (same evidence, the question), and "says"
with the headline before the evidence.

    python eval/judge_rules.py record OUT.jsonl --index IDX --llm-cache CACHE QUESTIONS.jsonl...
    python eval/judge_rules.py score OUT.jsonl...

score prints, for each rule and threshold: right answers kept / unanswerable questions let through /
wrong answers kept.
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
    "min(says, answers)": lambda c: min(c["s"], c["a"]),
    "min(says+headline, answers)": lambda c: min(c["sh"], c["a"]),
    "answers": lambda c: c["a"],
    "says+headline": lambda c: c["sh"],
    "mean(says+headline, answers)": lambda c: (c["sh"] + c["a"]) / 2,
}
THRESHOLDS = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8)


def record(out: Path, index: Path, cache: Path, files: list[Path]) -> None:
    from qa import tuning
    from qa.answering import judge as J
    from qa.answering.engine import Engine
    from qa.answering.generate import llama_generator
    from qa.config import load
    from qa.evaluate import expect_ok, load_questions, replay_generator
    from qa.models import llm_model_path

    settings = load().replace(index_dir=index, judge=False)
    engine = Engine(settings, None, replay_generator(settings, cache))
    model = llama_generator(llm_model_path(settings), tuning.JUDGE_CTX, settings.n_threads)
    with out.open("a", encoding="utf-8") as sink:
        for q in [q for f in files for q in load_questions(f)]:
            a = engine.answer(q.question)
            right = q.answerable and not a.refused and (not q.expect or expect_ok(a.text, q.expect))
            rec: dict[str, Any] = {"id": q.id, "answerable": q.answerable, "refused": a.refused,
                                   "correct": bool(right), "answer": a.text[:300], "cits": []}
            by_id = {h.chunk.id: h for h in a.sources}
            stating = sorted((c for c in a.citations if c.supported and c.on_topic and c.chunk_id in by_id),
                             key=lambda c: -c.support)[:2] if not a.refused else []
            for c in stating:
                src = by_id[c.chunk_id]
                ev = J.evidence(c, src)
                rec["cits"].append({"s": model.yes_probability(J.says(ev, c.sentence)),
                                    "a": model.yes_probability(J.answers(ev, q.question)),
                                    "sh": model.yes_probability(J.says(f"{src.title}. {ev}", c.sentence))})
            sink.write(json.dumps(rec) + "\n")
            sink.flush()


def score(files: list[Path]) -> None:
    recs = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    answerable = [r for r in recs if r["answerable"]]
    unanswerable = [r for r in recs if not r["answerable"]]
    print(f"{len(recs)} questions: {len(answerable)} answerable ({sum(r['correct'] for r in answerable)} right "
          f"before the judge), {len(unanswerable)} unanswerable ({sum(bool(r['cits']) for r in unanswerable)} "
          "answered with a stating citation)")
    for name, rule in RULES.items():
        cells = []
        best = {id(r): max((rule(c) for c in r["cits"]), default=0.0) for r in recs}
        for t in THRESHOLDS:
            kept = sum(r["correct"] and best[id(r)] >= t for r in answerable)
            through = sum(best[id(r)] >= t for r in unanswerable)
            wrong = sum(not r["correct"] and best[id(r)] >= t for r in answerable)
            cells.append(f"{t}: {kept}/{through}/{wrong}")
        print(f"{name:30s} " + "  ".join(cells))


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
