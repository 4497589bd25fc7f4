from __future__ import annotations

from datetime import date

from qa import lexical
from qa.answering import answertype, support
from qa.answering.query import parse_query
from qa.types import Turn

TODAY = date(2023, 6, 14)


def test_a_follow_up_is_searched_in_its_conversation_but_parsed_as_asked() -> None:
    history = [Turn("user", "What reopened in Velmora in December 2021?"), Turn("assistant", "The bridge [1].")]
    q = parse_query("Who opened it again last week?", history, TODAY)
    assert q.text == "Who opened it again last week?"
    assert q.search_text == "What reopened in Velmora in December 2021? Who opened it again last week?"
    assert q.tokens == tuple(lexical.tokens(q.text))
    assert q.search_tokens == tuple(lexical.tokens(q.search_text))
    # the time words of the question asked, not of the earlier one
    assert (q.time.since, q.time.until, q.time.label) == (date(2023, 6, 5), date(2023, 6, 11), "last week")
    # sentence selection matches the search text, whose last question is the one asked
    assert q.answer_type is answertype.expected("Who opened it again?") is not None
    assert {"velmora", "who"} <= q.named


def test_the_support_check_asks_for_the_question_without_its_time_words() -> None:
    q = parse_query("Is Bruno Kessel currently the mayor?", today=TODAY)
    assert q.yes_no and q.time.recency
    assert q.content == support.content(q.text) and "current" in q.content
    assert "current" not in q.asked and {"bruno", "kessel", "mayor"} <= q.asked
    assert not parse_query("Who is the mayor?").yes_no
