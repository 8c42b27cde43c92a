"""The inline keyboards: language choice, what to follow, settings, operator decisions.

Every button's data is written by `callbacks.encode`; a button whose data would not fit
in Telegram's 64 bytes is left out rather than truncated.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import callbacks
from bot.telegram.layout import DIGEST_LABELS
from bot.text.i18n import LANGUAGES, N_, Texts
from bot.text.render import KIND_NAMES, THEME_NAMES
from config.dataset import THEMES, Dataset
from config.vocabulary import ZONE
from schedulers.timeline import KINDS, Selection

COUNTRIES_PER_PAGE = 12
CHECK = "✓ "
LEAD_PRESETS = ((30, 14, 7, 1, 0), (14, 7, 1, 0), (7, 1, 0), (1, 0))
QUIET_PRESETS = ((22, 7), (21, 8), (23, 6))
ZONES = (
    ZONE,
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Africa/Abidjan",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Nairobi",
    "Europe/Moscow",
    "Asia/Bangkok",
    "Asia/Kolkata",
    "America/New_York",
    "America/Mexico_City",
    "America/Bogota",
    "America/Sao_Paulo",
)
SETTINGS_MENU = (
    ("lead", N_("Reminders")),
    ("digest", N_("Digest")),
    ("quiet", N_("Quiet hours")),
    ("tz", N_("Time zone")),
    ("lang", N_("Language")),
)
SETTINGS_KEYS = frozenset(key for key, _ in SETTINGS_MENU)
Button = InlineKeyboardButton


def _button(label: str, verb: str, *args: str | int) -> Button | None:
    data = callbacks.encode(verb, *args)
    return Button(label, callback_data=data) if data is not None else None


def _rows(buttons: Iterable[Button | None], per_row: int) -> list[list[Button]]:
    kept = [button for button in buttons if button is not None]
    return [kept[i : i + per_row] for i in range(0, len(kept), per_row)]


def _mark(label: str, chosen: bool) -> str:
    return CHECK + label if chosen else label


def languages(
    verb: str = callbacks.START_LANGUAGE, *prefix: str, chosen: str | None = None
) -> InlineKeyboardMarkup:
    """One button per language, each named in itself, the chosen one marked."""
    buttons = [
        _button(_mark(Texts(code).language_name, code == chosen), verb, *prefix, code)
        for code in LANGUAGES
    ]
    return InlineKeyboardMarkup(_rows(buttons, 3))


def subscribe_menu(texts: Texts, selection: Selection) -> InlineKeyboardMarkup:
    """The top of /subscribe: pick a dimension, follow everything, or finish."""
    count = len(selection.countries)
    countries = texts("Countries") + (f" ({count})" if count else "")
    rows = _rows(
        [
            _button(countries, callbacks.SUBSCRIBE, "cp", 0),
            _button(texts("Clusters"), callbacks.SUBSCRIBE, "gl"),
            _button(texts("Themes"), callbacks.SUBSCRIBE, "tl"),
            _button(texts("Kinds"), callbacks.SUBSCRIBE, "kl"),
            _button(texts("Everything"), callbacks.SUBSCRIBE, "all"),
            _button(texts("Done"), callbacks.SUBSCRIBE, "done"),
        ],
        2,
    )
    return InlineKeyboardMarkup(rows)


def country_page(
    texts: Texts, codes: Sequence[str], page: int, followed: Collection[str]
) -> InlineKeyboardMarkup:
    """One page of States parties (in the reader's alphabetical order), with paging."""
    pages = max(1, -(-len(codes) // COUNTRIES_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = codes[page * COUNTRIES_PER_PAGE : (page + 1) * COUNTRIES_PER_PAGE]
    rows = _rows(
        (
            _button(
                _mark(texts.country(code), code in followed), callbacks.SUBSCRIBE, "c", code, page
            )
            for code in shown
        ),
        2,
    )
    navigation = [
        _button("◀", callbacks.SUBSCRIBE, "cp", page - 1) if page > 0 else None,
        _button(f"{page + 1}/{pages}", callbacks.SUBSCRIBE, "cp", page),
        _button("▶", callbacks.SUBSCRIBE, "cp", page + 1) if page + 1 < pages else None,
    ]
    rows += _rows(navigation, 3)
    rows += _rows([_button(texts("Back"), callbacks.SUBSCRIBE, "menu")], 1)
    return InlineKeyboardMarkup(rows)


def search_results(
    texts: Texts, codes: Sequence[str], followed: Collection[str]
) -> InlineKeyboardMarkup:
    """Countries found by typing a name: each toggles."""
    rows = _rows(
        (
            _button(
                _mark(texts.country(code), code in followed), callbacks.SUBSCRIBE, "c", code, "s"
            )
            for code in codes
        ),
        2,
    )
    rows += _rows([_button(texts("Done"), callbacks.SUBSCRIBE, "done")], 1)
    return InlineKeyboardMarkup(rows)


def clusters(texts: Texts, dataset: Dataset, followed: Collection[int]) -> InlineKeyboardMarkup:
    """Every cluster, each toggles."""
    buttons = [
        _button(
            _mark(
                texts("cluster {number}").format(number=n) + f": {texts(c.title)}", n in followed
            ),
            callbacks.SUBSCRIBE,
            "g",
            n,
        )
        for n, c in dataset.clusters.items()
    ]
    return InlineKeyboardMarkup(
        _rows(buttons, 1) + _rows([_button(texts("Back"), callbacks.SUBSCRIBE, "menu")], 1)
    )


def themes(texts: Texts, followed: Collection[str]) -> InlineKeyboardMarkup:
    """Every theme, each toggles."""

    buttons = [
        _button(_mark(texts(THEME_NAMES[t]), t in followed), callbacks.SUBSCRIBE, "t", t)
        for t in THEMES
    ]
    return InlineKeyboardMarkup(
        _rows(buttons, 2) + _rows([_button(texts("Back"), callbacks.SUBSCRIBE, "menu")], 1)
    )


def kinds(texts: Texts, followed: Collection[str]) -> InlineKeyboardMarkup:
    """Every kind of deadline, each toggles."""

    buttons = [
        _button(_mark(texts(KIND_NAMES[k]), k in followed), callbacks.SUBSCRIBE, "k", k)
        for k in KINDS
    ]
    return InlineKeyboardMarkup(
        _rows(buttons, 1) + _rows([_button(texts("Back"), callbacks.SUBSCRIBE, "menu")], 1)
    )


def unsubscribe_list(texts: Texts, selection: Selection, dataset: Dataset) -> InlineKeyboardMarkup:
    """One button per thing followed (press to drop it), and one to stop all alerts."""

    buttons = [
        _button("✕ " + texts.country(c), callbacks.UNSUBSCRIBE, "c", c)
        for c in sorted(selection.countries)
    ]
    buttons += [
        _button("✕ " + texts("cluster {number}").format(number=n), callbacks.UNSUBSCRIBE, "g", n)
        for n in sorted(selection.clusters)
    ]
    buttons += [
        _button("✕ " + texts(THEME_NAMES[t]), callbacks.UNSUBSCRIBE, "t", t)
        for t in sorted(selection.themes)
        if t in THEME_NAMES
    ]
    buttons += [
        _button("✕ " + texts(KIND_NAMES[k]), callbacks.UNSUBSCRIBE, "k", k)
        for k in sorted(selection.kinds)
        if k in KIND_NAMES
    ]
    buttons += [
        _button(
            texts("Unmute {country}").format(country=texts.country(c)),
            callbacks.UNSUBSCRIBE,
            "m",
            c,
        )
        for c in sorted(selection.muted_countries)
    ]
    rows = _rows(buttons, 2)
    rows += _rows([_button(texts("Stop all alerts"), callbacks.UNSUBSCRIBE, "all")], 1)
    return InlineKeyboardMarkup(rows)


def settings_menu(texts: Texts) -> InlineKeyboardMarkup:
    """The top of /settings."""
    buttons = [_button(texts(label), callbacks.SETTINGS, key) for key, label in SETTINGS_MENU]
    return InlineKeyboardMarkup(_rows(buttons, 2))


def settings_choices(
    texts: Texts, key: str, current: object, followed_zones: Sequence[str] = ()
) -> InlineKeyboardMarkup:
    """The choices for one preference, the current one marked.

    The time zones offered start with those of the countries the chat follows.
    """
    buttons: list[Button | None]
    if key == "lead":
        buttons = [
            _button(
                _mark(", ".join(str(d) for d in preset), list(preset) == current),
                callbacks.SETTINGS,
                "lead",
                ".".join(str(d) for d in preset),
            )
            for preset in LEAD_PRESETS
        ]
        per_row = 1
    elif key == "digest":
        buttons = [
            _button(_mark(texts(label), value == current), callbacks.SETTINGS, "digest", value)
            for value, label in DIGEST_LABELS.items()
        ]
        per_row = 3
    elif key == "quiet":
        buttons = [
            _button(_mark(texts("off"), current is None), callbacks.SETTINGS, "quiet", "off")
        ]
        buttons += [
            _button(
                _mark(f"{start:02d}:00-{end:02d}:00", current == (start, end)),
                callbacks.SETTINGS,
                "quiet",
                f"{start}-{end}",
            )
            for start, end in QUIET_PRESETS
        ]
        per_row = 2
    elif key == "tz":
        buttons = [
            _button(
                _mark(texts.city(zone) if zone != "UTC" else "UTC", zone == current),
                callbacks.SETTINGS,
                "tz",
                zone,
            )
            for zone in dict.fromkeys([*followed_zones, *ZONES])
        ]
        per_row = 3
    else:
        buttons = [
            _button(
                _mark(Texts(code).language_name, code == current), callbacks.SETTINGS, "lang", code
            )
            for code in LANGUAGES
        ]
        per_row = 3
    rows = _rows(buttons, per_row)
    rows += _rows([_button(texts("Back"), callbacks.SETTINGS, "menu")], 1)
    return InlineKeyboardMarkup(rows)


def proposal(texts: Texts, proposal_id: int) -> InlineKeyboardMarkup:
    """Approve or reject one proposal of the watcher."""
    return InlineKeyboardMarkup(
        _rows(
            [
                _button(texts("Approve"), callbacks.PROPOSAL, "a", proposal_id),
                _button(texts("Reject"), callbacks.PROPOSAL, "r", proposal_id),
            ],
            2,
        )
    )


def broadcast_confirmation(texts: Texts, nonce: str) -> InlineKeyboardMarkup:
    """Send or cancel a broadcast the operator has just written."""
    return InlineKeyboardMarkup(
        _rows(
            [
                _button(texts("Send to everyone"), callbacks.BROADCAST, "send", nonce),
                _button(texts("Cancel"), callbacks.BROADCAST, "cancel", nonce),
            ],
            2,
        )
    )
