"""Alerts as Slack Block Kit messages, and the mrkdwn every Slack text is written in.

Laying out is pure (`layout`): the words come from `bot.text.wording`, this module only puts
them in blocks within Slack's limits, escapes every text that came from the dataset or
a watched page, writes timed deadlines as `<!date^...>` so each reader sees them in
their own time zone, next to the time as announced, and isolates the left-to-right
stretches of every text for a right-to-left reader (`bot.text.bidi`). The mrkdwn helpers
(`escape`, `clip`, `link`, `date_token`) also serve the answers to `/untoc`.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.channels.base import Alert
from bot.text.bidi import Markup, isolate
from bot.text.i18n import Texts
from bot.text.wording import Wording, word
from schedulers.timeline import Deadline

HEADER_MAX = 150
SECTION_MAX = 3000
CONTEXT_MAX = 3000
MAX_BLOCKS = 50
MESSAGE_TEXT_MAX = 40_000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30
CONFIRM_LIMITS = {
    "title": CONFIRM_TITLE_MAX,
    "text": CONFIRM_TEXT_MAX,
    "confirm": CONFIRM_BUTTON_MAX,
    "deny": CONFIRM_BUTTON_MAX,
}


def escape(text: str) -> str:
    """Text safe inside Slack mrkdwn: `&`, `<` and `>` cannot open a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with an ellipsis when it was cut.

    A cut never splits an escape such as `&amp;`, which would show as broken text.
    """
    if len(text) <= limit:
        return text
    return text[: _cut_point(text, limit - 1)].rstrip() + "…"


def _cut_point(text: str, at: int) -> int:
    amp = text.rfind("&", max(0, at - 4), at)
    return amp if amp != -1 and ";" not in text[amp:at] else at


def is_web_url(url: str | None) -> bool:
    """True for an http(s) address, the only kind we turn into a link."""
    return bool(url) and str(url).startswith(("https://", "http://")) and " " not in str(url)


def link(url: str, label: str) -> str:
    """A mrkdwn link, or the escaped label alone when `url` is not a web address."""
    if not is_web_url(url):
        return escape(label)
    target = escape(url.replace("|", "%7C"))
    return f"<{target}|{escape(label.replace('|', '/'))}>"


def date_token(moment: dt.datetime, fallback: str) -> str:
    """A moment every reader sees in their own zone; `fallback` shows where that fails."""
    stamp = int(moment.timestamp())
    return f"<!date^{stamp}^{{date_long_pretty}} {{time}}|{escape(fallback)}>"


@dataclass(frozen=True)
class SlackMessage:
    """What is posted: a plain-text fallback for notifications and the blocks."""

    text: str
    blocks: list[dict[str, Any]]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or "-", "emoji": True}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn, SECTION_MAX)}}


def _context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(mrkdwn, CONTEXT_MAX)}]}


def chunks(text: str, size: int) -> list[str]:
    """Split `text` into pieces of at most `size`, at line breaks where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        if cut <= 0:
            cut = _cut_point(rest, size) or size
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest:
        pieces.append(rest)
    return pieces


def _when_lines(deadline: Deadline, wording: Wording, texts: Texts) -> list[str]:
    label = texts("When")
    if isinstance(deadline.due, dt.datetime):
        announced = wording.when_announced or wording.when or ""
        return [
            f"*{escape(label)}:* {date_token(deadline.due, wording.when or announced)}",
            "*" + escape(texts("As announced")) + f":* {escape(announced)}",
        ]
    return [f"*{escape(label)}:* {escape(wording.when or '')}"]


def _buttons(
    texts: Texts, wording: Wording, calendar_url: str | None, actions: bool
) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    if calendar_url and is_web_url(calendar_url) and len(calendar_url) <= BUTTON_URL_MAX:
        buttons.append(
            {
                "type": "button",
                "action_id": "calendar",
                "text": _plain(texts("Add to calendar"), BUTTON_TEXT_MAX),
                "url": calendar_url,
            }
        )
    if not actions:
        return buttons
    if wording.deadline_id and len(wording.deadline_id) <= BUTTON_VALUE_MAX:
        buttons.append(
            {
                "type": "button",
                "action_id": "ack",
                "style": "primary",
                "text": _plain(texts("Done / registered"), BUTTON_TEXT_MAX),
                "value": wording.deadline_id,
            }
        )
    if wording.country:
        name = texts.country(wording.country)
        buttons.append(
            {
                "type": "button",
                "action_id": "mute",
                "text": _plain(texts("Mute this country"), BUTTON_TEXT_MAX),
                "value": wording.country,
                "confirm": {
                    "title": _plain(
                        texts("Mute {country}?").format(country=name), CONFIRM_TITLE_MAX
                    ),
                    "text": _plain(
                        texts(
                            "This channel stops getting alerts about {country}; "
                            "/untoc subscribe {code} brings them back."
                        ).format(country=name, code=wording.country),
                        CONFIRM_TEXT_MAX,
                    ),
                    "confirm": _plain(texts("Mute"), CONFIRM_BUTTON_MAX),
                    "deny": _plain(texts("Cancel"), CONFIRM_BUTTON_MAX),
                },
            }
        )
    return buttons


# The answers to a question about a step, as Telegram offers them: it happened (a report
# follows), not yet, I don't know.
QUESTION_ACTIONS = {"question_yes": "y", "question_no": "n", "question_unknown": "d"}


