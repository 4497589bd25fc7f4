"""The prompts' opening saved once per model and prompt, and restored by a fresh process (qa.answering.prefix).

The quick tests use a fake llama-cpp-python Llama (and fake llama.cpp state bytes); the slow ones load
the bundled Qwen GGUF: the restored state gives the same greedy answer as the evaluated one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.answering import prefix
from qa.answering.engine import LOADING, Engine, Status
from qa.answering.generate import LlamaGenerator
from qa.answering.prompt import OPENING, SYSTEM, opening
from qa.config import Settings, load
from qa.indexing.build import build_index

from .fakes import HashEmbedder, ScriptedGenerator

TOKENS = [151644, 8948, 198, 2610, 4226]
KEY = "k" * 64


def _version() -> str:
    import llama_cpp

    return str(llama_cpp.__version__)


def _model(tmp_path: Path) -> Path:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(100))
    return model


# --- the file: keyed, checked, atomic, pruned ------------------------------------------------------------

def test_a_state_file_reads_back_only_for_its_key_and_tokens() -> None:
    data = prefix.encode(KEY, TOKENS, b"llama state")
    assert prefix.decode(data, KEY, TOKENS) == b"llama state"
    with pytest.raises(ValueError, match="another model"):
        prefix.decode(data, "x" * 64, TOKENS)
    with pytest.raises(ValueError, match="another model"):
        prefix.decode(data, KEY, TOKENS[:-1])
    with pytest.raises(ValueError, match="truncated or damaged"):
        prefix.decode(data[:-1], KEY, TOKENS)
    with pytest.raises(ValueError, match="truncated or damaged"):
        prefix.decode(data[:-1] + b"X", KEY, TOKENS)  # one byte changed
    with pytest.raises(ValueError, match="not a prefix state file"):
        prefix.decode(b"GGUF" + data, KEY, TOKENS)
    with pytest.raises(ValueError):
        prefix.decode(prefix.MAGIC + b"{not json\n", KEY, TOKENS)


@pytest.mark.parametrize("damage", [lambda d: d[: len(d) // 2], lambda d: b"", lambda d: bytes(range(256)),
                                    lambda d: d.replace(b"state", b"STATE")])
def test_a_damaged_file_is_ignored_with_a_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                   damage: Any) -> None:
    path = tmp_path / "a.state"
    path.write_bytes(damage(prefix.encode(KEY, TOKENS, b"llama state")))
    with caplog.at_level(logging.WARNING, "qa.answering.prefix"):
        assert prefix.read(path, KEY, TOKENS) is None
    assert "ignoring the saved prefix state" in caplog.text and str(path) in caplog.text


def test_no_file_yet_is_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert prefix.read(tmp_path / "none.state", KEY, TOKENS) is None
    assert not caplog.records


def test_writing_is_atomic_and_a_failure_only_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "states" / "a.state"
    prefix.write(path, KEY, TOKENS, b"llama state")
    assert prefix.read(path, KEY, TOKENS) == b"llama state"
    assert [p.name for p in path.parent.iterdir()] == ["a.state"]  # no temporary file left
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        prefix.write(blocked / "a.state", KEY, TOKENS, b"llama state")  # no exception
    assert "could not save the prefix state" in caplog.text


def test_the_folder_keeps_the_most_recently_used_files(tmp_path: Path) -> None:
    for i in range(prefix.KEEP + 2):
        prefix.write(tmp_path / f"{i}.state", KEY, TOKENS, b"s")
        os.utime(tmp_path / f"{i}.state", ns=(i * 10**9, i * 10**9))
    prefix.prune(tmp_path, prefix.KEEP)
    assert sorted(p.name for p in tmp_path.glob("*.state")) == [f"{i}.state" for i in range(2, prefix.KEEP + 2)]


def test_the_key_covers_model_tokens_context_and_version(tmp_path: Path) -> None:
    model = _model(tmp_path)
    key = prefix.state_key(model, TOKENS, 4096, "0.3.36")
    assert key == prefix.state_key(model, TOKENS, 4096, "0.3.36")
    others = {prefix.state_key(model, TOKENS[:-1], 4096, "0.3.36"), prefix.state_key(model, TOKENS, 2048, "0.3.36"),
              prefix.state_key(model, TOKENS, 4096, "0.3.37")}
    os.utime(model, ns=(1, 1))  # the model file replaced
    others.add(prefix.state_key(model, TOKENS, 4096, "0.3.36"))
    assert key not in others and len(others) == 4


def test_the_setting_turns_the_folder_off(tmp_path: Path) -> None:
    settings = load({"QA_CACHE_DIR": str(tmp_path)})
    assert prefix.folder(settings) == tmp_path / "prefix-state"
    assert prefix.folder(load({"QA_CACHE_DIR": str(tmp_path), "QA_PREFIX_CACHE": "false"})) is None


# --- LlamaGenerator.prime over a fake Llama: evaluate and save once, restore after -------------------------

class FakeLlama:
    """What LlamaGenerator uses of llama_cpp.Llama: one byte one token, and a slow eval."""

    made = 0

    def __init__(self, model_path: str, n_ctx: int, **_: Any):
        FakeLlama.made += 1
        self.metadata: dict[str, str] = {}  # no template: ChatML, as Qwen's
        self.input_ids = np.zeros(n_ctx, dtype=np.intc)
        self.n_tokens = 0
        self.evaluated: list[int] = []

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return list(text)

    def reset(self) -> None:
        self.n_tokens = 0

    def eval(self, tokens: Sequence[int]) -> None:
        time.sleep(0.05)  # long enough for a second caller to arrive
        self.input_ids[self.n_tokens:self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)
        self.evaluated += tokens

    def close(self) -> None:
        pass


def _fake_state(llm: FakeLlama) -> bytes:
    return np.asarray(llm.input_ids[:llm.n_tokens], dtype=np.int32).tobytes()


def _fake_apply(llm: FakeLlama, tokens: Sequence[int], state: bytes) -> bool:
    llm.reset()
    if state != np.asarray(tokens, dtype=np.int32).tobytes():
        return False  # what llama.cpp does with bytes it cannot read
    llm.input_ids[:len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    return True


@pytest.fixture
def fake_llama(monkeypatch: pytest.MonkeyPatch) -> type[FakeLlama]:
    import llama_cpp

    monkeypatch.setattr(llama_cpp, "Llama", FakeLlama)
    monkeypatch.setattr(prefix, "capture", _fake_state)
    monkeypatch.setattr(prefix, "apply", _fake_apply)
    return FakeLlama


def test_the_first_process_evaluates_and_saves_the_next_restores(tmp_path: Path, fake_llama: type[FakeLlama],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    model, states = _model(tmp_path), tmp_path / "states"
    first = LlamaGenerator(model, 4096, 1, states)
    assert not first.primed and first.prime(opening()) == "evaluated" and first.primed
    wanted = first.opening_tokens(opening())
    assert first._llm.evaluated == wanted and len(list(states.glob("*.state"))) == 1
    assert bytes(wanted).decode().endswith(f"{OPENING[:-1]}")  # the user message's open text, less its last token
    assert first.tokens([*opening()[:1], {"role": "user", "content": OPENING + "[1] A title"}])[:len(wanted)] == wanted
    assert first.prime(opening()) == "held" and first._llm.evaluated == wanted  # no second evaluation

    second = LlamaGenerator(model, 4096, 1, states)  # a fresh process
    assert second.prime(opening()) == "restored" and second._llm.evaluated == []
    assert list(second._llm.input_ids[:second._llm.n_tokens]) == wanted

    [path] = states.glob("*.state")
    path.write_bytes(path.read_bytes()[:-3])  # cut short
    third = LlamaGenerator(model, 4096, 1, states)
    with caplog.at_level(logging.WARNING):
        assert third.prime(opening()) == "evaluated"
    assert "ignoring the saved prefix state" in caplog.text
    assert LlamaGenerator(model, 4096, 1, states).prime(opening()) == "restored"  # rewritten whole

    unsaved = LlamaGenerator(model, 4096, 1, None)  # QA_PREFIX_CACHE=false
    assert unsaved.prime(opening()) == "evaluated" and len(list(states.glob("*.state"))) == 1


def test_a_state_llama_cpp_refuses_is_evaluated_and_replaced(tmp_path: Path, fake_llama: type[FakeLlama]) -> None:
    model, states = _model(tmp_path), tmp_path / "states"
    first = LlamaGenerator(model, 4096, 1, states)
    first.prime(opening())
    [path] = states.glob("*.state")
    tokens = first.opening_tokens(opening())
    key = prefix.state_key(model, tokens, 4096, _version())
    path.write_bytes(prefix.encode(key, tokens, b"bytes llama.cpp cannot read"))
    assert LlamaGenerator(model, 4096, 1, states).prime(opening()) == "evaluated"
    assert LlamaGenerator(model, 4096, 1, states).prime(opening()) == "restored"


def test_two_callers_at_once_load_and_evaluate_once(tmp_path: Path, fake_llama: type[FakeLlama]) -> None:
    generator = LlamaGenerator(_model(tmp_path), 4096, 1, None)
    made = FakeLlama.made
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(generator.prime(opening()))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == ["evaluated", "held"] and FakeLlama.made == made + 1


# --- the Engine: the opening before the first answer, and before the judge at warm-up ----------------------

class Unprimed(ScriptedGenerator):
    def __init__(self, replies: list[str], order: list[str]):
        super().__init__(replies)
        self.primed, self.order, self.openings = False, order, []

    def warm_up(self) -> None:
        self.order.append("generator")

    def prime(self, messages: Sequence[dict[str, str]]) -> str:
        self.order.append("prime")
        self.openings.append(list(messages))
        self.primed = True
        return "evaluated"


class Judge:
    def __init__(self, order: list[str]):
        self.order = order

    def warm_up(self) -> None:
        self.order.append("judge")

    def yes_probability(self, messages: Sequence[dict[str, str]]) -> float:
        return 1.0


@pytest.fixture
def built(settings: Settings, fake_embedder: HashEmbedder) -> Settings:
    build_index(settings, embedder=fake_embedder)
    return settings.replace(gate_dense=0.0)


def test_a_fresh_engine_says_it_loads_then_primes_once(built: Settings, fake_embedder: HashEmbedder) -> None:
    order: list[str] = []
    gen = Unprimed(["They met in Stockholm [1]."] * 2, order)
    engine = Engine(built, fake_embedder, gen, Judge(order))
    question = "Where did Blinken and Lavrov meet on December 2?"
    events = list(engine.ask(question))
    assert Status(LOADING) in events and gen.openings == [opening()]
    assert opening() == [{"role": "system", "content": SYSTEM}, {"role": "user", "content": OPENING}]
    assert gen.prompts[0][-1]["content"].startswith(OPENING)
    again = list(engine.ask(question))
    assert Status(LOADING) not in again and len(gen.openings) == 1


def test_warm_up_primes_before_it_loads_the_judge(built: Settings, fake_embedder: HashEmbedder) -> None:
    order: list[str] = []
    Engine(built, fake_embedder, Unprimed([], order), Judge(order)).warm_up()
    assert order == ["generator", "prime", "judge"]  # a question at start needs the judge last


# --- the real model ----------------------------------------------------------------------------------------

SOURCE = ("[1] Blinken and Lavrov meet in Stockholm (2021-12-02; Reuters)\nU.S. Secretary of State Antony Blinken "
          "met Russian Foreign Minister Sergei Lavrov in Stockholm on Thursday, on the sidelines of an OSCE meeting.")
QUESTION = "Question: Where did Blinken and Lavrov meet on December 2?"
ASKED = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{OPENING}{SOURCE}\n\n{QUESTION}"}]


@pytest.mark.slow
def test_the_restored_opening_gives_the_same_greedy_answer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from qa.models import llm_model_path

    settings = load({})
    model, n_ctx, threads = llm_model_path(settings), settings.n_ctx, settings.n_threads
    first = LlamaGenerator(model, n_ctx, threads, tmp_path)
    assert first.prime(opening()) == "evaluated"
    wanted = first.opening_tokens(opening())
    assert first.tokens(ASKED)[:len(wanted)] == wanted  # every prompt shares all of it
    [path] = tmp_path.glob("*.state")
    assert path.stat().st_size < 10 * 2**20  # the KV cache of ~245 tokens, no logits
    evaluated = "".join(first.stream(ASKED, 32, 0.0))
    first.close()

    second = LlamaGenerator(model, n_ctx, threads, tmp_path)  # as a fresh process
    assert second.prime(opening()) == "restored"
    assert "".join(second.stream(ASKED, 32, 0.0)) == evaluated and "Stockholm" in evaluated

    # bytes that pass the file's checks but that llama.cpp cannot read: refused, never a crash
    key = prefix.state_key(model, wanted, n_ctx, _version())
    good = path.read_bytes()
    path.write_bytes(prefix.encode(key, wanted, b"\xff" * 4096))
    with caplog.at_level(logging.WARNING):
        assert not prefix.restore(second._llm, wanted, path, key)
    assert "llama.cpp refused" in caplog.text and second._llm.n_tokens == 0
    second._primed = False
    assert second.prime(opening()) == "evaluated" and path.read_bytes() == good  # the same bytes, rewritten
    assert "".join(second.stream(ASKED, 32, 0.0)) == evaluated
    second.close()


@pytest.mark.slow
def test_the_judge_restores_its_examples_and_reads_the_same(tmp_path: Path) -> None:
    from qa import tuning
    from qa.answering import judge
    from qa.models import llm_model_path

    settings = load({})
    model, threads = llm_model_path(settings), settings.n_threads
    reading = judge.answers("Blinken met Lavrov in Stockholm on Thursday.", "Where did Blinken and Lavrov meet?")
    first = LlamaGenerator(model, tuning.JUDGE_CTX, threads, tmp_path)
    assert first.prime(judge.opening()) == "evaluated"
    assert first.tokens(reading)[:len(first.opening_tokens(judge.opening()))] == first.opening_tokens(judge.opening())
    evaluated = first.yes_probability(reading)
    first.close()
    second = LlamaGenerator(model, tuning.JUDGE_CTX, threads, tmp_path)  # as a fresh process
    assert second.prime(judge.opening()) == "restored"
    restored = second.yes_probability(reading)
    assert restored == pytest.approx(evaluated, abs=1e-3) and evaluated > 0.8
    # what was read before does not move a reading: the same one again, or after one that shares its passage
    assert second.yes_probability(reading) == restored
    second.yes_probability(judge.answers("Blinken met Lavrov in Stockholm on Thursday.", "When did they meet?"))
    assert second.yes_probability(reading) == restored
    second.close()
