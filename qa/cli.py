"""`qa index | status | search | ask | timeline | eval | add | update | feeds | serve` (the contract is in README.md).

Every command takes --json for scripts; errors print one line naming the fix and exit 2.
`serve` runs the server that `main` is given: the installed `qa` command (web.cli) passes the
web app's, so that this package never imports the web package built on it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qa import config, tuning
from qa.config import Settings
from qa.console import ProgressBars, print_summary
from qa.errors import QAError
from qa.types import AddSummary, Answer, Timeline, Turn, parse_history


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from qa.indexing.build import build_index

    if not args.ray and (args.workers or args.ray_temp):
        raise QAError("--workers and --ray-temp size a Ray build: add --ray local (or auto).")
    bars = ProgressBars(enabled=(not args.json and sys.stderr.isatty()) or args.progress)
    try:
        if args.ray:
            from qa.indexing.ray_build import RayRunner

            with RayRunner(args.ray, settings, args.workers, args.ray_temp) as runner:
                summary = build_index(settings, rebuild=args.rebuild, progress=bars, lock_wait=args.wait,
                                      runner=runner)
        else:
            summary = build_index(settings, rebuild=args.rebuild, progress=bars, lock_wait=args.wait)
    finally:
        bars.close()
    if args.json:
        _print_json(summary.to_json())
    else:
        print_summary(summary, settings)
    return 0


def status_json(settings: Settings) -> dict[str, Any]:
    from qa.store import read_manifest

    m = read_manifest(settings.index_dir)
    return {"index": str(settings.index_dir), "articles": m.articles, "chunks": m.chunks,
            "generation": m.generation, "embed_model": m.embed_model, "dim": m.dim,
            "llm_model": settings.llm_model or "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (bundled)",
            "faiss": m.faiss_type, "chunk_words": m.chunk_words, "duplicate_groups": m.duplicate_groups,
            "built_at": m.built_at}


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    data = status_json(settings)
    if args.json:
        _print_json(data)
    else:
        for key, value in data.items():
            print(f"{key:17} {value}")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from qa.answering.engine import Engine

    started = time.perf_counter()
    result = Engine(settings).search(args.query)
    ms = (time.perf_counter() - started) * 1000
    if args.json:
        _print_json({"hits": [h.to_json() for h in result.hits], "ms": round(ms, 1),
                     "relevant": result.relevant})
        return 0
    for i, h in enumerate(result.hits, 1):
        snippet = " ".join(h.chunk.text.split())[:240]
        print(f"{i}. [{h.score:.4f}] {h.title}  ({h.chunk.article_id} {h.chunk.start}-{h.chunk.end})")
        print(f"   {snippet}")
    if not result.relevant:
        print("(below the relevance gate: `qa ask` would say the articles do not cover this)")
    return 0


def _read_history(path: Path | None) -> list[Turn]:
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8
        raise QAError(f"--history {path}: expected a JSON list of {{\"role\": \"user\"|\"assistant\", "
                      f"\"content\": str}} ({exc})") from None
    return parse_history(text, f"--history {path}")


def _output_format(args: argparse.Namespace) -> str:
    """`--json` is `--format json`; asking for two formats is an error, not a silent choice."""
    if args.json and args.format not in (None, "json"):
        raise QAError(f"--json and --format {args.format} ask for two formats: pick one.")
    return "json" if args.json else args.format or "text"


def answer_lines(answer: Answer) -> list[str]:
    """`qa ask`'s text: the checked answer with its [n] markers, a caveat when no citation supports it,
    then the numbered sources with the sentence each was cited for."""
    from qa.answering.engine import UNGROUNDED

    lines = [answer.text]  # only the checked answer: the model's draft may claim what no source states
    if not answer.grounded:
        lines.append(f"\n{UNGROUNDED}")
    if answer.citations:
        lines.append("\nSources:")
    for c in answer.citations:
        flag = "" if c.supported else "  [not supported by this passage]"
        how = " (added: the model did not cite this sentence)" if c.posthoc else ""
        date = f", {c.published[:10]}" if c.published else ""
        lines += [f"[{c.n}] {c.title} ({c.article_id}{date}){how}{flag}", f"    “{c.snippet}”"]
    return lines


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa.answering.engine import Done, Engine, Status

    fmt = _output_format(args)
    engine = Engine(settings)
    answer = None
    for event in engine.ask(args.question, _read_history(args.history)):
        if isinstance(event, Status) and fmt != "json":
            print(f"({event.message})", file=sys.stderr, flush=True)
        elif isinstance(event, Done):
            answer = event.answer
    assert answer is not None
    if fmt == "json":
        _print_json(answer.to_json())
        return 0
    if fmt == "markdown":
        from qa.answering.export import to_markdown

        print(to_markdown(answer, args.question), end="")
        return 0
    print("\n".join(answer_lines(answer)))
    t = answer.timings
    ttft = f"first token {t.ttft_ms / 1000:.1f} s, " if t.ttft_ms is not None else ""
    print(f"\n({ttft}total {t.total_ms / 1000:.1f} s, {t.prompt_tokens} prompt tokens)", file=sys.stderr)
    return 0


def timeline_lines(timeline: Timeline) -> list[str]:
    """The timeline as text: one line per event (its date at its precision, then its sentence), each
    source of it on a line below, naming the article and the sentence's character offsets."""
    left = f" ({timeline.undated} event sentences without any date left out)" if timeline.undated else ""
    lines = [f"{timeline.topic}: {len(timeline.events)} dated events, oldest first{left}"]
    if not timeline.events:
        lines.append("No dated event found: try other words, or a wider --since/--until.")
    width = max((len(e.when.label()) for e in timeline.events), default=0)
    for e in timeline.events:
        lines.append(f"{e.when.label():{width}}  {e.text}")
        for n, c in enumerate(e.sources, 1):
            where = ", ".join(x for x in (c.article_id, (c.published or "")[:10], c.source or "") if x)
            lines.append(f"{'':{width}}    [{n}] {c.title} ({where}; characters {c.start}-{c.end})")
    return lines


