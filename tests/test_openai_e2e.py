"""The OpenAI-compatible endpoint as a tool uses it: `python app.py` on a copy of the sample corpus
with the real bundled models, asked with curl and with a plain HTTP client (streaming).

Slow (minutes on 2 cores): every answer is generated and judged by the real LLM.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest

from .live import App, Corpus, copy_seed_articles, qa_index, running_app

pytestmark = pytest.mark.slow

QUESTION = "Where did Blinken and Lavrov meet on December 2?"
STOCKHOLM_ARTICLE = "004_76ac13b7a8ec9be8.txt"
ANSWER_S = 300  # generous: the LLM shares 2 cores with everything else on the machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    base = tmp_path_factory.mktemp("openai")
    corpus = Corpus(copy_seed_articles(base / "articles"), base / "index")
    qa_index(corpus)
    with running_app(corpus, base / "app.log") as app:
        yield app


def _request(question: str, stream: bool = False) -> bytes:
    return json.dumps({"model": "news-qa", "stream": stream, "temperature": 0,
                       "messages": [{"role": "user", "content": question}]}).encode()


def _check(extra: dict[str, object], content: str) -> None:
    assert "Stockholm" in content, extra
    assert content == extra["answer"] and not extra["refused"], extra
    citations = extra["citations"]
    assert isinstance(citations, list) and any(c["article_id"] == STOCKHOLM_ARTICLE for c in citations), citations


def test_curl_gets_stockholm_with_the_004_article(server: App) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    done = subprocess.run([curl, "-sS", "--max-time", str(ANSWER_S), f"{server.url}v1/chat/completions",
                           "-H", "Content-Type: application/json", "-d", _request(QUESTION).decode()],
                          capture_output=True, text=True, timeout=ANSWER_S + 30)
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    _check(reply["news_qa"], reply["choices"][0]["message"]["content"])


def test_a_streamed_answer_ends_with_the_checked_text(server: App) -> None:
    request = urllib.request.Request(f"{server.url}v1/chat/completions", data=_request(QUESTION, stream=True),
                                     headers={"Content-Type": "application/json"})
    chunks = []
    with urllib.request.urlopen(request, timeout=ANSWER_S) as response:
        for line in response:
            if line.startswith(b"data: "):
                chunks.append(line[6:].strip())
    assert chunks[-1] == b"[DONE]"
    decoded = [json.loads(c) for c in chunks[:-1]]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in decoded if c["choices"])
    [end] = [c for c in decoded if c["choices"] and c["choices"][0]["finish_reason"] == "stop"]
    _check(end["news_qa"], content)
