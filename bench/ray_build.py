"""Indexing throughput: the plain build against `qa index --ray local` with 1 and 2 workers, same run.

    .venv/bin/python bench/ray_build.py [--copies 60] [--rounds 1] [--json]

Needs the scale extra (`make scale`). Ray binds the machine's non-loopback address whenever one
exists, so the bench re-runs itself inside new network and PID namespaces with loopback only
(`unshare -n -p -f --mount-proc`, as root), where Ray binds 127.0.0.1 and every Ray process ends
with the bench.

The corpus is the sample articles replicated `--copies` times (bench/_common.replicate_articles: each
copy's chunks differ, so the embedding cache cannot shortcut the work). Each build is a `qa index
--json` subprocess into a fresh index folder (a fresh embedding cache), run one after the other:
articles/s are given on the whole command's wall clock (Python and Ray start-up included, what a
user waits for) and on the build's own `seconds` (after Ray has started). The builds must agree on
articles and chunks. The machine is shared: the load average is printed beside each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package: find _common
from _common import ROOT, SEEDS, load_average, replicate_articles, say

INSIDE = "QA_BENCH_NETNS"  # set once the bench runs in its namespaces
RUNS = (("plain", ()), ("ray, 1 worker", ("--ray", "local", "--workers", "1")),
        ("ray, 2 workers", ("--ray", "local", "--workers", "2")))


def reexec_in_namespace(argv: list[str]) -> int:
    script = 'ip link set lo up && exec "$0" "$@"'
    cmd = ["unshare", "-n", "-p", "-f", "--mount-proc", "sh", "-c", script, sys.executable, __file__, *argv]
    env = {**os.environ, INSIDE: "1", "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run(cmd, env=env, check=False).returncode


def build(articles: Path, index: Path, extra: tuple[str, ...], temp: Path) -> dict[str, Any]:
    env = {**os.environ, "QA_ARTICLES_DIR": str(articles), "QA_INDEX_DIR": str(index),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    ray_temp = ("--ray-temp", str(temp)) if extra else ()
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "qa.cli", "index", "--json", *extra, *ray_temp], env=env,
                         cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"qa index {' '.join(extra)} failed:\n{out.stderr[-3000:]}")
    summary = json.loads(out.stdout)
    return {"articles": summary["articles"], "chunks": summary["chunks"], "wall_s": round(wall, 1),
            "build_s": round(summary["seconds"], 1),
            "articles_per_s_wall": round(summary["articles"] / wall, 2),
            "articles_per_s_build": round(summary["articles"] / summary["seconds"], 2),
            "load_average": load_average()}


def run(copies: int, rounds: int, work: Path, quiet: bool) -> dict[str, Any]:
    articles = work / "articles"
    replicate_articles(SEEDS, articles, copies)
    # a first build, not counted: the ONNX export is made if the cache has none, files are read once
    build(articles, work / "warm-up", (), work / "ray")
    report: dict[str, Any] = {"copies": copies, "cores": os.cpu_count(), "runs": []}
    for r in range(rounds):
        for name, extra in RUNS:
            result = {"name": name, "round": r + 1,
                      **build(articles, work / f"index-{r}-{len(report['runs'])}", extra, work / "ray")}
            report["runs"].append(result)
            say(f"{name:15} {result['articles']} articles, {result['chunks']} chunks: {result['wall_s']} s wall "
                f"({result['articles_per_s_wall']} articles/s), build {result['build_s']} s "
                f"({result['articles_per_s_build']} articles/s), load average {result['load_average']}", quiet=quiet)
    assert len({(x["articles"], x["chunks"]) for x in report["runs"]}) == 1, "the builds disagree"
    best = {name: max(x["articles_per_s_wall"] for x in report["runs"] if x["name"] == name) for name, _ in RUNS}
    best_build = {name: max(x["articles_per_s_build"] for x in report["runs"] if x["name"] == name)
                  for name, _ in RUNS}
    report["ratio_to_plain"] = {name: round(best[name] / best["plain"], 2) for name, _ in RUNS[1:]}
    report["ratio_to_plain_build"] = {name: round(best_build[name] / best_build["plain"], 2) for name, _ in RUNS[1:]}
    say(f"articles/s relative to the plain build, wall clock: {report['ratio_to_plain']}; "
        f"build only (Ray started): {report['ratio_to_plain_build']}", quiet=quiet)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=60, help="copies of the 5 sample articles (default 60)")
    parser.add_argument("--rounds", type=int, default=1, help="times the three builds run (best one counts)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (figures go to stderr)")
    args = parser.parse_args()
    if not os.environ.get(INSIDE):
        return reexec_in_namespace(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="qa-bench-ray-", dir="/tmp") as tmp:
        report = run(args.copies, args.rounds, Path(tmp), quiet=args.json)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
