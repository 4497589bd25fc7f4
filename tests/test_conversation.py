from __future__ import annotations

from qa.answering.conversation import antecedent, people, resolve
from qa.types import Turn

ARTICLES = ("Mayor Helen Okafor said she would not resign. Deputy mayor Tomas Reyes said he would ask the "
            "council to review the lease. Ms Okafor later met union leaders.")


def test_the_pronoun_picks_the_person_the_articles_call_by_it() -> None:
    history = [Turn("user", "What positions do Helen Okafor and Tomas Reyes hold?"),
               Turn("assistant", "Helen Okafor is mayor and Tomas Reyes is deputy mayor [1].")]
    assert resolve("What did he say the council would review?", history, lambda _: ARTICLES) == \
        "What did Tomas Reyes say the council would review?"
    assert resolve("What did she say?", history, lambda _: ARTICLES) == "What did Helen Okafor say?"


def test_a_who_answer_gives_the_person_of_the_follow_up() -> None:
    history = [Turn("user", "Who was the union's lead negotiator?"), Turn("assistant", "Anna Kowalski [1].")]
    assert resolve("What pay rise did her union first ask for?", history) == \
        "What pay rise did Anna Kowalski's union first ask for?"


def test_of_two_people_of_the_same_gender_the_follow_up_s_words_pick_the_one_it_is_about() -> None:
    history = [Turn("user", "Who managed the two teams in the final?"),
               Turn("assistant", "Erik Solberg and Dan Marsh [1].")]
    text = "Erik Solberg said he was proud. Dan Marsh said he would resign."
    assert resolve("When did he resign?", history, lambda _: text) == "When did Dan Marsh resign?"
    # nothing in the follow-up tells them apart: the question stays as it is, for the model to read
    assert resolve("What did he say next?", history, lambda _: text) == "What did he say next?"


def test_the_antecedent_may_come_from_the_exchange_before_the_last() -> None:
    history = [Turn("user", "Who declared a state of emergency?"), Turn("assistant", "Governor Paul Dube [1]."),
               Turn("user", "Who is his deputy?"), Turn("assistant", "Anna Lindgren is his deputy [1].")]
    text = "Governor Paul Dube said he had declared an emergency. Anna Lindgren said she coordinates shelters."
    assert antecedent("she", history, lambda _: text) == "Anna Lindgren"
    assert antecedent("he", history, lambda _: text) == "Governor Paul Dube"


def test_no_history_or_no_pronoun_changes_nothing() -> None:
    assert resolve("Where did they meet?", []) == "Where did they meet?"
    history = [Turn("user", "Who met Lavrov?"), Turn("assistant", "Blinken [1].")]
    assert resolve("Where did Blinken meet Lavrov?", history) == "Where did Blinken meet Lavrov?"


def test_people_skips_question_words_months_and_markers() -> None:
    assert people("When did Antony Blinken meet Sergei Lavrov in December [2]?") == ["Antony Blinken",
                                                                                    "Sergei Lavrov"]


def test_its_is_the_company_the_conversation_named_not_a_person() -> None:
    history = [Turn("user", "Which company developed the Alzheimer's drug oravicept?"),
               Turn("assistant", "Caldera Therapeutics developed the Alzheimer's drug oravicept [1]."),
               Turn("user", "By how much did that company's shares rise?"),
               Turn("assistant", "The company's shares rose 34% [2].")]
    text = ("Caldera Therapeutics developed oravicept. Its chief executive, Ruth Ames, said she was delighted. "
            "Shares in Caldera Therapeutics rose 34 per cent.")
    assert resolve("Who is its chief executive?", history, lambda _: text) == \
        "Who is Caldera Therapeutics' chief executive?"
    # a person named by the last answer is not "its"
    people_only = [Turn("user", "Who leads the union?"), Turn("assistant", "Anna Kowalski [1].")]
    assert resolve("What is its membership?", people_only, lambda _: "Anna Kowalski said she would stay.") == \
        "What is its membership?"
