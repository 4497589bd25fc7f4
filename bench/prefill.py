"""Prompt evaluation (prefill) levers against the current settings, on recorded real prompts.

Configurations (one llama.cpp context each, loaded side by side): the current one (2 threads, n_batch
= n_ubatch = 512, no flash attention, the bundled Q4_K_M), and each lever changed alone: 1 thread,
n_batch/n_ubatch 128 and 256, flash attention on, and a re-quantised Q4_0 model (--q4-0), whose
every linear layer this llama.cpp build repacks to q4_0_8x8 at load (the Q4_K_M repacks its q4_K
layers to q4_K_8x8 and leaves its q6_K ones as they are).

Per prompt, in an order rotated from prompt to prompt (so the machine's changing load falls on all
alike), each configuration evaluates the prompt cold (empty context) and warm (the prompts' common
opening already in the context, as `prime` leaves it), then picks the first token: that is the time
to the first token. Prints each configuration's ratio to the current one on the same prompt
(geometric mean over prompts) and its prompt tokens/s. --answers N also generates the first N
prompts' answers with every model and counts those identical to the bundled model's.

    nice -n 10 .venv/bin/python bench/prefill.py prompts.jsonl --limit 8 \\
        --q4-0 q4_0.gguf
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package: find _common
from _common import load_average, machine, say

from qa.answering.generate import LlamaGenerator
from qa.config import load
from qa.models import llm_model_path

CURRENT = {"threads": 2, "n_batch": 512, "flash_attn": False, "model": "bundled"}
LEVERS = {  # name -> what differs from CURRENT
    "current (2 threads, batch 512, no flash attention, Q4_K_M)": {},
    "1 thread": {"threads": 1},
    "n_batch = n_ubatch = 128": {"n_batch": 128},
    "n_batch = n_ubatch = 256": {"n_batch": 256},
    "flash attention": {"flash_attn": True},
    "Q4_0 re-quantised": {"model": "q4_0"},
}


def make_llm(path: Path, n_ctx: int, threads: int, n_batch: int, flash_attn: bool) -> Any:
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                 n_batch=n_batch, n_ubatch=n_batch, flash_attn=flash_attn, verbose=False)


def first_token_time(llm: Any, tokens: list[int], keep: int) -> float:
    """Seconds to evaluate tokens[keep:] after the first `keep` in context and pick the first token."""
    llm._ctx.kv_cache_seq_rm(-1, keep, -1)
    llm.n_tokens = keep
    sampler = llm._init_sampler(temp=0.0, repeat_penalty=1.1, top_p=0.9)
    started = time.perf_counter()
    llm.eval(tokens[keep:])
    sampler.sample(llm._ctx, -1)
    elapsed = time.perf_counter() - started
    sampler.close()
    return elapsed


def geomean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def common_prefix(seqs: list[list[int]]) -> int:
    n = min(len(s) for s in seqs)
    return next((i for i in range(n) if len({s[i] for s in seqs}) > 1), n)


def answers(path: Path, settings: Any, rows: list[dict[str, Any]], threads: int) -> list[str]:
    """Today's greedy answers (create_completion, speculation off) with the model at `path`."""
    gen = LlamaGenerator(path, settings.n_ctx, threads)
    out = ["".join(gen.stream(r["messages"], r["max_tokens"], 0.0)) for r in rows]
    gen.close()
    return out


