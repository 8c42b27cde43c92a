"""`/untoc report`: a subscriber tells us a date, in one line or through a Block Kit modal.

`/untoc report AT self-assessment 2027-01-15 https://...` takes the words of
`untoc-watch record`; `/untoc report` alone opens a modal (`views.open` with the
command's trigger_id) asking for the country, the step, the day and the evidence, in the
channel's language. Its `view_submission` is checked like a line: problems go back to
the modal's fields (`response_action: errors`), a good report is queued for the
operators and the reporter hears the thanks in the channel, seen by them only. The
channel is told the operators' decision later, through the outbox.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.db import subscribers as subs
from bot.db.reports import answer_question
from bot.db.store import Store
from bot.filters.vocabulary import NotUnderstood, TooLong, Vocabulary
from bot.publishing.publisher import Publisher
from bot.slack.channel import APP_TARGET
from bot.slack.layout import escape
from bot.text.i18n import LANGUAGES, Texts
from bot.text.reports import SLACK_REPORT_EXAMPLE, problems_text, queued_text
from feeds.reports import Draft, Problem, ReportRefused, check_report, parse_line
from schedulers.dates import Clock
from schedulers.timeline import MECHANISM_ZONE

log = logging.getLogger("untoc_watch.slack")

REPORT_VIEW = "untoc_report"
FIELD = "value"
# Which field of the modal a problem belongs to.
FIELD_OF = {
    "unknown_country": "country",
    "unknown_step": "step",
    "unknown_cluster": "step",
    "unknown_event": "step",
    "not_a_date": "date",
    "future": "date",
    "out_of_range": "date",
    "bad_link": "link",
    "private_link": "link",
}
MAX_LINK = 2000
MAX_WORDS = 500


@dataclass(frozen=True)
class Submission:
    """What the modal's submission asks of Slack: errors to show, or a thanks to post."""

    errors: dict[str, str] | None
    channel: str | None = None
    user: str | None = None
    thanks: str | None = None


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": False}


def report_modal(
    texts: Texts,
    steps: list[tuple[str, str]],
    metadata: dict[str, str],
    *,
    country: str | None = None,
    step: str | None = None,
) -> dict[str, Any]:
    """The modal of a report, in the channel's language; `metadata` comes back on submit."""
    options = [{"text": _plain(title), "value": step_id} for step_id, title in steps]
    select: dict[str, Any] = {"type": "static_select", "action_id": FIELD, "options": options}
    chosen = [o for o in options if o["value"] == step]
    if chosen:
        select["initial_option"] = chosen[0]
    country_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": FIELD,
        "max_length": 60,
    }
    if country:
        country_input["initial_value"] = country
    return {
        "type": "modal",
        "callback_id": REPORT_VIEW,
        "private_metadata": json.dumps(metadata),
        "title": _plain(texts("Report a date"), 24),
        "submit": _plain(texts("Send"), 24),
        "close": _plain(texts("Cancel"), 24),
        "blocks": [
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": escape(
                            texts(
                                "An operator checks every report before anything changes; "
                                "you will be told the outcome in this channel."
                            )
                        ),
                    }
                ],
            },
            {
                "type": "input",
                "block_id": "country",
                "label": _plain(texts("Country")),
                "element": country_input,
            },
            {
                "type": "input",
                "block_id": "step",
                "label": _plain(texts("Step")),
                "element": select,
            },
            {
                "type": "input",
                "block_id": "date",
                "label": _plain(texts("Day it happened")),
                "element": {"type": "datepicker", "action_id": FIELD},
            },
            {
                "type": "input",
                "block_id": "link",
                "optional": True,
                "label": _plain(texts("Link to the evidence")),
                "element": {"type": "url_text_input", "action_id": FIELD},
            },
            {
                "type": "input",
                "block_id": "words",
                "optional": True,
                "label": _plain(texts("Or a few words of evidence")),
                "element": {
                    "type": "plain_text_input",
                    "action_id": FIELD,
                    "multiline": True,
                    "max_length": MAX_WORDS,
                },
            },
        ],
    }


def _field(values: Any, block: str) -> str:
    """One field of a submitted modal, whatever its element type; '' if absent."""
    found = values.get(block, {}).get(FIELD, {}) if isinstance(values, dict) else {}
    if not isinstance(found, dict):
        return ""
    option = found.get("selected_option")
    value = (
        found.get("value")
        or found.get("selected_date")
        or (option.get("value") if isinstance(option, dict) else None)
    )
    return value if isinstance(value, str) else ""


