"""Uploaded files into the articles folder: the name and size checks, then an atomic copy."""

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from qa.indexing.ingest import SUFFIXES

MAX_NAME = 200  # characters in an uploaded file name


def check_upload(name: str, size: int, max_file_mb: float, suffixes: Sequence[str]) -> str | None:
    """Why an uploaded file name/size is refused, or None when it may be saved as is."""
    if "\x00" in name:
        return "the name contains a NUL character"
    if not name.strip():
        return "the name is empty"
    if "/" in name or "\\" in name:
        return "the name contains a folder (only a plain file name is accepted)"
    if ".." in name:
        return "the name contains '..'"
    if name.startswith("."):
        return "hidden files (a name starting with '.') are not accepted"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "the name contains control characters"
    if len(name) > MAX_NAME:
        return f"the name is longer than {MAX_NAME} characters"
    suffix = Path(name).suffix.lower()
    if suffix not in suffixes:
        return f"{suffix or 'no extension'} is not an article format; allowed: {', '.join(suffixes)}"
    if size > max_file_mb * 2**20:
        return f"{size / 2**20:.1f} MB is over the {max_file_mb:g} MB limit (QA_MAX_FILE_MB)"
    return None


def save_upload(source: Path, name: str, articles_dir: Path, max_file_mb: float,
                suffixes: Sequence[str] | None = None) -> tuple[bool, str]:
    """Copy an uploaded file into the articles folder under its checked name: (saved?, message)."""
    suffixes = tuple(suffixes or SUFFIXES)
    try:
        size = source.stat().st_size
    except OSError as exc:
        return False, f"{name}: cannot read the upload ({exc.strerror})"
    reason = check_upload(name, size, max_file_mb, suffixes)
    if reason:
        return False, f"{name}: refused, {reason}"
    folder = articles_dir.resolve()
    target = folder / name
    if target.parent != folder:  # belt and braces: never write outside the folder
        return False, f"{name}: refused, it would land outside {articles_dir}"
    existed = target.exists()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".upload-{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        with source.open("rb") as src, tmp.open("wb") as out:
            while block := src.read(1 << 20):
                out.write(block)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return False, f"{name}: could not be saved ({exc.strerror})"
    return True, f"{name}: {'replaced' if existed else 'added'} ({size / 1024:.1f} KB)"