def compare_answers(models: dict[str, Any], settings: Any, rows: list[dict[str, Any]], threads: int
                    ) -> dict[str, Any]:
    plain = answers(models["bundled"], settings, rows, threads)
    other = answers(models["q4_0"], settings, rows, threads)
    pairs = list(zip(plain, other, strict=True))
    return {"q4_0_identical_answers": f"{sum(a == b for a, b in pairs)}/{len(rows)}",
            "q4_0_answer_pairs": [{"q4_k_m": a, "q4_0": b} for a, b in pairs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompts", type=Path, help="JSONL of recorded prompts: messages, max_tokens")
    ap.add_argument("--limit", type=int, default=8, help="first N prompts (0: all)")
    ap.add_argument("--q4-0", type=Path, help="the bundled model re-quantised to Q4_0")
    ap.add_argument("--answers", type=int, default=0, help="compare the answers of the first N prompts")
    ap.add_argument("--answers-only", action="store_true", help="skip the timings: only --answers")
    ap.add_argument("--answer-threads", type=int, default=2, help="threads for --answers (not timed)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    quiet = args.json
    settings = load()
    models = {"bundled": llm_model_path(settings), "q4_0": args.q4_0}
    rows = [json.loads(line) for line in args.prompts.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.answers_only:
        report = compare_answers(models, settings, rows[:args.answers], args.answer_threads)
        say(json.dumps(report, indent=1, ensure_ascii=False) if args.json else
            f"Q4_0 answers identical to Q4_K_M's: {report['q4_0_identical_answers']}")
        return
    levers = {name: {**CURRENT, **change} for name, change in LEVERS.items()
              if models[{**CURRENT, **change}["model"]] is not None}
    rows = rows[:args.limit] if args.limit else rows
    llms = {name: make_llm(models[c["model"]], settings.n_ctx, c["threads"], c["n_batch"], c["flash_attn"])
            for name, c in levers.items()}
    gen = LlamaGenerator(models["bundled"], settings.n_ctx, 2)
    prompts = [gen.tokens(r["messages"]) for r in rows]
    gen.close()
    opening = common_prefix(prompts)
    start = machine()
    say(f"{len(rows)} prompts of {sum(map(len, prompts)) / len(prompts):.0f} tokens on average, opening "
        f"{opening}; load average {start['load_average']}", quiet=quiet)
    for llm in llms.values():  # a first evaluation pays one-off costs (pages of the weights, buffers)
        first_token_time(llm, prompts[0][:64], 0)
    times: dict[str, dict[str, list[float]]] = {n: {"cold": [], "warm": []} for n in levers}
    loads = []
    for i, tokens in enumerate(prompts):
        names = list(levers)
        for name in names[i % len(names):] + names[:i % len(names)]:
            llm = llms[name]
            times[name]["cold"].append(first_token_time(llm, tokens, 0))
            times[name]["warm"].append(first_token_time(llm, tokens, opening))  # the opening is still there
        loads.append(load_average())
        say(f"[{i + 1}/{len(prompts)}] {len(tokens)} tokens: current cold "
            f"{times[names[0]]['cold'][-1]:.2f} s, warm {times[names[0]]['warm'][-1]:.2f} s; load {loads[-1]}",
            quiet=quiet)
    base = times[next(iter(levers))]
    n_tokens = sum(map(len, prompts))
    n_warm = sum(len(t) - opening for t in prompts)
    summary = {name: {
        "cold_ttft_ratio": round(geomean([a / b for a, b in zip(t["cold"], base["cold"], strict=True)]), 3),
        "warm_ttft_ratio": round(geomean([a / b for a, b in zip(t["warm"], base["warm"], strict=True)]), 3),
        "cold_tok_s": round(n_tokens / sum(t["cold"]), 1), "warm_tok_s": round(n_warm / sum(t["warm"]), 1),
        "cold_ttft_s_median": round(sorted(t["cold"])[len(t["cold"]) // 2], 2),
        "warm_ttft_s_median": round(sorted(t["warm"])[len(t["warm"]) // 2], 2),
    } for name, t in times.items()}
    report: dict[str, Any] = {"machine": start, "load_average_mean": round(sum(loads) / len(loads), 2),
                              "opening_tokens": opening, "summary": summary}
    llms.clear()
    if args.answers and args.q4_0:
        report.update(compare_answers(models, settings, rows[:args.answers], args.answer_threads))
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return
    say(f"\nload average: start {start['load_average']}, mean {report['load_average_mean']}")
    say("lever | cold TTFT ratio | warm TTFT ratio | cold prompt tok/s | warm prompt tok/s")
    for name, s in summary.items():
        say(f"{name} | {s['cold_ttft_ratio']} | {s['warm_ttft_ratio']} | {s['cold_tok_s']} | {s['warm_tok_s']}")
    if "q4_0_identical_answers" in report:
        say(f"Q4_0 answers identical to Q4_K_M's: {report['q4_0_identical_answers']}")


if __name__ == "__main__":
    main()
