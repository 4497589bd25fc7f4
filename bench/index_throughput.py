"""Indexing throughput: the whole pipeline, and the embedder alone (int8 ONNX vs torch), plus recall.

    .venv/bin/python bench/index_throughput.py [--quick] [--json]

Everything runs in a temporary folder with a temporary cache_dir, so nothing is reused from
earlier runs: the int8 ONNX export is made here (and timed on its own).

* Corpus: the sample articles replicated with variations to >= 5,000 chunks (2,000 with
  --quick; see `_common.replicate_articles`), and CLAP-NQ's 593 passages.
* Full build (`qa.indexing.build.build_index`, backend onnx): articles/s and chunks/s of ingest, clean,
  chunk, embed, store. Then re-indexing the unchanged corpus (seconds, % of the full build) and
  after changing one article (chunks embedded, seconds).
* Embedding only, on the very chunk texts of that index: the ONNX embedder, and plain
  `SentenceTransformer.encode` (torch) with batch size 64 and 32 (the better one counts); the
  ratio onnx/torch, per wall second and per CPU second (the latter moves less when other jobs
  share the two cores). The cosine between the two backends' vectors is reported too.
* Recall: `qa.evaluate.evaluate(..., retrieval_only=True)` on seeds_qa.jsonl over articles/
  and on CLAP-NQ, with embed_backend torch and onnx: recall@5, MRR@10 and the differences.

Timings are figures to read, never assertions: the machine is shared, and the load average is
reported next to them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package: find _common
from _common import CLAPNQ, EVAL, SEEDS, load_average, machine, replicate_articles, say, timed

from qa import store
from qa.config import Settings, load
from qa.embed import OnnxEmbedder, make_embedder
from qa.evaluate import evaluate
from qa.indexing.build import build_index
from qa.indexing.chunk import chunk_article, embed_text
from qa.indexing.ingest import load_articles
from qa.models import embed_model_path

TORCH_BATCHES = (64, 32)
WARM_UP = 32  # texts embedded before timing, so one-off allocations are not counted


def chunks_per_copy(settings: Settings, work: Path) -> float:
    """Chunks one replicated copy of the sample corpus makes (measured on two copies)."""
    probe = work / "probe"
    replicate_articles(SEEDS, probe, 2)
    articles, _ = load_articles(probe, probe, int(settings.max_file_mb * 2**20))
    return sum(len(chunk_article(a, settings.chunk_words, settings.chunk_overlap)) for a in articles) / 2


def indexed_texts(index_dir: Path) -> list[str]:
    """What the build embedded, one text per chunk, read back from the live generation."""
    live = store.Store.open(index_dir)
    return [embed_text(article.title, chunk.text) for article, pairs in live.content() for chunk, _ in pairs]


def build_figures(settings: Settings, embedder: Any) -> dict[str, Any]:
    """Full build, unchanged re-index, and one changed article."""
    full, t_full = timed(build_index, settings, embedder=embedder)
    again, t_again = timed(build_index, settings, embedder=embedder)
    changed = sorted(settings.articles_dir.iterdir())[0]
    with changed.open("a", encoding="utf-8") as f:
        f.write("\nA correction was appended to this story after publication, changing its last part.\n")
    one, t_one = timed(build_index, settings, embedder=embedder)
    return {
        "articles": full.articles, "chunks": full.chunks, "embedded_chunks": full.embedded_chunks,
        "seconds": round(t_full.wall, 2), "articles_per_s": t_full.rate(full.articles)["per_s"],
        "chunks_per_s": t_full.rate(full.chunks)["per_s"], "load_average": load_average(),
        "reindex_unchanged": {"seconds": round(t_again.wall, 2), "embedded_chunks": again.embedded_chunks,
                              "percent_of_full": round(100 * t_again.wall / max(t_full.wall, 1e-9), 1)},
        "reindex_one_changed": {"seconds": round(t_one.wall, 2), "embedded_chunks": one.embedded_chunks,
                                "updated": one.updated},
    }


def onnx_embedding(model_file: Path, model_dir: Path, texts: list[str], threads: int) -> dict[str, Any]:
    embedder = OnnxEmbedder(model_file, model_dir, "bench", threads=threads)
    _, t_load = timed(embedder.warm_up)
    embedder.embed(texts[:WARM_UP])
    vectors, t = timed(embedder.embed, texts)
    return {"load_s": round(t_load.wall, 2), "seconds": round(t.wall, 2), **t.rate(len(texts)),
            "load_average": load_average(), "vectors": vectors}


def torch_embedding(model_dir: Path, texts: list[str], threads: int) -> dict[str, Any]:
    """Plain sentence-transformers encode, the baseline the issue measures against."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model, t_load = timed(SentenceTransformer, str(model_dir), device="cpu", local_files_only=True)
    model.encode(texts[:WARM_UP], show_progress_bar=False)
    runs: dict[str, Any] = {"load_s": round(t_load.wall, 2), "threads": torch.get_num_threads()}
    for batch in TORCH_BATCHES:
        vectors, t = timed(model.encode, texts, batch_size=batch, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
        runs[f"batch_{batch}"] = {"seconds": round(t.wall, 2), **t.rate(len(texts)),
                                  "load_average": load_average()}
        runs["vectors"] = vectors
    best = max(TORCH_BATCHES, key=lambda b: runs[f"batch_{b}"]["per_s"])
    runs.update(best_batch=best, per_s=runs[f"batch_{best}"]["per_s"], per_cpu_s=runs[f"batch_{best}"]["per_cpu_s"])
    return runs


def embedding_figures(settings: Settings, model_file: Path, texts: list[str]) -> dict[str, Any]:
    """ONNX, then torch, then ONNX again (best of two): both backends see similar machine load."""
    model_dir, threads = embed_model_path(settings), settings.n_threads
    first = onnx_embedding(model_file, model_dir, texts, threads)
    baseline = torch_embedding(model_dir, texts, threads)
    second = onnx_embedding(model_file, model_dir, texts, threads)
    onnx = max(first, second, key=lambda r: r["per_s"])
    cosine = np.sum(onnx.pop("vectors") * baseline.pop("vectors"), axis=1)
    for run in (first, second):
        run.pop("vectors", None)
    return {
        "texts": len(texts), "onnx_int8": onnx, "onnx_runs_per_s": [first["per_s"], second["per_s"]],
        "torch": baseline,
        "ratio": round(onnx["per_s"] / baseline["per_s"], 2),
        "ratio_cpu": round(onnx["per_cpu_s"] / baseline["per_cpu_s"], 2),
        "cosine_to_torch": {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4)},
    }


