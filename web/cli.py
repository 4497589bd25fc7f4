"""The `qa` command: every command of qa.cli, with `qa serve` serving this package's chat app."""

import sys
from collections.abc import Sequence

from qa import cli
from qa.config import Settings


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """web.server is imported only to serve: Gradio takes seconds to import, `qa status` must not wait."""
    from web.server import serve as serve_app
    from web.server import serving

    serve_app(settings, serving(host=host, port=port))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, serve=serve)


if __name__ == "__main__":
    sys.exit(main())
