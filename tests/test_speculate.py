"""Prompt-lookup speculative decoding with a fake model: the same tokens as one-a-pass greedy decoding."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from qa.answering.speculate import Stats, draft, penalised_argmax, speculative_tokens, stream_text

VOCAB = 12
EOG = 11
Rule = Callable[[Sequence[int]], np.ndarray]


class FakeTarget:
    """A deterministic 'model': the logits after a context are rule(context); picks go through the
    penalty replica with the picked tokens as history, as llama.cpp's sampler chain does."""

    def __init__(self, rule: Rule, penalty: float = 1.1) -> None:
        self.rule, self.penalty = rule, penalty
        self.context: list[int] = []
        self.logits: list[np.ndarray] = []
        self.picked: list[int] = []
        self.batches: list[int] = []

    @property
    def n_tokens(self) -> int:
        return len(self.context)

    def prefill(self, prompt: Sequence[int]) -> None:
        self.context = list(prompt)
        self.logits = [self.rule(self.context)]

    def decode(self, tokens: Sequence[int]) -> None:
        self.batches.append(len(tokens))
        self.logits = []
        for t in tokens:
            self.context.append(t)
            self.logits.append(self.rule(self.context))

    def pick(self, index: int) -> int:
        token = penalised_argmax(self.logits[index], self.picked, self.penalty)
        self.picked.append(token)
        return token

    def keep(self, n_tokens: int) -> None:
        assert n_tokens <= len(self.context)
        del self.context[n_tokens:]

    def is_eog(self, token: int) -> bool:
        return token == EOG


def plain(rule: Rule, prompt: Sequence[int], max_tokens: int, penalty: float = 1.1) -> list[int]:
    """One token a pass, the way create_completion decodes."""
    context, picked = list(prompt), []
    while len(picked) < max_tokens:
        token = penalised_argmax(rule(context), picked, penalty)
        if token == EOG:
            break
        picked.append(token)
        context.append(token)
    return picked


def copier(prompt: Sequence[int]) -> Rule:
    """Mostly copies the prompt: after token t, the token that followed t's first occurrence in it
    (else a hash of the context), with near-ties so the repetition penalty changes choices."""
    def rule(context: Sequence[int]) -> np.ndarray:
        logits = np.linspace(0.0, 0.5, VOCAB, dtype=np.float32)[::-1].copy()
        last = context[-1]
        at = list(prompt).index(last) if last in prompt else -1
        follow = prompt[at + 1] if 0 <= at < len(prompt) - 1 else (sum(context) * 7) % VOCAB
        logits[follow] += 1.0
        logits[(follow + 1) % VOCAB] += 0.95  # a runner-up the penalty can promote
        if len(context) > 40:
            logits[EOG] += 3.0
        return logits
    return rule


def hashing(context: Sequence[int]) -> np.ndarray:
    """Not a copier at all: drafts are mostly wrong."""
    rng = np.random.default_rng(hash(tuple(context[-3:])) % 2**32)
    return rng.normal(size=VOCAB).astype(np.float32)


PROMPTS = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2, 3, 4, 9], [3, 3, 3, 3, 5, 3, 3], [7], [1, 2, 1, 2, 1, 2, 11, 4]]


def test_draft_takes_what_followed_the_latest_match_of_the_longest_tail() -> None:
    assert draft([1, 2, 3, 9, 1, 2, 3, 8, 1, 2, 3], 2) == [8, 1]  # latest of the 3-token matches
    assert draft([4, 5, 6, 1, 7, 9, 5, 6], 3) == [1, 7, 9]  # 2-token tail
    assert draft([4, 5, 6, 1, 7], 2) == []  # 7 never occurred before
    assert draft([4, 5, 4], 5) == [5, 4]  # the draft runs up to the end of the history
    assert draft([4, 5, 4], 0) == []
    assert draft([], 3) == [] and draft([4], 3) == []


def test_penalty_replica_divides_positive_multiplies_negative_once_within_the_window() -> None:
    logits = np.array([2.0, 2.1, -1.0, -1.05], dtype=np.float32)
    assert penalised_argmax(logits, [], 1.1) == 1
    assert penalised_argmax(logits, [1], 1.1) == 0  # 2.1 / 1.1 < 2.0
    assert penalised_argmax(logits, [1, 1, 1], 1.1) == 0  # counted once, not per occurrence
    assert penalised_argmax(np.array([-1.0, -1.05], dtype=np.float32), [0], 1.1) == 1  # -1.1 < -1.05
    assert penalised_argmax(logits, [1] + [3] * 64, 1.1) == 1  # 1 fell out of the 64-token window
    assert penalised_argmax(np.array([1.0, 1.0], dtype=np.float32), [], 1.1) == 0  # ties: the first


@pytest.mark.parametrize("k", [0, 1, 2, 4, 8])
@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("kind", ["copier", "hashing"])
def test_speculative_tokens_are_plain_greedy_tokens(k: int, prompt: list[int], kind: str) -> None:
    rule = copier(prompt) if kind == "copier" else hashing
    for max_tokens in (1, 5, 60):
        target = FakeTarget(rule)
        got = list(speculative_tokens(target, prompt, max_tokens, k))
        assert got == plain(rule, prompt, max_tokens)
        assert target.picked[:len(got)] == got  # the sampler learnt exactly the answer's tokens
        # the context holds the prompt and answer tokens only, none of the rejected guesses
        assert target.context == (prompt + got)[:len(target.context)]
        assert len(target.context) >= len(prompt) + len(got) - 1


def test_a_copying_model_takes_fewer_passes() -> None:
    prompt = list(range(1, 11)) * 2
    rule = copier(prompt)
    stats = Stats()
    got = list(speculative_tokens(FakeTarget(rule, penalty=1.0), prompt, 30, 4, stats))
    assert got == plain(rule, prompt, 30, penalty=1.0)
    assert stats.passes < len(got) / 2 and stats.acceptance >= 0.8


class FakeDetokenizer:
    def __init__(self, pieces: dict[int, bytes]) -> None:
        self.pieces = pieces

    def detokenize(self, tokens: list[int]) -> bytes:
        return b"".join(self.pieces[t] for t in tokens)


def test_stream_text_joins_split_characters_and_cuts_at_stop_strings() -> None:
    e_acute = "é".encode()
    llm = FakeDetokenizer({1: b"caf", 2: e_acute[:1], 3: e_acute[1:] + b" ok", 4: b"<|im", 5: b"_end|>x", 6: b"<|"})
    assert "".join(stream_text(llm, iter([1, 2, 3]), ["<|im_end|>"])) == "café ok"
    assert list(stream_text(llm, iter([1, 2]), [])) == ["caf"]  # the half character waits, then is dropped
    assert "".join(stream_text(llm, iter([1, 4, 5, 1]), ["<|im_end|>"])) == "caf"
    assert "".join(stream_text(llm, iter([1, 6, 1]), ["<|im_end|>"])) == "caf<|caf"  # not a stop after all


def test_the_setting_turns_speculation_off_and_is_checked() -> None:
    from qa.config import load
    from qa.errors import ConfigError

    assert load({"QA_SPECULATE": "0"}).speculate == 0
    assert load({"QA_SPECULATE": "3"}).speculate == 3
    with pytest.raises(ConfigError):
        load({"QA_SPECULATE": "-1"})
