"""What every entry point's cases share: the families of hostile text, `Case`, the lab
(databases, the dataset, the error log) and the checks that the data is intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


NOW = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)


SIGNING_SECRET = "5e1fa0c0ffee5ca1ab1e5eedbadc0de5"


GENERIC_FAILURE = "something went wrong"


QUICK_PER_FAMILY = 1


QUICK_MINIMUM = 5


QUERY = "query string"


TELEGRAM_COMMAND = "telegram command"


TELEGRAM_BUTTON = "telegram button"


SLACK_COMMAND = "slack command"


SLACK_BUTTON = "slack interactivity"


DATASET = "dataset file"


PAGE = "watched page"


CLI = "command line"


ENTRY_POINTS = (
    QUERY,
    TELEGRAM_COMMAND,
    TELEGRAM_BUTTON,
    SLACK_COMMAND,
    SLACK_BUTTON,
    DATASET,
    PAGE,
    CLI,
)


# Hostile text, by family. Entry points shape these into their own inputs.
FAMILIES: dict[str, tuple[str, ...]] = {
    "overlong": ("A" * 5000, "Austria, " * 700),
    "control": ("\x01\x02\x03\x07\x08", "\x1b[31mred\x1b[0m", "AT\r\nX-Injected: 1", "\x7f\x85"),
    "nul": ("AT\x00", "\x00\x00", "Aus\x00tria"),
    "direction": ("\u202eTA", "\u2066AT\u2069\u202e", "A\u200bT", "\ufeffAT"),
    "sql": (
        "'; DROP TABLE subscribers; --",
        "' OR '1'='1",
        "1; DELETE FROM subscriber_filters --",
        '" OR ""="',
        "AT' UNION SELECT calendar_nonce FROM subscribers --",
    ),
    "format": ("{0.__class__}", "{texts.__init__.__globals__}", "%s%n%x%d", "{}{}{}", "%(secret)s"),
    "traversal": (
        "../../../../etc/passwd",
        "..\\..\\..\\windows\\win.ini",
        "/etc/passwd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ),
    "number": ("99999999999999999999999999", "-1", "-99999", "1e309", "NaN", "0x1F", "²", "١٢"),
    "markup": (
        "<script>alert(1)</script>",
        "<b>unclosed",
        '</b></i><a href="javascript:alert(1)">x</a>',
        "&amp;&#0;&lt;",
        "<!channel> <@U0ADA> <https://evil.example|x>",
    ),
    "unicode": (
        "🇦🇹🇦🇹",
        "\uff21\uff55\uff53\uff54\uff52\uff49\uff41\uff58",
        "A\u0308\u0308\u0308\u0308T",
        "\U0001f4a9" * 40,
    ),
    "unknown": ("XX", "Narnia", "cluster 99", "kind=party"),
    "date": ("2023-02-30", "2022-13-01", "0000-00-00", "2022-02-29T25:61"),
}


def hostile() -> list[tuple[str, str]]:
    """Every hostile text with its family, in a fixed order."""
    return [(family, text) for family, texts in FAMILIES.items() for text in texts]


def shown(value: object, limit: int = 60) -> str:
    """A short printable form of an input, for the report."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Case:
    """One input for one entry point, and what it may change if it turns out valid."""

    entry: str
    family: str
    label: str
    payload: Any
    may_change: frozenset[str] = frozenset()


# Families whose text may fold to a real country name or theme code: the vocabulary
# reads people's words with invisible characters folded away ("\u202eTA" is "ta",
# technical assistance).
FOLDED_AWAY = frozenset({"nul", "direction", "unicode", "control"})
FOLDED_PARAMS = frozenset({"country", "theme"})


QUERY_PARAMS = {
    # parameter: the paths that take it (each case uses one, in turn)
    "country": ("/calendar.ics", "/api/upcoming", "/"),
    "cluster": ("/api/upcoming", "/", "/calendar.ics"),
    "kind": ("/", "/calendar.ics", "/api/upcoming"),
    "theme": ("/calendar.ics", "/api/upcoming", "/"),
    "lang": ("/calendar.ics", "/"),
    "alarms": ("/calendar.ics",),
    "days": ("/api/upcoming", "/"),
}


TELEGRAM_MAX_TEXT = 4096


TELEGRAM_MAX_DATA = 64


# Each hostile text goes after two of these, in turn; "{}" alone is typed in the chat.
TELEGRAM_TEMPLATES = (
    "/subscribe {}",
    "/unsubscribe {}",
    "/country {}",
    "/upcoming {}",
    "/settings timezone {}",
    "/settings lead {}",
    "/settings quiet {}",
    "/settings language {}",
    "/settings digest {}",
    "/settings {}",
    "/start {}",
    "/addchannel {}",
    "{}",
    "/calendar {}",
    "/help {}",
)


SUBSCRIPTION_TABLES = frozenset({"subscribers", "subscriber_filters"})
# A report that reads as valid waits in the queue; its chat becomes a subscriber.
REPORT_TABLES = frozenset({"proposals", "subscribers"})
# /report takes what the reporter types: the country, the step, the day, the evidence.
REPORT_TEMPLATES = (
    "report {}",
    "report AT self-assessment 2022-01-01 {}",
    "report AT {} 2022-01-01 https://www.example.org/x",
    "report {} self-assessment 2022-01-01 https://www.example.org/x",
    "report AT self-assessment 2022-01-01 https://{}",
)


