"""Isolating left-to-right text for right-to-left readers, in Telegram HTML and Slack mrkdwn."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.base import Alert
from bot.slack.layout import layout as slack_layout
from bot.telegram.channel import layout as telegram_layout
from bot.text.bidi import FSI, PDI, isolate, strip_isolates
from bot.text.i18n import LANGUAGES, Texts
from bot.text.wording import word
from config.dataset_loader import load_dataset
from schedulers.timeline import compute_deadlines
from tests.bot.test_slack_channel import all_texts
from tests.fakes.telegram_api import parse_html

MARCH_2022 = dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)
ISOLATES = re.compile(f"[{FSI}{PDI}]")


def shown(text: str) -> str:
    """The isolates made visible, so expectations read easily: ⟦ ... ⟧."""
    return text.replace(FSI, "⟦").replace(PDI, "⟧")


class Structure(HTMLParser):
    """What an HTML text is made of: its tags with their attributes, its text, its entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.items: list[tuple[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.items.append(("start", (tag, tuple(attrs))))

    def handle_endtag(self, tag: str) -> None:
        self.items.append(("end", tag))

    def handle_data(self, data: str) -> None:
        self.items.append(("data", data))

    def handle_entityref(self, name: str) -> None:
        self.items.append(("entity", name))

    def handle_charref(self, name: str) -> None:
        self.items.append(("charref", name))


def structure(text: str) -> list[tuple[str, object]]:
    parser = Structure()
    parser.feed(text)
    parser.close()
    return parser.items


def tags(text: str) -> list[tuple[str, object]]:
    return [item for item in structure(text) if item[0] in ("start", "end")]


def elements(text: str, name: str) -> list[str]:
    return re.findall(rf"<{name}\b[^>]*>.*?</{name}>", text, re.DOTALL)


@pytest.fixture(scope="module")
def deadlines():
    return {d.id: d for d in compute_deadlines(load_dataset(), MARCH_2022)}


# Telegram HTML


def test_commands_codes_and_zones_in_arabic_are_isolated():
    text = (
        "يعرض الأمر /help جميع الأوامر. المنطقة الزمنية: Africa/Lagos · النمسا (AT)، البرازيل (BR)."
    )
    assert shown(isolate(text, "html")) == (
        "يعرض الأمر ⟦/help⟧ جميع الأوامر. المنطقة الزمنية: ⟦Africa/Lagos⟧ · "
        "النمسا (⟦AT⟧)، البرازيل (⟦BR⟧)."
    )


def test_a_list_of_latin_words_is_one_stretch_and_its_end_punctuation_stays_outside():
    assert shown(isolate("تابعوا: AT, Brazil, tip.", "plain")) == "تابعوا: ⟦AT, Brazil, tip⟧."
    # a bracket opened in the stretch closes in it, digits and all
    assert shown(isolate("المصدر: UNODC summaries (seeds 001, 003)", "plain")) == (
        "المصدر: ⟦UNODC summaries (seeds 001, 003)⟧"
    )


def test_code_and_links_are_isolated_whole_from_the_outside():
    url = "https://watch.example.org/calendar/abc.ics?lang=ar&amp;country=AT"
    text = (
        "<b>UNTOC Watch</b>: اشتركوا بـ <code>/subscribe AT tip</code> أو "
        f'<a href="{url}">{url}</a>.\n<pre>/settings timezone Africa/Lagos</pre>'
    )
    result = isolate(text, "html")
    assert shown(result) == (
        "<b>⟦UNTOC Watch⟧</b>: اشتركوا بـ ⟦<code>/subscribe AT tip</code>⟧ أو "
        f'⟦<a href="{url}">{url}</a>⟧.\n⟦<pre>/settings timezone Africa/Lagos</pre>⟧'
    )
    for name in ("code", "a", "pre"):
        inside = elements(result, name)
        assert inside and not any(ISOLATES.search(element) for element in inside), name


def test_tags_attributes_and_entities_are_kept():
    text = (
        "<b>النمسا &amp; R&amp;D</b> <i>Bosnia &amp; Herzegovina (BA)</i> &lt;x&gt; &#39;q&#39;\n"
        '<a href="https://example.org/?a=1&amp;b=2">الصفحة</a> <tg-spoiler>secret</tg-spoiler>'
    )
    result = isolate(text, "html")
    assert tags(result) == tags(text)
    assert [i for i in structure(result) if i[0] != "data"] == [
        i for i in structure(text) if i[0] != "data"
    ]
    assert [strip_isolates(str(i[1])) for i in structure(result) if i[0] == "data"] == [
        str(i[1]) for i in structure(text) if i[0] == "data"
    ]
    assert not re.search(r"&[^;\s]*[\u2068\u2069][^;\s]*;", result)
    assert "⟦Bosnia &amp; Herzegovina (BA)⟧" in shown(result)
    # an Arabic link label reads right to left already: left alone
    assert '⟦<a href="https://example.org/?a=1&amp;b=2">' not in shown(result)


@pytest.mark.parametrize("markup", ["html", "mrkdwn", "plain"])
def test_left_to_right_languages_get_the_text_unchanged(markup):
    text = "UNTOC Watch: <code>/subscribe AT</code> `/untoc list` Austria (AT) النمسا"
    for language in LANGUAGES:
        texts = Texts(language)
        if texts.direction == "ltr":
            assert isolate(text, markup, texts.direction) is text
    assert isolate(text, markup, Texts("ar").direction) != text


def test_only_arabic_is_right_to_left():
    assert [code for code in LANGUAGES if Texts(code).direction == "rtl"] == ["ar"]


def test_a_real_arabic_alert_stays_valid_html(deadlines):
    texts = Texts("ar")
    alert = Alert(key="k", kind="reminder", deadline=deadlines["r-cd-2022-som-tip"], lead_days=7)
    html = telegram_layout(word(alert, texts, "Africa/Lagos", MARCH_2022), texts)
    result = isolate(html, "html")
    assert result != html and strip_isolates(result) == html
    assert tags(result) == tags(html)
    (link,) = elements(result, "a")
    assert f"{FSI}{link}{PDI}" in result and not ISOLATES.search(link)
    assert "⟦GI-TOC guide for civil society (seed 004)" in shown(result)


# Slack mrkdwn


def test_slack_code_links_mentions_and_dates_are_isolated_whole():
    text = (
        "<@U0ADA> اشترك في: Austria (AT).\n"
        "غيّروها بـ `/untoc settings language fr` أو <https://watch.example.org/?lang=ar|الصفحة>"
        " أو <https://watch.example.org/calendar.ics|calendar.ics>\n"
        "*متى:* <!date^1647558000^{date_long_pretty} {time}|17 مارس> · *الحالة:* upcoming"
    )
    assert shown(isolate(text, "mrkdwn")) == (
        "⟦<@U0ADA>⟧ اشترك في: ⟦Austria (AT)⟧.\n"
        "غيّروها بـ ⟦`/untoc settings language fr`⟧ أو <https://watch.example.org/?lang=ar|الصفحة>"
        " أو ⟦<https://watch.example.org/calendar.ics|calendar.ics>⟧\n"
        "*متى:* ⟦<!date^1647558000^{date_long_pretty} {time}|17 مارس>⟧ · *الحالة:* ⟦upcoming⟧"
    )


def test_slack_bold_and_italic_markers_stay_outside_the_isolates():
    text = "*UNTOC Watch:* المواعيد _Cluster 1: Criminalization_ ~old~ snake_case"
    assert shown(isolate(text, "mrkdwn")) == (
        "*⟦UNTOC Watch⟧:* المواعيد _⟦Cluster 1: Criminalization⟧_ ~⟦old⟧~ ⟦snake_case⟧"
    )


def test_bare_web_addresses_are_never_entered():
    url = "https://www.unodc.org/documents/treaties/CTOC_COP_WG.2_2022/~draft_(1).html"
    for markup in ("html", "mrkdwn", "plain"):
        result = isolate(f"الرابط: {url}. انتهى", markup)
        assert f"{FSI}{url}{PDI}." in result, markup


def test_a_slack_alert_keeps_its_link_whole_and_english_untouched(deadlines):
    texts = Texts("ar")
    alert = Alert(key="k", kind="reminder", deadline=deadlines["r-cd-2022-som-tip"], lead_days=7)
    english = slack_layout(alert, Texts("en"), "Africa/Lagos", MARCH_2022)
    arabic = slack_layout(alert, texts, "Africa/Lagos", MARCH_2022)
    context = next(b for b in arabic.blocks if b["type"] == "context")["elements"][0]["text"]
    assert "<https://www.unodc.org/unodc/en/ngos/constructive-dialogues.html|" in context
    assert not ISOLATES.search(context.split("<https://", 1)[1])  # the link itself
    assert not any(ISOLATES.search(t) for t in all_texts(english))  # English: untouched


# Properties

PIECES = st.sampled_from(
    [
        "النمسا",
        "موعد",
        " ",
        "\n",
        "AT",
        "Brazil",
        "/untoc",
        "Africa/Lagos",
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        ":",
        "«",
        "»",
        "12",
        "٣",
        "&amp;",
        "&lt;",
        "&#39;",
        "&",
        "<",
        ">",
        "<b>",
        "</b>",
        "<code>/sub AT</code>",
        '<a href="https://x.org/?a=1&amp;b=2">x.org</a>',
        "<pre>a\nb</pre>",
        "`/untoc list`",
        "<https://x.org|الصفحة>",
        "<@U1>",
        "*",
        "_",
        "~",
        "https://example.org/a_(b)/c",
        "e\u0301",
        "\u200d",
        "\u2066",  # an isolate already there (LRI), unterminated or closed by PDI below
        "\u2069",
    ]
)
TEXTS = st.one_of(
    st.lists(PIECES, max_size=25).map("".join),
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters=f"{FSI}{PDI}"),
        max_size=60,
    ),
)


