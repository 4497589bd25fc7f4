from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.indexing.chunk import chunk_article, chunk_id, embed_text
from qa.indexing.ingest import load_articles
from qa.sentences import sentence_spans
from qa.types import Article

from .conftest import SEEDS


def _article(text: str) -> Article:
    return Article(id="a.txt", title="T", text=text, content_hash="h")


def test_offsets_hold_on_the_seed_articles() -> None:
    articles, skipped = load_articles(SEEDS, SEEDS)
    assert len(articles) == 5 and not skipped
    for article in articles:
        chunks = chunk_article(article, words=80, overlap=1)
        assert chunks
        for c in chunks:
            assert article.text[c.start:c.end] == c.text
            assert c.text.strip() == c.text and c.text
        # every sentence is in some chunk
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        for a, b in sentence_spans(article.text):
            assert a in covered and b - 1 in covered


def test_sentences_respect_abbreviations_and_paragraphs() -> None:
    text = "Mr. Biden met U.S. officials on Monday. They talked.\n\nA new paragraph here."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Mr. Biden met U.S. officials on Monday.", "They talked.", "A new paragraph here."]


def test_chunks_pack_to_size_with_overlap() -> None:
    text = " ".join(f"Sentence number {i} has five words." for i in range(30))
    chunks = chunk_article(_article(text), words=20, overlap=1)
    assert len(chunks) > 5
    for c in chunks:
        assert len(c.text.split()) <= 20 + 6
    # neighbours share exactly one sentence
    assert chunks[1].start < chunks[0].end


def test_ids_are_deterministic_and_distinct() -> None:
    a = chunk_article(_article("One. Two. Three."), words=10)
    b = chunk_article(_article("One. Two. Three."), words=10)
    assert [c.id for c in a] == [c.id for c in b]
    assert chunk_id("x", 0, 3, "One") != chunk_id("y", 0, 3, "One")


def test_long_sentence_is_its_own_chunk() -> None:
    text = "word " * 300 + "end."
    chunks = chunk_article(_article(text.strip()), words=50)
    assert len(chunks) == 1 and chunks[0].text == text.strip()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=80),
                min_size=1, max_size=12), st.integers(10, 60), st.integers(0, 2))
def test_property_offsets_coverage_no_empty(paragraphs: list[str], words: int, overlap: int) -> None:
    text = "\n\n".join(p.strip() for p in paragraphs if p.strip())
    chunks = chunk_article(_article(text), words=words, overlap=overlap)
    for c in chunks:
        assert c.text and c.text.strip()
        assert text[c.start:c.end] == c.text
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    # every non-space character is in some chunk
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_embed_text_reads_the_headline_and_the_first_words() -> None:
    chunk = "Ministers met in Stockholm on Friday.\n\nThey  agreed, after long talks, to meet again."
    assert embed_text("Talks", chunk) == f"Talks\n{chunk}"
    assert embed_text("Talks", chunk, words=6) == "Talks\nMinisters met in Stockholm on Friday."
    assert embed_text("Talks", chunk, words=8) == "Talks\nMinisters met in Stockholm on Friday.\n\nThey  agreed,"
    assert embed_text("", chunk, words=100) == chunk  # fewer words than asked: all of them
    assert embed_text("", "", words=5) == ""
