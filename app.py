"""`python app.py` serves the chat app on QA_HOST:QA_PORT (as `qa serve` does); the code is in web/."""

import sys

from web.server import main, serve

__all__ = ["serve"]  # qa serve still imports it from here until the CLI takes it as a parameter

if __name__ == "__main__":
    sys.exit(main())
