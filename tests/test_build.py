"""Store round trip, incremental builds, crash safety, leftovers, mismatches, the lock."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qa import store
from qa.config import Settings
from qa.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexMissing, QAError
from qa.indexing.build import build_index, build_lock

from .fakes import HashEmbedder


def test_round_trip(settings: Settings, fake_embedder: HashEmbedder) -> None:
    summary = build_index(settings, embedder=fake_embedder)
    assert (summary.added, summary.updated, summary.removed, summary.unchanged) == (5, 0, 0, 0)
    assert summary.embedded_chunks == summary.chunks > 5
    live = store.Store.open(settings.index_dir)
    m = live.manifest
    assert (m.articles, m.chunks, m.embed_model, m.dim, m.faiss_type) == (
        5, summary.chunks, fake_embedder.name, 512, "Flat")
    article = live.article("004_76ac13b7a8ec9be8.txt")
    assert article is not None and "Stockholm" in article.text
    for c in live.article_chunks(article.id):
        assert article.text[c.start:c.end] == c.text
    vec = fake_embedder.embed(["Brinken and Lavrov met in Stockholm"])[0]
    rows = [r for r, _ in live.dense(vec, 3)]
    assert any("Stockholm" in c.text for c in live.chunks(rows).values())
    manifest = json.loads((settings.index_dir / m.generation / "manifest.json").read_text())
    assert manifest["chunk_words"] == settings.chunk_words and manifest["format_version"] == 1


def test_incremental_add_modify_delete(settings: Settings, fake_embedder: HashEmbedder) -> None:
    first = build_index(settings, embedder=fake_embedder)
    again = build_index(settings, embedder=fake_embedder)
    assert (again.added, again.updated, again.removed, again.unchanged, again.embedded_chunks) == (0, 0, 0, 5, 0)
    # nothing changed: the live generation stays, no new one is written
    assert again.generation == first.generation and again.chunks == first.chunks
    assert [p.name for p in settings.index_dir.glob("gen-*")] == [first.generation]
    arts = settings.articles_dir
    (arts / "new.txt").write_text("A new headline\n\nSomething entirely new happened in Oslo today.")
    (arts / "002_6fd6dbc814445e3c.txt").write_text(
        (arts / "002_6fd6dbc814445e3c.txt").read_text() + "\nA final added sentence about trains.\n")
    (arts / "003_2c98f5675e763c05.txt").unlink()
    third = build_index(settings, embedder=fake_embedder)
    assert (third.added, third.updated, third.removed, third.unchanged) == (1, 1, 1, 3)
    live = store.Store.open(settings.index_dir)
    ids = {a.id for a in live.articles()}
    assert "new.txt" in ids and "003_2c98f5675e763c05.txt" not in ids
    # only chunks whose text changed were embedded: far fewer than a full build
    assert 1 <= third.embedded_chunks < first.embedded_chunks / 2
    rebuilt = build_index(settings, rebuild=True, embedder=fake_embedder)
    assert rebuilt.added == 5 and rebuilt.unchanged == 0


def test_crash_mid_build_leaves_previous_generation(settings: Settings, fake_embedder: HashEmbedder,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    build_index(settings, embedder=fake_embedder)
    before = store.read_manifest(settings.index_dir)
    (settings.articles_dir / "new.txt").write_text("Headline\n\nBody text about Oslo.")

    def boom(*args: object, **kwargs: object) -> None:
        (settings.index_dir / "gen-999998.tmp").mkdir()  # a half-written leftover
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_bm25", boom)
    with pytest.raises(OSError):
        build_index(settings, embedder=fake_embedder)
    after = store.read_manifest(settings.index_dir)
    assert after == before
    live = store.Store.open(settings.index_dir)
    assert "new.txt" not in {a.id for a in live.articles()}
    monkeypatch.undo()
    summary = build_index(settings, embedder=fake_embedder)
    assert summary.added == 1
    assert not list(settings.index_dir.glob("*.tmp"))
    # the vectors embedded before the crash were checkpointed: nothing embedded again
    assert summary.embedded_chunks == 0


def test_old_generations_are_pruned(settings: Settings, fake_embedder: HashEmbedder) -> None:
    for i in range(4):
        (settings.articles_dir / f"n{i}.txt").write_text(f"Headline {i}\n\nBody number {i} about Oslo.")
        build_index(settings, embedder=fake_embedder)
    gens = sorted(p.name for p in settings.index_dir.glob("gen-*"))
    assert len(gens) == 2 and store.read_manifest(settings.index_dir).generation == gens[-1]


def test_missing_and_mismatched_index(settings: Settings, fake_embedder: HashEmbedder) -> None:
    with pytest.raises(IndexMissing, match="qa index"):
        store.read_manifest(settings.index_dir)
    build_index(settings, embedder=fake_embedder)
    m = store.read_manifest(settings.index_dir)
    with pytest.raises(IndexMismatch, match=r"built with model all-MiniLM-L6-v2\S*, configured other.*--rebuild"):
        store.check_compatible(m, "other", settings)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        store.check_compatible(m, m.embed_model, settings.replace(chunk_words=settings.chunk_words + 5))
    with pytest.raises(IndexMismatch, match=r"0 embedded words.* configured 80 / 1 / 40 .*--rebuild"):
        store.check_compatible(m, m.embed_model, settings.replace(embed_words=40))


@pytest.mark.parametrize("damage", ["faiss", "sqlite", "manifest_missing", "manifest_edited", "bm25"])
def test_corrupt_files_name_the_file_and_the_fix(settings: Settings, fake_embedder: HashEmbedder,
                                                 damage: str) -> None:
    build_index(settings, embedder=fake_embedder)
    gen = settings.index_dir / store.read_manifest(settings.index_dir).generation
    target = {"faiss": gen / "vectors.faiss", "sqlite": gen / "meta.sqlite",
              "manifest_missing": gen / "manifest.json", "manifest_edited": gen / "manifest.json",
              "bm25": gen / "bm25" / "params.index.json"}[damage]
    if damage == "faiss":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif damage == "sqlite":
        target.write_bytes(b"garbage" * 100)
    elif damage == "manifest_missing":
        target.unlink()
    elif damage == "manifest_edited":
        target.write_text(target.read_text().replace('"chunks"', '"chunkz"'))
    else:
        target.write_text("{not json")
    with pytest.raises(IndexCorrupt) as err:
        store.Store.open(settings.index_dir)
    assert target.name in str(err.value) or target.parent.name in str(err.value)
    assert "qa index --rebuild" in str(err.value)
    build_index(settings, rebuild=True, embedder=fake_embedder)
    assert store.Store.open(settings.index_dir).manifest.articles == 5


def test_second_build_refuses_while_locked(settings: Settings, fake_embedder: HashEmbedder) -> None:
    with build_lock(settings.index_dir), pytest.raises(IndexBusy, match="wait for that build"):
        build_index(settings, embedder=fake_embedder)


def test_embedding_cache_survives_and_prunes(tmp_path: Path) -> None:
    cache = store.EmbeddingCache(tmp_path / "e.sqlite", 3)
    cache.put(["a", "b"], np.eye(3, dtype=np.float32)[:2])
    assert set(cache.get(["a", "b", "c"])) == {"a", "b"}
    cache.keep_only(["b"])
    assert set(cache.get(["a", "b"])) == {"b"}
    cache.close()
    assert sqlite3.connect(tmp_path / "e.sqlite").execute("select count(*) from vectors").fetchone()[0] == 1


def test_a_folder_of_unreadable_files_says_why_and_keeps_the_previous_index(settings: Settings,
                                                                             fake_embedder: HashEmbedder) -> None:
    first = build_index(settings, embedder=fake_embedder)
    for path in settings.articles_dir.iterdir():
        path.unlink()
    (settings.articles_dir / "empty.txt").write_text("")
    (settings.articles_dir / "binary.md").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(QAError) as caught:
        build_index(settings, embedder=fake_embedder)
    message = str(caught.value)
    assert "could be indexed" in message and "empty.txt: empty file" in message and "binary.md" in message
    assert store.read_manifest(settings.index_dir).generation == first.generation  # still serving


def test_the_size_limit_of_a_collection_is_per_record(settings: Settings, fake_embedder: HashEmbedder) -> None:
    for path in settings.articles_dir.iterdir():
        path.unlink()
    records = [{"doc_id": f"r{i}", "title": f"Report {i}", "text": f"Council meeting number {i} approved "
                f"budget line {i} for the harbour. " * 12} for i in range(60)]
    records.append({"doc_id": "huge", "title": "Huge", "text": "word " * 5000})
    (settings.articles_dir / "export.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    small = settings.replace(max_file_mb=0.02)  # 20 KB: the file is ~60 KB, each record ~1 KB
    summary = build_index(small, embedder=fake_embedder)
    assert summary.articles == 60
    assert [s.reason.split(":")[0] for s in summary.skipped] == ["record too large"]


def test_embed_words_is_recorded_and_checked(settings: Settings, fake_embedder: HashEmbedder) -> None:
    """Only the first words of each chunk are embedded; an index built otherwise is refused, not mixed."""
    short = settings.replace(embed_words=12)
    build_index(short, embedder=fake_embedder)
    assert store.read_manifest(settings.index_dir).embed_words == 12
    with pytest.raises(IndexMismatch, match=r"12 embedded words, configured 80 / 1 / 0"):
        store.check_compatible(store.read_manifest(settings.index_dir), fake_embedder.name, settings)
