"""Cold `qa ask`: time to first token with the saved prefix state, beside the same run without it.

    .venv/bin/python bench/cold_prefix.py [--questions 5] [--json]

Every prompt opens with the constant system prompt and instruction (~245 tokens). A fresh process
used to evaluate them before the question's own tokens; now the first process saves their llama.cpp
state (qa.answering.prefix) and the next ones restore it.

Each of the first --questions answerable questions of eval/seeds/seeds_qa.jsonl is asked by two new
`python -m qa.cli ask --json` processes over an index of articles/ built in a temporary folder:
the baseline with QA_PREFIX_CACHE=false (the opening evaluated, as before), and one that restores the
saved state. The two alternate which goes first, so that load on the machine falls on both alike. An
untimed process asks first: it saves the state when there is none and brings the model file into the
page cache. Reported per question and as medians: `ttft_ms` from the answer's timings (the question
reaching the engine -> the first token: the embedder's and the LLM's loading, retrieval, the prompt),
the process's wall time (imports and the judge included), how the process got the opening and in how
many ms (its `-v` log: "evaluated" or "restored"), whether the two answers are the same text, and the
ratio baseline / with the state.

Timings are figures to read, never assertions: the machine is shared, and the load average is
reported next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package: find _common
from _common import ROOT, SEEDS, machine, say

from qa.answering import prefix
from qa.config import load
from qa.evaluate import load_questions

QUESTIONS = ROOT / "eval" / "seeds" / "seeds_qa.jsonl"  # the repository's copy
WARM_UP = "What did the ministers agree?"  # not a timed question
MODES = {"baseline: opening evaluated": "false", "saved state restored": "true"}
OPENING_LOG = re.compile(r"the prompts' opening \((\d+) tokens\) (\w+) in (\d+) ms")  # LlamaGenerator.prime's


def qa_cli(args: list[str], prefix_cache: str) -> tuple[dict[str, Any], float, str]:
    """One fresh `python -m qa.cli ... --json` process: its JSON, its wall seconds and its log (stderr)."""
    env = {**os.environ, "QA_PREFIX_CACHE": prefix_cache, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qa.cli", *args, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"qa {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout), wall, done.stderr


def ask(question: str, index: Path, prefix_cache: str) -> dict[str, Any]:
    answer, wall, log = qa_cli(["ask", question, "--index", str(index), "-v"], prefix_cache)
    t = answer["timings"]
    return {"ttft_ms": t["ttft_ms"], "total_ms": t["total_ms"], "wall_s": round(wall, 2), "answer": answer["answer"],
            "opening": opening(log)}


def opening(log: str) -> str:
    """How the process got the prompts' opening, from its -v log: "restored in 31 ms", "evaluated in ..."."""
    found = OPENING_LOG.search(log)
    return f"{found.group(2)} in {found.group(3)} ms" if found else "-"


def state_file_bytes() -> int | None:
    """The size of the newest saved state in the configured cache folder."""
    where = prefix.folder(load({}))
    files = sorted(where.glob(f"*{prefix.SUFFIX}"), key=lambda p: p.stat().st_mtime) if where else []
    return files[-1].stat().st_size if files else None


def run(n: int, index: Path, quiet: bool) -> dict[str, Any]:
    questions = [q.question for q in load_questions(QUESTIONS) if q.answerable][:n]
    qa_cli(["index", "--articles", str(SEEDS), "--index", str(index)], "true")
    ask(WARM_UP, index, "true")  # saves the state when there is none yet; the GGUF into the page cache
    rows = []
    for i, question in enumerate(questions):
        order = list(MODES.items()) if i % 2 == 0 else list(MODES.items())[::-1]
        row: dict[str, Any] = {"question": question}
        for name, setting in order:
            row[name] = ask(question, index, setting)
        say(f"{i + 1}/{len(questions)} {question[:60]}", quiet=quiet)
        rows.append(row)
    return {**machine(), "state_file_bytes": state_file_bytes(), "questions": rows,
            "medians": {name: _medians([r[name] for r in rows]) for name in MODES}}


def _medians(results: list[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in ("ttft_ms", "wall_s"):
        values = [r[key] for r in results if r[key] is not None]  # None: the gate refused, no LLM
        out[key] = round(statistics.median(values), 2) if values else None
    return out


def report(result: dict[str, Any]) -> None:
    base, warm = MODES
    print(f"cores {result['cores']}, load average {result['load_average']} at the end; "
          f"state file {result['state_file_bytes']} bytes")
    print(f"| question | TTFT ms, {base} | TTFT ms, {warm} | wall s, {base} | wall s, {warm} | the opening, "
          f"{base} | the opening, {warm} | same answer |")
    print("| --- " * 8 + "|")
    for r in result["questions"]:
        print(f"| {r['question'][:50]} | {r[base]['ttft_ms']} | {r[warm]['ttft_ms']} | {r[base]['wall_s']} | "
              f"{r[warm]['wall_s']} | {r[base]['opening']} | {r[warm]['opening']} | "
              f"{r[base]['answer'] == r[warm]['answer']} |")
    m = result["medians"]
    print(f"| median | {m[base]['ttft_ms']} | {m[warm]['ttft_ms']} | {m[base]['wall_s']} | {m[warm]['wall_s']} "
          "| | | |")
    if m[base]["ttft_ms"] and m[warm]["ttft_ms"]:
        print(f"time to first token of a cold `qa ask`: {m[base]['ttft_ms'] / m[warm]['ttft_ms']:.2f}x faster "
              "with the saved state than the baseline")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=5, help="answerable seed questions to ask (default 5)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.questions, Path(tmp) / "index", args.json)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)


if __name__ == "__main__":
    main()
