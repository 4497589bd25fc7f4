"""Prompt-lookup speculative decoding against plain decoding, on recorded real prompts.

Each prompt is answered by today's path (`create_completion`, greedy, repeat penalty 1.1) and by the
speculative decoder with each K (draft tokens a pass), in an order rotated from prompt to prompt so
the machine's changing load falls on every variant alike. Every run starts from the same context:
the prompts' common opening cached, as `prime` leaves it, then the rest of the prompt but its last
token evaluated once (timed: the share of the answer's time both decoders have in common).
Per variant it prints how many answers are identical to plain decoding's, the acceptance rate, and
the ratios to plain decoding on the same prompt (geometric mean over prompts) of the decoding rate
(tokens/s after the first token), of the decoding time, of the decoding's CPU time, and of the whole
answer's time after the cached opening (shared prefill + decoding). Timings are never asserted.

    nice -n 10 .venv/bin/python bench/speculative.py prompts.jsonl --ks 2,4,8
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package: find _common
from _common import load_average, machine, say

from qa.answering import speculate
from qa.answering.generate import LlamaGenerator
from qa.config import load
from qa.models import llm_model_path


def read_prompts(path: Path, limit: int) -> list[dict[str, Any]]:
    """The prompts, the sets they came from taken in turn (so a --limit run samples every set)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_set: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_set.setdefault(row.get("set", ""), []).append(row)
    mixed = [row for turn in itertools.zip_longest(*by_set.values()) for row in turn if row is not None]
    return mixed[:limit] if limit else mixed


def common_prefix(seqs: list[list[int]]) -> int:
    n = min(len(s) for s in seqs)
    for i in range(n):
        if len({s[i] for s in seqs}) > 1:
            return i
    return n


def timed_stream(pieces: Iterator[str]) -> dict[str, Any]:
    """The text, wall seconds to the first piece and to the end, and CPU seconds of this process: with
    one thread, CPU time counts the work done, not the time other jobs held the cores."""
    started, cpu = time.perf_counter(), time.process_time()
    first, text = None, []
    for piece in pieces:
        first = first if first is not None else time.perf_counter() - started
        text.append(piece)
    total = time.perf_counter() - started
    return {"text": "".join(text), "ttft": first if first is not None else total, "total": total,
            "cpu": time.process_time() - cpu}


def prefill(gen: LlamaGenerator, prompt: list[int], opening: int) -> float:
    """Seconds to evaluate the prompt after the cached opening, less its last token: the part of the
    answer's time both decoders share (each run then evaluates the last token itself)."""
    llm = gen._llm
    llm._ctx.kv_cache_seq_rm(-1, opening, -1)
    llm.n_tokens = opening
    started = time.perf_counter()
    llm.eval(prompt[opening:-1])
    return time.perf_counter() - started


def run_variant(gen: LlamaGenerator, messages: list[dict[str, str]], prompt: list[int], max_tokens: int,
                k: int) -> dict[str, Any]:
    """One answer from the prompt less its last token in context, so every variant starts alike."""
    llm = gen._llm
    llm._ctx.kv_cache_seq_rm(-1, len(prompt) - 1, -1)
    llm.n_tokens = len(prompt) - 1
    stats = speculate.Stats()
    if k == 0:
        gen.speculate = 0
        out = timed_stream(gen.stream(messages, max_tokens, 0.0))
    else:
        gen.speculate = k
        out = timed_stream(gen._speculative(prompt, max_tokens, stats))
        out.update(tokens=stats.tokens, passes=stats.passes, drafted=stats.drafted, kept=stats.kept,
                   emitted=stats.emitted)
    return out


def progress(runs: dict[int, dict[str, Any]], ks: list[int]) -> str:
    parts = [f"{runs[0]['tokens']} tokens, plain {runs[0]['total']:.2f} s"]
    for k in ks:
        same = "same" if runs[k]["text"] == runs[0]["text"] else "DIFF"
        parts.append(f"K={k} {runs[k]['total'] / runs[0]['total']:.2f}x decoding time, "
                     f"{runs[k]['cpu'] / runs[0]['cpu']:.2f}x CPU, {same}")
    return "; ".join(parts)


