"""Ray scenarios for tests/test_ray_build.py, run inside a network namespace with loopback only
(Ray binds the machine's other addresses otherwise). Prints one JSON line of what it saw.

    ray_scenarios.py same WORK   single-machine build, `--ray local` (2 CPUs), `--ray auto` against a
                                 `ray start --head` instance, each into WORK/<name>; a rerun
    ray_scenarios.py kill WORK   a build, then a `--ray local` build of 600 more articles killed (-9)
                                 once it has checkpointed embeddings; status before and after
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RAY = Path(sys.executable).parent / "ray"
RAY_PROCESSES = ("raylet", "gcs_server", "ray::", "plasma", "dashboard", "default_worker", "log_monitor")


def qa(*args: str, index: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "qa.cli", *args, "--json"], cwd=ROOT, capture_output=True,
                         text=True, check=False, env={**os.environ, "QA_INDEX_DIR": str(index)})
    if out.returncode != 0:
        raise SystemExit(f"qa {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout))


def reap_orphans() -> None:
    """Collect every exited child. This script is the namespace's init, so Ray's processes orphaned by
    a dead driver become its children: unreaped, a dead raylet stays a zombie whose pid still answers
    kill(pid, 0), and Ray's workers, which exit when their raylet's pid is gone, would wait forever."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def ray_left(wait: float = 150) -> list[str]:
    """Ray's processes still running in this namespace (ps of the namespace's own /proc) after up to
    `wait` seconds: workers notice their raylet is gone and exit, which takes a few seconds."""
    deadline = time.monotonic() + wait
    while True:
        reap_orphans()  # only between commands: no subprocess of ours is running to be reaped from under it
        ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True, check=True).stdout
        running = [line.split(None, 1) for line in ps.splitlines() if not line.lstrip().startswith("Z")]
        left = [args for _, args in running if any(p in args for p in RAY_PROCESSES) and "ray_scenarios" not in args]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1)


def same(work: Path, temp: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"single": qa("index", index=work / "single")}
    report["local"] = qa("index", "--ray", "local", "--workers", "2", "--ray-temp", str(temp / "l"),
                         index=work / "local")
    report["rerun"] = qa("index", "--ray", "local", "--workers", "2", "--ray-temp", str(temp / "l"),
                         index=work / "local")
    port = "6390"
    subprocess.run([str(RAY), "start", "--head", "--port", port, "--num-cpus", "2", "--temp-dir", str(temp / "h"),
                    "--include-dashboard=false", "--disable-usage-stats"], check=True, capture_output=True)
    try:  # `auto` finds the instance from the address file `ray start` leaves (RAY_ADDRESS is not set:
        # with it, Ray 2.60's driver does not read the cluster's auth token and is refused)
        report["auto"] = qa("index", "--ray", "auto", index=work / "auto")
    finally:
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, check=False)
    report["ray_left"] = ray_left()
    return report


def kill(work: Path, temp: Path) -> dict[str, Any]:
    from tests.conftest import bulk_corpus

    index = Path(os.environ["QA_INDEX_DIR"])
    first = qa("index", index=index)
    before = qa("status", index=index)
    bulk_corpus(Path(os.environ["QA_ARTICLES_DIR"]) / "bulk.jsonl")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "index", "--ray", "local", "--workers", "2",
                             "--ray-temp", str(temp / "k")], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cache = index / "embeddings.sqlite"
    deadline = time.monotonic() + 900
    while proc.poll() is None and time.monotonic() < deadline:  # kill once a batch has been checkpointed
        count = sqlite3.connect(cache).execute("select count(*) from vectors").fetchone()[0]
        if count > first["chunks"]:
            break
        time.sleep(0.2)
    finished = proc.poll() is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = time.monotonic()
    left = ray_left()
    return {"finished": finished, "before": before, "after": qa("status", index=index), "ray_left": left,
            "seconds_to_kill": round(killed_at - started, 1),
            "seconds_until_ray_gone": round(time.monotonic() - killed_at, 1)}


def main() -> None:
    scenario, work = sys.argv[1], Path(sys.argv[2])
    # a short folder: Ray's session sockets live in it, and a Unix socket path has at most 107 bytes
    with tempfile.TemporaryDirectory(prefix="ray-", dir="/tmp") as temp:
        report = {"same": same, "kill": kill}[scenario](work, Path(temp))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
