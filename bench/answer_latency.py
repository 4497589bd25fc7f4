"""Answer latency and quality with the default model, per configuration, beside a baseline.

Runs the answerable (and unanswerable) questions of eval/seeds/seeds_qa.jsonl through
the real pipeline (bundled MiniLM + Qwen2.5-Coder-1.5B Q4_K_M on this CPU) for several
configurations of the latency levers (passages, sentence selection), and a baseline in the
same run: a LlamaIndex-starter-style prompt (its default text_qa template, the top 2
articles as ~1,024-token chunks). Prints a table; --json prints everything.
No assertion: figures go to the README.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.answering.engine import Engine  # noqa: E402
from qa.config import load  # noqa: E402
from qa.evaluate import expect_ok, load_questions, run_eval  # noqa: E402
from qa.indexing.build import build_index  # noqa: E402

QUESTIONS = ROOT / "eval" / "seeds" / "seeds_qa.jsonl"  # the repository's copy of the public set
STARTER_TEMPLATE = ("Context information is below.\n---------------------\n{context}\n---------------------\n"
                    "Given the context information and not prior knowledge, answer the query.\n"
                    "Query: {query}\nAnswer: ")
CONFIGS = {  # name -> settings changes
    "top 3 whole passages": {"top_k": 3, "passage_words": 0},
    "top 3, best sentences 40 words each, every passage": {"source_ratio": 0},
    "top 3, 40 words each, weak passages dropped": {"lead_sentences": 0, "follow_sentence": False},
    "the same, with the lead of articles near the top": {"follow_sentence": False},
    "the same, and the sentence after each passage (default)": {},
    "default, system prompt not cached": {"cold": True},
}
WARM_UP = "What did the ministers agree?"  # not an eval question: its cached prompt must not flatter one


def cold_prompts(generator: Any) -> Any:
    """A stream() that makes llama.cpp evaluate the whole prompt: what a varying system prompt costs."""
    warm = generator.stream

    def stream(*args: Any, **kwargs: Any) -> Iterator[str]:
        generator._llm.reset()  # forget the evaluated tokens: no prefix to reuse
        yield from warm(*args, **kwargs)
    return stream


def starter_baseline(engine: Engine, questions: list) -> dict:  # type: ignore[type-arg]
    """The top 2 articles as ~1,024-token windows in LlamaIndex's default QA template."""
    gen, store = engine.generator, engine.store()
    ttft, total, tokens, correct = [], [], [], []
    for q in questions:
        if not q.answerable:
            continue
        started = time.perf_counter()
        hits = engine.search(q.question).hits
        context = []
        for article_id in list(dict.fromkeys(h.chunk.article_id for h in hits))[:2]:
            article = store.article(article_id)
            words = article.text.split() if article else []
            context.append(" ".join(words[:760]))  # ~1,024 tokens of news English
        messages = [{"role": "user", "content": STARTER_TEMPLATE.format(context="\n\n".join(context),
                                                                        query=q.question)}]
        tokens.append(gen.count(messages))
        first, pieces = None, []
        for piece in gen.stream(messages, 256, 0.1):
            first = first or time.perf_counter() - started
            pieces.append(piece)
        ttft.append(first * 1000)
        total.append((time.perf_counter() - started) * 1000)
        correct.append(expect_ok("".join(pieces), q.expect))
    return {"prompt_tokens_mean": round(float(np.mean(tokens)), 1),
            "ttft_ms_p50": round(float(np.percentile(ttft, 50))),
            "ttft_ms_p95": round(float(np.percentile(ttft, 95))),
            "total_ms_p50": round(float(np.percentile(total, 50))),
            "answer_accuracy": round(float(np.mean(correct)), 4),
            "citation_accuracy": None, "refused_unanswerable": None, "refused_answerable": None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--configs", default=";".join(CONFIGS), help="names separated by ';'")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        settings = load(articles_dir=ROOT / "articles", index_dir=Path(tmp) / "index")
        build_index(settings)
        questions = load_questions(QUESTIONS)
        engine = Engine(settings)
        engine.answer(WARM_UP)  # model loaded, system prompt cached: as in the app, which warms up at start
        results = {}
        if not args.no_baseline:
            results["baseline: starter template, top 2 x 1024 tokens"] = starter_baseline(engine, questions)
        generator, warm_stream = engine.generator, engine.generator.stream
        for name in args.configs.split(";"):
            changes = dict(CONFIGS[name])
            generator.stream = cold_prompts(generator) if changes.pop("cold", False) else warm_stream  # type: ignore[method-assign]
            engine.settings = settings.replace(**changes)
            s = run_eval(questions, engine)["summary"]
            results[name] = {k: s[k] for k in ("prompt_tokens_mean", "ttft_ms_p50", "ttft_ms_p95", "total_ms_p50",
                                               "answer_accuracy", "citation_accuracy", "refused_unanswerable",
                                               "refused_answerable")}
    if args.json:
        print(json.dumps({"cores": os.cpu_count(), "results": results}, indent=2))
        return
    cols = ["prompt_tokens_mean", "ttft_ms_p50", "ttft_ms_p95", "total_ms_p50", "answer_accuracy",
            "citation_accuracy", "refused_unanswerable", "refused_answerable"]
    print("| configuration | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(str(r[c]) for c in cols) + " |")
    base = next(iter(results.values()))
    for name, r in list(results.items())[1:]:
        if base.get("ttft_ms_p50"):
            print(f"{name}: time to first token {base['ttft_ms_p50'] / r['ttft_ms_p50']:.1f}x faster than the baseline")


if __name__ == "__main__":
    main()