@settings(max_examples=200, deadline=None)
@given(TEXTS, st.sampled_from(["html", "mrkdwn", "plain"]))
def test_removing_the_isolates_gives_back_the_input(text, markup):
    result = isolate(text, markup)
    added = len(result) - len(text)
    assert result.count(FSI) - text.count(FSI) == result.count(PDI) - text.count(PDI)
    assert added == 2 * (result.count(FSI) - text.count(FSI))
    # Only isolates were inserted: take out as many as were added, input comes back.
    inserted = _inserted(text, result)
    assert all(char in (FSI, PDI) for char in inserted)
    assert isolate(result, markup) == result  # isolating twice changes nothing more


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES.filter(lambda p: p not in ("\u2066", "\u2069")), max_size=25).map("".join))
def test_removing_the_isolates_gives_back_the_input_exactly(text):
    for markup in ("html", "mrkdwn", "plain"):
        assert strip_isolates(isolate(text, markup)) == text


TEXT = st.lists(
    st.sampled_from(
        [
            "النمسا",
            " ",
            "\n",
            "AT",
            "Brazil",
            "/untoc",
            "(",
            ")",
            ",",
            ".",
            "«",
            "12",
            "&amp;",
            "&lt;",
            "&#39;",
            "https://example.org/a_(b)/c",
        ]
    ),
    max_size=6,
).map("".join)
TELEGRAM_HTML = st.recursive(
    TEXT,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map("".join),
        inner.map(lambda text: f"<b>{text}</b>"),
        inner.map(lambda text: f"<i>{text}</i>"),
        TEXT.map(lambda text: f"<code>{text}</code>"),
        TEXT.map(lambda text: f"<pre>{text}</pre>"),
        TEXT.map(lambda text: f'<a href="https://x.org/?a=1&amp;b=2">{text}</a>'),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(TELEGRAM_HTML)
def test_telegram_html_stays_valid_with_the_same_tags_and_text(text):
    before = parse_html(text)  # valid to start with, as Telegram reads it
    result = isolate(text, "html")
    assert strip_isolates(parse_html(result)) == before
    assert tags(result) == tags(text)
    for name in ("code", "a", "pre"):
        assert not any(ISOLATES.search(element) for element in elements(result, name))


def _inserted(original: str, result: str) -> list[str]:
    """The characters `result` has in addition to `original`, which it contains in order."""
    extra: list[str] = []
    at = 0
    for char in result:
        if at < len(original) and original[at] == char:
            at += 1
        else:
            extra.append(char)
    assert at == len(original)
    return extra
