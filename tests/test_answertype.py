from __future__ import annotations

import pytest

from qa.answering.answertype import expected, has_answer
from qa.answering.query import parse_query


@pytest.mark.parametrize("question, sentence", [
    ("Where was Blinken speaking?", "Speaking in Jerusalem on Sunday, Blinken told reporters."),
    ("where did the movie safe haven take place", "It was filmed in Southport, North Carolina."),
    ("When were the talks in Geneva scheduled?", "The talks will open on January 10."),
    ("On what date were the talks scheduled?", "Officials met on Monday."),
    ("How many Ukrainians have fled?", "13 million Ukrainians forced to flee their homes."),
    ("By how much have imports dropped?", "Imports fell by more than half."),
    ("Who accompanied Blinken to Kyiv?", "Blinken made the visit with Defense Secretary Lloyd Austin."),
    ("Which countries are joining NATO?", "NATO is poised to grow, as Sweden and Finland join."),
    ("What did Biden say about Putin?", "Biden said “this man cannot remain in power”."),
])
def test_a_sentence_with_the_expected_answer_counts(question: str, sentence: str) -> None:
    assert has_answer(parse_query(question), sentence)


@pytest.mark.parametrize("question, sentence", [
    ("Where was Blinken speaking about Russia?", "The US is not seeking regime change in Russia."),  # asked already
    ("When were the talks scheduled?", "The talks were scheduled after a long dispute."),
    ("How many Ukrainians have fled?", "Ukrainians have fled their homes."),
    ("Who accompanied Blinken to Kyiv?", "The visit to Kyiv by Blinken was a surprise."),  # no new name
    ("What did Biden say about Putin?", "Biden spoke about Putin at length."),
])
def test_a_sentence_without_it_does_not(question: str, sentence: str) -> None:
    assert not has_answer(parse_query(question), sentence)


@pytest.mark.parametrize("question", ["Why did the talks fail?", "Is the US seeking regime change?",
                                      "Under what conditions could sanctions be lifted?"])
def test_questions_without_a_factoid_type_boost_nothing(question: str) -> None:
    assert expected(question) is None
    assert not has_answer(parse_query(question), "Talks in Geneva on January 10 drew 300 people, said Joe Biden.")
