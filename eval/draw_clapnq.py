"""Draw the CLAP-NQ samples the trust figures use, from its questions file (not in this repository).

    python eval/draw_clapnq.py ../shared/eval/clapnq/questions.jsonl /tmp/clapnq

Questions are split in halves by the parity of sha256(id): the even half is for development
(`clap_dev120.jsonl`: 60 answerable and 60 unanswerable, shuffled with seed 7), the odd half is
held out (`clap_held60.jsonl`: the first 30 of each kind after the same shuffle).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path


def draw(questions: Path, out: Path) -> None:
    records = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    out.mkdir(parents=True, exist_ok=True)
    for name, parity, each in (("clap_dev120", 0, 60), ("clap_held60", 1, 30)):
        part = [r for r in records if int(hashlib.sha256(r["id"].encode()).hexdigest(), 16) % 2 == parity]
        rng = random.Random(7)
        held = [r for r in part if not r["answerable"]]
        answerable = [r for r in part if r["answerable"]]
        rng.shuffle(answerable)
        rng.shuffle(held)
        sample = answerable[:each] + held[:each]
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sample), encoding="utf-8")


if __name__ == "__main__":
    draw(Path(sys.argv[1]), Path(sys.argv[2]))
