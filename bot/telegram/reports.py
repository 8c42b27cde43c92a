"""/report, and the answers to the service's questions: what subscribers tell us.

`/report AT self-assessment 2027-01-15 https://...` (the words of /record) sends a report
in one line; `/report` alone asks, in a private chat, for the country (typed), the step
(buttons), the day and the evidence (typed), one message at a time. A question about a
step that passed unrecorded (sent by the delivery loop) is answered with its buttons:
"It happened" continues as a guided report of that step, from the day on; "Not yet" and
"I don't know" close it. Every report waits for an operator (`Store.submit_report`).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.db.reports import answer_question
from bot.filters.vocabulary import NotUnderstood, TooLong
from bot.telegram import callbacks
from bot.telegram.callbacks import Press, StaleButton
from bot.telegram.channel import escape
from bot.telegram.chats import Context, Turn, UpdateHandler, command_text, handler, turn_of
from bot.text.reports import DATE_EXAMPLE, REPORT_EXAMPLE, problems_text, queued_text
from feeds.reports import (
    Draft,
    Origin,
    Problem,
    ReportRefused,
    check_report,
    parse_day,
    parse_line,
)
from schedulers.timeline import MECHANISM_ZONE

log = logging.getLogger(__name__)

GUIDED = "report_in_progress"
CANCEL = "x"
STEP = "s"
MAX_TYPED = 1000
# Problems the reporter can mend by sending other evidence: the guided report waits for it.
EVIDENCE_PROBLEMS = frozenset(
    {"no_evidence", "too_long", "control_characters", "markup", "bad_link", "private_link"}
)


def _reporter(turn: Turn) -> str:
    """The person reporting (limits and blocks follow them), not the chat."""
    return f"telegram:{turn.user_id if turn.user_id is not None else turn.place.chat_id}"


def _state(turn: Turn) -> dict[str, Any] | None:
    chat_data = turn.context.chat_data
    found = chat_data.get(GUIDED) if chat_data is not None else None
    return found if isinstance(found, dict) else None


def _keep(turn: Turn, state: dict[str, Any] | None) -> None:
    chat_data = turn.context.chat_data
    if chat_data is None:
        return
    if state is None:
        chat_data.pop(GUIDED, None)
    else:
        chat_data[GUIDED] = state


def _cancel_keyboard(turn: Turn) -> InlineKeyboardMarkup:
    data = callbacks.encode(callbacks.REPORT, CANCEL)
    return InlineKeyboardMarkup([[InlineKeyboardButton(turn.texts("Cancel"), callback_data=data)]])


async def _refused(turn: Turn, problems: list[Problem]) -> None:
    await turn.reply("\n".join(escape(line) for line in problems_text(turn.texts, problems)))


@handler
async def report(turn: Turn) -> None:
    """/report [COUNTRY [cN] STEP DATE EVIDENCE...]."""
    text = command_text(turn)
    if not text:
        if not turn.place.private:
            usage = turn.texts(
                "Guided reports work in a private chat with me. Here, write it in one line: "
                "{example}"
            ).format(example=REPORT_EXAMPLE)
            await turn.reply(escape(usage))
            return
        _keep(turn, {"stage": "country", "origin": "telegram"})
        await turn.reply(
            escape(turn.texts("Which country? Type its name or code.")), _cancel_keyboard(turn)
        )
        return
    _keep(turn, None)
    try:
        draft = parse_line(text)
    except ReportRefused as refused:
        await _refused(turn, refused.problems)
        return
    await _submit(turn, draft, "telegram", None)


async def _submit(turn: Turn, draft: Draft, origin: Origin, question: str | None) -> list[Problem]:
    """Check the report, queue it for the operators, and thank the reporter (or say why not)."""
    services = turn.services
    now = services.clock()
    dataset = (await services.publisher.snapshot()).dataset

    def country_of(text: str) -> str | None:
        try:
            return services.vocabulary.country(text, turn.texts)
        except (NotUnderstood, TooLong):
            return None

    try:
        checked = check_report(
            draft,
            dataset=dataset,
            country_of=country_of,
            origin=origin,
            reporter=_reporter(turn),
            language=turn.texts.language,
            today=now.astimezone(MECHANISM_ZONE).date(),
        )
        async with services.transaction() as session:
            subscriber_id = (await turn.registered(session)).id
        number = await services.store.submit_report(checked, subscriber_id=subscriber_id, now=now)
    except ReportRefused as refused:
        await _refused(turn, refused.problems)
        return refused.problems
    if question is not None:
        async with services.transaction() as session:
            await answer_question(session, subscriber_id, question, "happened", now)
    log.info("telegram: report %d queued from chat %s", number, turn.place.chat_id)
    await turn.reply(escape(queued_text(turn.texts, number)))
    return []


def typed_or(otherwise: UpdateHandler) -> UpdateHandler:
    """Text in a private chat: the next answer of a guided report, else `otherwise`."""

    async def route(update: Update, context: Context) -> None:
        chat_data = context.chat_data
        if chat_data is None or not isinstance(chat_data.get(GUIDED), dict):
            await otherwise(update, context)
            return
        turn = await turn_of(update, context)
        if turn is not None:
            await _typed(turn)

    return route


async def _typed(turn: Turn) -> None:
    state = _state(turn)
    assert state is not None
    message = turn.update.effective_message
    text = (message.text or "").strip() if isinstance(message, Message) else ""
    texts = turn.texts
    if len(text) > MAX_TYPED:
        await _refused(turn, [Problem("too_long", {"limit": str(MAX_TYPED)})])
        return
    stage = state.get("stage")
    if stage == "country":
        try:
            code = turn.services.vocabulary.country(text, texts)
        except (NotUnderstood, TooLong):
            await turn.reply(
                escape(texts("Unknown country {text}.").format(text=text[:40])),
                _cancel_keyboard(turn),
            )
            return
        _keep(turn, {**state, "stage": "step", "country": code})
        await turn.reply(
            escape(
                texts("Which step of the review of {country}?").format(country=texts.country(code))
            ),
            _steps_keyboard(turn),
        )
    elif stage == "date":
        day = parse_day(text)
        if day is None:
            await _refused(turn, [Problem("not_a_date", {"text": text[:20]})])
            return
        _keep(turn, {**state, "stage": "evidence", "date": day.isoformat()})
        await turn.reply(
            escape(texts("Where can we check it? Send a link, or a few words of evidence.")),
            _cancel_keyboard(turn),
        )
    elif stage == "evidence":
        draft = Draft(state["country"], state["step"], state["date"], text, state["cluster"])
        problems = await _submit(
            turn, draft, state.get("origin", "telegram"), state.get("question")
        )
        if not problems or not {p.code for p in problems} <= EVIDENCE_PROBLEMS:
            _keep(turn, None)  # done, or nothing the next message could mend
    else:  # waiting for a button: say which
        await turn.reply(escape(texts("Choose one of the buttons above, or cancel.")))


def _steps_keyboard(turn: Turn) -> InlineKeyboardMarkup:
    rows = []
    for step in turn.services.dataset.milestones.values():
        data = callbacks.encode(callbacks.REPORT, STEP, step.id)
        if data is not None:
            rows.append([InlineKeyboardButton(turn.texts(step.title), callback_data=data)])
    rows.append([InlineKeyboardButton(turn.texts("Cancel"), callback_data=f"{callbacks.REPORT}:x")])
    return InlineKeyboardMarkup(rows)


def _ask_date(turn: Turn) -> str:
    return escape(
        turn.texts("On what day did it happen? Write it as YYYY-MM-DD, for example {example}.")
    ).format(example=DATE_EXAMPLE)


async def on_report_button(turn: Turn, press: Press) -> None:
    """A step chosen, or Cancel, in a guided report."""
    state = _state(turn)
    action = press.arg(0)
    if action == CANCEL:
        _keep(turn, None)
        await turn.answer()
        await turn.show(escape(turn.texts("Report cancelled.")))
        return
    step = press.arg(1)
    if action != STEP or state is None or step not in turn.services.dataset.milestones:
        raise StaleButton(f"report {action}")
    _keep(turn, {**state, "stage": "date", "step": step, "cluster": state.get("cluster", 1)})
    await turn.answer()
    await turn.show(_ask_date(turn), _cancel_keyboard(turn))


async def on_question_button(turn: Turn, press: Press) -> None:
    """It happened / Not yet / I don't know, under a question about a step."""
    answer, deadline_id = press.arg(0), press.arg(1)
    deadline = {d.id: d for d in await turn.services.publisher.deadlines()}.get(deadline_id)
    if answer not in ("y", "n", "d") or deadline is None or deadline.milestone is None:
        raise StaleButton(f"question {answer}")
    texts = turn.texts
    now = turn.services.clock()
    async with turn.services.transaction() as session:
        subscriber = await turn.subscriber(session)
        if subscriber is None:
            raise StaleButton("question for a chat without a subscriber")
        if answer != "y":
            state = "not_yet" if answer == "n" else "dismissed"
            closed = await answer_question(session, subscriber.id, deadline_id, state, now)
    if answer == "y":
        _keep(
            turn,
            {
                "stage": "date",
                "origin": "question",
                "question": deadline_id,
                "country": deadline.country,
                "cluster": deadline.cluster or 1,
                "step": deadline.milestone,
            },
        )
        await turn.answer()
        await turn.reply(_ask_date(turn), _cancel_keyboard(turn))
        return
    await turn.answer()
    if not closed:
        await turn.show(escape(texts("This question was answered already. Thank you.")))
    elif answer == "n":
        await turn.show(escape(texts("Thank you: we noted that it has not happened yet.")))
    else:
        await turn.show(escape(texts("Thank you all the same.")))
