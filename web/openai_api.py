"""The OpenAI-compatible routes on the app's server, so editors, notebooks and other tools can use the
archive as a model: `POST /v1/chat/completions` (streaming and not) and `GET /v1/models`.

- The last user message is the question, the user and assistant messages before it the history
  (system and developer messages are ignored: the archive's own rules decide how it answers).
- The reply's content is the checked answer with its [n] markers, or the refusal with the passages
  nearest the question. The extra field `news_qa` holds the object `qa ask --json` prints
  (citations, refused, grounded, hits, timings).
- Streaming sends the checked answer only: the model's draft streams in first, but the checks may
  replace it, and a stream cannot take back what it has sent. So the content arrives in one piece
  when the answer is ready; until then the stream carries SSE comments (": Checking the answer…"),
  which clients ignore and which keep proxies from closing a quiet connection.
- With QA_AUTH=user:password set, every route asks for `Authorization: Bearer <password>` (tools
  know an API key, not a user name), and answers 401 in the OpenAI error format otherwise.
"""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from qa.answering.engine import Done, Event, Status, clean_question
from qa.errors import QAError
from qa.types import Answer, Turn
from web.handlers import ChatApp

log = logging.getLogger("qa.app")

MODEL_ID = "news-qa"
EXTRA_FIELD = "news_qa"  # the documented extra field of a reply: the `qa ask --json` object
MAX_TOKENS = 1024  # the most a request may ask the model to draft (the app's slider stops there too)
KEEPALIVE_S = 2.0  # a comment at least this often while the model drafts; a gone client is noticed on the next


Events = Generator[Event, None, None]


class ApiError(Exception):
    """A request the routes refuse, with the HTTP status and the OpenAI error object's fields."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


@dataclass(frozen=True)
class ChatRequest:
    question: str
    history: tuple[Turn, ...]
    stream: bool = False
    include_usage: bool = False  # stream_options.include_usage: a last chunk with the usage
    temperature: float | None = None  # None: the app's setting
    max_tokens: int | None = None


def check_auth(header: str | None, auth: str) -> None:
    """Raises a 401 ApiError unless QA_AUTH is unset or the header is `Bearer <its password>`.

    >>> check_auth(None, "")
    >>> check_auth("Bearer s3:cret", "ann:s3:cret")
    >>> check_auth("Bearer wrong", "ann:s3:cret")
    Traceback (most recent call last):
    web.openai_api.ApiError: Incorrect API key: send the password of QA_AUTH=user:password as the Bearer token.
    """
    if not auth:
        return
    password = auth.partition(":")[2]
    scheme, _, token = (header or "").partition(" ")
    if not header:
        raise ApiError(401, "No API key: send the password of QA_AUTH=user:password as "
                            "`Authorization: Bearer <password>`.", code="invalid_api_key")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), password.encode()):
        raise ApiError(401, "Incorrect API key: send the password of QA_AUTH=user:password as the Bearer token.",
                       code="invalid_api_key")


def _text(content: Any, i: int) -> str:
    """A message's text: a string, or a list of content parts whose text parts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        if all(p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
            return "\n".join(p["text"] for p in content)
        raise ApiError(400, f"messages[{i}].content: only text parts are read (type \"text\").",
                       f"messages[{i}].content")
    raise ApiError(400, f"messages[{i}].content must be a string or a list of text parts.",
                   f"messages[{i}].content")


def _turns(messages: Any) -> list[Turn]:
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list of {\"role\", \"content\"} objects.", "messages")
    turns = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ApiError(400, f"messages[{i}] must be an object with a role and content.", f"messages[{i}]")
        if m["role"] in ("user", "assistant"):  # other roles are not read, whatever their content
            turns.append(Turn(m["role"], "" if m.get("content") is None else _text(m["content"], i)))
    return turns


