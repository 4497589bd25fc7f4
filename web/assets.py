"""The CSS and JavaScript of the page, kept as files in web/static/ (packaged with web)."""

from importlib.resources import files


def asset(name: str) -> str:
    """The text of web/static/<name>, from a checkout, an editable install or an installed wheel alike."""
    return files("web").joinpath("static", name).read_text(encoding="utf-8")
