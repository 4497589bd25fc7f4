"""The command line's own contract, without models: what --history accepts and how it says no, and
how `qa serve` reaches the web app without the qa package importing it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main
from qa.config import Settings

ROOT = Path(__file__).resolve().parent.parent


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


def test_serve_runs_the_server_it_is_given(tmp_path: Path) -> None:
    served: list[tuple[Settings, str | None, int | None]] = []
    assert main(["serve", "--port", "7999", "--index", str(tmp_path / "index")],
                serve=lambda s, host, port: served.append((s, host, port))) == 0
    assert [(s.index_dir, host, port) for s, host, port in served] == [(tmp_path / "index", None, 7999)]


def test_python_m_qa_cli_serve_names_the_commands_that_serve(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "`qa serve`" in err and "python app.py" in err and "Traceback" not in err


def test_the_qa_command_serves_the_web_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import web.server
    from web.cli import main as qa_command

    served: list[web.server.Serving] = []
    monkeypatch.setattr(web.server, "serve", lambda settings, serve_at: served.append(serve_at))
    assert qa_command(["serve", "--host", "127.0.0.1", "--port", "7998", "--index", str(tmp_path / "index")]) == 0
    assert [(s.host, s.port) for s in served] == [("127.0.0.1", 7998)]


def test_the_qa_command_imports_gradio_only_to_serve() -> None:
    code = "import sys, web.cli; assert 'gradio' not in sys.modules, 'gradio imported'"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_qa_never_imports_the_web_app() -> None:
    """The dependency points one way (web -> qa): not even a function-level import back."""
    for path in sorted((ROOT / "qa").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not [n for n in names if n.split(".")[0] in ("web", "app")], f"{path}:{node.lineno}"


def test_the_two_flows_do_not_import_each_other() -> None:
    """qa/indexing builds the index and qa/answering answers from it: what both need is in qa/ itself."""
    for flow, other in (("indexing", "answering"), ("answering", "indexing")):
        for path in sorted((ROOT / "qa" / flow).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                assert not [n for n in names if n.startswith(f"qa.{other}")], f"{path}:{node.lineno}"