def cmd_timeline(args: argparse.Namespace, settings: Settings) -> int:
    from qa.answering.engine import Engine

    if args.passages is not None and args.passages < 1:
        raise QAError(f"--passages must be at least 1. Currently, it is {args.passages}")
    timeline = Engine(settings).timeline(args.topic, passages=args.passages or tuning.TIMELINE_PASSAGES)
    if args.json:
        _print_json(timeline.to_json())
    else:
        print("\n".join(timeline_lines(timeline)))
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from qa.evaluate import evaluate_sets, markdown_table

    def progress(name: str, done: int, total: int) -> None:
        if not args.json:
            end = "\n" if done == total else ""  # each set keeps its own line
            print(f"\r{name}: {done}/{total} questions", end=end, file=sys.stderr, flush=True)

    result = evaluate_sets(args.questions, settings, args.corpus, args.retrieval_only, progress,
                           llm_cache=args.llm_cache)
    if args.json:
        _print_json(result)
        return 0
    for key, value in result["summary"].items():
        print(f"{key:28} {value}")
    print()
    print(markdown_table(result))
    return 0


def _print_add(summary: AddSummary, settings: Settings) -> None:
    for a in summary.added:
        print(f"added    {a.title}  ({a.path})")
    for url in summary.already:
        print(f"already  {url}")
    for f in summary.failed:
        print(f"failed   {f.url}: {f.reason}")
    print(f"{len(summary.added)} new, {len(summary.already)} already saved, {len(summary.failed)} failed "
          f"in {summary.seconds:.1f} s", flush=True)
    if summary.index is not None:
        print_summary(summary.index, settings)


def _fetch_and_index(args: argparse.Namespace, settings: Settings,
                     fetch: Callable[[Callable[[str, int, int], None]], AddSummary]) -> int:
    """`qa add` and `qa update`: save the new pages (`fetch`, given the progress), then index them."""
    from qa.indexing.add import index_added

    bars = ProgressBars(enabled=(not args.json and sys.stderr.isatty()) or args.progress)
    try:
        summary = fetch(bars)
        if not args.no_index:
            summary = index_added(summary, settings, progress=bars, lock_wait=args.wait)
    finally:
        bars.close()
    if args.json:
        _print_json(summary.to_json())
    else:
        _print_add(summary, settings)
    if summary.index_error:
        print(f"error: the index was not updated: {summary.index_error}", file=sys.stderr)
        return 2
    return 0


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from qa.indexing.add import add

    if not args.urls and not args.feed:
        raise QAError("nothing to add: give page URLs (`qa add URL...`) or a feed (`qa add --feed URL`).")
    return _fetch_and_index(args, settings, lambda bars: add(settings, args.urls, args.feed or [], progress=bars))


