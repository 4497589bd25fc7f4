"""The command line's own contract, without models: what --history accepts and how it says no."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.cli import main


@pytest.mark.parametrize(("content", "reason"), [
    ("{", "is not JSON"),
    ('[{"role": "system", "content": "x"}]', "must be a list of"),
    ('[{"role": "user", "content": 1}]', "must be a list of"),
    (b"\xff\xfe\x00", "expected a JSON list"),
])
def test_history_errors_name_the_flag_and_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   content: str | bytes, reason: str) -> None:
    history = tmp_path / "h.json"
    if isinstance(content, bytes):
        history.write_bytes(content)
    else:
        history.write_text(content)
    code = main(["ask", "Where?", "--history", str(history), "--index", str(tmp_path / "index")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: --history {history}") and reason in err
    assert "Traceback" not in err