def _number(body: dict[str, Any], name: str, kind: type, low: int, high: int) -> Any:
    """body[name] as `kind` when present and within [low, high]; None when absent; else a 400."""
    value = body.get(name)
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or (kind is int and value != int(value))):
        raise ApiError(400, f"{name} must be {'an integer' if kind is int else 'a number'}. "
                            f"Currently, it is {value!r}.", name)
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be in [{low}, {high}]. Currently, it is {value!r}.", name)
    return kind(value)


def parse_request(raw: bytes) -> ChatRequest:
    """The request body -> the question, its history and the options read; a 400 ApiError names what is
    wrong. Options not listed here (top_p, tools, ...) are ignored."""
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, f"The body is not valid JSON ({exc}): send a chat completion request.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object with \"messages\".")
    turns = _turns(body.get("messages"))
    last = max((i for i, t in enumerate(turns) if t.role == "user"), default=-1)
    if last < 0:
        raise ApiError(400, "messages has no user message: the last user message is the question.", "messages")
    if body.get("n", 1) != 1:
        raise ApiError(400, f"n must be 1: the archive gives one checked answer. Currently, it is {body['n']!r}.",
                       "n")
    if not isinstance(body.get("stream", False), bool):
        raise ApiError(400, "stream must be true or false.", "stream")
    options = body.get("stream_options") or {}
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = _number({"max_tokens": limit}, "max_tokens", int, 1, 10**6)
    return ChatRequest(turns[last].content, tuple(turns[:last]), body.get("stream", False),
                       isinstance(options, dict) and options.get("include_usage") is True,
                       _number(body, "temperature", float, 0, 2),
                       None if max_tokens is None else min(max_tokens, MAX_TOKENS))


def usage(answer: Answer) -> dict[str, int]:
    """Prompt tokens as the answer's timings counted them (0 when the relevance gate answered without
    the model); completion tokens are the tokens the model drafted, whatever the checks kept."""
    t = answer.timings
    return {"prompt_tokens": t.prompt_tokens, "completion_tokens": t.answer_tokens,
            "total_tokens": t.prompt_tokens + t.answer_tokens}


def completion(answer: Answer, cid: str, created: int) -> dict[str, Any]:
    """The non-streaming reply: one chat.completion object."""
    return {"id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": "stop"}],
            "usage": usage(answer), EXTRA_FIELD: answer.to_json()}


def chunk(cid: str, created: int, delta: dict[str, Any], finish: str | None = None,
          **extra: Any) -> dict[str, Any]:
    """One chat.completion.chunk of a stream."""
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def comment(text: str) -> bytes:
    """An SSE comment line: clients ignore it, the connection sees traffic."""
    return f": {' '.join(text.split())}\n\n".encode()


def final_chunks(answer: Answer, cid: str, created: int, include_usage: bool) -> list[bytes]:
    """The end of a stream: the checked answer as the content, the stop with the `news_qa` field, the
    usage when asked for, then [DONE]."""
    out = [sse(chunk(cid, created, {"content": answer.text})),
           sse(chunk(cid, created, {}, "stop", **{EXTRA_FIELD: answer.to_json()}))]
    if include_usage:
        out.append(sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                        "choices": [], "usage": usage(answer)}))
    return [*out, sse("[DONE]")]


def models_list(created: int) -> dict[str, Any]:
    return {"object": "list", "data": [model_card(created)]}


def model_card(created: int) -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": created, "owned_by": "news-qa"}


