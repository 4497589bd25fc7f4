"""Evaluation: trust figures, several question sets over one index, the LLM replay cache."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import qa.answering.engine
import qa.evaluate
from qa.answering.generate import Message
from qa.cli import main
from qa.config import Settings
from qa.evaluate import (
    Question,
    ReplayGenerator,
    answer_record,
    evaluate_sets,
    markdown_table,
    read_replays,
    summarise,
    token_f1,
)
from qa.indexing.build import build_index
from qa.types import Answer, AnswerSentence, Timings

from .fakes import HashEmbedder, ScriptedGenerator

STOCKHOLM = "004_76ac13b7a8ec9be8.txt"
MEETING = {"id": "m-1", "question": "Where did Blinken and Lavrov meet on December 2?",
           "expect_all": [["Stockholm"]], "gold_articles": [STOCKHOLM], "answerable": True}
WORLD_CUP = {"id": "na-1", "question": "Who won the 2018 FIFA World Cup?", "expect_all": [],
             "gold_articles": [], "answerable": False}
# the fake model answers both from the Stockholm passage, which supports what it says
WRONG = {**MEETING, "id": "w-1", "expect_all": [["Vienna"]]}
TREATY = {"id": "na-2", "question": "Where did Blinken and Lavrov meet on December 2 to sign an arms treaty?",
          "expect_all": [], "gold_articles": [], "answerable": False}
REPLY = "Brinken and Lavrov met in Stockholm, Sweden on December 2 [1]."


def _reply(messages: Sequence[Message]) -> str:
    return "The articles do not say." if "World Cup" in messages[-1]["content"] else REPLY


def _record(answerable: bool, refused: bool, cited: Sequence[bool], correct: bool | None = None,
            replayed: bool = False) -> dict[str, Any]:
    """A per-question record as run_eval writes it, with only what summarise() reads."""
    rec: dict[str, Any] = {"answerable": answerable, "relevant": True, "retrieval_ms": 5.0, "mrr": 1.0,
                           **{f"recall@{k}": True for k in (1, 3, 5)},
                           "refused": refused, "llm_called": True, "replayed": replayed,
                           "citations": [{"supported": s} for s in cited],
                           "ttft_ms": 1000.0, "total_ms": 3000.0, "prompt_tokens": 300, "answer_tokens": 20}
    if answerable:
        rec["correct"] = correct
        rec["citation_ok"] = bool(correct)
    return rec


def test_trust_figures_count_only_supported_non_refusals() -> None:
    records = [
        _record(False, refused=False, cited=[False, True]),  # fabricated: answers the unanswerable, "supported"
        _record(False, refused=True, cited=[True]),  # a refusal that points at nearby passages: not fabricated
        _record(False, refused=False, cited=[False]),  # answers, but nothing supports it: not fabricated
        _record(True, refused=False, cited=[True], correct=False),  # wrong yet supported
        _record(True, refused=False, cited=[True], correct=True),
        _record(True, refused=True, cited=[], correct=False),  # refused: wrong, but carries nothing
    ]
    s = summarise(records, retrieval_only=False)
    assert (s["fabricated"], s["fabrication_rate"]) == (1, round(1 / 3, 4))
    assert (s["wrong_supported"], s["wrong_supported_rate"]) == (1, round(1 / 3, 4))
    assert (s["refused_unanswerable_n"], s["refused_unanswerable"]) == (1, round(1 / 3, 4))
    assert (s["refused_answerable_n"], s["refused_answerable"]) == (1, round(1 / 3, 4))
    assert s["grounded_rate"] == 0.75  # 3 of the 4 answers that are not refusals
    assert s["replayed"] == 0 and s["ttft_ms_p50"] == 1000.0


def test_replayed_answers_leave_the_timings_and_say_so() -> None:
    records = [_record(True, False, [True], True, replayed=True), _record(True, False, [True], True)]
    records[0]["ttft_ms"] = 1.0  # a replay's "first token" measures the cache, not the model
    s = summarise(records, retrieval_only=False)
    assert s["replayed"] == 1 and s["ttft_ms_p50"] == 1000.0
    table = markdown_table({"summary": s, "records": records})
    assert "timings of replayed answers are not measurements" in table


class CountingGenerator(ScriptedGenerator):
    """A ScriptedGenerator that also reports being loaded, as the real one does."""

    loaded = True
    streams = 0

    def stream(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        self.streams += 1
        return super().stream(messages, max_tokens, temperature)


def _messages(text: str) -> list[Message]:
    return [{"role": "system", "content": "Answer from the sources."}, {"role": "user", "content": text}]


def test_replay_serves_recorded_pieces_without_the_model(tmp_path: Path) -> None:
    cache = tmp_path / "llm.jsonl"
    inner = CountingGenerator(["They met in Stockholm [1].", "The articles do not say.", "In Stockholm [1]."])
    first = ReplayGenerator(lambda: inner, cache, "m.gguf")
    recorded = list(first.stream(_messages("Where?"), 64, 0.1))
    assert inner.streams == 1 and len(read_replays(cache)) == 1  # written as soon as the answer ended

    made: list[int] = []
    again = ReplayGenerator(lambda: made.append(1) or inner, cache, "m.gguf")  # type: ignore[func-returns-value]
    assert list(again.stream(_messages("Where?"), 64, 0.1)) == recorded
    assert inner.streams == 1 and again.replayed == 1 and not made  # a hit never makes the inner generator

    assert list(again.stream(_messages("Who?"), 64, 0.1)) == ["The ", "articles ", "do ", "not ", "say. "]
    assert inner.streams == 2 and again.replayed == 1 and made == [1]
    list(again.stream(_messages("Where?"), 32, 0.1))  # another max_tokens is another answer
    assert inner.streams == 3
    assert getattr(again, "loaded", None) is True and again.n_ctx == inner.n_ctx


def test_replay_records_what_was_read_when_the_reader_stops(tmp_path: Path) -> None:
    cache = tmp_path / "llm.jsonl"
    cache.write_text('{"key": "cut short by a kill', encoding="utf-8")
    inner = CountingGenerator(["one two three four"])
    replay = ReplayGenerator(lambda: inner, cache, "m.gguf")
    stream = replay.stream(_messages("Count"), 64, 0.1)
    assert [next(stream), next(stream)] == ["one ", "two "]
    stream.close()  # as the Engine does when a model repeats itself
    assert list(read_replays(cache).values()) == [("one ", "two ")]
    assert list(ReplayGenerator(lambda: inner, cache, "m.gguf").stream(_messages("Count"), 64, 0.1)) == [
        "one ", "two "]


def test_replay_passes_through_only_what_the_inner_generator_has(tmp_path: Path) -> None:
    replay = ReplayGenerator(lambda: ScriptedGenerator([]), tmp_path / "llm.jsonl", "m.gguf")
    assert getattr(replay, "loaded", True) is True  # the Engine's default when a generator has no `loaded`
    assert getattr(replay, "prime", None) is None and getattr(replay, "warm_up", None) is None


class _Priming(ScriptedGenerator):
    """A generator with an opening to prime, as the llama.cpp one has."""

    primed = False

    def prime(self, messages: Sequence[Message]) -> None:
        self.primed = True


def test_replay_lets_the_engine_prime_its_model(tmp_path: Path) -> None:
    replay = ReplayGenerator(lambda: _Priming([]), tmp_path / "llm.jsonl", "m.gguf")
    assert getattr(replay, "primed", True) is False  # read as True, the Engine would never prime the model
    replay.prime([])  # type: ignore[attr-defined]
    assert getattr(replay, "primed", False) is True


def _write(path: Path, *questions: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return path


@pytest.fixture
def built(settings: Settings, fake_embedder: HashEmbedder) -> Settings:
    build_index(settings, embedder=fake_embedder)
    return settings.replace(gate_dense=0.0, gate=False)  # the hash embedder's cosines mean nothing


def test_several_sets_report_each_and_the_whole(built: Settings, fake_embedder: HashEmbedder,
                                                tmp_path: Path) -> None:
    one = _write(tmp_path / "news.jsonl", MEETING, WORLD_CUP)
    two = _write(tmp_path / "more.jsonl", WRONG, TREATY, MEETING)
    gen = ScriptedGenerator(reply_fn=_reply)
    seen: list[tuple[str, int, int]] = []
    result = evaluate_sets([one, two], built, progress=lambda *a: seen.append(a), embedder=fake_embedder,
                           generator=gen)
    assert set(result) == {"summary", "records", "sets"} and list(result["sets"]) == ["news", "more"]
    assert [r["set"] for r in result["records"]] == ["news", "news", "more", "more", "more"]
    assert seen == [("news", 1, 2), ("news", 2, 2), ("more", 1, 3), ("more", 2, 3), ("more", 3, 3)]
    meeting = result["sets"]["news"]["records"][0]
    assert meeting["correct"] and meeting["supported"] and meeting["citation_ok"]
    news, more, whole = (result["sets"]["news"]["summary"], result["sets"]["more"]["summary"], result["summary"])
    assert (news["questions"], more["questions"], whole["questions"]) == (2, 3, 5)
    assert (news["refused_unanswerable_n"], news["fabricated"], news["wrong_supported"]) == (1, 0, 0)
    # the fake model answers the treaty question from the meeting passage and its judge says yes to all
    assert (more["refused_unanswerable_n"], more["fabricated"], more["wrong_supported"]) == (0, 1, 1)
    assert (whole["fabricated"], whole["fabrication_rate"], whole["wrong_supported"]) == (1, 0.5, 1)
    assert whole["grounded_rate"] == 1.0 and whole["answer_accuracy"] == round(2 / 3, 4)
    lines = markdown_table(result).splitlines()
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["news", "more", "all"]
    cells = [c.strip() for c in lines[3].split("|")[2:-1]]  # the "more" row
    assert cells[:7] == ["3", "0.50", "1.00", "0/1", "0/2", "1", "1"]

    single = evaluate_sets([one], built, embedder=fake_embedder, generator=gen)
    assert set(single) == {"summary", "records"}  # the one-file contract is unchanged


def test_a_second_run_replays_every_answer(built: Settings, fake_embedder: HashEmbedder, tmp_path: Path) -> None:
    questions = _write(tmp_path / "news.jsonl", MEETING, WORLD_CUP, TREATY)
    cache = tmp_path / "llm.jsonl"
    gen = ScriptedGenerator(reply_fn=_reply)
    first = evaluate_sets([questions], built, embedder=fake_embedder, generator=gen, llm_cache=cache)
    assert first["summary"]["replayed"] == 0 and len(gen.prompts) == 3 and len(read_replays(cache)) == 3
    second = evaluate_sets([questions], built, embedder=fake_embedder, generator=gen, llm_cache=cache)
    assert len(gen.prompts) == 3 and second["summary"]["replayed"] == 3
    assert [r["answer"] for r in second["records"]] == [r["answer"] for r in first["records"]]
    assert second["summary"]["ttft_ms_p50"] is None  # nothing was measured


def test_retrieval_only_never_makes_the_generator(built: Settings, fake_embedder: HashEmbedder,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_llm(*args: object) -> None:
        raise AssertionError("the LLM was made for a retrieval-only run")

    monkeypatch.setattr(qa.evaluate, "llama_generator", no_llm)
    monkeypatch.setattr(qa.answering.engine, "llama_generator", no_llm)
    questions = _write(tmp_path / "news.jsonl", MEETING)
    result = evaluate_sets([questions], built, retrieval_only=True, embedder=fake_embedder,
                           llm_cache=tmp_path / "llm.jsonl")
    assert result["summary"]["recall@5"] == 1.0 and "replayed" not in result["summary"]
    assert not (tmp_path / "llm.jsonl").exists()


def test_cli_eval_of_two_files(built: Settings, fake_embedder: HashEmbedder, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    gen = ScriptedGenerator(reply_fn=_reply)
    monkeypatch.setattr(qa.answering.engine, "make_embedder", lambda settings: fake_embedder)
    monkeypatch.setattr(qa.evaluate, "llm_model_path", lambda settings: Path("fake.gguf"))
    monkeypatch.setattr(qa.evaluate, "llama_generator", lambda *args: gen)
    one = _write(tmp_path / "news.jsonl", MEETING, WORLD_CUP)
    two = _write(tmp_path / "more.jsonl", WRONG)
    argv = ["eval", str(one), str(two), "--index", str(built.index_dir), "--no-gate",
            "--llm-cache", str(tmp_path / "llm.jsonl")]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["sets"]) == ["news", "more"] and out["summary"]["questions"] == 3
    asked = len(gen.prompts)
    assert asked == 2 and out["summary"]["replayed"] == 1  # WRONG asks MEETING's question again
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "| news |" in captured.out and "| all |" in captured.out and "not measurements" in captured.out
    assert "news: 2/2 questions\n" in captured.err and len(gen.prompts) == asked  # all replayed


def test_f1_scores_the_answers_words_not_its_marker_numbers() -> None:
    q = Question("f-1", "Where did they meet?", True, (STOCKHOLM,), (), ("Stockholm, on 12 December",))
    answer = Answer((AnswerSentence("They met in Stockholm.", (12,)),), (), (), False, Timings())
    assert answer.text == "They met in Stockholm [12]."
    assert answer_record(q, answer)["f1"] == round(token_f1("They met in Stockholm.", q.answers), 4)
    assert token_f1(answer.text, q.answers) != token_f1("They met in Stockholm.", q.answers)  # "12" would count
