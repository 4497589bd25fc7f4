"""Time words in a question: date ranges, "latest", and "what happened first".

"in December 2021", "last week", "yesterday", "in the past 3 months" become a date range
(relative ones counted from today, or from the date the user sets); "latest", "most
recent", "currently" ask for recency; "what happened first", "in what order",
"timeline" ask for the sources in date order. Only publish dates are used: relative
dates inside article text ("on Sunday") stay as they are.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from qa import lexical

# The one table of month and weekday names (English, as the articles are: not the locale's calendar).
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = {name.lower(): i for i, name in enumerate(MONTH_NAMES, 1)}
MONTHS |= {name[:3].lower(): i for i, name in enumerate(MONTH_NAMES, 1)} | {"sept": 9}
# any month, full or abbreviated ("Sept."), longest first; case as written: callers add re.I
MONTH = rf"({'|'.join(sorted((n.title() for n in MONTHS), key=len, reverse=True))})\.?"
WEEKDAY = f"({'|'.join(WEEKDAY_NAMES)})"
MONTH_YEAR = re.compile(rf"\b(?:in|during|from|of|since)\s+{MONTH}\s+(\d{{4}})\b", re.I)
YEAR = re.compile(r"\b(?:in|during|of)\s+((?:19|20)\d{2})\b(?:\s+(\w+))?", re.I)
PAST_N = re.compile(r"\b(?:past|last)\s+(\d{1,3})\s+(day|week|month|year)s?\b", re.I)
RECENCY = re.compile(r"\b(latest|most recent(ly)?|newest|recently|currently|current|now|still|as of|"
                     r"up to date|so far)\b", re.I)
ORDER = re.compile(r"\b((what|which)\s+(happened|came|was)\s+first|in what order|what order|timeline|"
                   r"chronolog\w*|sequence of events|earliest|first\b.*\bthen\b)", re.I)


@dataclass(frozen=True)
class TimeIntent:
    since: date | None = None
    until: date | None = None
    recency: bool = False
    chronological: bool = False
    label: str = ""  # the words that set the range, for notes shown to the reader and the model

    @property
    def has_range(self) -> bool:
        return self.since is not None or self.until is not None


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _relative(question: str, today: date) -> tuple[date, date, str] | None:
    q = question.lower()
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    if m := PAST_N.search(q):
        n, unit = int(m.group(1)), m.group(2)
        days = {"day": 1, "week": 7, "month": 31, "year": 366}[unit] * n
        return today - timedelta(days=days), today, m.group(0)
    table: list[tuple[str, date, date]] = [
        ("yesterday", today - timedelta(days=1), today - timedelta(days=1)),
        ("today", today, today),
        ("last week", monday - timedelta(days=7), monday - timedelta(days=1)),
        ("this week", monday, today),
        ("last month", (first - timedelta(days=1)).replace(day=1), first - timedelta(days=1)),
        ("this month", first, today),
        ("last year", date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        ("this year", date(today.year, 1, 1), today),
    ]
    for words, since, until in table:
        if re.search(rf"\b{words}\b", q):
            return since, until, words
    return None


def analyse(question: str, today: date) -> TimeIntent:
    """What the question's time words ask of retrieval.

    >>> analyse("What did Lavrov say in December 2021?", date(2022, 5, 1)).since
    datetime.date(2021, 12, 1)
    >>> analyse("What happened first?", date(2022, 5, 1)).chronological
    True
    """
    since = until = None
    label = ""
    if m := MONTH_YEAR.search(question):
        since, until = _month_range(int(m.group(2)), MONTHS[m.group(1).lower().rstrip(".")])
        label = m.group(0).strip()
    elif (m := YEAR.search(question)) and (not m.group(2) or lexical.is_stopword(m.group(2).lower())):
        # "in 2018" is a time; "in 2018 FIFA World Cup" names an event: a year that a word other than
        # a stop word follows modifies a noun
        since, until, label = date(int(m.group(1)), 1, 1), date(int(m.group(1)), 12, 31), m.group(0)
    elif rel := _relative(question, today):
        since, until, label = rel
    return TimeIntent(since, until, bool(RECENCY.search(question)), bool(ORDER.search(question)), label)


def parse_day(value: str, name: str) -> date | None:
    """A YYYY-MM-DD setting (or a prefix of one: 2021, 2021-12); None when empty."""
    from qa.errors import ConfigError

    value = value.strip()
    if not value:
        return None
    try:
        parts = [int(p) for p in value.split("-")]
        if len(parts) == 1:
            return date(parts[0], 1, 1) if name == "since" else date(parts[0], 12, 31)
        if len(parts) == 2:
            lo, hi = _month_range(parts[0], parts[1])
            return lo if name == "since" else hi
        return date(parts[0], parts[1], parts[2])
    except (ValueError, IndexError):
        raise ConfigError(f"{name} must be a date like 2021-12-31 (or 2021-12, 2021). "
                          f"Currently, it is {value!r}") from None


def published_day(published: str | None) -> date | None:
    """The date part of an ISO publish date, or None when unknown or unreadable."""
    if not published:
        return None
    try:
        return date.fromisoformat(published[:10])
    except ValueError:
        return None