def cmd_update(args: argparse.Namespace, settings: Settings) -> int:
    from qa.indexing.add import update

    return _fetch_and_index(args, settings, lambda bars: update(settings, progress=bars))


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from qa.indexing import feeds

    folder = settings.articles_dir
    if args.action != "list" and not args.feed:
        raise QAError(f"`qa feeds {args.action}` needs a feed URL" + (" or number" if args.action == "remove" else "")
                      + ": `qa feeds list` shows them.")
    if args.action == "add":
        url, new = feeds.add_feed(folder, args.feed)
        message = f"{'added' if new else 'already in the list'}: {url}"
    elif args.action == "remove":
        message = f"removed: {feeds.remove_feed(folder, args.feed)}"
    else:
        message = ""
    listed = feeds.read_feeds(folder)
    if args.json:
        _print_json({"feeds": listed, "file": str(feeds.feeds_path(folder))})
    elif message:
        print(message)
    else:
        for i, url in enumerate(listed, 1):
            print(f"{i:3}  {url}")
        if not listed:
            print(f"no feeds yet in {feeds.feeds_path(folder)}: `qa feeds add URL` adds one")
    return 0


# the core's settings, then the --host and --port given (the web server reads QA_HOST/QA_PORT/QA_AUTH itself)
Serve = Callable[[Settings, str | None, int | None], None]
Command = Callable[[argparse.Namespace, Settings], int]
NO_SERVER = ("`python -m qa.cli` runs every command but serve: the chat app is served by `qa serve`, "
             "`python -m web serve` or `python app.py`.")


def _serve_command(serve: Serve | None) -> Command:
    """`qa serve` runs the server it is given: qa never imports the web app, which imports qa."""
    def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
        if serve is None:
            raise QAError(NO_SERVER)
        serve(settings, args.host, args.port)
        return 0

    return cmd_serve


def _add_common(p: argparse.ArgumentParser, articles: bool = False) -> None:
    p.add_argument("--index", dest="index_dir", type=Path, help="index folder (QA_INDEX_DIR, default index/)")
    if articles:
        p.add_argument("--articles", dest="articles_dir", type=Path,
                       help="articles folder (QA_ARTICLES_DIR, default articles/)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")


