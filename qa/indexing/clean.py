"""Text normalisation and scraping-boilerplate removal.

Scraped news carries page furniture ("Leave a Reply", "Source link", photo credits,
"Read also: ..." teasers) that must never reach the index, because retrieval would
match it and the model would quote it. The rules below are deliberately few and
general: each one matches a *whole, short* line, so a real sentence that merely
contains "share" or "photo" survives.
"""

from __future__ import annotations

import re
import unicodedata

# Line breaks of every flavour become "\n"; a paragraph separator starts a new paragraph.
_NEWLINES = str.maketrans({"\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x85": "\n", "\u2028": "\n"})
# C0/C1 controls (but not "\n" and "\t") and zero-width / bidi format characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace except the newline

# Trailing decoration a boilerplate line may end with: "Read more »", "Share:", "Required *".
_END = r"[\s.:!…>»›*|-]*"
# Leading bullet a teaser line may start with: "• Read also: ...".
_BULLET = r"(?:[•·*>»\-–—]\s*)?"
_NETWORK = r"(?:facebook|twitter|x|linkedin|whatsapp|telegram|pinterest|reddit|bluesky|threads|mastodon)"
# one button of a share bar: "Share on Facebook", "Share on: X", "Tweet", "Email", "Copy link"
_SOCIAL = rf"(?:(?:share (?:on|via|to)\s*:?\s*)?{_NETWORK}|share|tweet|e-?mail|print|copy link)"
_PHOTO = r"(?:photo|foto|image|picture|pic|photograph)s?"


def _rule(max_words: int, *alternatives: str) -> tuple[re.Pattern[str], int]:
    """A boilerplate rule: one of `alternatives` matches the whole line, of at most `max_words` words."""
    return re.compile(rf"\s*(?:{'|'.join(alternatives)}){_END}", re.IGNORECASE), max_words


# Each rule is (regex over the whole line, longest line in words it may remove).
BOILERPLATE_RULES: list[tuple[re.Pattern[str], int]] = [
    # link back to the scraped page: "Source link", "Original source link"
    _rule(4, r"(?:original |article )?source links?"),
    # comment widgets: "Leave a Reply", "Leave a Comment", "Leave a review", "Post a Comment", "3 Comments"
    _rule(
        6,
        r"(?:leave|post|add|write|submit) (?:a|your|new) (?:reply|comment|review|response)",
        r"(?:\d+|no) comments?(?: yet)?",
        r"comments?(?: \(\d+\))?",
        r"(?:cancel )?reply",
        r"join the (?:conversation|discussion)",
    ),
    # pagers: "Previous Post Next Post", "Next article »", "« Older posts"
    _rule(8, r"(?:[«‹<]\s*)?(?:(?:previous|prev|next|older|newer) (?:post|article|stor(?:y|ie)|page)s?\W*)+"),
    # page furniture: "Contact Form", "Contact us", "Skip to content", "Back to top", "Menu"
    _rule(4, r"contact (?:form|us)", r"skip to (?:main )?content", r"back to top", r"(?:main )?menu"),
    # teaser headings: "You may also like", "Related articles", "Most read", "News Line", "Top stories"
    _rule(
        6,
        r"(?:you|we think you) (?:may|might|will) (?:also )?like(?: this)?",
        r"related(?: posts| articles| stories| news| content| coverage)?",
        r"recommended(?: for you| stories)?",
        r"(?:most|more) (?:read|popular|viewed|shared)",
        r"trending(?: now| stories)?",
        r"top stories|read next|don'?t miss|more from .{1,40}",
        r"news ?line|news feed|latest (?:news|stories|articles)|breaking news",
    ),
    # cross links to other stories: "• Read also: ...", "Read more: ...", "See also: ...", "Related: ..."
    _rule(
        30,
        _BULLET + r"(?:(?:read|see) (?:also|more)|also (?:read|see)|related(?: articles?| stor(?:y|ies))?)"
        r"\s*[:|–—-]\s*.+",
    ),
    # bare link texts: "Read more »", "Continue reading", "Read the full story"
    _rule(6, _BULLET + r"(?:read more|continue reading|read the full (?:story|article)|see more|load more)"),
    # social widgets: "Follow us on social networks", "Share this article", "Facebook Twitter Email"
    _rule(
        16,  # a share bar of five buttons with separators: "Share on Facebook | Share on X | Email ..."
        r"follow us(?: on .{1,40})?",
        r"share(?: this(?: article| story| post| page)?| on \w+| via \w+)?",
        rf"{_SOCIAL}(?:\s*[|,/·•]?\s*{_SOCIAL})+",
    ),
    # accounts and newsletters: "Subscribe to our newsletter", "Sign up for alerts", "Log in to comment"
    _rule(
        12,
        r"(?:subscribe|sign up|sign in|log in|login|register)(?: now| today| here)?",
        r"(?:subscribe|sign up|sign in|log in|register)\b.{0,40}"
        r"\b(?:newsletters?|alerts?|updates|inbox|account|subscription|to (?:comment|continue|read))\b.*",
    ),
    # ad slots: "Advertisement", "Sponsored content", "Story continues below advertisement"
    _rule(
        6,
        r"advertisement|advertising|ad|sponsored(?: content| links?)?",
        r"(?:story|article) continues below(?: (?:this )?advertisement)?",
        r"scroll (?:down )?to continue.*",
    ),
    # calls to action: "Click here to read more", "Tap here to subscribe"
    _rule(12, r"(?:click|tap) here\b.*"),
    # rights lines: "© 2024 Example News. All rights reserved.", "Copyright 2022 Example"
    _rule(15, r".*\ball rights reserved\b.*", r"(?:©|\(c\)|copyright)\s*(?:\d{4}|©).*"),
    # cookie notices: "We use cookies to improve your experience ...", "Accept all cookies"
    _rule(
        60,
        r"(?:we|this (?:web)?site|our (?:web)?site|this page) uses? cookies\b.*",
        r"(?:accept|allow|reject|manage)(?: all)? cookies",
        r"cookie (?:policy|settings|preferences|consent)",
    ),
    # comment form: "Your email address will not be published. Required fields are marked *"
    _rule(
        25,
        r"your email address will not be published\.?(?:\s*required fields are marked\s*\*?)?",
        r"required fields are marked\s*\*?",
        r"save my name, email,? and website in this browser.*",
        r"notify me of (?:follow-up comments|new posts) (?:by|via) e-?mail",
        r"(?:name|e-?mail|website|comment)\s*\*",
    ),
    # script placeholders: "You are seeing a snapshot of an interactive graphic. ...", "Enable JavaScript"
    _rule(
        40,
        r"you are seeing a snapshot of an interactive graphic\b.*",
        r"(?:please )?(?:enable|turn on) javascript\b.*",
        r".*\bjavascript (?:is |being )?(?:disabled|turned off|not enabled)\b.*",
        r"your browser does not support .{1,40}",
    ),
    # photo credits, label first: "Photo: Reuters", "Photo by Jane Doe/AFP", "Image copyright Getty Images"
    _rule(8, rf"[(\[]?\s*{_PHOTO}(?: (?:credit|courtesy|copyright|source))?\s*(?:[:©/|]|\s[-–—]\s|\bby\b).*"),
    # photo credits, other shapes: "(Photo credit: AFP)", "AFP photo", "File photo", "Açiq mənbələrdən foto."
    _rule(
        8,
        rf".*\b{_PHOTO} (?:credit|courtesy|copyright)\b.*",
        rf"[(\[].*\b{_PHOTO}\b.*[)\]]",
        r".*\bfoto(?:s|ğraf)?",  # "foto" is not English: a caption in another language
        rf"(?:file|stock|handout|archive|pool|afp|ap|reuters|epa|getty) {_PHOTO}",
    ),
    # section labels and breadcrumbs: "International .", "World ›", "Home » World » Europe"
    _rule(8, r"[\w'&-]+(?: [\w'&-]+){0,2} [.|»›>/·•]", r"home(?:\s*[»›>/|]\s*[\w' &-]+)+"),
    # bylines and tag lists: "by time news", "By Jane Doe", "Tags: Ukraine, Russia", "Filed under: World"
    _rule(20, r"by [^\d.!?,;:]{2,40}", r"(?:tags?|categories|category|filed under|topics)\s*:.*"),
]