class Routes:
    """The handlers over the app's ChatApp (its Engine, settings and models loading in the background)."""

    def __init__(self, app: ChatApp, auth: str = ""):
        self.app = app
        self.auth = auth  # QA_AUTH's "user:password": its password is the bearer token
        self.created = int(time.time())

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/models", self.guarded(self.list_models), methods=["GET"]),
                Route("/v1/models/{model}", self.guarded(self.get_model), methods=["GET"]),
                Route("/v1/chat/completions", self.guarded(self.chat_completions), methods=["POST"])]

    def guarded(self, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        """The handler behind the bearer check, with a refused request answered in the OpenAI format."""
        async def endpoint(request: Request) -> Response:
            try:
                check_auth(request.headers.get("authorization"), self.auth)
                return await handler(request)
            except ApiError as err:
                return err.response()
            except QAError as exc:  # the index or a model is missing or broken: the message names the fix
                return ApiError(500, str(exc), kind="server_error").response()
            except Exception as exc:  # never a bare traceback page for a tool to parse
                log.exception("an API request failed")
                return ApiError(500, f"answering failed ({type(exc).__name__}: {exc})",
                                kind="server_error").response()

        return endpoint

    async def list_models(self, request: Request) -> Response:
        return JSONResponse(models_list(self.created))

    async def get_model(self, request: Request) -> Response:
        if request.path_params["model"] != MODEL_ID:
            raise ApiError(404, f"The model {request.path_params['model']!r} does not exist: this server has "
                                f"{MODEL_ID!r}.", "model", "model_not_found")
        return JSONResponse(model_card(self.created))

    async def chat_completions(self, request: Request) -> Response:
        asked = parse_request(await request.body())
        try:
            clean_question(asked.question)
        except QAError as exc:
            raise ApiError(400, str(exc), "messages") from None
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        # the first event before the reply starts: a missing index or model is an error status, not a stream
        events, first = await anyio.to_thread.run_sync(self._start, asked)
        if not asked.stream:
            answer = await anyio.to_thread.run_sync(_finish, events, first)
            return JSONResponse(completion(answer, cid, created))
        return StreamingResponse(self._stream(events, first, cid, created, asked.include_usage),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def _start(self, asked: ChatRequest) -> tuple[Events, Event]:
        """Wait for the models (they load in the background), start answering, return the first event."""
        self.app.models.created.wait()
        if self.app.models.error:
            raise QAError(self.app.models.error)
        s = self.app.settings
        settings = s.replace(temperature=s.temperature if asked.temperature is None else asked.temperature,
                             max_tokens=asked.max_tokens or s.max_tokens)
        events = self.app.engine.ask(asked.question, asked.history, settings)
        return events, next(events)

    async def _stream(self, events: Events, event: Event, cid: str, created: int,
                      include_usage: bool) -> AsyncIterator[bytes]:
        try:
            yield sse(chunk(cid, created, {"role": "assistant", "content": ""}))
            beat = time.monotonic()
            while not isinstance(event, Done):
                if isinstance(event, Status):
                    yield comment(event.message)
                    beat = time.monotonic()
                elif time.monotonic() - beat >= KEEPALIVE_S:
                    yield comment("drafting; the checked answer follows")
                    beat = time.monotonic()
                following = await anyio.to_thread.run_sync(next, events, None)
                if following is None:
                    raise QAError("the answer ended without a result")
                event = following
            for data in final_chunks(event.answer, cid, created, include_usage):
                yield data
        except QAError as exc:  # the reply has started: the error goes in the stream, as OpenAI sends it
            yield sse(ApiError(500, str(exc), kind="server_error").body())
            yield sse("[DONE]")
        except Exception as exc:
            log.exception("answering an API request failed")
            yield sse(ApiError(500, f"answering failed ({type(exc).__name__}: {exc})", kind="server_error").body())
            yield sse("[DONE]")
        finally:
            with anyio.CancelScope(shield=True):  # a client gone mid-answer must still free the model
                await anyio.to_thread.run_sync(events.close)


def _finish(events: Events, first: Event) -> Answer:
    """The Answer at the end of the events (the non-streaming reply), the events closed."""
    try:
        for event in itertools.chain([first], () if isinstance(first, Done) else events):
            if isinstance(event, Done):
                return event.answer
        raise QAError("the answer ended without a result")
    finally:
        events.close()


def openai_routes(app: ChatApp, auth: str = "") -> list[BaseRoute]:
    """The routes to put before Gradio's own on the app's server, behind QA_AUTH's password when set."""
    return Routes(app, auth).routes()
