"""Time words in a question: date ranges, "latest", and "what happened first".

"in December 2021", "last week", "yesterday", "in the past 3 months" become a date range
(relative ones counted from today, or from the date the user sets); "latest", "most
recent", "currently" ask for recency; "what happened first", "in what order",
"timeline" ask for the sources in date order. Answers use only publish dates: relative
dates inside article text ("on Sunday") stay as they are.

`date_sentence` dates one sentence of an article for a story's timeline (qa.answering.timeline), from the
sentence's own time words and the article's publish date, never more precisely than they say.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from qa import lexical
from qa.types import When

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


# --- the time words of an article's sentence (qa.answering.timeline) ------------------------------
# Month and weekday names as news writes them, capitalised: "may" and "march" in lower case are a verb.
_ORD = r"(?:st|nd|rd|th)?"
_FULL_MONTH = f"({'|'.join(MONTH_NAMES)})"
_BEFORE = r"\b(?i:in|during|since|until|by|from|early|late|mid|of)[\s-]+"  # words that make a bare month or year a time
ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
MONTH_DAY_YEAR = re.compile(rf"\b{MONTH}\s+(\d{{1,2}}){_ORD},?\s+(\d{{4}})\b")
DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?{MONTH},?\s+(\d{{4}})\b")
MONTH_DAY = re.compile(rf"\b{MONTH}\s+(\d{{1,2}}){_ORD}\b")
DAY_MONTH = re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?{MONTH}\b")
MONTH_AND_YEAR = re.compile(rf"\b{MONTH}\s+((?:19|20)\d{{2}})\b")
BARE_MONTH = re.compile(rf"{_BEFORE}{_FULL_MONTH}\b(?!\s+\d)")
# In prose a year after "in" is a time ("in 2014 Russia annexed Crimea"): unlike a typed question ("in 2018
# fifa world cup"), an article writes "in the 2018 World Cup" when the year names an event.
BARE_YEAR = re.compile(rf"{_BEFORE}((?:19|20)\d{{2}})\b")
WEEKDAY_OF_WEEK = re.compile(rf"\b{WEEKDAY}\s+of\s+(last|this|next)\s+week\b", re.I)
A_WEEKDAY = re.compile(rf"\b{WEEKDAY}\b")
RELATIVE_DAY = re.compile(r"\b(yesterday|today|tonight|tomorrow|this (?:morning|afternoon|evening))\b", re.I)
RELATIVE_SPAN = re.compile(r"\b(last|this|next)\s+(week|month|year)\b", re.I)
_SHIFT = {"last": -1, "this": 0, "next": 1}
_ANY_DAY = date(2000, 1, 1)


def _day(year: int, month: int, day: int, words: str) -> When | None:
    try:
        d = date(year, month, day)
    except ValueError:  # "February 30": not a date
        return None
    return When(d, d, d, "day", words)


def _month(year: int, month: int, words: str) -> When:
    first, last = _month_range(year, month)
    return When(first, first, last, "month", words)


def _year(year: int, words: str) -> When:
    return When(date(year, 1, 1), date(year, 1, 1), date(year, 12, 31), "year", words)


def _week(monday: date, words: str) -> When:
    return When(monday, monday, monday + timedelta(days=6), "week", words)


def _nearest(month: int, day: int, published: date) -> date | None:
    """The date of that month and day nearest the publish date: news names a month and day without the
    year when the date is within months of publication, before or after ("on December 30" in an
    article of 2022-01-03 is 2021-12-30)."""
    days = []
    for year in (published.year - 1, published.year, published.year + 1):
        try:
            days.append(date(year, month, day))
        except ValueError:
            continue
    return min(days, key=lambda d: abs((d - published).days), default=None)


def _month_no(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


# Each reader: a match and the publish date (None when unknown) -> When, or None when they do not date it.
Reader = Callable[[re.Match[str], date | None], When | None]


def _read_month_day(month: str, day: str, words: str, published: date | None) -> When | None:
    if published is None:  # no year, and nothing to take it from
        return None
    d = _nearest(_month_no(month), int(day), published)
    return When(d, d, d, "day", words) if d else None


def _read_bare_month(m: re.Match[str], published: date | None) -> When | None:
    if published is None:
        return None
    mid = _nearest(_month_no(m.group(1)), 15, published)
    return _month(mid.year, mid.month, m.group(0)) if mid else None


def _read_relative_day(m: re.Match[str], published: date | None) -> When | None:
    if published is None:
        return None
    word = m.group(1).lower()
    shift = -1 if word == "yesterday" else 1 if word == "tomorrow" else 0
    d = published + timedelta(days=shift)
    return When(d, d, d, "day", m.group(0))


def _read_relative_span(m: re.Match[str], published: date | None) -> When | None:
    if published is None:
        return None
    shift, unit = _SHIFT[m.group(1).lower()], m.group(2).lower()
    if unit == "week":
        return _week(published - timedelta(days=published.weekday()) + timedelta(weeks=shift), m.group(0))
    if unit == "month":
        month = published.month - 1 + shift
        return _month(published.year + month // 12, month % 12 + 1, m.group(0))
    return _year(published.year + shift, m.group(0))


def _read_weekday_of_week(m: re.Match[str], published: date | None) -> When | None:
    """"Monday of last week" names one day exactly."""
    if published is None:
        return None
    monday = published - timedelta(days=published.weekday()) + timedelta(weeks=_SHIFT[m.group(2).lower()])
    d = monday + timedelta(days=WEEKDAY_NAMES.index(m.group(1).title()))
    return When(d, d, d, "day", m.group(0))


def _read_weekday(m: re.Match[str], published: date | None) -> When | None:
    """A bare weekday: news uses one for a day within a week of publication, past ("said on Sunday")
    or coming ("will speak on Tuesday"), and the sentence rarely says which for certain. So it is
    placed at the publish date with the precision "week", never resolved to a day it might not be."""
    if published is None:
        return None
    return When(published, published - timedelta(days=6), published + timedelta(days=6), "week", m.group(0))


# Dates the text gives (the publish date may supply a year) and words counted from the publish date.
READERS: tuple[tuple[re.Pattern[str], Reader], ...] = (
    (ISO_DAY, lambda m, _: _day(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(0))),
    (MONTH_DAY_YEAR, lambda m, _: _day(int(m.group(3)), _month_no(m.group(1)), int(m.group(2)), m.group(0))),
    (DAY_MONTH_YEAR, lambda m, _: _day(int(m.group(3)), _month_no(m.group(2)), int(m.group(1)), m.group(0))),
    (MONTH_DAY, lambda m, p: _read_month_day(m.group(1), m.group(2), m.group(0), p)),
    (DAY_MONTH, lambda m, p: _read_month_day(m.group(2), m.group(1), m.group(0), p)),
    (MONTH_AND_YEAR, lambda m, _: _month(int(m.group(2)), _month_no(m.group(1)), m.group(0))),
    (BARE_MONTH, _read_bare_month),
    (BARE_YEAR, lambda m, _: _year(int(m.group(1)), m.group(0))),
    (WEEKDAY_OF_WEEK, _read_weekday_of_week),
    (RELATIVE_DAY, _read_relative_day),
    (RELATIVE_SPAN, _read_relative_span),
    (A_WEEKDAY, _read_weekday),
)


def _readings(text: str, published: date | None) -> Iterator[tuple[int, int, When | None]]:
    """(start, -length, When or None) of every time expression in the text."""
    for pattern, read in READERS:
        for m in pattern.finditer(text):
            yield m.start(), m.start() - m.end(), read(m, published)


def has_time_words(text: str) -> bool:
    """The sentence holds a time expression, whether or not it can be dated.

    >>> has_time_words("Talks resume on Tuesday."), has_time_words("Talks resume soon.")
    (True, False)
    """
    # read as if published on some day, so that a weekday or a month counts where the article is undated
    return any(when is not None for _, _, when in _readings(text, _ANY_DAY))


def date_sentence(text: str, published: date | None) -> When | None:
    """When a sentence of an article published on `published` says its event happened, or None.

    The sentence's first time expression, in reading order, that can be read: news puts the time of
    its main clause early ("went on trial on Monday, accused of ... in 2022"); of two starting at one
    word, the longer ("Monday of last week" over "Monday"). Failing one, the publish date itself
    ("published": on or before it). Without a publish date, a date needing one (a month and day
    without a year, a weekday, "yesterday") cannot be read, and a sentence with no other date is
    undated (None): no date is ever guessed.

    >>> date_sentence("They met in Stockholm on December 2.", date(2021, 12, 6)).iso()
    '2021-12-02'
    >>> date_sentence("Biden and Putin will speak on Tuesday.", date(2021, 12, 6)).label()
    'within a week of 2021-12-06'
    >>> date_sentence("In 2014, Moscow annexed Crimea.", None).iso()
    '2014'
    >>> date_sentence("Blinken spoke on Sunday.", None) is None
    True
    """
    found = [(start, length, when) for start, length, when in _readings(text, published) if when]
    if found:
        return min(found, key=lambda f: (f[0], f[1]))[2]
    if published is None:
        return None
    return When(published, date.min, published, "published")
