"""Generator protocol and the llama-cpp-python implementation.

One model per process (cached by path), a lock around it (llama.cpp contexts are not
thread-safe), threads = cores, streaming. The prompt is rendered with the model's own
chat template (from the GGUF metadata) and tokenised by us, so its length is exact and
the budget in prompt.py can guarantee llama.cpp never truncates anything silently.
A constant system prompt comes first so llama.cpp reuses its cached prefix; `prime` puts that
opening in the context at start, restored from the state an earlier process saved (qa.answering.prefix).
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from qa.answering import prefix as prefix_state
from qa.answering import speculate
from qa.errors import ModelError

log = logging.getLogger(__name__)

SEED = 42  # the same question over the same sources gets the same answer
REPEAT_PENALTY = 1.1
STOP = ("<|im_end|>", "<|endoftext|>")
Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}: llama.cpp's own format


class Generator(Protocol):
    n_ctx: int

    def count(self, messages: Sequence[Message]) -> int:
        """Prompt tokens of these messages after the chat template."""
        ...

    def stream(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        """The answer, piece by piece."""
        ...


class LlamaGenerator:
    """A GGUF model through llama-cpp-python, loaded on first use."""

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int = 2, state_dir: Path | None = None,
                 speculate: int = 0):
        self.path, self.n_ctx, self.threads = path, n_ctx, threads
        self.state_dir = state_dir  # where `prime` saves and finds the opening's state; None: never saved
        self.speculate = speculate  # draft tokens verified a pass in greedy answers (qa.answering.speculate); 0: off
        self._llm: Any = None
        self._template: Any = None
        self._primed = False
        self._opening: list[int] = []  # the primed opening's tokens: the one prefix prompts reuse (see _rewind)
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()  # one generation at a time

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def primed(self) -> bool:
        """`prime` has put the prompts' opening in this context (a later prompt may have replaced it)."""
        return self._primed

    def warm_up(self) -> None:
        self._load()

    def close(self) -> None:
        with self._load_lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    def _load(self) -> Any:
        with self._load_lock:
            if self._llm is None:
                try:
                    from llama_cpp import Llama
                except ImportError:
                    raise ModelError("llama-cpp-python is not installed: run `make install`.") from None
                try:
                    llm = Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.threads,
                                n_threads_batch=self.threads, n_batch=512, verbose=False)
                except (ValueError, RuntimeError, OSError) as exc:
                    raise ModelError(f"cannot load the LLM {self.path} ({exc}): check QA_LLM_MODEL points at "
                                     "a complete llama.cpp .gguf file, or unset it for the bundled one.") from None
                self._template = _chat_template(llm)
                self._llm = llm
        return self._llm

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        self._load()
        return str(self._template.render(messages=list(messages), add_generation_prompt=add_generation_prompt))

    def tokens(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> list[int]:
        llm = self._load()
        text = self.render(messages, add_generation_prompt)
        return list(llm.tokenize(text.encode(), add_bos=False, special=True))

    def opening_tokens(self, messages: Sequence[Message]) -> list[int]:
        """The tokens of every prompt that starts with `messages` and goes on writing the last one: the
        rendered messages up to the end of the last one's text (not the template's closing of it), less
        their last token, which the text that follows may merge with."""
        text = self.render(messages, add_generation_prompt=False)
        last = messages[-1]["content"]
        at = text.rfind(last) if last else -1
        end = at + len(last) if at >= 0 else len(text)
        return list(self._llm.tokenize(text[:end].encode(), add_bos=False, special=True))[:-1]

    def prime(self, messages: Sequence[Message]) -> str:
        """Put the opening every prompt shares (the constant system prompt and instruction) in the context
        now, so the first question reuses it like every later one does: restored from the state saved by
        an earlier process when there is one, else evaluated, and saved for the next process.
        Returns how: "held" (already there), "restored" or "evaluated"."""
        llm = self._load()
        prefix = self.opening_tokens(messages)
        with self._lock:
            self._opening = prefix
            if llm.n_tokens >= len(prefix) and list(llm.input_ids[:len(prefix)]) == prefix:
                self._primed = True
                return "held"  # two callers at once (the app's warm-up and a question): the second waits here
            started = time.perf_counter()
            path, key = self._state_file(prefix)
            if path is not None and prefix_state.restore(llm, prefix, path, key):
                how = "restored"
            else:
                llm.reset()
                llm.eval(prefix)
                if path is not None:
                    prefix_state.save(llm, prefix, path, key)
                how = "evaluated"
            self._primed = True
        log.info("the prompts' opening (%d tokens) %s in %.0f ms", len(prefix), how,
                 (time.perf_counter() - started) * 1000)
        return how

    def _state_file(self, prefix: Sequence[int]) -> tuple[Path | None, str]:
        """The file of this model, prefix and context size in `state_dir`, and its key; no file when off."""
        if self.state_dir is None:
            return None, ""
        import llama_cpp

        key = prefix_state.state_key(self.path, prefix, self.n_ctx, llama_cpp.__version__)
        return prefix_state.state_path(self.state_dir, key), key

    def count(self, messages: Sequence[Message]) -> int:
        return len(self.tokens(messages))

    def yes_probability(self, messages: Sequence[Message]) -> float:
        """P("yes") against P("no") as the first word of the model's reply: one forward pass over the
        prompt (its cached prefix reused), no sampling."""
        import numpy as np

        llm = self._load()
        prompt = self.tokens(messages)
        yes = {llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in ("yes", "Yes", " yes", " Yes")}
        no = {llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in ("no", "No", " no", " No")}
        with self._lock:
            kept = self._rewind(llm, prompt)
            llm.eval(prompt[kept:])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
        top = max(logits[list(yes | no)])
        p_yes, p_no = (float(np.exp(logits[list(ids)] - top).sum()) for ids in (yes, no))
        return p_yes / (p_yes + p_no)

    def stream(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        prompt = self.tokens(messages)
        if len(prompt) + max_tokens > self.n_ctx:  # prompt.py prevents this; never truncate silently
            raise ModelError(f"prompt of {len(prompt)} tokens + {max_tokens} to answer exceeds the "
                             f"context of {self.n_ctx}")
        if self.speculate > 0 and temperature == 0:
            yield from self._speculative(prompt, max_tokens)
            return
        with self._lock:
            self._rewind(self._llm, prompt)  # create_completion reuses what is left
            pieces = self._llm.create_completion(prompt=prompt, max_tokens=max_tokens, temperature=temperature,
                                                 top_p=0.9, repeat_penalty=REPEAT_PENALTY, stream=True, seed=SEED,
                                                 stop=list(STOP))
            for piece in pieces:
                text = piece["choices"][0]["text"]
                if text:
                    yield text

    def _rewind(self, llm: Any, prompt: Sequence[int]) -> int:
        """Keep in the context only the primed opening this prompt starts with (eval() drops the rest), and
        return its length. Reusing more (the previous prompt's sources, the same question asked again)
        would evaluate the rest in other batches, whose sums round differently: a judge's reading moved
        by up to 0.05 across the threshold, and a greedy answer can change, depending on what was asked
        before. Evaluated from the opening on, a prompt gets the same logits every time."""
        kept = 0
        for a, b, c in zip(llm.input_ids[:llm.n_tokens], prompt[:-1], self._opening, strict=False):
            if not a == b == c:
                break
            kept += 1
        llm.n_tokens = kept
        return kept

    def _speculative(self, prompt: list[int], max_tokens: int, stats: speculate.Stats | None = None
                     ) -> Iterator[str]:
        """The greedy answer `create_completion` gives, prompt-lookup drafts verified a batch a pass."""
        with self._lock:
            self._rewind(self._llm, prompt)  # the target's prefill reuses what is left, as create_completion does
            target = speculate.LlamaTarget(self._llm, REPEAT_PENALTY)
            try:
                tokens = speculate.speculative_tokens(target, prompt, max_tokens, self.speculate, stats)
                yield from speculate.stream_text(self._llm, tokens, STOP)
            finally:
                target.close()


def _chat_template(llm: Any) -> Any:
    """The model's Jinja chat template, sandboxed as llama-cpp-python does it."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    source = llm.metadata.get("tokenizer.chat_template")
    if not source:  # ChatML: what Qwen and most instruct GGUFs use
        source = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(source)


@functools.cache
def llama_generator(path: Path, n_ctx: int, threads: int, state_dir: Path | None = None,
                    speculate: int = 0) -> LlamaGenerator:
    """One model instance per process and configuration."""
    generator = LlamaGenerator(path, n_ctx, threads, state_dir, speculate)
    atexit.register(generator.close)  # freed before interpreter teardown, not in a noisy __del__
    return generator
