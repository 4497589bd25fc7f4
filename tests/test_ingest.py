"""Unit tests for qa.indexing.ingest: every format, every kind of bad file, ids, dates, duplicates, sidecar."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.indexing.ingest import SUFFIXES, extract_html, iso_date, iter_files, load_articles
from qa.types import Article, Skipped

ARTICLES = Path(__file__).parent.parent / "articles"

SEED_TITLES = {
    "000_664e4a3e9e2b819f.txt": "Antony Blinken says US is not seeking Russian regime change",
    # 001 has no headline (it starts with a photo credit): the title is cut from its lede
    "001_857089bfb2926092.txt": "The top U.S. diplomat Antony Blinken said on Wednesday he will speak "
    "with his Russian counterpart...",
    "002_6fd6dbc814445e3c.txt": "Putin not ‘serious’ about negotiating with Ukraine, Blinken says",
    "003_2c98f5675e763c05.txt": "Biden to offer Putin a 'diplomatic path' to get out of Ukraine crisis",
    "004_76ac13b7a8ec9be8.txt": "Biden urges Putin to resume diplomacy with Ukraine: official",
}

BODY = "The council met on Monday to discuss the budget. Members agreed on most points after a long debate."


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load_one(folder: Path) -> Article:
    articles, skipped = load_articles(folder, folder)
    assert skipped == []
    assert len(articles) == 1
    return articles[0]


def skipped_reason(folder: Path, max_bytes: int = 20 * 2**20) -> str:
    articles, skipped = load_articles(folder, folder, max_bytes)
    assert articles == []
    assert len(skipped) == 1
    return skipped[0].reason


def pdf_bytes(lines: list[str], title: str | None = None) -> bytes:
    """A minimal real PDF: one page showing `lines` in Helvetica, with an optional /Title."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({esc(line)}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        " /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title:
        objects.append(f"<< /Title ({esc(title)}) >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    info = f" /Info {len(objects)} 0 R" if title else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


# --------------------------------------------------------------------------- seed corpus


def test_seed_corpus_loads_with_correct_titles_and_no_boilerplate() -> None:
    articles, skipped = load_articles(ARTICLES, ARTICLES)
    assert skipped == []
    assert {a.id: a.title for a in articles} == SEED_TITLES
    for article in articles:
        assert article.path == article.id
        assert article.published is None  # the seeds only say "on Sunday": nothing to take
        for phrase in (
            "Source link",
            "Leave a",
            "Post a Comment",
            "Read also",
            "foto",
            "News Line",
            "snapshot",
        ):
            assert phrase not in article.text
        assert not article.text.startswith(article.title)
        assert len(article.content_hash) == 64
    by_id = {a.id: a for a in articles}
    assert (
        "Brinken and Lavrov met in Stockholm, Sweden on December 2" in by_id["004_76ac13b7a8ec9be8.txt"].text
    )
    lede = by_id["001_857089bfb2926092.txt"].text
    assert lede.startswith(
        "The top U.S. diplomat Antony Blinken said on Wednesday"
    )  # the lede stays in the body


# --------------------------------------------------------------------------- txt


def test_txt_headline_and_body(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"  Council passes budget  \n\n{BODY}\n\nSecond paragraph.\n")
    article = load_one(tmp_path)
    assert (article.id, article.path, article.title) == ("a.txt", "a.txt", "Council passes budget")
    assert article.text == f"{BODY}\n\nSecond paragraph."
    assert (article.source, article.url, article.published) == (None, None, None)
    payload = json.dumps([article.title, article.text, None, None, None], ensure_ascii=False)
    assert article.content_hash == hashlib.sha256(payload.encode()).hexdigest()


def test_txt_in_cp1252_loads(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Café owners protest\n\nThe café opened “today” – naïvely.\n".encode("cp1252"))
    article = load_one(tmp_path)
    assert article.title == "Café owners protest"
    assert article.text == "The café opened “today” – naïvely."


def test_txt_with_invalid_utf8_bytes_still_loads(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", b"Headline\n\nA body with a stray \x81 byte and \xc3 more.\n")
    article = load_one(tmp_path)
    assert article.title == "Headline"
    assert article.text.startswith("A body with a stray")


def test_txt_with_bom_and_utf16(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "\ufeffBOM headline\n\nBody one.".encode())
    write(tmp_path, "b.txt", "UTF-16 headline\n\nBody two.".encode("utf-16"))
    articles, skipped = load_articles(tmp_path, tmp_path)
    assert skipped == []
    assert [a.title for a in articles] == ["BOM headline", "UTF-16 headline"]


def test_txt_of_one_line_keeps_it_as_text(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Only a headline\n")
    article = load_one(tmp_path)
    assert article.title == article.text == "Only a headline"


# --------------------------------------------------------------------------- dates


def test_dateline_is_taken_and_removed(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.txt",
        "Blinken meets Lavrov\n\nSTOCKHOLM, Dec 2, 2021 (Reuters) - The two met on Thursday.\n",
    )
    article = load_one(tmp_path)
    assert article.published == "2021-12-02"
    assert article.source == "Reuters"
    assert article.text == "The two met on Thursday."


def test_dateline_without_year_gives_no_date(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Blinken meets Lavrov\n\nWASHINGTON, Dec 2 (Reuters) - The two met.\n")
    article = load_one(tmp_path)
    assert article.published is None
    assert article.source == "Reuters"
    assert article.text == "The two met."


@pytest.mark.parametrize(
    "line",
    [
        "March 27, 2022",
        "Published: March 27, 2022 10:32 AM ET",
        "Published on 27 March 2022",
        "Updated 2022-03-27",
    ],
)
def test_date_line_is_taken_and_removed(tmp_path: Path, line: str) -> None:
    write(tmp_path, "a.txt", f"Headline of the day\n{line}\n\n{BODY}\n")
    article = load_one(tmp_path)
    assert article.title == "Headline of the day"
    assert article.published == "2022-03-27"
    assert article.text == BODY


def test_date_line_before_the_headline(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"Published: 2022-03-27\n\nHeadline of the day\n\n{BODY}\n")
    article = load_one(tmp_path)
    assert (article.title, article.published, article.text) == ("Headline of the day", "2022-03-27", BODY)


def test_date_in_body_is_not_taken(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"Headline\n\n{BODY}\n\nMore.\n\nSome.\n\nMarch 27, 2022\n")
    article = load_one(tmp_path)
    assert article.published is None
    assert "March 27, 2022" in article.text


def test_headline_that_looks_like_a_date_line_is_kept(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"Updated: 3 dead in Kyiv strike\n\n{BODY}\n")
    article = load_one(tmp_path)
    assert article.title == "Updated: 3 dead in Kyiv strike"
    assert article.published is None


def test_iso_date() -> None:
    assert iso_date("March 27, 2022") == "2022-03-27"
    assert iso_date("2022-03-27T23:10:00+02:00") == "2022-03-27"
    assert iso_date("Dec 2") is None  # no year: not guessed
    assert iso_date("March 2022") is None  # no day: not guessed
    assert iso_date("on Sunday") is None
    assert iso_date("not a date 42") is None
    assert iso_date(None) is None
    assert iso_date(20220327) is None


# --------------------------------------------------------------------------- md


def test_md_with_front_matter(tmp_path: Path) -> None:
    md = (
        '---\ntitle: "Front matter title"\ndate: 2022-03-27\nsource: Example News\n'
        "url: https://example.com/a\ntags: [a, b]\n---\n"
        "# Front matter title\n\n"
        "Some **bold** and *italic* and _under_ words, a [link text](https://example.com/x) "
        "and ![an image](pic.png) here.\n\n## A subheading\n\n> A quote.\n\n- item one\n"
    )
    write(tmp_path, "a.md", md)
    article = load_one(tmp_path)
    assert article.title == "Front matter title"
    assert (article.published, article.source, article.url) == (
        "2022-03-27",
        "Example News",
        "https://example.com/a",
    )
    assert article.text == (
        "Some bold and italic and under words, a link text and here.\n\nA subheading\n\nA quote.\n\nitem one"
    )


def test_md_title_from_first_heading(tmp_path: Path) -> None:
    write(tmp_path, "a.md", f"Intro line\n\n# The *real* headline\n\n{BODY}\n")
    article = load_one(tmp_path)
    assert article.title == "The real headline"
    assert article.text == f"Intro line\n\n{BODY}"


def test_md_without_heading_uses_first_line(tmp_path: Path) -> None:
    write(tmp_path, "a.md", f"Plain first line\n\n{BODY}\n")
    assert load_one(tmp_path).title == "Plain first line"


# --------------------------------------------------------------------------- html


HTML = """<!doctype html><html><head><title>Council passes budget | Example News</title>
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2022-03-27T10:00:00Z">
<link rel="canonical" href="https://example.com/news/budget">
<script>var secret = "SCRIPT_SECRET_ONE";</script><style>body { color: red }</style></head>
<body><nav>Home | World | Sport</nav><article><h1>Council passes budget</h1>
<p>The council met on Monday to discuss the budget. Members agreed on most points after a long debate.</p>
<p>The vote passed by a wide margin, and the mayor said the new budget would fund three new schools.</p>
<script>document.write("SCRIPT_SECRET_TWO")</script>
</article><footer>Leave a Reply</footer></body></html>"""


def test_html_text_and_metadata(tmp_path: Path) -> None:
    write(tmp_path, "page.html", HTML)
    article = load_one(tmp_path)
    assert article.title == "Council passes budget"
    assert article.published == "2022-03-27"
    assert article.source == "Example News"
    assert article.url == "https://example.com/news/budget"
    assert article.text.startswith("The council met on Monday")
    assert "three new schools" in article.text
    assert "\n\n" in article.text
    for junk in ("SCRIPT_SECRET", "color: red", "Leave a Reply", "Council passes budget"):
        assert junk not in article.text


PARAGRAPHS = ("<p>The council met on Monday to discuss the budget. Members agreed on most points after a long "
              "debate that ran late.</p><p>The vote passed by a wide margin, and the mayor said the new budget "
              "would fund three new schools.</p>")


@pytest.mark.parametrize(("head", "h1", "title", "published"), [
    ("", "<h1>Council passes budget</h1>", "Council passes budget", None),
    ("<title>Budget day | Example News</title>", "", "Budget day", None),  # the site name cut off
    ("<title>Budget day | Example News</title>", "<h1>Council passes budget</h1>", "Council passes budget", None),
    ('<meta name="date" content="2021-05-04">', "<h1>Council passes budget</h1>", "Council passes budget",
     "2021-05-04"),
    ('<meta itemprop="datePublished" content="2020-01-02">', "<h1>Council passes budget</h1>",
     "Council passes budget", "2020-01-02"),
])
def test_html_title_and_date_from_the_page(tmp_path: Path, head: str, h1: str, title: str,
                                           published: str | None) -> None:
    write(tmp_path, "page.html",
          f"<html><head>{head}</head><body><header><ul><li><a href='/'>Home</a></li><li><a href='/w'>World</a>"
          f"</li></ul></header><article>{h1}{PARAGRAPHS}</article><aside>Most read: Cats</aside>"
          "<footer><p>Contact us | Privacy policy</p></footer></body></html>")
    article = load_one(tmp_path)
    assert (article.title, article.published) == (title, published)
    assert article.text.startswith("The council met on Monday") and article.text.endswith("three new schools.")
    for junk in ("Home", "World", "Most read", "Contact us"):
        assert junk not in article.text


def test_html_extraction_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        tried.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    found = extract_html(HTML, url="https://example.com/news/budget")
    assert found is not None and found.published == "2022-03-27"
    extract_html("https://example.com/news/budget")  # htmldate downloads a URL string it is given as a page
    assert tried == []


def test_html_without_metadata_gives_no_date(tmp_path: Path) -> None:
    write(
        tmp_path,
        "page.htm",
        f"<html><body><article><p>{BODY} It happened on March 3, 2021.</p></article></body></html>",
    )
    article = load_one(tmp_path)
    assert article.published is None  # a date in the text is not the publish date
    assert "March 3, 2021" in article.text


def test_html_fallback_when_trafilatura_finds_nothing(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Tiny page</title><script>alert('SCRIPT_X')</script></head>"
        "<body><footer>Hi <b>there</b>.<style>p { color: red }</style></footer></body></html>"
    )
    write(tmp_path, "tiny.HTML", html)
    article = load_one(tmp_path)
    assert (article.title, article.text) == ("Tiny page", "Hi there.")


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    write(
        tmp_path, "deep.html", "<html><body>" + "<div>" * 100_000 + "<p>Deep text.</p>" + "</div>" * 100_000
    )
    write(tmp_path, "ok.txt", f"Fine\n\n{BODY}")
    articles, skipped = load_articles(tmp_path, tmp_path)
    assert skipped == []
    assert [(a.id, a.text) for a in articles] == [("deep.html", "Deep text."), ("ok.txt", BODY)]


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    write(
        tmp_path, "empty.html", "<html><head><script>var only = 'script';</script></head><body></body></html>"
    )
    assert skipped_reason(tmp_path) == "no text extracted"


# --------------------------------------------------------------------------- json / jsonl


def test_json_object_and_list(tmp_path: Path) -> None:
    record = {"title": "One", "text": BODY, "url": "https://e.x/1", "published": "2022-03-27", "source": "E"}
    write(tmp_path, "one.json", json.dumps(record))
    records = [
        {"doc_id": "doc-7", "title": "Seven", "body": "Body seven."},
        {"title": "Two", "content": "Body two.", "date": "27 March 2022", "site": "Site"},
        {"title": "No text at all"},
        "not an object",
    ]
    write(tmp_path, "sub/many.json", json.dumps(records))
    articles, skipped = load_articles(tmp_path, tmp_path)
    by_id = {a.id: a for a in articles}
    assert list(by_id) == ["one.json", "doc-7", "sub/many.json#1"]
    one = by_id["one.json"]
    assert (one.title, one.text, one.url, one.published, one.source) == (
        "One",
        BODY,
        "https://e.x/1",
        "2022-03-27",
        "E",
    )
    assert by_id["sub/many.json#1"].published == "2022-03-27"
    assert by_id["sub/many.json#1"].source == "Site"
    assert by_id["doc-7"].path == "sub/many.json"
    assert skipped == [
        Skipped("sub/many.json", "record 2: no text"),
        Skipped("sub/many.json", "record 3: not a JSON object"),
    ]


def test_invalid_json_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "bad.json", '{"title": "x", "text": ')
    assert skipped_reason(tmp_path).startswith("invalid JSON: ")


def test_jsonl_with_a_broken_line(tmp_path: Path) -> None:
    lines = [
        json.dumps({"doc_id": "a", "title": "A", "text": "Text a."}),
        "",
        '{"doc_id": "broken", "text": ',
        json.dumps({"title": "C", "text": "Text c with a\u2028line separator."}),
        json.dumps({"doc_id": 5, "title": "D", "text": "   "}),
    ]
    write(tmp_path, "c.jsonl", "\n".join(lines) + "\n")
    articles, skipped = load_articles(tmp_path, tmp_path)
    assert [a.id for a in articles] == ["a", "c.jsonl#4"]
    assert articles[1].text == "Text c with a\nline separator."
    assert [s.path for s in skipped] == ["c.jsonl", "c.jsonl"]
    assert skipped[0].reason.startswith("invalid JSON on line 3: ")
    assert skipped[1].reason == "line 5: no text"


def test_json_record_without_title_takes_its_first_line(tmp_path: Path) -> None:
    write(tmp_path, "r.jsonl", json.dumps({"doc_id": "r", "text": f"Short headline\n\n{BODY}"}))
    article = load_one(tmp_path)
    assert (article.title, article.text) == ("Short headline", BODY)


# --------------------------------------------------------------------------- pdf


def test_pdf_with_title_metadata(tmp_path: Path) -> None:
    write(
        tmp_path,
        "doc.pdf",
        pdf_bytes(["Ceasefire talks resume", "Delegates met in Geneva on Monday."], "Geneva talks"),
    )
    article = load_one(tmp_path)
    assert article.title == "Geneva talks"
    assert "Delegates met in Geneva on Monday." in article.text


def test_pdf_without_metadata_takes_first_line(tmp_path: Path) -> None:
    write(tmp_path, "doc.PDF", pdf_bytes(["Ceasefire talks resume", "Delegates met in Geneva on Monday."]))
    article = load_one(tmp_path)
    assert (article.title, article.text) == ("Ceasefire talks resume", "Delegates met in Geneva on Monday.")


def test_not_a_pdf_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "fake.pdf", b"This is plain text pretending to be a PDF.")
    assert skipped_reason(tmp_path).startswith("not a PDF")


def test_broken_pdf_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\n")
    assert skipped_reason(tmp_path)


# --------------------------------------------------------------------------- bad files


def test_empty_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", b"")
    write(tmp_path, "b.md", "  \n\t\n")
    _, skipped = load_articles(tmp_path, tmp_path)
    assert skipped == [Skipped("a.txt", "empty file"), Skipped("b.md", "empty file")]


def test_binary_file_named_txt_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    assert skipped_reason(tmp_path) == "binary file (contains NUL bytes)"


def test_oversized_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "big.txt", "Headline\n\n" + "word " * 100)
    assert (
        skipped_reason(tmp_path, max_bytes=100)
        == "too large: 510 bytes > 100 bytes limit (set QA_MAX_FILE_MB)"
    )


def test_oversized_message_in_megabytes(tmp_path: Path) -> None:
    write(tmp_path, "big.txt", b"x" * (3 * 2**20))
    assert (
        skipped_reason(tmp_path, max_bytes=2**20) == "too large: 3.0 MB > 1.0 MB limit (set QA_MAX_FILE_MB)"
    )


def test_boilerplate_only_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Source link\n\nLeave a Reply\n")
    assert skipped_reason(tmp_path) == "no text after cleaning"


def test_explicit_unsupported_and_missing_files_are_reported(tmp_path: Path) -> None:
    doc = write(tmp_path, "report.docx", b"PK\x03\x04")
    ok = write(tmp_path, "ok.txt", f"Fine\n\n{BODY}")
    articles, skipped = load_articles([doc, tmp_path / "gone.txt", ok], tmp_path)
    assert [a.id for a in articles] == ["ok.txt"]
    assert skipped == [
        Skipped("report.docx", "unsupported type (.docx)"),
        Skipped("gone.txt", "file not found"),
    ]


def test_bad_files_are_logged_and_the_rest_loads(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, "a_empty.txt", b"")
    write(tmp_path, "b_fake.pdf", b"not a pdf")
    write(tmp_path, "c_good.txt", f"Good\n\n{BODY}")
    with caplog.at_level(logging.WARNING, logger="qa.indexing.ingest"):
        articles, skipped = load_articles(tmp_path, tmp_path)
    assert [a.id for a in articles] == ["c_good.txt"]
    assert len(skipped) == 2
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("a_empty.txt" in m and "empty file" in m for m in messages)
    assert any("b_fake.pdf" in m and "not a PDF" in m for m in messages)


# --------------------------------------------------------------------------- walking, ids, sidecar


def test_iter_files_filters_and_sorts(tmp_path: Path) -> None:
    for name in [
        "b.txt",
        "a.MD",
        "sub/c.html",
        "sub/deeper/d.jsonl",
        "e.pdf",
        "f.json",
        "g.htm",
        "notes.docx",
        "image.png",
        ".hidden.txt",
        ".git/config.txt",
        "sub/.cache/x.txt",
        "metadata.jsonl",
        "README",
    ]:
        write(tmp_path, name, "x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)]
    assert found == ["a.MD", "b.txt", "e.pdf", "f.json", "g.htm", "sub/c.html", "sub/deeper/d.jsonl"]
    assert {Path(f).suffix.lower() for f in found} <= set(SUFFIXES)


def test_ids_are_relative_with_forward_slashes(tmp_path: Path) -> None:
    write(tmp_path, "sub/inner/a.md", f"# Inner\n\n{BODY}")
    write(tmp_path, "top.txt", "Top\n\nAnother body text.")
    articles, _ = load_articles(tmp_path, tmp_path)
    assert [(a.id, a.path) for a in articles] == [
        ("sub/inner/a.md", "sub/inner/a.md"),
        ("top.txt", "top.txt"),
    ]
    only, _ = load_articles([tmp_path / "sub" / "inner" / "a.md"], tmp_path)
    assert only[0].id == "sub/inner/a.md"
    nested, _ = load_articles(tmp_path / "sub", tmp_path)
    assert [a.id for a in nested] == ["sub/inner/a.md"]


def test_exact_duplicates_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"Same story\n\n{BODY}")
    write(tmp_path, "b.txt", f"Same story\n\n\n{BODY}\nSource link\n")  # same once cleaned
    write(tmp_path, "c.txt", f"Same story\n\n{BODY} Plus one sentence.")
    articles, skipped = load_articles(tmp_path, tmp_path)
    assert [a.id for a in articles] == ["a.txt", "c.txt"]
    assert skipped == [Skipped("b.txt", "duplicate of a.txt")]


def test_repeated_doc_id_is_skipped(tmp_path: Path) -> None:
    write(
        tmp_path,
        "r.jsonl",
        "\n".join(json.dumps({"doc_id": "x", "title": t, "text": t + " body."}) for t in "AB"),
    )
    articles, skipped = load_articles(tmp_path, tmp_path)
    assert [a.title for a in articles] == ["A"]
    assert skipped == [Skipped("r.jsonl", "duplicate id 'x' (also in r.jsonl)")]


def test_sidecar_metadata_overrides_and_fills(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"File headline\n\nMarch 1, 2020\n\n{BODY}")
    write(tmp_path, "sub/b.txt", "Other headline\n\nOther body.")
    sidecar = [
        {
            "path": "a.txt",
            "title": "Sidecar title",
            "published": "2022-03-27",
            "url": "https://e.x/a",
            "source": "S",
        },
        {"path": "sub/b.txt", "source": "Only source"},
        {"path": "missing.txt", "title": "Nobody"},
    ]
    write(tmp_path, "metadata.jsonl", "\n".join(json.dumps(entry) for entry in sidecar) + "\nnot json\n")
    articles, skipped = load_articles(tmp_path, tmp_path)
    a, b = articles
    assert (a.title, a.published, a.url, a.source) == ("Sidecar title", "2022-03-27", "https://e.x/a", "S")
    assert a.text == BODY
    assert (b.title, b.source, b.published) == ("Other headline", "Only source", None)
    assert [s.path for s in skipped] == ["metadata.jsonl"]
    assert skipped[0].reason.startswith("invalid JSON on line 4")


def test_sidecar_changes_the_content_hash(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"Headline\n\n{BODY}")
    before = load_one(tmp_path).content_hash
    write(tmp_path, "metadata.jsonl", json.dumps({"path": "a.txt", "url": "https://e.x/a"}))
    after = load_one(tmp_path)
    assert after.url == "https://e.x/a"
    assert after.content_hash != before


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    assert load_articles(tmp_path / "nope", tmp_path) == ([], [Skipped("nope", "file not found")])


@settings(max_examples=60, deadline=None)
@given(content=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_never_raise(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write(root, f"x{suffix}", content)
        articles, skipped = load_articles(root, root)
    assert len(articles) + len(skipped) >= 1 or suffix in (".json", ".jsonl")
    for article in articles:
        assert article.text and article.title and article.text == article.text.strip()
    for item in skipped:
        assert item.reason
