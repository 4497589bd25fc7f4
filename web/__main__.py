"""`python -m web serve` (or any other qa command): the `qa` command without installing it."""

import sys

from web.cli import main

if __name__ == "__main__":
    sys.exit(main())
