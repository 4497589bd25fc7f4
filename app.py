"""`python app.py` serves the chat app on QA_HOST:QA_PORT (as `qa serve` does); the code is in web/."""

import sys

from web.server import main

if __name__ == "__main__":
    sys.exit(main())
