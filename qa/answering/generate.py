"""Generator protocol and the llama-cpp-python implementation.

One model per process (cached by path), a lock around it (llama.cpp contexts are not
thread-safe), threads = cores, streaming. The prompt is rendered with the model's own
chat template (from the GGUF metadata) and tokenised by us, so its length is exact and
the budget in prompt.py can guarantee llama.cpp never truncates anything silently.
A constant system prompt comes first so llama.cpp reuses its cached prefix.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from qa.errors import ModelError

log = logging.getLogger(__name__)

SEED = 42  # the same question over the same sources gets the same answer
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

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int = 2):
        self.path, self.n_ctx, self.threads = path, n_ctx, threads
        self._llm: Any = None
        self._template: Any = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()  # one generation at a time

    @property
    def loaded(self) -> bool:
        return self._llm is not None

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

    def prime(self, messages: Sequence[Message]) -> None:
        """Evaluate the opening messages (the constant system prompt) now, so the first question
        reuses them from llama.cpp's cache like every later one does."""
        prefix = self.tokens(messages, add_generation_prompt=False)
        with self._lock:
            self._llm.reset()
            self._llm.eval(prefix)

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
            common = 0
            for a, b in zip(llm.input_ids[:llm.n_tokens], prompt[:-1], strict=False):
                if a != b:
                    break
                common += 1
            llm.n_tokens = common  # eval() drops the cache after it and evaluates the rest
            llm.eval(prompt[common:])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
        top = max(logits[list(yes | no)])
        p_yes, p_no = (float(np.exp(logits[list(ids)] - top).sum()) for ids in (yes, no))
        return p_yes / (p_yes + p_no)

    def stream(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        prompt = self.tokens(messages)
        if len(prompt) + max_tokens > self.n_ctx:  # prompt.py prevents this; never truncate silently
            raise ModelError(f"prompt of {len(prompt)} tokens + {max_tokens} to answer exceeds the "
                             f"context of {self.n_ctx}")
        with self._lock:
            pieces = self._llm.create_completion(prompt=prompt, max_tokens=max_tokens, temperature=temperature,
                                                 top_p=0.9, repeat_penalty=1.1, stream=True, seed=SEED,
                                                 stop=["<|im_end|>", "<|endoftext|>"])
            for piece in pieces:
                text = piece["choices"][0]["text"]
                if text:
                    yield text


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
def llama_generator(path: Path, n_ctx: int, threads: int) -> LlamaGenerator:
    """One model instance per process and configuration."""
    generator = LlamaGenerator(path, n_ctx, threads)
    atexit.register(generator.close)  # freed before interpreter teardown, not in a noisy __del__
    return generator
