"""`qa index --ray ADDRESS`: the build's per-article work as Ray Data tasks across a cluster's CPUs.

Only the work that needs no other article is distributed: reading, parsing and cleaning a file,
chunking an article, embedding a text the cache does not hold. This process (the driver) keeps
the rest, exactly as a single-machine build does (qa.indexing.build): the build lock, the plan and
duplicate detection, the embedding cache (each batch of vectors checkpointed as it arrives), and
writing the generation with its atomic switch. Results of reading and chunking come back in their
inputs' order and every vector is keyed by its text, so the index is the one a single-machine build
writes: same chunk ids, same vectors (the int8 ONNX embedder embeds each text on its own, so its
vector does not depend on which worker or batch ran it), same manifest.

Ray is an optional extra (`pip install -e '.[scale]'`, `make scale`); the workers import this
process's copy of the `qa` package (shipped with the job), and need its dependencies and the
embedding model installed where they run.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import qa
from qa.config import Settings
from qa.embed import Embedder, make_embedder
from qa.errors import QAError
from qa.indexing.build import EMBED_BATCH  # texts a Ray task embeds at once: a cache checkpoint each

log = logging.getLogger(__name__)

INSTALL = "pip install -e '.[scale]' (or `make scale`)"
BLOCKS_PER_CPU = 4  # blocks of files or articles a worker CPU gets: evens out files of unequal size
# environment the workers need to find the models offline, as this process does
PASSED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME", "XDG_CACHE_HOME")


def import_ray() -> ModuleType:
    """Ray and Ray Data, or an error saying how to install them."""
    if not log.isEnabledFor(logging.INFO):  # Ray's own notes and warnings only with `qa -v`; errors always
        os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
        # fatal: Ray Data's actors log an error line about their own restart policy on every build
        # (ray-project/ray#53727), which a user can do nothing about; failures still raise
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        import ray
        import ray.data  # the extra's other half (pandas, pyarrow): a bare `ray` cannot run the build
    except ImportError as exc:
        raise QAError(f"--ray needs Ray, an optional extra that is not installed ({exc.name} is missing): "
                      f"{INSTALL}, then run the command again.") from None
    return ray


def init_options(address: str, workers: int | None, temp_dir: Path | None) -> dict[str, Any]:
    """ray.init's arguments: `local` starts an instance of `workers` CPUs (default: all of them);
    `auto` joins the running cluster this machine is a node of, whose size its own `ray start` set."""
    if address.startswith("ray://"):  # tried with Ray 2.60: Ray Data's executor needs a driver on a node
        raise QAError(f"--ray {address}: Ray Data cannot run through Ray Client (ray://), its driver must "
                      "run on a node of the cluster: on the head, or on a machine that joined it with "
                      "`ray start --address HEAD:6379`, run `qa index --ray auto`.")
    options: dict[str, Any] = {
        "address": address,
        "runtime_env": {
            "py_modules": [str(Path(qa.__file__).parent)],  # the workers run this copy of the code
            "env_vars": {k: os.environ[k] for k in PASSED_ENV if k in os.environ},
        },
        "log_to_driver": log.isEnabledFor(logging.INFO),  # the workers' logs, with `qa -v` only
        "logging_level": logging.INFO if log.isEnabledFor(logging.INFO) else logging.ERROR,
    }
    if address == "local":
        options["include_dashboard"] = False
        if workers:
            options["num_cpus"] = workers
        if temp_dir:
            options["_temp_dir"] = str(temp_dir)
    elif address != "auto":
        raise QAError(f"--ray {address}: expected local (a new Ray instance on this machine) or auto (the "
                      "cluster this machine joined with `ray start`).")
    return options


def _embedder_class(settings: Settings, name: str) -> type:
    """A Ray Data worker's embedder, loaded once per worker process, then used for every batch. The
    class carries its settings (Ray ships it with the job), so no constructor argument has to live in
    the object store, where an actor restarted after losing it could not find it again."""

    class Embed:
        def __init__(self) -> None:
            self.embedder = make_embedder(settings)
            if self.embedder.name != name:  # e.g. ONNX failed on this worker and "auto" fell back to torch
                raise QAError(f"a Ray worker embeds with {self.embedder.name}, the build with {name}: "
                              "install the same model and backend on every node.")

        def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            vectors = self.embedder.embed([str(t) for t in batch["text"]])
            return {"key": batch["key"], "vector": np.asarray(vectors, dtype=np.float32)}

    return Embed


def _apply(fn: Callable[[Any], Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """fn on one pickled row: inputs and results travel as bytes, so Arrow never has to type them."""

    def run(row: dict[str, Any]) -> dict[str, Any]:
        return {"i": row["i"], "out": pickle.dumps(fn(pickle.loads(row["item"])))}

    return run


@dataclass
class RayRunner:
    """A build's Runner (qa.indexing.build) on a Ray cluster; a context manager around ray.init."""

    address: str
    settings: Settings
    workers: int | None = None  # `local`: the instance's CPUs; a cluster: at most this many tasks at once
    temp_dir: Path | None = None  # `local`: Ray's session folder (default: Ray's, under /tmp/ray)
    _ray: Any = field(default=None, repr=False)

    def __enter__(self) -> RayRunner:
        options = init_options(self.address, self.workers, self.temp_dir)  # a wrong address, before "install Ray"
        ray = import_ray()
        try:
            ray.init(**options)
        except Exception as exc:  # Ray raises many types here (ConnectionError, RuntimeError, gRPC's)
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise QAError(f"--ray {self.address}: could not start or join Ray ({reason}); for auto, start "
                          "the cluster first with `ray start --head`, or join it with `ray start --address "
                          "HEAD:6379`.") from None
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the build shows its own progress
        ctx.print_on_execution_start = False
        self._ray = ray
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ray is not None:
            self._ray.shutdown()  # a `local` instance stops with it; a cluster keeps running

    def cpus(self) -> int:
        total = int(self._ray.cluster_resources().get("CPU", 1))
        return max(1, min(total, self.workers or total))

    def _dataset(self, rows: list[dict[str, Any]], preserve_order: bool) -> Any:
        ctx = self._ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = preserve_order
        blocks = max(1, min(len(rows), self.cpus() * BLOCKS_PER_CPU))
        return self._ray.data.from_items(rows, override_num_blocks=blocks)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterable[Any]:
        items = list(items)
        if not items:
            return iter(())
        rows = [{"i": i, "item": pickle.dumps(x)} for i, x in enumerate(items)]
        tasks = self._ray.data.TaskPoolStrategy(size=self.cpus())
        ds = self._dataset(rows, preserve_order=True).map(_apply(fn), num_cpus=1, compute=tasks)
        return self._in_order(ds.iter_rows(), len(items))

    @staticmethod
    def _in_order(rows: Iterable[dict[str, Any]], n: int) -> Iterator[Any]:
        count = 0
        for row in rows:
            if row["i"] != count:  # preserve_order is Ray's promise; the index's ids depend on it
                raise QAError(f"Ray returned result {row['i']} where {count} was expected: "
                              "the build stopped before writing anything.")
            yield pickle.loads(row["out"])
            count += 1
        if count != n:
            raise QAError(f"Ray returned {count} of {n} results: the build stopped before writing anything.")

    def embed(self, pairs: Sequence[tuple[str, str]], embedder: Embedder) -> Iterator[tuple[list[str], np.ndarray]]:
        if not pairs:
            return
        rows = [{"key": k, "text": t} for k, t in pairs]
        # one ONNX thread a worker: the cluster's parallelism is its workers (see qa.embed.OnnxEmbedder)
        worker_settings = self.settings.replace(threads=1)
        actors = self._ray.data.ActorPoolStrategy(size=self.cpus())  # one embedder a worker, loaded once
        ds = self._dataset(rows, preserve_order=False).map_batches(
            _embedder_class(worker_settings, embedder.name), batch_size=EMBED_BATCH, batch_format="numpy",
            num_cpus=1, compute=actors)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            yield [str(k) for k in batch["key"]], np.asarray(batch["vector"], dtype=np.float32)
