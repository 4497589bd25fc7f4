"""`qa index --ray`: the driver's part on fakes (any runner order gives the same index), the message
without Ray, and the real thing: Ray instances in a network namespace with loopback only, where the
index answers `qa search` as the single-machine build's does, and a kill -9 of the driver leaves the
previous index serving."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa import store
from qa.cli import main
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import QAError
from qa.indexing.build import build_index

from .conftest import ROOT, SEEDS, bulk_corpus
from .fakes import HashEmbedder
from .live import Corpus, app_env

SCENARIOS = Path(__file__).with_name("ray_scenarios.py")
QUERIES = ["Where did Blinken and Lavrov meet?", "What did Lavrov say about sanctions?",
           "Who won the election?", "port strike wages", "NATO summit in Stockholm"]


# --- the driver's part, on fakes -----------------------------------------------------------------

class ShuffledRunner:
    """A runner as a cluster behaves: tasks finish in any order (map still returns in input order,
    as Ray Data's preserve_order does), embedding batches arrive in any order and of any size."""

    def __init__(self) -> None:
        self.mapped = 0

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
        done = {i: fn(items[i]) for i in reversed(range(len(items)))}
        self.mapped += len(items)
        return [done[i] for i in range(len(items))]

    def embed(self, pairs: Sequence[tuple[str, str]], embedder: Embedder) -> Iterator[tuple[list[str], np.ndarray]]:
        batches = [pairs[i:i + 7] for i in range(0, len(pairs), 7)]
        for batch in reversed(batches):
            yield [k for k, _ in batch], embedder.embed([t for _, t in batch])


def _dump(index_dir: Path) -> tuple[Any, ...]:
    """Everything a generation holds that must not depend on where the build ran."""
    live = store.Store.open(index_dir)
    rows = live._db().execute("SELECT row, id, article_id, start, end, ordinal, embed_key FROM chunks").fetchall()
    articles = live._db().execute("SELECT * FROM articles ORDER BY id").fetchall()
    vectors = live.faiss.reconstruct_n(0, live.faiss.ntotal)
    manifest = {k: v for k, v in store.read_manifest(index_dir).__dict__.items() if k != "built_at"}
    return rows, articles, vectors.tobytes(), manifest


def test_any_runner_order_writes_the_same_index(tmp_path: Path, settings: Settings) -> None:
    (settings.articles_dir / "bulk.jsonl").write_text(bulk_corpus(tmp_path / "b.jsonl", 40).read_text())
    local = build_index(settings, embedder=HashEmbedder())
    shuffled_settings = settings.replace(index_dir=tmp_path / "shuffled")
    runner = ShuffledRunner()
    shuffled = build_index(shuffled_settings, embedder=HashEmbedder(), runner=runner)
    assert runner.mapped == 6 + local.articles  # every file (5 + bulk.jsonl) read, every article chunked
    assert shuffled.to_json() | {"seconds": 0} == local.to_json() | {"seconds": 0}
    assert _dump(shuffled_settings.index_dir) == _dump(settings.index_dir)
    # the cache was filled from the out-of-order batches: a rerun embeds nothing
    (settings.articles_dir / "new.txt").write_text("A new headline\n\nSomething new happened in Oslo today.")
    again = build_index(shuffled_settings, embedder=HashEmbedder(), runner=ShuffledRunner())
    assert (again.added, again.embedded_chunks) == (1, 1)


def test_without_ray_index_says_what_to_install(settings: Settings, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = main(["index", "--ray", "local", "--articles", str(settings.articles_dir),
                 "--index", str(settings.index_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install -e '.[scale]'" in err and "make scale" in err
    assert not settings.index_dir.exists() or store.current_generation(settings.index_dir) is None


def test_ray_options_without_ray_are_refused(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["index", "--workers", "2", "--articles", str(settings.articles_dir),
                 "--index", str(settings.index_dir)])
    assert code == 2 and "add --ray local" in capsys.readouterr().err


def test_ray_addresses() -> None:
    from qa.indexing.ray_build import init_options  # imports no Ray: runs without the extra

    local = init_options("local", 2, Path("/tmp/r"))
    assert (local["address"], local["num_cpus"], local["_temp_dir"]) == ("local", 2, "/tmp/r")
    assert local["runtime_env"]["py_modules"] == [str(ROOT / "qa")]
    assert "num_cpus" not in init_options("auto", 2, None)  # a cluster's size is its own `ray start`'s
    with pytest.raises(QAError, match=r"cannot run through Ray Client.*--ray auto"):
        init_options("ray://10.0.0.5:10001", None, None)  # Ray Data needs its driver on a node
    with pytest.raises(QAError, match=r"expected local .* or auto"):
        init_options("10.0.0.5", None, None)


def test_results_out_of_order_stop_the_build() -> None:
    import pickle

    from qa.indexing.ray_build import RayRunner

    rows = [{"i": i, "out": pickle.dumps(i)} for i in (0, 2, 1)]
    with pytest.raises(QAError, match="result 2 where 1"):
        list(RayRunner._in_order(rows, 3))
    with pytest.raises(QAError, match="2 of 3"):
        list(RayRunner._in_order([{"i": i, "out": pickle.dumps(i)} for i in (0, 1)], 3))


# --- the real thing: Ray in a namespace with loopback only ---------------------------------------

def _netns_ok() -> str | None:
    """Why Ray cannot be tested here, or None."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed: pip install -e '.[scale]' (make test installs it)"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is missing (util-linux, iproute2)"
    probe = subprocess.run(["unshare", "-n", "-p", "-f", "--mount-proc", "sh", "-c", "ip link set lo up"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare -n is not permitted here ({probe.stderr.strip()[:200]})"
    return None


def _scenario(*args: str, env: dict[str, str], timeout: float = 1200) -> dict[str, Any]:
    """tests/ray_scenarios.py in new network and PID namespaces: only loopback, so Ray binds 127.0.0.1,
    and every process it starts ends with the namespace, whatever the scenario did."""
    why = _netns_ok()
    if why:
        pytest.skip(why)
    script = 'ip link set lo up && exec "$0" "$@"'
    result = subprocess.run(["unshare", "-n", "-p", "-f", "--mount-proc", "sh", "-c", script, sys.executable,
                             str(SCENARIOS), *args], env={**env, "RAY_USAGE_STATS_ENABLED": "0"},
                            cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _search(index: Path, articles: Path, query: str) -> list[tuple[str, str, float]]:
    out = subprocess.run([sys.executable, "-m", "qa.cli", "search", query, "--json"],
                         env=app_env(Corpus(articles, index)), cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=300)
    return [(h["chunk_id"], h["article_id"], round(h["score"], 5)) for h in json.loads(out.stdout)["hits"]]


@pytest.mark.slow
def test_ray_build_answers_search_as_the_single_machine_build(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    report = _scenario("same", str(tmp_path), env=app_env(Corpus(articles, tmp_path / "single")))
    names = ("single", "local", "auto")
    builds = {name: report[name] for name in names}
    for name in ("local", "auto"):
        assert {k: v for k, v in builds[name].items() if k not in ("seconds", "generation")} == \
            {k: v for k, v in builds["single"].items() if k not in ("seconds", "generation")}, name
        rows, articles, vectors, manifest = _dump(tmp_path / name)
        expected = _dump(tmp_path / "single")
        assert (rows, articles, manifest) == (expected[0], expected[1], expected[3])  # ids, offsets, keys
        # the int8 embedder embeds each text alone: the vectors do not depend on the worker or the batch
        assert np.allclose(np.frombuffer(vectors, np.float32), np.frombuffer(expected[2], np.float32), atol=1e-6)
    assert report["rerun"]["embedded_chunks"] == 0 and report["rerun"]["unchanged"] == 5  # the cache was filled
    assert report["ray_left"] == [], report["ray_left"]  # `ray stop` and the local instances' shutdown
    for query in QUERIES:
        expected = _search(tmp_path / "single", articles, query)
        assert expected
        for name in ("local", "auto"):
            assert _search(tmp_path / name, articles, query) == expected, (name, query)


@pytest.mark.slow
def test_sigkill_of_the_ray_driver_keeps_the_previous_index(tmp_path: Path) -> None:
    articles, index = tmp_path / "articles", tmp_path / "index"
    shutil.copytree(SEEDS, articles)
    env = app_env(Corpus(articles, index))
    report = _scenario("kill", str(tmp_path), env=env)
    if report["finished"]:
        pytest.skip("the Ray build finished before it had checkpointed a batch to kill it after")
    before, after = report["before"], report["after"]
    assert after == before  # status, read after the kill: the previous generation still serves
    # the local instance dies with its driver: its raylet at once, idle workers once they give up on it
    assert report["ray_left"] == [], report
    hits = json.loads(subprocess.run([sys.executable, "-m", "qa.cli", "search", QUERIES[0], "--json"], env=env,
                                     cwd=ROOT, capture_output=True, text=True, check=True).stdout)["hits"]
    assert hits and all(not h["article_id"].startswith("bulk") for h in hits)
    cached = sqlite3.connect(index / "embeddings.sqlite").execute("select count(*) from vectors").fetchone()[0]
    assert cached > before["chunks"]  # the killed build's checkpoints
    resumed = json.loads(subprocess.run([sys.executable, "-m", "qa.cli", "index", "--json"], env=env, cwd=ROOT,
                                        capture_output=True, text=True, check=True).stdout)
    # what the killed build embedded is not embedded again
    assert resumed["embedded_chunks"] == resumed["chunks"] - cached
    assert resumed["added"] == 600 and not list(index.glob("*.tmp"))

