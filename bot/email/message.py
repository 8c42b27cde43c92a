"""One alert as an email: plain text and HTML alternatives, and the headers lists need.

Pure: the wording comes from `bot.wording` in the subscriber's language, and the links
(calendar, manage, one-click unsubscribe) from the caller. The message carries what
mail clients and lists expect of a notification service: `List-Unsubscribe` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), `List-Id`, and a
`Message-ID` that is the same every time the same alert is built, so a retry after an
unrecorded send is recognisable as the same message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.channels.base import Alert, Target
from bot.text.i18n import Texts
from bot.text.wording import Wording, word
from config.urls import web_url

LIST_NAME = "UNTOC Watch alerts"


@dataclass(frozen=True)
class Links:
    """The subscriber's own links, each None when there is none."""

    calendar: str | None = None
    manage: str | None = None
    unsubscribe: str | None = None


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("bot.email", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _labels(texts: Texts, kind: str = "reminder") -> dict[str, str]:
    if kind == "confirm":  # nobody is subscribed yet: the link is the whole message
        return {
            "now": texts("What to do now") + ":",
            "source": texts("Source") + ":",
            "more": texts("Confirm my subscription"),
            "calendar": texts("Add to calendar"),
            "why": texts("If it was not you, ignore this message: nothing more will be sent."),
            "manage": texts("Change what you receive"),
            "unsubscribe": texts("Unsubscribe"),
        }
    return {
        "now": texts("What to do now") + ":",
        "source": texts("Source") + ":",
        "more": texts("Details"),
        "calendar": texts("Add to calendar"),
        "why": texts("You receive this because you subscribed to UNTOC Watch alerts."),
        "manage": texts("Change what you receive"),
        "unsubscribe": texts("Unsubscribe"),
    }


def plain_text(wording: Wording, texts: Texts, links: Links, kind: str = "reminder") -> str:
    """The plain-text alternative: the same parts as the HTML, one per paragraph."""
    labels = _labels(texts, kind)
    parts = [wording.headline]
    if wording.title and wording.title != wording.headline:
        parts.append(wording.title)
    if wording.when:
        parts.append("\n".join(w for w in (wording.when, wording.when_announced) if w))
    if wording.status:
        parts.append(" · ".join(w for w in (wording.status, wording.confidence) if w))
    if wording.hint:
        parts.append(f"{labels['now']} {wording.hint}")
    if wording.note:
        parts.append(wording.note)
    if wording.source:
        parts.append(f"{labels['source']} {wording.source}")
    if wording.url:
        parts.append(f"{labels['more']}: {wording.url}")
    if links.calendar:
        parts.append(f"{labels['calendar']}: {links.calendar}")
    footer = [labels["why"]]
    if links.manage:
        footer.append(f"{labels['manage']}: {links.manage}")
    if links.unsubscribe:
        footer.append(f"{labels['unsubscribe']}: {links.unsubscribe}")
    parts.append("-- \n" + "\n".join(footer))
    return "\n\n".join(parts) + "\n"


def message_id(alert: Alert, target: Target, domain: str) -> str:
    """The same `Message-ID` for the same alert to the same address, on every attempt."""
    digest = hashlib.sha256(f"{alert.key}|{target.address}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(
    alert: Alert,
    target: Target,
    *,
    sender: str,
    links: Links,
    now: dt.datetime,
) -> EmailMessage:
    """The email for `alert` to `target`, in the target's language and zone."""
    texts = Texts(target.language)
    wording = word(alert, texts, target.timezone, now)
    wording = replace(wording, url=web_url(wording.url))
    links = Links(web_url(links.calendar), web_url(links.manage), web_url(links.unsubscribe))
    name, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["Subject"] = " ".join(wording.headline.split())[:200]
    message["From"] = Address(display_name=name or "UNTOC Watch", addr_spec=address)
    message["To"] = target.address
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = message_id(alert, target, domain)
    message["List-Id"] = f"{LIST_NAME} <alerts.{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    if links.unsubscribe:
        message["List-Unsubscribe"] = f"<{links.unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(plain_text(wording, texts, links, alert.kind))
    html = (
        _templates()
        .get_template("alert.html")
        .render(
            wording=wording,
            labels=_labels(texts, alert.kind),
            language=target.language,
            direction=texts.direction,
            calendar=links.calendar,
            manage=links.manage,
            unsubscribe=links.unsubscribe,
        )
    )
    message.add_alternative(html, subtype="html")
    message["Content-Language"] = target.language  # after the parts: set_content clears it
    return message
