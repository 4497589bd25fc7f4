"""Every tuned constant of the answering path, with the data it was chosen on and the figure it gave.

Development sets: CLAP-NQ dev (600 questions, half unanswerable), `eval/newsA` (self-written
multi-outlet news, dev part) and `seeds_trust.jsonl`. `eval/newsB` is held out: it is only reported.
Reproduce a figure with the `qa eval` command given beside it (docs/benchmarks.md has the runs).
"""

from __future__ import annotations

# --- qa.support: "supported means stated" -------------------------------------------------------
# A window of this many consecutive passage sentences (plus the headline) must state the claim:
# news puts a name in one sentence and the role or the quote in the next.
SUPPORT_WINDOW = 2
# Share of the content words a claim adds to the question that the window must contain (names and
# numbers must all be there regardless).
SUPPORT_NEW_MIN = 0.6
# Share of the question's content words that the claim repeats which the window must contain too.
SUPPORT_REPEATED_MIN = 0.5
# IDF-weighted share of the question's content words the window must contain: the window that states
# the answer is about what was asked ("How many soldiers died" is not answered by "70,000 soldiers massed").
SUPPORT_ASKED_MIN = 0.6
