"""Prompt-lookup speculative decoding: greedy answers that copy their sources, several tokens a pass.

An answer mostly repeats words of its passages, so the tokens after the last few generated ones can
often be found in the prompt. Each step evaluates the next token together with up to `k` tokens
guessed that way ("the draft") in ONE batch, logits requested for those positions only, and keeps
the longest prefix of the draft that the model's own greedy choice confirms, plus the model's choice
after it. Every kept token is the one greedy decoding would have picked, so the text is the same;
what changes is how many positions one pass of the weights serves.

llama-cpp-python's own `LlamaPromptLookupDecoding` needs `logits_all=True`, which computes the
151,936-wide output layer for every prompt token too: that cost ate the gain. Here the prompt is
evaluated as usual (last token's logits only) and only the verified positions get logits.

The picks go through llama.cpp's own sampler chain (repetition penalty, then greedy), the same one
`create_completion` builds, accepting each kept token in order: its penalty history is therefore the
same generated tokens as in plain decoding. `penalised_argmax` is that chain written out in numpy,
for the tests and the bench's cross-check.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

MAX_NGRAM = 3  # the longest run of last tokens looked up in the history; shorter runs are tried after
PENALTY_LAST_N = 64  # llama-cpp-python's last_n_tokens_size: the penalties sampler's window


class Target(Protocol):
    """The model operations the decoder needs; `LlamaTarget` is the real one."""

    def prefill(self, prompt: Sequence[int]) -> None:
        """Put the prompt in the context; its last position's logits become pickable at index -1."""
        ...

    def decode(self, tokens: Sequence[int]) -> None:
        """Evaluate tokens after the context, logits for each (indexes 0..len-1)."""
        ...

    def pick(self, index: int) -> int:
        """The greedy (penalised) token at this index of the last evaluation; accepted into the penalty
        history, so call it once per generated token, in order."""
        ...

    def keep(self, n_tokens: int) -> None:
        """Drop every context position from n_tokens on."""
        ...

    def is_eog(self, token: int) -> bool:
        ...

    @property
    def n_tokens(self) -> int:
        ...


def draft(history: Sequence[int], k: int, max_ngram: int = MAX_NGRAM) -> list[int]:
    """Up to k tokens that followed the latest earlier occurrence of the history's last n tokens,
    trying n = max_ngram down to 1; [] when no run of the last tokens occurred before.

    >>> draft([5, 6, 7, 8, 1, 5, 6], 3)
    [7, 8, 1]
    """
    if k <= 0:
        return []
    size = len(history)
    for n in range(min(max_ngram, size - 1), 0, -1):
        tail = list(history[size - n:])
        # latest occurrence first: an answer that repeats a phrase repeats its latest wording;
        # an occurrence must end before the tail itself, so something follows it
        for start in range(size - n - 1, -1, -1):
            if history[start] == tail[0] and list(history[start:start + n]) == tail:
                return list(history[start + n:start + n + k])
    return []


class Stats:
    """Counts for the bench: passes of the model, tokens drafted and drafted tokens kept."""

    def __init__(self) -> None:
        self.passes = self.drafted = self.kept = 0
        self.emitted: list[int] = []  # the answer's tokens

    @property
    def tokens(self) -> int:
        return len(self.emitted)

    @property
    def acceptance(self) -> float:
        return self.kept / self.drafted if self.drafted else 0.0


def speculative_tokens(target: Target, prompt: Sequence[int], max_tokens: int, k: int,
                       stats: Stats | None = None) -> Iterator[int]:
    """The greedy answer's tokens (up to max_tokens, stopping before an end-of-generation token),
    verified k draft tokens a pass; k = 0 is plain one-token-a-pass decoding."""
    stats = stats or Stats()
    history = list(prompt)

    def take(token: int) -> int:
        """Record an emitted token; how many more the answer may have."""
        stats.emitted.append(token)
        history.append(token)
        return max_tokens - (len(history) - len(prompt))

    target.prefill(prompt)
    token = target.pick(-1)  # picked but not yet evaluated
    while not target.is_eog(token):
        yield token
        room = take(token)
        if room <= 0:
            return
        # the batch's picks can add len(guess) + 1 tokens: never more than max_tokens allows
        guess = draft(history, min(k, room - 1))
        start = target.n_tokens
        target.decode([token, *guess])
        stats.passes += 1
        stats.drafted += len(guess)
        for i in range(len(guess) + 1):
            token = target.pick(i)
            if i == len(guess) or token != guess[i] or target.is_eog(token):
                # `token` is the model's choice after the kept ones: the next pass evaluates it;
                # the positions of the rejected guesses leave the context
                target.keep(start + 1 + i)
                break
            stats.kept += 1
            yield token
            if take(token) <= 0:
                target.keep(start + 2 + i)  # the last kept guess stays: it was evaluated as what it is
                return