def recall_figures(settings: Settings) -> dict[str, Any]:
    """recall@5 and MRR@10 with each backend, through the same code as `qa eval --retrieval-only`."""
    sets = {"seeds": (EVAL / "seeds_qa.jsonl", SEEDS),
            "clapnq": (CLAPNQ / "questions.jsonl", CLAPNQ / "corpus.jsonl")}
    out: dict[str, Any] = {}
    for name, (questions, corpus) in sets.items():
        row: dict[str, Any] = {}
        for backend in ("torch", "onnx"):
            summary = evaluate(questions, settings.replace(embed_backend=backend), corpus,
                               retrieval_only=True)["summary"]
            row[backend] = {"recall@5": round(summary["recall@5"], 4), "mrr@10": round(summary["mrr@10"], 4)}
        row["delta_recall@5"] = round(row["onnx"]["recall@5"] - row["torch"]["recall@5"], 4)
        row["delta_mrr@10"] = round(row["onnx"]["mrr@10"] - row["torch"]["mrr@10"], 4)
        out[name] = row
    return out


def run(quick: bool, work: Path, quiet: bool) -> dict[str, Any]:
    # embed_backend="onnx": a failed export must stop the bench, not quietly measure torch twice
    base = load({}, cache_dir=work / "cache", embed_backend="onnx")
    report: dict[str, Any] = {"quick": quick, "machine_at_start": machine()}
    embedder, t_export = timed(make_embedder, base)  # exports into the empty cache_dir
    report["onnx_export_seconds"] = round(t_export.wall, 1)
    say(f"int8 ONNX export and load: {t_export.wall:.1f} s (once per model; cached afterwards)", quiet=quiet)

    min_chunks = 2000 if quick else 5000
    copies = math.ceil(min_chunks / chunks_per_copy(base, work))
    articles = work / "articles"
    replicate_articles(SEEDS, articles, copies)
    news = base.replace(articles_dir=articles, index_dir=work / "index")
    say(f"building the replicated sample corpus ({copies} copies of {SEEDS.name}/) ...", quiet=quiet)
    report["news"] = build_figures(news, embedder)
    n = report["news"]
    say(f"news: {n['articles']} articles, {n['chunks']} chunks ({n['embedded_chunks']} embedded) in {n['seconds']} s: "
        f"{n['articles_per_s']} articles/s, {n['chunks_per_s']} chunks/s (load {n['load_average']})", quiet=quiet)
    say(f"  re-index unchanged: {n['reindex_unchanged']['seconds']} s "
        f"({n['reindex_unchanged']['percent_of_full']}% of the full build), "
        f"one article changed: {n['reindex_one_changed']['embedded_chunks']} chunks embedded in "
        f"{n['reindex_one_changed']['seconds']} s", quiet=quiet)

    clap_dir = work / "clapnq"
    clap_dir.mkdir()
    (clap_dir / "corpus.jsonl").symlink_to((CLAPNQ / "corpus.jsonl").resolve())
    clap, t_clap = timed(build_index, base.replace(articles_dir=clap_dir, index_dir=work / "clap-index"),
                         embedder=embedder)
    report["clapnq"] = {"articles": clap.articles, "chunks": clap.chunks, "seconds": round(t_clap.wall, 2),
                        "articles_per_s": t_clap.rate(clap.articles)["per_s"],
                        "chunks_per_s": t_clap.rate(clap.chunks)["per_s"], "load_average": load_average()}
    c = report["clapnq"]
    say(f"clapnq: {c['articles']} passages, {c['chunks']} chunks in {c['seconds']} s: "
        f"{c['articles_per_s']} articles/s, {c['chunks_per_s']} chunks/s (load {c['load_average']})", quiet=quiet)

    texts = indexed_texts(news.index_dir)
    say(f"embedding only, {len(texts)} chunk texts: onnx, torch (batch {TORCH_BATCHES}), onnx ...", quiet=quiet)
    report["embedding"] = e = embedding_figures(base, embedder.model_file, texts)
    say(f"  onnx int8: {e['onnx_int8']['per_s']} chunks/s (runs {e['onnx_runs_per_s']}), "
        f"{e['onnx_int8']['per_cpu_s']} per CPU-s", quiet=quiet)
    for b in TORCH_BATCHES:
        r = e["torch"][f"batch_{b}"]
        say(f"  torch batch {b}: {r['per_s']} chunks/s, {r['per_cpu_s']} per CPU-s (load {r['load_average']})",
            quiet=quiet)
    say(f"  ratio onnx/torch: {e['ratio']}x per wall second, {e['ratio_cpu']}x per CPU second; "
        f"cosine to torch mean {e['cosine_to_torch']['mean']}, min {e['cosine_to_torch']['min']}", quiet=quiet)

    say("recall (qa eval --retrieval-only), torch vs onnx ...", quiet=quiet)
    report["recall"] = recall_figures(base)
    for name, row in report["recall"].items():
        say(f"  {name}: recall@5 torch {row['torch']['recall@5']} onnx {row['onnx']['recall@5']} "
            f"(delta {row['delta_recall@5']:+}); MRR@10 torch {row['torch']['mrr@10']} "
            f"onnx {row['onnx']['mrr@10']} (delta {row['delta_mrr@10']:+})", quiet=quiet)
    report["machine_at_end"] = machine()
    say(f"load average at start {report['machine_at_start']['load_average']}, at end "
        f"{report['machine_at_end']['load_average']} on {os.cpu_count()} cores", quiet=quiet)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=">= 2,000 chunks instead of >= 5,000")
    parser.add_argument("--json", action="store_true", help="print one JSON object (figures go to stderr)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-bench-index-") as tmp:
        report = run(args.quick, Path(tmp), quiet=args.json)
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
