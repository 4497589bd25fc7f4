"""A small exception hierarchy. Every message names the problem and the fix."""


class QAError(Exception):
    """Base class: the CLI prints the message (no traceback) and exits 2."""


class ConfigError(QAError):
    """A setting has a bad value."""


class IndexMissing(QAError):
    """No index has been built yet."""


class IndexMismatch(QAError):
    """The index was built with other settings than the ones configured."""


class IndexCorrupt(QAError):
    """A file of the index is missing, truncated or unreadable."""


class IndexBusy(QAError):
    """Another build holds the index lock."""


class ModelError(QAError):
    """A model is missing, truncated or of the wrong kind."""
