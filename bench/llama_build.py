"""llama-cpp-python builds compared on recorded real prompts: prefill, decoding and identical answers.

The Makefile compiles llama.cpp itself; which CPU instructions it may use decides how fast the
answer's prompt is evaluated. This bench takes each build as a folder the wheel was installed into
(`pip install --no-deps --target DIR WHEEL`) and runs one child process per build and round
(PYTHONPATH=DIR, so that build's `llama_cpp` is the one imported), alternating the order from round
to round so the machine's changing load falls on all alike. Each child loads the bundled model and,
per prompt, times the first token cold (empty context) and warm (the prompts' common opening already
in the context, as the app has it), then writes the greedy answer and times it (the prompt is
still in the context then, so that time is the decoding). The first build is
the baseline: every other build's figures are printed as ratios to it (geometric mean over prompts),
with the count of answers identical to the baseline's, word for word.

    nice -n 10 .venv/bin/python bench/llama_build.py prompts.jsonl \\
        --build avx2=/tmp/llama-avx2 --build native=/tmp/llama-native --limit 8 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package: find _common
from _common import ROOT, load_average, machine, say
from prefill import common_prefix, first_token_time, geomean


def child(prompts_file: Path, limit: int, threads: int) -> dict[str, Any]:
    """Runs inside the build's process: timings and answers for the first `limit` prompts."""
    import llama_cpp

    from qa.answering.generate import LlamaGenerator
    from qa.config import load
    from qa.models import llm_model_path

    settings = load()
    rows = [json.loads(line) for line in prompts_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    gen = LlamaGenerator(llm_model_path(settings), settings.n_ctx, threads)
    prompts = [gen.tokens(r["messages"]) for r in rows]
    opening = common_prefix(prompts)
    llm = gen._load()
    first_token_time(llm, prompts[0][:64], 0)  # one-off costs: pages of the weights, buffers
    cold, warm, decode, texts = [], [], [], []
    for tokens, row in zip(prompts, rows, strict=True):
        cold.append(first_token_time(llm, tokens, 0))
        warm.append(first_token_time(llm, tokens, opening))
        started = time.perf_counter()
        pieces = list(gen.stream(row["messages"], row["max_tokens"], 0.0))
        elapsed = time.perf_counter() - started
        texts.append("".join(pieces))
        decode.append(elapsed)
    gen.close()
    return {"system_info": llama_cpp.llama_print_system_info().decode(), "opening": opening,
            "tokens": [len(t) for t in prompts], "cold": cold, "warm": warm, "decode_s": decode, "answers": texts}


def median(values: list[float]) -> float:
    return round(sorted(values)[len(values) // 2], 2)


def run_child(folder: Path, prompts: Path, limit: int, threads: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}
    out = subprocess.run([sys.executable, __file__, "--child", str(prompts), "--limit", str(limit),
                          "--threads", str(threads)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per build: the best of its rounds per prompt, and ratios to the first build on the same prompt."""
    best = {name: {k: [min(r[k][i] for r in rs) for i in range(len(rs[0][k]))] for k in ("cold", "warm", "decode_s")}
            for name, rs in runs.items()}
    base_name = next(iter(runs))
    base, base_answers = best[base_name], runs[base_name][0]["answers"]
    first = runs[base_name][0]
    n_tokens, n_warm = sum(first["tokens"]), sum(t - first["opening"] for t in first["tokens"])
    def ratio(times: dict[str, list[float]], key: str) -> float:
        return round(geomean([a / c for a, c in zip(times[key], base[key], strict=True)]), 3)

    out = {}
    for name, b in best.items():
        answers = runs[name][0]["answers"]
        out[name] = {
            "cold_ttft_ratio": ratio(b, "cold"), "warm_ttft_ratio": ratio(b, "warm"),
            "decode_time_ratio": ratio(b, "decode_s"),
            "cold_tok_s": round(n_tokens / sum(b["cold"]), 1), "warm_tok_s": round(n_warm / sum(b["warm"]), 1),
            "warm_ttft_s_median": median(b["warm"]),
            "identical_answers": f"{sum(a == c for a, c in zip(answers, base_answers, strict=True))}/{len(answers)}",
            "stable_across_rounds": all(r["answers"] == answers for r in runs[name]),
            "different_answers": [{"baseline": c, name: a} for a, c in zip(answers, base_answers, strict=True)
                                  if a != c],
            "system_info": runs[name][0]["system_info"],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prompts", type=Path, help="JSONL of recorded prompts: messages, max_tokens")
    ap.add_argument("--build", action="append", default=[], metavar="NAME=DIR",
                    help="a folder a llama-cpp-python wheel was installed into; the first is the baseline")
    ap.add_argument("--limit", type=int, default=8, help="first N prompts (0: all)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.prompts, args.limit, args.threads)))
        return
    builds = dict(b.split("=", 1) for b in args.build)
    if len(builds) < 2:
        ap.error("give at least two --build NAME=DIR (the first is the baseline)")
    start = machine()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in builds}
    loads = []
    for r in range(args.rounds):
        names = list(builds) if r % 2 == 0 else list(builds)[::-1]
        for name in names:
            runs[name].append(run_child(Path(builds[name]), args.prompts, args.limit, args.threads))
            loads.append(load_average())
            say(f"round {r + 1}, {name}: warm TTFT median {median(runs[name][-1]['warm'])} s; "
                f"load {loads[-1]}", quiet=args.json)
    report = {"machine": start, "load_average_mean": round(sum(loads) / len(loads), 2),
              "prompts": len(runs[next(iter(builds))][0]["tokens"]), "summary": summarise(runs)}
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return
    say(f"load average: start {start['load_average']}, mean {report['load_average_mean']}")
    say("build | cold TTFT ratio | warm TTFT ratio | decoding time ratio | cold / warm prompt tok/s | identical")
    for name, s in report["summary"].items():
        say(f"{name} | {s['cold_ttft_ratio']} | {s['warm_ttft_ratio']} | {s['decode_time_ratio']} | "
            f"{s['cold_tok_s']} / {s['warm_tok_s']} | {s['identical_answers']}")
    for name, s in report["summary"].items():
        say(f"{name}: {s['system_info']}")


if __name__ == "__main__":
    main()