class SlackReports:
    """Reports from Slack channels: the line, the modal, its submission."""

    def __init__(
        self, store: Store | None, publisher: Publisher, vocabulary: Vocabulary, clock: Clock
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.vocabulary = vocabulary
        self.clock = clock

    async def texts(self, channel: str) -> Texts:
        """The channel's language, as its subscription says."""
        if self.store is None:
            return Texts("en")
        async with self.store.sessions() as session:
            found = await subs.find_subscriber(session, APP_TARGET, channel)
        return Texts(found.language if found and found.language in LANGUAGES else "en")

    def steps(self, texts: Texts) -> list[tuple[str, str]]:
        return [(s.id, texts(s.title)) for s in self.publisher.dataset.milestones.values()]

    async def line(self, channel: str, user: str, rest: str) -> str:
        """`/untoc report COUNTRY STEP DATE EVIDENCE`: the answer, seen by the caller only."""
        texts = await self.texts(channel)
        try:
            draft = parse_line(rest)
        except ReportRefused as refused:
            return "\n".join(
                escape(p) for p in problems_text(texts, refused.problems, SLACK_REPORT_EXAMPLE)
            )
        problems, number = await self._submit(draft, channel, user, texts, "slack", None)
        if problems:
            return "\n".join(
                escape(p) for p in problems_text(texts, problems, SLACK_REPORT_EXAMPLE)
            )
        return escape(queued_text(texts, number))

    async def submitted(self, body: dict[str, Any]) -> Submission:
        """A modal's `view_submission`: errors for its fields, or the report queued."""
        found = body.get("view")
        view: dict[str, Any] = found if isinstance(found, dict) else {}
        user = body.get("user", {}).get("id") if isinstance(body.get("user"), dict) else None
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        channel = metadata.get("channel") if isinstance(metadata, dict) else None
        if not isinstance(channel, str) or not isinstance(user, str):
            return Submission({"country": "?"})
        texts = await self.texts(channel)
        values = (view.get("state") or {}).get("values") or {}
        link, words = _field(values, "link")[:MAX_LINK], _field(values, "words")[:MAX_WORDS]
        draft = Draft(
            _field(values, "country") or "-",
            _field(values, "step") or "-",
            _field(values, "date") or "-",
            f"{link} {words}".strip(),
        )
        question = metadata.get("question") or None
        origin = "question" if question else "slack"
        problems, number = await self._submit(draft, channel, user, texts, origin, question)
        if problems:
            errors: dict[str, str] = {}
            for problem in problems:
                block = FIELD_OF.get(problem.code, "words")
                (said,) = problems_text(texts, [problem])
                errors[block] = f"{errors[block]} {said}" if block in errors else said
            return Submission({k: v[:150] for k, v in errors.items()})
        return Submission(None, channel, user, escape(queued_text(texts, number)))

    async def _submit(
        self,
        draft: Draft,
        channel: str,
        user: str,
        texts: Texts,
        origin: str,
        question: str | None,
    ) -> tuple[list[Problem], int]:
        if self.store is None:
            return [Problem("blocked")], 0
        now = self.clock()
        dataset = (await self.publisher.snapshot()).dataset
        country_of: Callable[[str], str | None] = self._country_reader(texts)
        try:
            report = check_report(
                draft,
                dataset=dataset,
                country_of=country_of,
                origin="question" if origin == "question" else "slack",
                reporter=f"slack:{channel}/{user}",
                language=texts.language,
                today=now.astimezone(MECHANISM_ZONE).date(),
            )
            async with self.store.sessions() as session, session.begin():
                subscriber = await subs.ensure_subscriber(
                    session, channel=APP_TARGET, address=channel, now=now, language=texts.language
                )
                if not subscriber.filters and subscriber.created_at == now:
                    # reporting is not subscribing: a new channel gets no alerts
                    await subs.deactivate(session, subscriber.id, "not subscribed yet", now)
                subscriber_id = subscriber.id
            number = await self.store.submit_report(report, subscriber_id=subscriber_id, now=now)
        except ReportRefused as refused:
            return refused.problems, 0
        if question:
            async with self.store.sessions() as session, session.begin():
                await answer_question(session, subscriber_id, question, "happened", now)
        log.info("slack: report %d queued from %s", number, channel)
        return [], number

    async def question_answered(
        self, channel: str, deadline_id: str, answer: str
    ) -> tuple[str, dict[str, Any] | None]:
        """A press under a question about a step: (what to say, the modal to open or None).

        "It happened" opens the report's modal with the State and the step filled in;
        "Not yet" and "I don't know" close the question, as on Telegram.
        """
        texts = await self.texts(channel)
        deadline = {d.id: d for d in await self.publisher.deadlines()}.get(deadline_id)
        if deadline is None or deadline.milestone is None or deadline.country is None:
            return escape(texts("This question is no longer open.")), None
        if answer == "y":
            metadata = {"channel": channel, "question": deadline_id}
            view = report_modal(
                texts,
                self.steps(texts),
                metadata,
                country=texts.country(deadline.country),
                step=deadline.milestone,
            )
            return "", view
        if self.store is None:
            return escape(texts("The service cannot store answers right now.")), None
        now = self.clock()
        async with self.store.sessions() as session, session.begin():
            subscriber = await subs.find_subscriber(session, APP_TARGET, channel)
            state = "not_yet" if answer == "n" else "dismissed"
            closed = subscriber is not None and await answer_question(
                session, subscriber.id, deadline_id, state, now
            )
        if not closed:
            return escape(texts("This question was answered already. Thank you.")), None
        if answer == "n":
            return escape(texts("Thank you: we noted that it has not happened yet.")), None
        return escape(texts("Thank you all the same.")), None

    def _country_reader(self, texts: Texts) -> Callable[[str], str | None]:
        def read(text: str) -> str | None:
            try:
                return self.vocabulary.country(text, texts)
            except (NotUnderstood, TooLong):
                return None

        return read
