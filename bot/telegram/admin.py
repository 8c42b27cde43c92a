"""Operator commands, for the user ids in TELEGRAM_ADMIN_IDS only.

/stats, /record COUNTRY [cN] MILESTONE DATE SOURCE (checked as `untoc-watch record`
checks it), /approve and /reject for the watcher's proposals (without an id they list
the pending ones, with buttons), and /broadcast TEXT, which asks for a confirmation
before the alert engine queues the message for every subscriber. Anyone else gets a
polite refusal.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import secrets
from collections.abc import Awaitable, Callable

from bot.db.subscribers import subscriber_counts
from bot.db.watch import ProposalError
from bot.filters.vocabulary import NotUnderstood, TooLong
from bot.telegram import keyboards
from bot.telegram.callbacks import Press, StaleButton
from bot.telegram.channel import bold, escape
from bot.telegram.chats import Turn, command_text, handler
from config.dataset import Event
from feeds.reports import mask
from schedulers.timeline import MECHANISM_ZONE, Selection, upcoming

log = logging.getLogger(__name__)

MAX_BROADCAST_LENGTH = 3500
MAX_LISTED_PROPOSALS = 10
PENDING_BROADCAST = "pending_broadcast"
RECORD_EXAMPLE = "/record AT self-assessment 2022-04-30 https://www.unodc.org/..."


def operator_only(function: Callable[[Turn], Awaitable[None]]) -> Callable[[Turn], Awaitable[None]]:
    """Run `function` for operators; refuse everyone else politely."""

    async def guarded(turn: Turn) -> None:
        if not turn.is_operator:
            await turn.answer(
                turn.texts("Sorry, this command is for the operators of this service."),
                alert=True,
            )
            return
        await function(turn)

    return guarded


def _decided_by(turn: Turn) -> str:
    return f"telegram:{turn.user_id}"


@handler
@operator_only
async def stats(turn: Turn) -> None:
    """/stats: subscribers per channel, pending proposals, deadlines soon."""
    texts = turn.texts
    async with turn.services.transaction() as session:
        counts = await subscriber_counts(session)
    pending = await turn.services.store.proposals("pending")
    now = turn.services.clock()
    soon = upcoming(await turn.services.publisher.deadlines(), now, 30)
    lines = [bold(texts("Statistics"))]
    for channel in sorted({channel for channel, _ in counts}):
        line = texts("{channel}: {active} with alerts on, {inactive} off").format(
            channel=channel,
            active=counts.get((channel, True), 0),
            inactive=counts.get((channel, False), 0),
        )
        lines.append(escape(line))
    if not counts:
        lines.append(escape(texts("No subscribers yet.")))
    lines.append(escape(texts("Pending proposals: {count}").format(count=len(pending))))
    lines.append(escape(texts("Deadlines in the next 30 days: {count}").format(count=len(soon))))
    await turn.reply("\n".join(lines))


@handler
@operator_only
async def record(turn: Turn) -> None:
    """/record COUNTRY [cN] MILESTONE DATE SOURCE: an actual date of a review step."""
    texts = turn.texts
    dataset = turn.services.dataset
    words = command_text(turn).split()
    cluster = 1
    number = words[1][1:] if len(words) > 1 and words[1].lower().startswith("c") else ""
    if number.isascii() and number.isdigit():
        cluster = int(number)
        del words[1]
    if len(words) < 4 or len(command_text(turn)) > 1000:
        await turn.reply(escape(texts("Usage: {example}").format(example=RECORD_EXAMPLE)))
        return
    country_text, milestone, date_text, source = words[0], words[1], words[2], " ".join(words[3:])
    try:
        code = turn.services.vocabulary.country(country_text, texts)
    except (NotUnderstood, TooLong):
        await turn.reply(escape(texts("Unknown country {text}.").format(text=country_text[:40])))
        return
    problems = []
    if milestone not in dataset.milestones:
        close = difflib.get_close_matches(milestone, list(dataset.milestones), n=1)
        problems.append(
            texts("Unknown step {step}; known: {known}.").format(
                step=milestone[:60], known=", ".join(dataset.milestones)
            )
            + (" " + texts("Did you mean {step}?").format(step=close[0]) if close else "")
        )
    if cluster not in dataset.clusters:
        problems.append(texts("Unknown cluster {number}.").format(number=cluster))
    now = turn.services.clock()
    try:
        day = dt.date.fromisoformat(date_text)
    except ValueError:
        problems.append(
            texts("{text} is not a date; write YYYY-MM-DD.").format(text=date_text[:20])
        )
    else:
        if day > now.astimezone(MECHANISM_ZONE).date():
            problems.append(
                texts("{date} is in the future; record a step once it has happened.").format(
                    date=day
                )
            )
    if problems:
        await turn.reply("\n".join(escape(p) for p in problems))
        return
    await turn.services.store.record_milestone_date(
        country=code,
        cluster=cluster,
        milestone=milestone,
        date=day,
        source=source.strip(),
        recorded_by=_decided_by(turn),
        now=now,
    )
    await turn.reply(
        escape(
            texts("Recorded: {country}, cluster {number}, {step} completed on {date}.").format(
                country=texts.country(code), number=cluster, step=milestone, date=texts.date(day)
            )
        )
    )


@handler
@operator_only
async def approve(turn: Turn) -> None:
    """/approve [ID]: approve a proposal, or list the pending ones."""
    await _decide_command(turn, approving=True)


@handler
@operator_only
async def reject(turn: Turn) -> None:
    """/reject [ID]: reject a proposal, or list the pending ones."""
    await _decide_command(turn, approving=False)


async def _decide_command(turn: Turn, *, approving: bool) -> None:
    words = command_text(turn).split()
    if not words:
        await _list_pending(turn)
        return
    if len(words) != 1 or not words[0].isascii() or not words[0].isdigit() or len(words[0]) > 12:
        await turn.reply(escape(turn.texts("Usage: {example}").format(example="/approve 12")))
        return
    await turn.reply(await _decide(turn, int(words[0]), approving=approving))


async def _decide(turn: Turn, proposal_id: int, *, approving: bool) -> str:
    texts = turn.texts
    now = turn.services.clock()
    try:
        decided = await turn.services.store.decide_proposal(
            proposal_id, approve=approving, decided_by=_decided_by(turn), now=now
        )
    except ProposalError as error:
        return escape(str(error))
    told = " " + texts("The reporter will be told.") if decided.told_reporter else ""
    fact = decided.fact
    if fact is None:
        return escape(texts("Rejected proposal {number}.").format(number=proposal_id) + told)
    if isinstance(fact, Event):
        title, day = fact.title, fact.start
    else:
        title = texts("{country}, cluster {number}, {step}").format(
            country=texts.country(fact.country), number=fact.cluster, step=fact.milestone
        )
        day = fact.date
    return escape(
        texts("Approved proposal {number}: {title} on {date}.").format(
            number=proposal_id, title=title, date=texts.date(day)
        )
        + told
    )


async def _list_pending(turn: Turn) -> None:
    texts = turn.texts
    pending = await turn.services.store.proposals("pending")
    if not pending:
        await turn.reply(escape(texts("No proposal is waiting for a decision.")))
        return
    for proposal in pending[:MAX_LISTED_PROPOSALS]:
        origin: str = proposal.origin or "watcher"
        if proposal.reporter:
            origin += f" {mask(proposal.reporter)}"
        lines = [
            f"<b>#{proposal.id}</b> {escape(proposal.summary or proposal.kind)}",
            escape(f"{origin}, {proposal.created_at:%Y-%m-%d %H:%M} UTC"),
        ]
        if proposal.excerpt:
            lines.append(f"<i>{escape(proposal.excerpt[:500])}</i>")
        if proposal.url:
            lines.append(escape(proposal.url))
        await turn.reply("\n".join(lines), keyboards.proposal(texts, proposal.id))
    if len(pending) > MAX_LISTED_PROPOSALS:
        waiting = len(pending) - MAX_LISTED_PROPOSALS
        more = texts.plural("{count} more is waiting.", "{count} more are waiting.", waiting)
        await turn.reply(escape(more.format(count=waiting)))


async def on_proposal_button(turn: Turn, press: Press) -> None:
    """Approve or Reject under a listed proposal."""
    action, number = press.arg(0), press.arg(1)
    if action not in ("a", "r") or not number.isdigit():
        raise StaleButton(f"{action}:{number}")
    if not turn.is_operator:
        await turn.answer(
            turn.texts("Sorry, this command is for the operators of this service."), alert=True
        )
        return
    result = await _decide(turn, int(number), approving=action == "a")
    await turn.answer()
    await turn.show(result)


@handler
@operator_only
async def broadcast(turn: Turn) -> None:
    """/broadcast TEXT: show the message and ask for a confirmation."""
    texts = turn.texts
    text = command_text(turn)
    if not text or len(text) > MAX_BROADCAST_LENGTH:
        await turn.reply(
            escape(texts("Usage: {example}").format(example="/broadcast The May dialogue moved."))
        )
        return
    if turn.services.broadcast is None:
        await turn.reply(escape(texts("Broadcasting is not available in this process.")))
        return
    nonce = secrets.token_urlsafe(8)
    chat_data = turn.context.chat_data
    if chat_data is not None:
        chat_data[PENDING_BROADCAST] = (nonce, text)
    await turn.reply(
        escape(texts("Send this to every subscriber?")) + "\n\n" + escape(text),
        keyboards.broadcast_confirmation(texts, nonce),
    )


async def on_broadcast_button(turn: Turn, press: Press) -> None:
    """Send or Cancel under a broadcast preview."""
    texts = turn.texts
    action, nonce = press.arg(0), press.arg(1)
    if not turn.is_operator:
        await turn.answer(
            texts("Sorry, this command is for the operators of this service."), alert=True
        )
        return
    chat_data = turn.context.chat_data
    pending = chat_data.get(PENDING_BROADCAST) if chat_data is not None else None
    if action not in ("send", "cancel") or pending is None or pending[0] != nonce:
        raise StaleButton(nonce)
    assert chat_data is not None
    del chat_data[PENDING_BROADCAST]
    if action == "cancel":
        await turn.answer(texts("Cancelled."))
        await turn.show(escape(texts("Cancelled.")))
        return
    assert turn.services.broadcast is not None
    count = await turn.services.broadcast(pending[1], Selection())
    log.info("telegram: operator %s broadcast to %d subscribers", turn.user_id, count)
    await turn.answer(texts("Queued."))
    queued = texts.plural(
        "Queued for {count} subscriber.", "Queued for {count} subscribers.", count
    )
    await turn.show(escape(queued.format(count=count)))
