"""End to end with the real bundled models on the sample articles (slow: a few minutes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answering.engine import Engine
from qa.answering.retrieve import dense_search
from qa.config import Settings, load
from qa.indexing.build import build_index
from qa.types import Turn

from .conftest import EVAL, ROOT, SEEDS

pytestmark = pytest.mark.slow
STOCKHOLM_ARTICLE = "004_76ac13b7a8ec9be8.txt"


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("real")
    shutil.copytree(SEEDS, root / "articles")
    settings = load({}, articles_dir=root / "articles", index_dir=root / "index")
    build_index(settings)
    return settings


@pytest.fixture(scope="module")
def engine(real: Settings) -> Engine:
    return Engine(real)


def test_stockholm_passage_in_top3_dense_hits(engine: Engine) -> None:
    store = engine.store()
    dense, _ = dense_search(["Where did Blinken and Lavrov meet on December 2?"], store, engine.embedder, 10)
    rows = sorted(dense, key=lambda r: -dense[r])[:3]
    texts = [c.text for c in store.chunks(rows).values()]
    assert any("Stockholm" in t for t in texts), texts


def test_answers_stockholm_citing_the_004_article(engine: Engine) -> None:
    answer = engine.answer("Where did Blinken and Lavrov meet on December 2?")
    assert not answer.refused and "Stockholm" in answer.text
    assert any(c.article_id == STOCKHOLM_ARTICLE and c.supported for c in answer.citations)
    cited = next(c for c in answer.citations if c.article_id == STOCKHOLM_ARTICLE)
    article = engine.store().article(STOCKHOLM_ARTICLE)
    assert article is not None
    assert article.text[cited.snippet_start:cited.snippet_end] == cited.snippet
    assert "Stockholm" in cited.snippet


def test_world_cup_is_refused(engine: Engine) -> None:
    answer = engine.answer("Who won the 2018 FIFA World Cup?")
    assert answer.refused
    assert not answer.llm_called or "do not say" in answer.text.lower()
    assert "France" not in answer.text


@pytest.mark.parametrize("question", ["How many tanks has the United States sent to Ukraine?",
                                      "Who replaced Angela Merkel as German chancellor?"])
def test_an_on_topic_question_the_articles_do_not_answer_is_refused_with_what_they_say(engine: Engine,
                                                                                     question: str) -> None:
    # the passages speak of 70,000 soldiers and of Germany, never of tanks sent or of a successor
    answer = engine.answer(question)
    assert answer.refused, answer.text
    assert answer.text.startswith(("The articles do not", "The indexed articles do not cover")), answer.text
    assert all(c.snippet in answer.text for c in answer.citations)  # what they say nearby, quoted
    first_line = answer.text.splitlines()[0]
    assert "tanks" not in first_line and "replaced" not in first_line


CONVERSATIONS = [json.loads(line) for line in (EVAL / "seeds_conversations.jsonl").read_text().splitlines()
                 if line.strip()]


@pytest.mark.parametrize("conv", CONVERSATIONS, ids=[c["id"] for c in CONVERSATIONS])
def test_the_seed_conversations_pass(engine: Engine, conv: dict) -> None:  # type: ignore[type-arg]
    history: list[Turn] = []
    for turn in conv["turns"]:
        answer = engine.answer(turn["question"], history)
        low = answer.text.lower()
        assert all(any(s.lower() in low for s in group) for group in turn["expect_any"]), answer.text
        assert any(c.article_id in turn["gold_articles"] for c in answer.citations)
        history += [Turn("user", turn["question"]), Turn("assistant", answer.text)]


def _qa(*args: str, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    out = subprocess.run([sys.executable, "-m", "qa.cli", *args, "--json"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout)


def test_command_line_contract(real: Settings, tmp_path: Path) -> None:
    env = {**os.environ, "QA_ARTICLES_DIR": str(real.articles_dir), "QA_INDEX_DIR": str(real.index_dir)}
    index = _qa("index", env=env)
    assert {"added", "updated", "removed", "unchanged", "embedded_chunks", "skipped", "seconds"} <= set(index)
    assert index["unchanged"] == 5 and index["embedded_chunks"] == 0
    status = _qa("status", env=env)
    assert {"articles", "chunks", "generation", "embed_model", "built_at"} <= set(status)
    search = _qa("search", "Where did Blinken and Lavrov meet?", "--top-k", "3", env=env)
    assert len(search["hits"]) == 3 and "ms" in search
    assert {"article_id", "title", "chunk_id", "start", "end", "text", "score"} <= set(search["hits"][0])
    history = tmp_path / "h.json"
    history.write_text(json.dumps([{"role": "user", "content": "Where did Blinken and Lavrov meet in December?"},
                                   {"role": "assistant", "content": "In Stockholm [1]."}]))
    ask = _qa("ask", "What did Lavrov say Russia would do if new sanctions came?", "--history", str(history),
              env=env)
    assert {"answer", "refused", "citations", "hits", "timings"} <= set(ask)
    assert {"retrieval_ms", "ttft_ms", "total_ms", "prompt_tokens", "answer_tokens"} <= set(ask["timings"])
    # the follow-up is retrieved with its conversation: Lavrov's words on sanctions after the Stockholm
    # meeting, answered and cited to that article (which of his sentences the model quotes is its choice)
    assert not ask["refused"] and "sanction" in ask["answer"].lower(), ask["answer"]
    assert any(c["article_id"] == "004_76ac13b7a8ec9be8.txt" and c["supported"] for c in ask["citations"])
    bad = subprocess.run([sys.executable, "-m", "qa.cli", "status", "--index", str(tmp_path / "none")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "run `qa index`" in bad.stderr and "Traceback" not in bad.stderr


def test_newest_article_wins_and_the_answer_says_as_of_when(tmp_path: Path) -> None:
    arts = tmp_path / "articles"
    arts.mkdir()
    (arts / "old.md").write_text("---\ntitle: Alice Varga elected mayor of Velmora\ndate: 2019-05-12\n"
                                 "source: Coast Daily\n---\n\nAlice Varga was elected mayor of Velmora on Sunday "
                                 "with 54 percent of the vote.\n")
    (arts / "new.md").write_text("---\ntitle: Bruno Kessel becomes mayor of Velmora\ndate: 2023-06-05\n"
                                 "source: Harbour Herald\n---\n\nBruno Kessel was sworn in as the new mayor of "
                                 "Velmora on Monday, replacing Alice Varga.\n")
    settings = load({}, articles_dir=arts, index_dir=tmp_path / "index", today="2023-06-20")
    build_index(settings)
    answer = Engine(settings).answer("Who is the latest mayor of Velmora?")
    assert not answer.refused and "Kessel" in answer.text, answer.text
    assert answer.sources[0].chunk.article_id == "new.md"
    assert any(c.article_id == "new.md" and c.published == "2023-06-05" for c in answer.citations)
    assert "2023" in answer.text or "June" in answer.text, answer.text
