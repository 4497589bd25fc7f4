"""Check a question set folder: every line parses, ids are unique, gold articles exist, and every
expected string of an answerable question is in one of its gold articles.

    python eval/check.py eval/newsA eval/newsB
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def problems(folder: Path) -> list[str]:
    texts = {p.name: p.read_text(encoding="utf-8").lower() for p in (folder / "articles").glob("*.md")}
    found, ids = [], set()
    for name in ("questions.jsonl", "conversations.jsonl"):
        path = folder / name
        if not path.exists():
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            record = json.loads(line)
            if record["id"] in ids:
                found.append(f"{path}:{lineno}: duplicate id {record['id']}")
            ids.add(record["id"])
            for turn in record.get("turns") or [record]:
                gold = turn.get("gold_articles", [])
                found += [f"{path}:{lineno}: no article {g}" for g in gold if g not in texts]
                for group in turn.get("expect_all") or turn.get("expect_any") or []:
                    if turn.get("answerable", True) and not any(s.lower() in texts.get(g, "") for s in group
                                                                for g in gold):
                        found.append(f"{path}:{lineno}: none of {group} is in {gold}")
    return found


if __name__ == "__main__":
    bad = [p for folder in sys.argv[1:] for p in problems(Path(folder))]
    print("\n".join(bad) or "ok")
    sys.exit(1 if bad else 0)
