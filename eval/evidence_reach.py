"""Does the answer reach the model? How qa/tuning.py's evidence settings were chosen, with no LLM.

For each answerable question, the source texts the prompt would show (qa.answering.engine.evidence)
under the current settings and each `--try` variant: a question with `expect_all` groups counts when
every group is found in them; one with `answers` (CLAP-NQ) counts the share of its best answer's words
they hold. Prints the mean per variant with the words shown (prompt length is the latency lever).

    python eval/evidence_reach.py --index IDX QUESTIONS.jsonl --try passage_words=60 \
        --try passage_words=60,lead_sentences=0 --try type_weight=0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def reach(index: Path, path: Path, variant: dict[str, Any]) -> tuple[float, float, int]:
    """(mean answer reach, mean words shown, questions) for one variant."""
    from qa import lexical, tuning
    from qa.answering.engine import Engine, evidence
    from qa.answering.retrieve import retrieve
    from qa.config import load
    from qa.evaluate import expect_ok, load_questions

    variant = dict(variant)
    tuning.TYPE_WEIGHT = float(variant.pop("type_weight", tuning.TYPE_WEIGHT))
    settings = load().replace(index_dir=index, **variant)
    engine = Engine(settings)
    answers = {r["id"]: r.get("answers") or [] for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
    scores, words = [], []
    for q in (q for q in load_questions(path) if q.answerable):
        found = retrieve(engine.query(q.question, (), settings), engine.store(), engine.embedder, settings)
        shown = " ".join(evidence(found, engine.store(), engine.embedder, settings)[1]) if found.hits else ""
        words.append(len(shown.split()))
        if q.expect:
            scores.append(float(expect_ok(shown, q.expect)))
        else:
            have = set(lexical.tokens(shown))
            scores.append(max((len(set(lexical.tokens(a)) & have) / max(len(set(lexical.tokens(a))), 1)
                               for a in answers.get(q.id, [])), default=0.0))
    n = max(len(scores), 1)
    return sum(scores) / n, sum(words) / n, len(scores)


def parse_variant(text: str) -> dict[str, Any]:
    """"passage_words=60,lead_sentences=0" -> {"passage_words": 60, "lead_sentences": 0}."""
    out: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, _, value = (s.strip() for s in part.partition("="))
        flags = {"true": True, "false": False}
        out[key] = flags[value.lower()] if value.lower() in flags else float(value) if "." in value else int(value)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("questions", type=Path, nargs="+")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--try", dest="variants", action="append", default=[], metavar="KEY=VALUE,...")
    args = p.parse_args(argv)
    for path in args.questions:
        for text in ["", *args.variants]:
            share, words, n = reach(args.index, path, parse_variant(text))
            print(f"{path.name} {text or 'current settings':40s} n={n} answer reaches the prompt {share:.3f}, "
                  f"{words:.0f} words shown", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