def is_boilerplate(line: str) -> bool:
    """True when a whole (normalised) line is page furniture rather than article text."""
    words = len(line.split())
    return any(words <= max_words and rx.fullmatch(line) for rx, max_words in BOILERPLATE_RULES)


def normalize(raw: str) -> str:
    """NFKC, one kind of newline, no invisible characters, one space between words, stripped lines.

    NFKC folds look-alike forms (no-break spaces, full-width letters, ligatures) so that
    matching and hashing see one spelling; curly quotes and dashes are not affected by it.
    """
    text = raw.replace("\r\n", "\n").replace("\u2029", "\n\n").translate(_NEWLINES)
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))  # removing first keeps this idempotent
    return "\n".join(line.strip() for line in _SPACES.sub(" ", text).split("\n"))


def clean_text(raw: str) -> str:
    """Normalised article text without boilerplate lines or a line repeated right after itself.

    Paragraphs (blocks of lines) are separated by exactly one blank line; lines inside a
    paragraph are kept, so the result is stable: clean_text(clean_text(x)) == clean_text(x).
    """
    paragraphs: list[list[str]] = [[]]
    previous = ""
    for line in normalize(raw).split("\n"):
        if not line:
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        if line == previous or is_boilerplate(line):
            continue
        paragraphs[-1].append(line)
        previous = line
    return "\n\n".join("\n".join(lines) for lines in paragraphs if lines)


def clean_title(raw: str) -> str:
    """The headline on one line, normalised like the text, without trailing " | Site section"s.

    "Biden urges Putin to resume diplomacy | Conflict News" -> "Biden urges Putin to resume diplomacy":
    a suffix (at most 4 words after a headline of at least 4) names the page, not the story.
    """
    title = " ".join(normalize(raw).split())
    while True:
        head, _, tail = title.rpartition(" | ")
        if len(head.split()) < 4 or len(tail.split()) > 4:
            return title
        title = head


def _key(text: str) -> str:
    """Case- and punctuation-blind form used to notice a repeated headline."""
    return re.sub(r"\W+", "", text.casefold())


def strip_repeated_title(title: str, body: str) -> str:
    """The body without a first paragraph (or first line) that only repeats the headline.

    Scrapers often keep the page's <h1> as the first line of the body, which would put the
    headline twice into the first chunk.
    """
    key = _key(title)
    if not key or not body:
        return body
    first, _, rest = body.partition("\n\n")
    if _key(first) == key:
        return rest
    line, _, others = first.partition("\n")
    if _key(line) == key:
        return "\n\n".join(part for part in (others, rest) if part)
    return body