def penalised_argmax(logits: np.ndarray, generated: Sequence[int], penalty: float,
                     last_n: int = PENALTY_LAST_N) -> int:
    """llama.cpp's penalties sampler (repeat penalty only) then greedy, in numpy: each distinct token
    of the last `last_n` generated ones has its logit divided by `penalty` when positive, multiplied
    when not (once, however often it occurred); then the first highest logit wins. Prompt tokens are
    not penalised: llama-cpp-python never feeds them to the sampler, which learns only what it picks.

    >>> penalised_argmax(np.array([1.0, 1.05, -2.0], dtype=np.float32), [1], 1.1)
    0
    """
    scores = np.array(logits, dtype=np.float32, copy=True)
    recent = np.unique(np.asarray(list(generated)[-last_n:] if last_n > 0 else [], dtype=np.int64))
    if recent.size and penalty != 1.0:
        seen = scores[recent]
        scores[recent] = np.where(seen <= 0, seen * np.float32(penalty), seen / np.float32(penalty))
    return int(np.argmax(scores))


class LlamaTarget:
    """`Target` over a llama_cpp.Llama: its context, batch and sampler chain; keeps `input_ids` and
    `n_tokens` in step with the KV cache so the next prompt reuses the common prefix as usual."""

    def __init__(self, llm: Any, repeat_penalty: float, top_p: float = 0.9) -> None:
        self.llm = llm
        # the chain create_completion(temperature=0) builds: penalties, then greedy
        self.sampler = llm._init_sampler(temp=0.0, repeat_penalty=repeat_penalty, top_p=top_p)

    @property
    def n_tokens(self) -> int:
        return int(self.llm.n_tokens)

    def prefill(self, prompt: Sequence[int]) -> None:
        llm = self.llm
        common = 0
        # at least the last prompt token is evaluated: its logits pick the first answer token
        for a, b in zip(llm.input_ids[:llm.n_tokens], prompt[:-1], strict=False):
            if a != b:
                break
            common += 1
        llm.n_tokens = common  # eval() drops the cache after it
        llm.eval(list(prompt[common:]))

    def decode(self, tokens: Sequence[int]) -> None:
        llm = self.llm
        n_past = llm.n_tokens
        llm._batch.set_batch(batch=list(tokens), n_past=n_past, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past:n_past + len(tokens)] = tokens
        llm.n_tokens = n_past + len(tokens)

    def pick(self, index: int) -> int:
        return int(self.sampler.sample(self.llm._ctx, index))

    def keep(self, n_tokens: int) -> None:
        llm = self.llm
        llm._ctx.kv_cache_seq_rm(-1, n_tokens, -1)
        llm.n_tokens = n_tokens
        # the context's last logits are no longer the last kept position's: an identical next prompt
        # must evaluate its last token again rather than sample from them
        llm._requires_eval = True

    def is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    def close(self) -> None:
        self.sampler.close()


def stream_text(llm: Any, tokens: Iterator[int], stop: Sequence[str]) -> Iterator[str]:
    """The text of the tokens as it comes, as create_completion streams it: a multi-byte character
    split across tokens waits for its last byte; text that may be the start of a stop string waits
    until it is not; the text ends before the first stop string."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
    pending = ""
    for token in tokens:
        pending += decoder.decode(llm.detokenize([token]))
        cut = min((pending.index(s) for s in stop if s in pending), default=-1)
        if cut >= 0:
            if cut:
                yield pending[:cut]
            return
        hold = max((i for s in stop for i in range(len(s), 0, -1) if pending.endswith(s[:i])), default=0)
        if len(pending) > hold:
            yield pending[:len(pending) - hold]
            pending = pending[len(pending) - hold:]
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending
