"""The buttons under a Slack alert: "Done / registered" and "Mute this country".

A press arrives (signed, like every request) with the channel it was made in and the
button's value: a deadline id or a country code. Both are checked against what the
service knows before anything is stored, and the answer is seen only by whoever pressed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.db import subscribers as subs
from bot.db.store import Store
from bot.publishing.publisher import Publisher
from bot.slack.channel import APP_TARGET
from bot.slack.layout import escape
from bot.text.bidi import isolate
from bot.text.i18n import Texts
from bot.text.wording import title_of
from config.dataset import Dataset
from schedulers.dates import Clock

ACK = "ack"
MUTE = "mute"
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,40}$")
MAX_VALUE = 200


@dataclass(frozen=True)
class ButtonPress:
    """One press of an alert's button: where, by whom, which button, with what value."""

    channel_id: str
    user_id: str
    action_id: str
    value: str

    @classmethod
    def from_payload(cls, payload: object) -> ButtonPress | None:
        """The press in a `block_actions` payload, or None if the payload is malformed."""
        if not isinstance(payload, dict):
            return None
        channel, user, actions = payload.get("channel"), payload.get("user"), payload.get("actions")
        if not (isinstance(channel, dict) and isinstance(user, dict) and isinstance(actions, list)):
            return None
        if not actions or not isinstance(actions[0], dict):
            return None
        channel_id, user_id = channel.get("id"), user.get("id")
        action_id, value = actions[0].get("action_id"), actions[0].get("value")
        if not isinstance(channel_id, str) or not _SLACK_ID.match(channel_id):
            return None
        if not isinstance(user_id, str) or not isinstance(action_id, str):
            return None
        if not isinstance(value, str) or not value or len(value) > MAX_VALUE:
            return None
        return cls(channel_id, user_id, action_id, value)


class AlertButtons:
    """Applies button presses to the channel's subscription."""

    def __init__(
        self,
        store: Store | None,
        publisher: Publisher,
        dataset: Dataset,
        clock: Clock,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.dataset = dataset
        self.clock = clock

    async def __call__(self, press: ButtonPress) -> str:
        """What to tell whoever pressed (mrkdwn), after applying the press."""
        text, texts = await self._apply(press)
        return isolate(text, "mrkdwn", texts.direction)

    async def _apply(self, press: ButtonPress) -> tuple[str, Texts]:
        """The press applied; what to say about it, and in which language."""
        if self.store is None:
            texts = Texts("en")
            return texts(
                "The service cannot store subscriptions right now; tell its operator."
            ), texts
        async with self.store.sessions() as session, session.begin():
            subscriber = await subs.find_subscriber(session, APP_TARGET, press.channel_id)
            texts = Texts(subscriber.language if subscriber else "en")
            if subscriber is None or not subscriber.active:
                said = texts("This channel is not subscribed. Try `/untoc subscribe AT, tip`.")
                return said, texts
            now = self.clock()
            if press.action_id == ACK:
                deadline = next(
                    (d for d in await self.publisher.deadlines() if d.id == press.value), None
                )
                if deadline is None:
                    return texts("This deadline is no longer known; nothing was changed."), texts
                title = escape(title_of(deadline, texts))
                if not await subs.acknowledge(session, subscriber.id, deadline.id, now):
                    said = texts("Already marked as done in this channel: {title}.")
                    return said.format(title=title), texts
                said = texts(
                    "Marked as done in this channel: {title}. No more reminders about it here."
                )
                return said.format(title=title), texts
            if press.action_id == MUTE:
                code = press.value.upper()
                if code not in self.dataset.states:
                    return texts("This country is not known; nothing was changed."), texts
                await subs.mute_country(session, subscriber, code, now)
                said = texts(
                    "Alerts about {country} are muted in this channel. "
                    "`/untoc subscribe {code}` brings them back."
                )
                return said.format(country=escape(texts.country(code)), code=code), texts
        return texts("This button does nothing any more."), texts
