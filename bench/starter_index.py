"""Indexing against the LlamaIndex starter recipe: articles/s and recall@5, same corpus, same run.

    .venv/bin/python bench/starter_index.py [--corpus clapnq|news] [--configs 80/1,80/1/40,120/0] [--rounds 2]
                                            [--copies N] [--json]

Needs the `bench` extra (`pip install -e '.[bench]'`: llama-index-core and its HuggingFace embedding).

* The starter: `VectorStoreIndex.from_documents` with LlamaIndex's defaults (SentenceSplitter, 1,024-token
  chunks with 200 overlap, in-memory vector store) and `HuggingFaceEmbedding` of the same
  all-MiniLM-L6-v2 folder on the CPU (torch, its default 256-token truncation), over Documents made
  from the same files (a folder through `SimpleDirectoryReader`, a corpus.jsonl one Document per line).
* This project: `qa.indexing.build.build_index` (ingest, clean, dedup, chunk, embed with the int8 ONNX
  MiniLM, store SQLite + FAISS + BM25 on disk), one run per configuration `words/overlap[/embed_words]`
  (chunk words, sentences of overlap, and the words of each chunk the embedder reads after the headline,
  0 or left out: all), each into a fresh index with an empty embedding cache.
* Both embedders are loaded before the clock starts (a one-off per process for either). The two
  pipelines alternate for `--rounds` rounds and the best round of each counts, so a busy machine
  slows both alike; the load average is printed beside.
* Recall@5: a gold article among the top 5 hits, on the corpus' answerable questions: the starter's
  retriever (`similarity_top_k=5`) against `qa eval --retrieval-only` (hybrid dense + BM25).

Corpora: `clapnq` is CLAP-NQ dev (593 Wikipedia passages, 300 answerable questions, from
../shared/eval); `news` is the repository's two dated news sets (eval/newsA and eval/newsB: 36 articles,
their answerable questions), indexed together; `--copies 50` writes each article 50 times, edited (1,800
articles), because 36 build in about a second, which times the fixed costs, not the work per article.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package: find _common
from _common import CLAPNQ, ROOT, copy_name, load_average, machine, replicate_articles, say, timed

from qa.config import Settings, load
from qa.embed import make_embedder
from qa.evaluate import evaluate, load_questions
from qa.indexing.build import build_index
from qa.models import embed_model_path

NEWS = (ROOT / "eval" / "newsA", ROOT / "eval" / "newsB")


def news_corpus(work: Path, copies: int = 1) -> tuple[Path, Path]:
    """The two news sets' articles in one folder, and their answerable questions in one file.

    With copies > 1 every article is written that many times by `replicate_articles` (each copy
    edited, so that neither pipeline can skip one as a duplicate): a few thousand articles of real
    news length, where 36 make a build too short to time. A question's gold is then every copy of
    its article.
    """
    folder, questions = work / "news", work / "news_questions.jsonl"
    folder.mkdir()
    rows = []
    for root in NEWS:
        if copies > 1:
            replicate_articles(root / "articles", folder, copies)
        else:
            for f in (root / "articles").iterdir():
                (folder / f.name).write_bytes(f.read_bytes())
        for line in (root / "questions.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("answerable", True):
                if copies > 1:
                    row["gold_articles"] = [copy_name(g, k) for g in row["gold_articles"]
                                            for k in range(1, copies + 1)]
                rows.append(json.dumps(row))
    questions.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder, questions


def starter_documents(corpus: Path) -> list[Any]:
    from llama_index.core import Document, SimpleDirectoryReader

    if not (corpus / "corpus.jsonl").exists():
        return SimpleDirectoryReader(str(corpus)).load_data()
    docs = []
    for line in (corpus / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        docs.append(Document(text=f"{row['title']}\n{row['text']}", metadata={"file_name": row["doc_id"]}))
    return docs


def starter_build(corpus: Path, embed_model: Any) -> tuple[Any, int]:
    from llama_index.core import VectorStoreIndex

    docs = starter_documents(corpus)
    return VectorStoreIndex.from_documents(docs, embed_model=embed_model), len(docs)


def starter_recall(index: Any, questions: Path, k: int = 5) -> float:
    """Share of answerable questions with a gold article among the top k hits."""
    retriever = index.as_retriever(similarity_top_k=k)
    rows = [q for q in load_questions(questions) if q.answerable]
    found = 0
    for q in rows:
        names = {n.node.metadata.get("file_name", "") for n in retriever.retrieve(q.question)}
        found += bool(names & set(q.gold))
    return round(found / len(rows), 4)


def ours_build(settings: Settings, embedder: Any) -> tuple[Any, dict[str, float]]:
    """The build, and the seconds from each progress stage's first report to the next stage's
    (reading and cleaning end where chunking starts)."""
    started = time.perf_counter()
    firsts: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "skip":  # a skipped file, not a stage
            firsts.setdefault(stage, time.perf_counter() - started)

    summary = build_index(settings, embedder=embedder, progress=progress)
    marks = sorted([*firsts.items(), ("read", 0.0), ("end", time.perf_counter() - started)], key=lambda kv: kv[1])
    return summary, {a: round(tb - ta, 1) for (a, ta), (_, tb) in itertools.pairwise(marks)}


def warm_up(work: Path, base: Settings, starter_model: Any, ours_embedder: Any) -> None:
    """One small article through both pipelines: model sessions, tokenizers, splitter and sentence
    segmenter data load once per process, outside the timed builds."""
    folder = work / "warm"
    folder.mkdir()
    (folder / "warm.md").write_text("# Warm-up\n\nA short article. It has two sentences.\n", encoding="utf-8")
    starter_build(folder, starter_model)
    build_index(base.replace(articles_dir=folder, index_dir=work / "idx-warm"), embedder=ours_embedder)


def run(corpus: Path, questions: Path, configs: list[tuple[int, ...]], rounds: int, work: Path) -> dict[str, Any]:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    base = load({})
    model_dir = embed_model_path(base)
    starter_model = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu")
    ours_embedder = make_embedder(base)
    warm_up(work, base, starter_model, ours_embedder)
    best: dict[str, dict[str, Any]] = {}
    for r in range(rounds):
        (index, n_docs), t = timed(starter_build, corpus, starter_model)
        row = {"articles": n_docs, "seconds": round(t.wall, 2), **t.rate(n_docs), "load_average": load_average()}
        if "starter" not in best or row["per_s"] > best["starter"]["per_s"]:
            best["starter"] = {**row, "recall@5": starter_recall(index, questions)}
        say(f"round {r + 1} starter: {row}")
        for words, overlap, embed_words in configs:
            name = f"ours {words}/{overlap}" + (f"/{embed_words}" if embed_words else "")
            settings = base.replace(articles_dir=corpus, index_dir=work / f"idx-{words}-{overlap}-{embed_words}-{r}",
                                    chunk_words=words, chunk_overlap=overlap, embed_words=embed_words)
            (summary, stages), t = timed(ours_build, settings, ours_embedder)
            row = {"articles": summary.articles, "chunks": summary.chunks, "seconds": round(t.wall, 2),
                   **t.rate(summary.articles), "load_average": load_average(), "stages_s": stages}
            if name not in best or row["per_s"] > best[name]["per_s"]:
                recall = evaluate(questions, settings, retrieval_only=True)["summary"]["recall@5"]
                best[name] = {**row, "recall@5": recall}
            say(f"round {r + 1} {name}: {row}")
    for row in best.values():
        row["ratio_to_starter"] = round(row["per_s"] / best["starter"]["per_s"], 2)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", choices=("clapnq", "news"), default="clapnq")
    ap.add_argument("--configs", default="80/1",
                    help="chunk words/overlap sentences[/embedded words], comma separated")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--copies", type=int, default=1, help="news only: write every article this many times")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    configs = [(*(int(x) for x in c.split("/")), 0)[:3] for c in args.configs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.corpus == "news":
            corpus, questions = news_corpus(work, args.copies)
        else:  # the starter reads the corpus.jsonl; the build reads the folder it is in alone
            corpus, questions = work / "clapnq", CLAPNQ / "questions.jsonl"
            corpus.mkdir()
            (corpus / "corpus.jsonl").symlink_to(CLAPNQ / "corpus.jsonl")
        best = run(corpus, questions, configs, args.rounds, work)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps({"machine": machine(), "corpus": args.corpus, "results": best}, indent=1))
        return
    print(f"\n{args.corpus}: best of {args.rounds} rounds, load average now {load_average()}")
    print(f"{'pipeline':17s} {'articles':>8s} {'chunks':>7s} {'seconds':>8s} {'articles/s':>10s} {'ratio':>6s} "
          f"{'recall@5':>8s}")
    for name, row in best.items():
        print(f"{name:17s} {row['articles']:8d} {row.get('chunks', 0):7d} {row['seconds']:8.1f} {row['per_s']:10.1f} "
              f"{row['ratio_to_starter']:6.2f} {row['recall@5']:8.3f}")


if __name__ == "__main__":
    main()