def geomean(values: list[float]) -> float:
    values = [v for v in values if v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def decode_rate(run: dict[str, Any], tokens: int) -> float:
    """Tokens per second after the first one: decoding alone, without the prompt's evaluation."""
    return (tokens - 1) / max(run["total"] - run["ttft"], 1e-9)


def summarise(results: list[dict[int, dict[str, Any]]], ks: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for k in ks:
        same = [r for r in results if r[k]["text"] == r[0]["text"]]
        kept = sum(r[k]["kept"] for r in results)
        drafted = sum(r[k]["drafted"] for r in results)
        tokens = sum(r[k]["tokens"] for r in results)
        passes = sum(r[k]["passes"] for r in results)
        rated = [r for r in same if r[k]["tokens"] > 1]
        out[k] = {
            "identical": len(same), "prompts": len(results),
            "acceptance": round(kept / drafted, 3) if drafted else 0.0,
            "tokens_per_pass": round(tokens / max(passes + len(results), 1), 2),
            "decode_rate_ratio": round(geomean([decode_rate(r[k], r[k]["tokens"])
                                                / decode_rate(r[0], r[k]["tokens"]) for r in rated]), 3),
            "decode_time_ratio": round(geomean([r[k]["total"] / r[0]["total"] for r in results]), 3),
            "decode_cpu_ratio": round(geomean([r[k]["cpu"] / r[0]["cpu"] for r in results]), 3),
            "answer_time_ratio": round(geomean([r[k]["answer"] / r[0]["answer"] for r in results]), 3),
            "plain_decode_tok_s": round(geomean([decode_rate(r[0], r[k]["tokens"]) for r in rated]), 1),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompts", type=Path, help="JSONL of recorded prompts: messages, max_tokens")
    ap.add_argument("--ks", default="2,4,8", help="draft tokens a pass to compare with plain decoding")
    ap.add_argument("--limit", type=int, default=0, help="first N prompts only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save", type=Path, help="append each prompt's runs here as it completes (JSONL)")
    ap.add_argument("--from-saved", action="store_true", help="only summarise the runs --save wrote")
    args = ap.parse_args()
    quiet = args.json
    ks = [int(k) for k in args.ks.split(",")]
    if args.from_saved:
        saved = [json.loads(line) for line in args.save.read_text(encoding="utf-8").splitlines() if line.strip()]
        results = [{int(k): run for k, run in rec["runs"].items()} for rec in saved]
        loads = [rec["load"] for rec in saved]
        report_results(results, ks, {"load_average": loads[0], "cores": None}, loads, args.json)
        return
    settings = load()
    gen = LlamaGenerator(llm_model_path(settings), settings.n_ctx, args.threads)
    gen.warm_up()
    rows = read_prompts(args.prompts, args.limit)
    opening = common_prefix([gen.tokens(r["messages"]) for r in rows])
    gen._llm.eval(gen.tokens(rows[0]["messages"])[:opening])
    start = machine()
    say(f"{len(rows)} prompts, opening of {opening} tokens cached, load average {start['load_average']}",
        quiet=quiet)
    variants = [0, *ks]
    results: list[dict[int, dict[str, Any]]] = []
    loads: list[float] = []
    for i, row in enumerate(rows):
        order = variants[i % len(variants):] + variants[:i % len(variants)]  # rotated: A/B/A/B over prompts
        prompt = gen.tokens(row["messages"])
        shared = prefill(gen, prompt, opening)
        runs = {k: run_variant(gen, row["messages"], prompt, row["max_tokens"], k) for k in order}
        for run in runs.values():
            run["answer"] = shared + run["total"]  # the whole answer after the cached opening
        runs[0].update(tokens=runs[max(ks)]["tokens"], passes=0, drafted=0, kept=0)
        results.append(runs)
        loads.append(load_average())
        if args.save:
            with args.save.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"prompt": prompt, "runs": runs, "load": loads[-1]}, ensure_ascii=False) + "\n")
        say(f"[{i + 1}/{len(rows)}] {progress(runs, ks)}; load {loads[-1]}", quiet=quiet)
    report_results(results, ks, start, loads, args.json)


def report_results(results: list[dict[int, dict[str, Any]]], ks: list[int], start: dict[str, Any],
                   loads: list[float], as_json: bool) -> None:
    summary = summarise(results, ks)
    report = {"machine": start, "load_average_mean": round(sum(loads) / len(loads), 2),
              "load_average_end": load_average(), "summary": summary,
              "diffs": [{"prompt": i, "k": k, "plain": r[0]["text"], "speculative": r[k]["text"]}
                        for i, r in enumerate(results) for k in ks if r[k]["text"] != r[0]["text"]]}
    if as_json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return
    say(f"\nload average: start {start['load_average']}, mean {report['load_average_mean']}, "
        f"end {report['load_average_end']}")
    say("K | identical | acceptance | tokens/pass | decode tok/s ratio | decoding time ratio | decoding CPU ratio"
        " | answer time ratio")
    for k, s in summary.items():
        say(f"{k} | {s['identical']}/{s['prompts']} | {s['acceptance']} | {s['tokens_per_pass']} | "
            f"{s['decode_rate_ratio']} | {s['decode_time_ratio']} | {s['decode_cpu_ratio']} | {s['answer_time_ratio']}")
    say(f"(plain decoding: {summary[ks[0]]['plain_decode_tok_s']} tok/s, geometric mean)")
    for d in report["diffs"]:
        say(f"DIFF prompt {d['prompt']} K={d['k']}:\n  plain: {d['plain']!r}\n  spec:  {d['speculative']!r}")


if __name__ == "__main__":
    main()
