"""Unit tests for qa.indexing.clean: normalisation, boilerplate rules, repeated headlines, the seed corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from qa.indexing.clean import clean_text, clean_title, is_boilerplate, strip_repeated_title

ARTICLES = Path(__file__).parent.parent / "articles"
SEEDS = sorted(ARTICLES.glob("*.txt"))

# The boilerplate DESIGN.md lists for the sample corpus: none of it may survive cleaning.
CORPUS_BOILERPLATE = [
    "Source link",
    "Leave a Reply",
    "Leave a Comment",
    "Leave a review",
    "Post a Comment",
    "Previous Post Next Post",
    "Contact Form",
    "You may also like",
    "Follow us on social networks",
    "News Line",
    "Your email address will not be published.",
    "You are seeing a snapshot of an interactive graphic",
    "Açiq mənbələrdən foto.",
    "Read also:",
]

# Sentences of the seed articles that must come through cleaning untouched.
INTACT = {
    "000": [
        "Speaking in Jerusalem on Sunday, Blinken told reporters that",
        "Additional reporting by Andres Schipani in Lviv",
    ],
    "001": [
        "Blinken said Russian imports have dropped more than 50 percent this year",
        "WNBA star Brittney Griner and Paul Whelan",
    ],
    "002": ["explaining that the procedure now took about 72 hours after a request from Kyiv."],
    "003": ["scheduled for January 10 in Geneva, on nuclear arms control treaties"],
    "004": ["Brinken and Lavrov met in Stockholm, Sweden on December 2 to discuss the increasingly tense"],
}


def test_seed_corpus_is_present() -> None:
    assert len(SEEDS) == 5


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name[:3])
def test_seed_article_loses_its_boilerplate(path: Path) -> None:
    cleaned = clean_text(path.read_text(encoding="utf-8"))
    for phrase in CORPUS_BOILERPLATE:
        assert phrase.casefold() not in cleaned.casefold(), phrase


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name[:3])
def test_seed_article_keeps_its_body_and_paragraphs(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    cleaned = clean_text(raw)
    for sentence in INTACT[path.name[:3]]:
        assert sentence in cleaned
    paragraphs = cleaned.split("\n\n")
    assert len(paragraphs) >= 10
    assert all(p and p == p.strip() and "\n\n" not in p for p in paragraphs)
    assert cleaned == cleaned.strip()
    assert "\n\n\n" not in cleaned
    assert "\xa0" not in cleaned  # 003 indents its paragraphs with no-break spaces


def test_seed_003_repeated_headline_is_removed() -> None:
    raw = next(p for p in SEEDS if p.name.startswith("003")).read_text(encoding="utf-8")
    headline, _, rest = raw.partition("\n")
    body = strip_repeated_title(clean_title(headline), clean_text(rest))
    assert "diplomatic path' to get out of Ukraine crisis" not in body
    assert body.startswith(
        "The US president and his Russian counterpart are due to speak by phone on Thursday."
    )
    assert clean_text(raw).count("diplomatic path' to get out of Ukraine crisis") == 1


def test_seed_004_title_loses_the_section_suffix() -> None:
    raw = next(p for p in SEEDS if p.name.startswith("004")).read_text(encoding="utf-8")
    assert (
        clean_title(raw.partition("\n")[0]) == "Biden urges Putin to resume diplomacy with Ukraine: official"
    )


@pytest.mark.parametrize(
    "line",
    [
        "Source link",
        "Leave a Reply",
        "leave a comment",
        "Leave a review",
        "Post a Comment",
        "3 Comments",
        "Previous Post Next Post",
        "« Older posts",
        "Next article »",
        "Contact Form",
        "Skip to content",
        "You may also like",
        "You might also like:",
        "Related articles",
        "Most read",
        "News Line",
        "Follow us on social networks",
        "Follow us on Twitter @example",
        "Share this article",
        "Share on Facebook",
        "Facebook Twitter Email",
        "Share on: Facebook | X | Email",
        "Share on Facebook | Share on X | Share on LinkedIn",
        "Share on Facebook    Share on X    Email",
        "Share on LinkedIn | Share on X | WhatsApp",
        "Subscribe to our newsletter",
        "Sign up for breaking news alerts",
        "Advertisement",
        "Story continues below advertisement",
        "Click here to read the full report",
        "© 2024 Example News. All rights reserved.",
        "All Rights Reserved",
        "We use cookies to give you the best experience on our website. By continuing you agree.",
        "Accept all cookies",
        "Your email address will not be published.",
        "Your email address will not be published. Required fields are marked *",
        "Required fields are marked *",
        "You are seeing a snapshot of an interactive graphic. This is most likely due to being offline "
        "or JavaScript being disabled in your browser.",
        "Please enable JavaScript to view this content",
        "Açiq mənbələrdən foto.",
        "Photo: Reuters",
        "Photo by Jane Doe/AFP",
        "(Photo credit: AFP)",
        "Image copyright Getty Images",
        "File photo",
        "• Read also: The European Union fears a nuclear catastrophe caused by the Russian offensive",
        "Read also: LIVE | 62nd day of war in Ukraine",
        "Read more: Ukraine war latest",
        "See also: How sanctions work",
        "Related: Ukraine talks stall",
        "Read more »",
        "International .",
        "Home » World » Europe",
        "by time news",
        "Tags: Ukraine, Russia, NATO",
    ],
)
def test_boilerplate_line_is_recognised(line: str) -> None:
    assert is_boilerplate(line)
    assert clean_text(f"Real first paragraph.\n\n{line}\n\nReal last paragraph.") == (
        "Real first paragraph.\n\nReal last paragraph."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Share prices fell 3 percent on Monday after the announcement.",
        "Shares of the company rose sharply.",
        "Share on Facebook and Twitter rose after the results.",
        "Email the author at jane@example.com",
        "He shared a photo of the meeting on Twitter.",
        "The photo was taken in Kyiv on Sunday.",
        "Photos show damaged buildings in Kharkiv.",
        "Picture-perfect weather greeted the delegates.",
        "Reuters photographer John Smith was injured.",
        "Register to vote by Friday, officials urged.",
        "Follow the money, the prosecutor told the jury.",
        "Related talks in Geneva ended without agreement.",
        "Readers can share their views with the committee until March.",
        "The advertisement campaign cost the party 2 million euros, the report said.",
        "Sources said the source of the leak was a senior official.",
        "Alex Raufoglu",
        "Washington D.C.",
        "Additional reporting by Andres Schipani in Lviv, Sarah White in Paris and George Parker in London",
    ],
)
def test_real_sentence_is_kept(line: str) -> None:
    assert not is_boilerplate(line)
    assert line in clean_text(f"Intro.\n\n{line}\n\nOutro.")


def test_long_line_is_never_boilerplate_even_if_it_starts_like_it() -> None:
    line = "Share " + "the view that the sanctions are working, " * 5 + "the minister said."
    assert not is_boilerplate(line)


def test_normalisation() -> None:
    raw = (
        "\ufeff  Title\u200b with\u00a0nbsp \t and\ttabs \r\n\r\n\r\nBody\x07 line\u200d one.\rSecond line.\n"
    )
    assert clean_text(raw) == "Title with nbsp and tabs\n\nBody line one.\nSecond line."


def test_nfkc_keeps_curly_quotes_and_dashes() -> None:
    assert clean_text("“Quoted” – ‘single’ — ﬁne ＡＢＣ") == "“Quoted” – ‘single’ — fine ABC"


def test_paragraphs_are_separated_by_one_blank_line() -> None:
    raw = "\n\n  First paragraph.  \n   \n\t\n\n  Second paragraph,\nwith a second line.\n\n\n"
    assert clean_text(raw) == "First paragraph.\n\nSecond paragraph,\nwith a second line."


def test_consecutive_duplicate_line_is_dropped() -> None:
    assert (
        clean_text("Same line.\n\nSame line.\n\nOther.\n\nSame line.") == "Same line.\n\nOther.\n\nSame line."
    )


def test_duplicate_separated_only_by_boilerplate_is_dropped() -> None:
    assert (
        clean_text("Headline here\n\nInternational .\n\nHeadline here\n\nBody.") == "Headline here\n\nBody."
    )


def test_empty_and_boilerplate_only_text_cleans_to_nothing() -> None:
    assert clean_text("") == ""
    assert clean_text(" \n\t\n") == ""
    assert clean_text("Source link\n\nLeave a Reply\n") == ""


def test_clean_title() -> None:
    assert clean_title("  Putin not\u00a0‘serious’\n about talks  ") == "Putin not ‘serious’ about talks"
    assert clean_title("Short | Site") == "Short | Site"  # too short a headline to cut
    assert clean_title("Rates rise again in June | Markets | Example News") == "Rates rise again in June"


def test_strip_repeated_title() -> None:
    body = "Big news today\n\nThe body starts here."
    assert strip_repeated_title("Big News Today!", body) == "The body starts here."
    assert (
        strip_repeated_title("Big news today", "Big news today\nThe body.\n\nMore.") == "The body.\n\nMore."
    )
    assert strip_repeated_title("Other title", body) == body
    assert strip_repeated_title("", body) == body
    assert strip_repeated_title("Big news today", "Big news today") == ""


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
@example("a\u200b\u0301")  # a combining accent behind a zero-width space
@example("Photo: X\n\nBody\n\nBody")
def test_clean_text_is_idempotent_and_tidy(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once
    assert once == once.strip()
    assert "\n\n\n" not in once
    assert "\r" not in once and "\t" not in once and "\u200b" not in once
    title = clean_title(raw)
    assert clean_title(title) == title
    assert "\n" not in title