# What reading deadlines may write: the fingerprint that raises an iCal SEQUENCE.
DERIVED = frozenset({"deadline_versions"})


SLACK_TEMPLATES = (
    "subscribe {}",
    "unsubscribe {}",
    "upcoming {}",
    "country {}",
    "settings timezone {}",
    "settings reminders {}",
    "settings language {}",
    "settings digest {}",
    "{}",
    "settings {}",
)


SLACK_CHANNEL = "C0HOSTILE"


SLACK_USER = "U0ADA"


_DROP = object()  # in `_with`: remove the item instead of replacing it


EVENT = {
    "id": "hostile-event",
    "kind": "other",
    "title": "A meeting",
    "start": "2022-04-01",
    "source": "https://example.org/meeting",
    "confidence": "confirmed",
}


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title>
<item><title>&xxe;</title><link>https://example.org/a</link></item></channel></rss>"""


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><rss version="2.0"><channel><title>x</title><item><title>&lol9;</title></item>'
    + b"</channel></rss>"
)


RSS = '<rss version="2.0"><channel><title>x</title>{}</channel></rss>'


ICS_EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//x//EN\r\nBEGIN:VEVENT\r\nUID:a@x\r\n"
    "DTSTAMP:20220101T000000Z\r\nDTSTART{start}\r\nSUMMARY:{summary}\r\n{extra}"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


# A poll may record the page, its change and proposals, and tell the operators (deliveries
# of kind "operator.*"); nothing else.
PAGE_TABLES = frozenset(
    {"source_states", "source_snapshots", "source_changes", "proposals", "deliveries"}
)


NOT_FOR_OPERATORS = "SELECT count(*) FROM deliveries WHERE kind NOT LIKE 'operator.%'"


class ErrorLog(logging.Handler):
    """Every log record at ERROR or above, or with a traceback: a crash somewhere."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int) -> list[str]:
        found = []
        for record in self.records[mark:]:
            error = record.exc_info[1] if record.exc_info else None
            cause = f" ({type(error).__name__}: {error})" if error else ""
            found.append(f"{record.name}: {record.getMessage()[:120]}{cause}"[:300])
        return found


@contextlib.contextmanager
def capture_errors() -> Iterator[ErrorLog]:
    """Collect errors logged anywhere while the block runs."""
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


Rows = dict[str, list[tuple[Any, ...]]]


def rows(path: Path) -> Rows:
    """Every row of every table of a SQLite database, in a stable order."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            name: sorted(db.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
        }


def changed_tables(before: Rows, after: Rows) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def damage(before: Rows, after: Rows, allowed: frozenset[str]) -> str | None:
    """The tables an input changed beyond what it may change, as a problem, or None."""
    changed = changed_tables(before, after) - allowed
    return f"changed the tables {sorted(changed)}" if changed else None


def fingerprint(*directories: Path) -> dict[str, str]:
    """The SHA-256 of every file under the directories."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for directory in directories
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def signed(
    body: bytes, content_type: str, *, secret: str = SIGNING_SECRET, age: int = 0
) -> dict[str, str]:
    """Headers that sign `body` with this suite's signing secret, as Slack does."""
    from tests.fakes.slack_api import signed_headers

    return signed_headers(body, secret, age=age, content_type=content_type)


@dataclass
class Tally:
    """Tried, passed, and what failed, per entry point; how many inputs were accepted."""

    tried: Counter[str] = field(default_factory=Counter)
    passed: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def add(self, case: Case, problem: str | None, *, accepted: bool = False) -> None:
        self.tried[case.entry] += 1
        if problem is None:
            self.passed[case.entry] += 1
            self.accepted[case.entry] += accepted
        else:
            self.problems.append(f"{case.entry}: {case.label}: {problem}")


@dataclass
class Lab:
    """What the runners share: a scratch directory, the dataset, the error log."""

    root: Path
    dataset: Any
    errors: ErrorLog

    def database(self, name: str) -> tuple[str, Path]:
        """A new SQLite database, migrated; its async URL and its file."""
        return asyncio.run(self.new_database(name))

    async def new_database(self, name: str) -> tuple[str, Path]:
        """`database`, on a running event loop."""
        from bot.db.migrate import upgrade

        path = self.root / f"{name}.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        return url, path

    def logged(self, mark: int) -> str | None:
        errors = self.errors.since(mark)
        return f"logged an error: {errors[0]}" if errors else None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p), None)


REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "answerCallbackQuery"})


PASSWD_LINE = "root:x:0:0"


CLI_TABLES = {
    "record": frozenset({"milestone_dates"}),
    "broadcast": frozenset({"deliveries"}),
    "subscribers": SUBSCRIPTION_TABLES | {"acknowledgements"},
    "slack": SUBSCRIPTION_TABLES,
    "telegram": SUBSCRIPTION_TABLES,
}


MAX_LISTED_FAILURES = 40
