"""Start-up: index when there is none, launch the page and the OpenAI-compatible routes on one server,
then load the models in the background."""

import logging
import os
import sys
from typing import Any

import gradio as gr

from qa import config
from qa.answer import Engine
from qa.config import Settings
from qa.console import ensure_index
from qa.errors import QAError
from web.assets import asset
from web.handlers import ChatApp, Models
from web.layout import build_ui
from web.openai_api import openai_routes

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CSS = asset("app.css")
# A delegated click listener, run once on page load: a citation link [n], an "open article" link or a
# closest-article link writes its key into the hidden bridge textbox, whose change event renders the panel.
JS = asset("app.js")


def launch_options(settings: Settings) -> dict[str, Any]:
    """Host, port, auth and sharing for `launch()`; warns about an open host without a password."""
    auth = None
    if settings.auth:
        user, _, password = settings.auth.partition(":")
        auth = (user, password)
    if settings.host not in LOCAL_HOSTS and auth is None:
        print(f"news-qa: WARNING: serving on {settings.host} without a password: anyone who can reach "
              "this machine can read your articles and use the app. Set QA_AUTH=user:password.",
              file=sys.stderr, flush=True)
    return {"server_name": settings.host, "server_port": settings.port, "share": False, "auth": auth,
            "max_file_size": f"{max(1, int(settings.max_file_mb * 1024))}kb"}


def start(app: ChatApp) -> gr.Blocks:
    """Launch the page and the OpenAI-compatible routes on one server, without blocking; returns the
    launched Blocks (`close()` stops it)."""
    settings = app.settings
    demo = build_ui(app)
    options = launch_options(settings)
    # app_kwargs reach the FastAPI app Gradio builds: routes given there come before Gradio's own
    routes = {"routes": openai_routes(app)}
    try:
        demo.queue(default_concurrency_limit=1).launch(css=CSS, js=JS, ssr_mode=False, footer_links=["api"],
                                                       show_error=True, prevent_thread_lock=True,
                                                       app_kwargs=routes, **options)
    except OSError as exc:  # the port is taken
        raise QAError(f"cannot serve on {settings.host}:{settings.port} ({exc}): stop the other server "
                      "or pick another port with QA_PORT / --port.") from None
    return demo


def serve(settings: Settings) -> None:
    """Index the articles when needed, then serve the chat app (blocks until interrupted)."""
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    ensure_index(settings)
    engine = Engine(settings)
    models = Models(engine)
    demo = start(ChatApp(engine, settings, models))
    models.start()  # after the server is up: loading torch and the LLM must not delay the page
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"news-qa: ready on http://{host}:{settings.port} (models load in the background)", flush=True)
    demo.block_thread()


def main() -> int:
    """`python app.py`: serve with the settings of the environment; a QAError is one line, exit 2."""
    try:
        serve(config.load())
    except QAError as exc:
        print(f"news-qa: {exc}", file=sys.stderr)
        return 2
    return 0