def question_buttons(texts: Texts, deadline_id: str) -> list[dict[str, Any]]:
    """The three answers under a question; none when the id cannot ride in a button."""
    if len(deadline_id) > BUTTON_VALUE_MAX:
        return []
    labels = {
        "question_yes": texts("It happened"),
        "question_no": texts("Not yet"),
        "question_unknown": texts("I don't know"),
    }
    return [
        {
            "type": "button",
            "action_id": action,
            "text": _plain(label, BUTTON_TEXT_MAX),
            "value": deadline_id,
            **({"style": "primary"} if action == "question_yes" else {}),
        }
        for action, label in labels.items()
    ]


def _fallback(lines: list[str | None]) -> str:
    return clip(escape("\n".join(line for line in lines if line)), MESSAGE_TEXT_MAX)


def _deadline_message(
    alert: Alert,
    deadline: Deadline,
    wording: Wording,
    texts: Texts,
    calendar_url: str | None,
    actions: bool,
) -> SlackMessage:
    facts = _when_lines(deadline, wording, texts)
    facts.append(
        "*" + escape(texts("Status")) + f":* {escape(wording.status or '')} · "
        "*" + escape(texts("Confidence")) + f":* {escape(wording.confidence or '')}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(wording.headline, HEADER_MAX)},
        _section("\n".join(facts)),
    ]
    if wording.hint:
        label = escape(texts("What to do now"))
        blocks.append(_section(f"*{label}:* {escape(wording.hint)}"))
    if wording.note:
        # Leave room for the source line and the buttons, which must never be cut off.
        pieces = chunks(escape(wording.note), SECTION_MAX)[: MAX_BLOCKS - len(blocks) - 3]
        blocks.extend(_section(piece) for piece in pieces)
    sources = []
    if wording.source:
        label = escape(texts("Source"))
        sources.append(f"{label}: {escape(wording.source)}")
    if wording.url and is_web_url(wording.url):
        sources.append(link(wording.url, texts("Open the page")))
    if sources:
        blocks.append(_context(" · ".join(sources)))
    if alert.kind == "question":
        buttons = question_buttons(texts, deadline.id) if actions else []
    else:
        buttons = _buttons(texts, wording, calendar_url, actions)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    fallback = _fallback(
        [
            wording.headline,
            wording.when,
            wording.when_announced,
            f"{wording.status} · {wording.confidence}",
            wording.hint,
            wording.url,
        ]
    )
    return SlackMessage(text=fallback, blocks=blocks[:MAX_BLOCKS])


def _text_message(wording: Wording, texts: Texts, calendar_url: str | None) -> SlackMessage:
    """A message without one deadline (a digest, a notice): a header if short, then text."""
    headline = wording.headline or ""
    blocks: list[dict[str, Any]] = []
    body = wording.note or ""
    if headline and len(headline) <= HEADER_MAX and "\n" not in headline:
        blocks.append({"type": "header", "text": _plain(headline, HEADER_MAX)})
    else:
        body = f"{headline}\n{body}".strip("\n")
    pieces = chunks(escape(body), SECTION_MAX)
    room = MAX_BLOCKS - len(blocks) - 3  # the cut notice, the link and the buttons
    blocks.extend(_section(piece) for piece in pieces[:room])
    if len(pieces) > room:
        blocks.append(_context(escape(texts("The rest of this message was cut: it is too long."))))
    if wording.url and is_web_url(wording.url):
        blocks.append(_context(link(wording.url, texts("Open the page"))))
    buttons = _buttons(texts, wording, calendar_url, actions=False)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return SlackMessage(
        text=_fallback([headline, wording.note, wording.url]), blocks=blocks[:MAX_BLOCKS]
    )


def layout(
    alert: Alert,
    texts: Texts,
    zone: str,
    now: dt.datetime,
    *,
    calendar_url: str | None = None,
    actions: bool = True,
) -> SlackMessage:
    """The Slack message for `alert`, for readers in `zone`; `actions` adds ack and mute."""
    wording = word(alert, texts, zone, now)
    if alert.deadline is None:
        message = _text_message(wording, texts, calendar_url)
    else:
        message = _deadline_message(alert, alert.deadline, wording, texts, calendar_url, actions)
    return readable(message, texts.direction)


def readable(message: SlackMessage, direction: str) -> SlackMessage:
    """The message with every text's left-to-right stretches isolated, when read right to
    left. A text the isolates would push over its field's limit stays as it was: better
    unisolated than cut."""
    if direction != "rtl":
        return message
    blocks = copy.deepcopy(message.blocks)
    for block in blocks:
        if block["type"] in ("header", "section"):
            _isolate_field(block["text"], HEADER_MAX if block["type"] == "header" else SECTION_MAX)
        for element in block.get("elements", ()):
            if block["type"] == "context":
                _isolate_field(element, CONTEXT_MAX)
                continue
            _isolate_field(element["text"], BUTTON_TEXT_MAX)
            confirm = element.get("confirm", {})
            for key, limit in CONFIRM_LIMITS.items():
                if key in confirm:
                    _isolate_field(confirm[key], limit)
    text = isolate(message.text, "mrkdwn")
    return SlackMessage(text=text if len(text) <= MESSAGE_TEXT_MAX else message.text, blocks=blocks)


def _isolate_field(field: dict[str, Any], limit: int) -> None:
    markup: Markup = "mrkdwn" if field["type"] == "mrkdwn" else "plain"
    text = isolate(field["text"], markup)
    if len(text) <= limit:
        field["text"] = text
