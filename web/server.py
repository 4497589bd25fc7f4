"""Start-up: index when there is none, launch the page and the OpenAI-compatible routes on one server,
then load the models in the background."""

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from qa import config
from qa.answering.engine import Engine
from qa.config import Settings
from qa.console import ensure_index
from qa.errors import ConfigError, QAError
from web.assets import asset
from web.handlers import ChatApp, Models
from web.layout import build_ui
from web.openai_api import openai_routes

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CSS = asset("app.css")
# A delegated click listener, run once on page load: a citation link [n], an "open article" link or a
# closest-article link writes its key into the hidden bridge textbox, whose change event renders the panel.
JS = asset("app.js")


@dataclass(frozen=True)
class Serving:
    """Where and for whom the web server listens: the web's own settings, not the answering core's."""

    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""  # "user:password" turns on the app's login (and the API's bearer token)


def serving(env: Mapping[str, str] | None = None, host: str | None = None, port: int | None = None) -> Serving:
    """QA_HOST, QA_PORT and QA_AUTH from the environment, the command line's --host and --port first."""
    env = os.environ if env is None else env
    raw_port = port if port is not None else env.get("QA_PORT", "7860")
    try:
        number = int(raw_port)
    except ValueError:
        raise ConfigError(f"QA_PORT must be a whole number. Currently, it is {raw_port!r}") from None
    s = Serving(host or env.get("QA_HOST", "127.0.0.1").strip(), number, env.get("QA_AUTH", "").strip())
    if not 0 < s.port < 65536:
        raise ConfigError(f"port must be in 1..65535. Currently, it is {s.port}")
    if s.auth and ":" not in s.auth:
        raise ConfigError("QA_AUTH must look like user:password")
    return s


def launch_options(serve_at: Serving, max_file_mb: float) -> dict[str, Any]:
    """Host, port, auth and sharing for `launch()`; warns about an open host without a password."""
    auth = None
    if serve_at.auth:
        user, _, password = serve_at.auth.partition(":")
        auth = (user, password)
    if serve_at.host not in LOCAL_HOSTS and auth is None:
        print(f"news-qa: WARNING: serving on {serve_at.host} without a password: anyone who can reach "
              "this machine can read your articles and use the app. Set QA_AUTH=user:password.",
              file=sys.stderr, flush=True)
    return {"server_name": serve_at.host, "server_port": serve_at.port, "share": False, "auth": auth,
            "max_file_size": f"{max(1, int(max_file_mb * 1024))}kb"}


def start(app: ChatApp, serve_at: Serving) -> gr.Blocks:
    """Launch the page and the OpenAI-compatible routes on one server, without blocking; returns the
    launched Blocks (`close()` stops it)."""
    demo = build_ui(app)
    options = launch_options(serve_at, app.settings.max_file_mb)
    # app_kwargs reach the FastAPI app Gradio builds: routes given there come before Gradio's own
    routes = {"routes": openai_routes(app, serve_at.auth)}
    try:
        demo.queue(default_concurrency_limit=1).launch(css=CSS, js=JS, ssr_mode=False, footer_links=["api"],
                                                       show_error=True, prevent_thread_lock=True,
                                                       app_kwargs=routes, **options)
    except OSError as exc:  # the port is taken
        raise QAError(f"cannot serve on {serve_at.host}:{serve_at.port} ({exc}): stop the other server "
                      "or pick another port with QA_PORT / --port.") from None
    return demo


def serve(settings: Settings, serve_at: Serving | None = None) -> None:
    """Index the articles when needed, then serve the chat app (blocks until interrupted)."""
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    serve_at = serve_at or serving()
    ensure_index(settings)
    engine = Engine(settings)
    models = Models(engine)
    demo = start(ChatApp(engine, settings, models), serve_at)
    models.start()  # after the server is up: loading torch and the LLM must not delay the page
    host = f"[{serve_at.host}]" if ":" in serve_at.host else serve_at.host
    print(f"news-qa: ready on http://{host}:{serve_at.port} (models load in the background)", flush=True)
    demo.block_thread()


def main() -> int:
    """`python app.py`: serve with the settings of the environment; a QAError is one line, exit 2."""
    try:
        serve(config.load(), serving())
    except QAError as exc:
        print(f"news-qa: {exc}", file=sys.stderr)
        return 2
    return 0