def parser(serve: Serve | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qa", description="Ask questions of a folder of news articles, offline.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("index", help="build or update the index of the articles folder")
    _add_common(p, articles=True)
    p.add_argument("--rebuild", action="store_true", help="start from scratch instead of updating")
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for another build's lock")
    p.add_argument("--progress", action="store_true", help="show progress bars even when not a terminal")
    p.add_argument("--ray", metavar="ADDRESS", help="read, clean, chunk and embed as Ray tasks: local (a new "
                   "instance on this machine), or auto (the cluster this machine joined "
                   "with `ray start`); "
                   "needs the optional extra: pip install -e '.[scale]'")
    p.add_argument("--workers", type=int, help="with --ray: CPUs of a local instance (default: all), or at "
                   "most this many tasks at once on a cluster")
    p.add_argument("--ray-temp", dest="ray_temp", type=Path, help="with --ray local: Ray's session folder")
    p.set_defaults(run=cmd_index)
    p = sub.add_parser("status", help="what is indexed (loads no model)")
    _add_common(p)
    p.set_defaults(run=cmd_status)
    p = sub.add_parser("search", help="retrieval only: the passages a question finds")
    _add_common(p)
    p.add_argument("query")
    p.add_argument("--top-k", dest="top_k", type=int)
    _add_filter_flags(p)
    p.set_defaults(run=cmd_search)
    p = sub.add_parser("ask", help="answer a question with citations")
    _add_common(p)
    p.add_argument("question")
    p.add_argument("--history", type=Path, help='JSON list of {"role", "content"} turns before the question')
    p.add_argument("--format", choices=("text", "json", "markdown"),
                   help="text (default), json (as --json), or markdown: the answer and its numbered sources")
    _add_answer_flags(p)
    p.set_defaults(run=cmd_ask)
    p = sub.add_parser("timeline", help="the dated events of a story, oldest first, each cited (no LLM)")
    _add_common(p)
    p.add_argument("topic", help='the story, in a few words: "port strike", "Blinken Lavrov"')
    p.add_argument("--passages", type=int, help="passages searched for its events (default 100)")
    _add_filter_flags(p)
    p.set_defaults(run=cmd_timeline)
    p = sub.add_parser("eval", help="metrics over question files")
    _add_common(p)
    p.add_argument("questions", type=Path, nargs="+", help="question files, each reported as a set")
    p.add_argument("--corpus", type=Path, help="a folder or corpus.jsonl, indexed once into a temporary index")
    p.add_argument("--retrieval-only", action="store_true", help="skip the LLM")
    p.add_argument("--llm-cache", dest="llm_cache", type=Path, metavar="PATH",
                   help="JSONL of recorded answers: replay those, record new ones (their timings are not real)")
    _add_answer_flags(p)
    p.set_defaults(run=cmd_eval)
    _add_fetch_commands(sub)
    p = sub.add_parser("serve", help="the chat app in the browser (same as python app.py)")
    _add_common(p, articles=True)
    p.add_argument("--host", help="QA_HOST, default 127.0.0.1")
    p.add_argument("--port", type=int, help="QA_PORT, default 7860")
    p.set_defaults(run=_serve_command(serve))
    return ap


def _add_fetch_commands(sub: Any) -> None:
    """`qa add`, `qa update` and `qa feeds`."""
    p = sub.add_parser("add", help="fetch article pages (or a feed's new entries) into the articles folder, "
                                   "then index them")
    _add_common(p, articles=True)
    p.add_argument("urls", nargs="*", metavar="URL", help="article pages to save")
    p.add_argument("--feed", action="append", metavar="URL", help="an RSS or Atom feed: save its new entries")
    _add_index_flags(p)
    p.set_defaults(run=cmd_add)
    p = sub.add_parser("update", help="fetch every feed of `qa feeds list`, then index the new articles")
    _add_common(p, articles=True)
    _add_index_flags(p)
    p.set_defaults(run=cmd_update)
    p = sub.add_parser("feeds", help="the feeds `qa update` fetches: add, remove, list")
    p.add_argument("action", choices=["add", "remove", "list"])
    p.add_argument("feed", nargs="?", default="", help="a feed URL (add, remove) or its number (remove)")
    _add_common(p, articles=True)
    p.set_defaults(run=cmd_feeds)


def _add_index_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-index", action="store_true", help="save the articles only; `qa index` indexes them")
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for another build's lock")
    p.add_argument("--progress", action="store_true", help="show progress bars even when not a terminal")


def _add_answer_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--top-k", dest="top_k", type=int, help="passages given to the model (QA_TOP_K, default 3)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", dest="max_tokens", type=int, help="answer length budget")
    p.add_argument("--no-gate", dest="gate", action="store_false", default=None,
                   help="always ask the model, even when nothing relevant was found")
    _add_filter_flags(p)


def _add_filter_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="only articles published on or after this date (2021-12-01, 2021-12, 2021)")
    p.add_argument("--until", help="only articles published on or before this date")
    p.add_argument("--source", help="only articles whose publisher, URL or path contains this text")
    p.add_argument("--today", help='the date "last week" and "latest" count from (default: today)')


_FLAG_SETTINGS = ("articles_dir", "index_dir", "top_k", "temperature", "max_tokens",
                  "since", "until", "source", "today", "gate")


def main(argv: Sequence[str] | None = None, serve: Serve | None = None) -> int:
    """The commands of README.md; `serve` is the web app's (the `qa` command, web.cli, passes it)."""
    args = parser(serve).parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    run: Command = args.run
    try:
        settings = config.load(**{k: getattr(args, k, None) for k in _FLAG_SETTINGS})
        return run(args, settings)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `qa status | head` closed the pipe: quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141


if __name__ == "__main__":
    sys.exit(main())
