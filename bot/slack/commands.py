"""The `/untoc` slash command: one line in, the channel's subscription changed, an answer.

`/untoc subscribe AT, Brazil, tip` follows countries and themes; `unsubscribe`, `list`,
`upcoming [country]`, `country XX`, `calendar`, `settings` and `help` do what they say.
Parsing turns the line into values checked against the dataset (a typo gets "did you
mean"); the subscriber functions shared by every channel change the database; the
answer is Slack mrkdwn, with every dataset text escaped. An answer is seen by the
channel only when it changed the channel's subscription; otherwise only by the caller.
"""

from __future__ import annotations

import difflib
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.channels.base import personal_calendar_url
from bot.db import subscribers as subs
from bot.db.engine import Session
from bot.db.models import Subscriber
from bot.db.store import Store
from bot.filters.query import Query, query_string
from bot.filters.settings import NotUnderstood as NotASetting
from bot.filters.settings import read_setting, split_key
from bot.filters.vocabulary import NotUnderstood, TooLong, Vocabulary
from bot.publishing.publisher import Publisher
from bot.slack.answers import (
    SLACK_COMMANDS,
    UPCOMING_DAYS,
    deadline_line,
    describe,
    help_text,
    named,
    part_mrkdwn,
    reply_mrkdwn,
    settings_text,
    settings_usage,
)
from bot.slack.channel import APP_TARGET
from bot.slack.layout import clip, escape, link
from bot.slack.questions import ASKED, subcommand
from bot.slack.words import (
    ECHO_MAX,
    CommandProblem,
    parse_values,
    unknown_value,
)
from bot.text.answers import upcoming_answer
from bot.text.asked import (
    how_to_subscribe,
    next_dialogue,
    not_understood,
    which_country,
)
from bot.text.bidi import isolate
from bot.text.i18n import Texts
from bot.text.intents import Question, looks_like_a_question, read_question
from bot.text.review_answers import review_reply, unknown_group_note, unknown_groups
from config.countries import country_name
from config.dataset import Dataset
from config.vocabulary import ZONE
from schedulers.dates import Clock
from schedulers.review import country_review
from schedulers.rhythm import project
from schedulers.timeline import MECHANISM_ZONE, Selection, upcoming

SUBCOMMANDS = ("subscribe", "unsubscribe", "list", "upcoming", "country", "calendar", "settings")
HELP = "help"
MAX_COMMAND_TEXT = 500
MAX_LISTED = 15
# Longer answers go out as several section blocks (bot/slack/answers.py `sections`).
ANSWER_MAX = 12_000
ALL = "all"
DEFAULT_ZONE = ZONE
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,40}$")


@dataclass(frozen=True)
class Invocation:
    """One `/untoc` as Slack sent it: where, by whom, and the text after the command."""

    channel_id: str
    user_id: str
    text: str
    channel_name: str | None = None

    @classmethod
    def from_payload(cls, payload: object) -> Invocation | None:
        """The invocation in a slash-command payload, or None if the payload is malformed."""
        if not isinstance(payload, dict):
            return None
        channel, user, text = (payload.get(k) for k in ("channel_id", "user_id", "text"))
        if not isinstance(channel, str) or not _SLACK_ID.match(channel):
            return None
        if not isinstance(user, str) or not isinstance(text, str):
            return None
        name = payload.get("channel_name")
        return cls(channel, user, text, name if isinstance(name, str) else None)


@dataclass(frozen=True)
class Answer:
    """What `/untoc` says back, and whether the whole channel sees it.

    `language` is the answer's language when it is not the one the command was read in
    (the command changed it).
    """

    text: str
    in_channel: bool = False
    language: str | None = None


NOT_INVITED = "a private channel the app was not invited to"
# Whether alerts can reach a channel; False: a private channel that must invite the app.
Reachable = Callable[[str], Awaitable[bool]]


class UntocCommand:
    """Carries out `/untoc` for one channel at a time."""

    def __init__(
        self,
        store: Store | None,
        publisher: Publisher,
        dataset: Dataset,
        clock: Clock,
        base_url: str,
        calendar_key: bytes,
        reachable: Reachable | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.dataset = dataset
        self.vocabulary = Vocabulary(dataset)
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.calendar_key = calendar_key
        self.reachable = reachable

    async def __call__(self, invocation: Invocation) -> Answer:
        """The answer to one invocation, readable in its language's direction."""
        subscriber = await self._subscriber(invocation.channel_id)
        texts = Texts(subscriber.language if subscriber else "en")
        answer = await self._answer(invocation, texts)
        language = answer.language or texts.language
        text = isolate(answer.text, "mrkdwn", Texts(language).direction)
        return Answer(clip(text, ANSWER_MAX), answer.in_channel, language)

    async def _answer(self, invocation: Invocation, texts: Texts) -> Answer:
        """The answer to one invocation; problems become an answer only the caller sees."""
        line = invocation.text.strip()
        if len(line) > MAX_COMMAND_TEXT:
            message = texts.plural(
                "That command is too long ({length} character); the most is {limit}.",
                "That command is too long ({length} characters); the most is {limit}.",
                len(line),
            )
            return Answer(message.format(length=len(line), limit=MAX_COMMAND_TEXT))
        first, _, _ = line.partition(" ")
        name, rest = subcommand(line)
        try:
            if name is None and not first:
                return Answer(help_text(texts))
            if name == HELP:
                return Answer(help_text(texts))
            if name is None and difflib.get_close_matches(
                first.lower(), [*SUBCOMMANDS, HELP], n=1, cutoff=0.75
            ):
                return Answer(_unknown(first.lower(), texts))  # a typo of a subcommand
            if name is None and split_key(line)[0] is not None:
                return await self._settings(invocation, line, texts)  # "/untoc fuseau Abidjan"
            if name is None:
                question = read_question(line)
                if question.intent == "unknown" and not looks_like_a_question(line):
                    found = self.vocabulary.one_country_in(question.rest, texts)
                    if found is None:
                        return Answer(_unknown(first.lower(), texts))
                    return await self._country(invocation, found, texts)
                return await self._ask(invocation, question, texts)
            handler = getattr(self, f"_{name}")
            answer: Answer = await handler(invocation, rest.strip(), texts)
        except CommandProblem as problem:
            return Answer(str(problem))
        return answer

    async def _ask(self, invocation: Invocation, question: Question, texts: Texts) -> Answer:
        """A question typed after `/untoc`: answered as Telegram answers it."""
        code = self.vocabulary.one_country_in(question.rest, texts)
        if question.intent == "next_dialogue":
            data = (await self.publisher.snapshot()).dataset
            subscriber = await self._subscriber(invocation.channel_id)
            zone = subscriber.timezone if subscriber is not None else ZONE
            deadlines = await self.publisher.deadlines()
            reply = next_dialogue(deadlines, data, self.clock(), texts, zone, ASKED)
            return Answer(reply_mrkdwn(reply))
        if question.intent == "due":
            return await self._upcoming(invocation, code or "", texts)
        if question.intent == "country" or (question.intent == "unknown" and code):
            if code is None:
                return Answer(reply_mrkdwn(which_country(texts, ASKED)))
            return await self._country(invocation, code, texts)
        if question.intent == "subscribe":
            try:
                typed = question.rest if self.vocabulary.parse(question.rest, texts) else None
            except (NotUnderstood, TooLong):
                typed = None
            return Answer(reply_mrkdwn(how_to_subscribe(texts, ASKED, typed)))
        if question.intent == "settings":
            return Answer(settings_usage(texts))
        if question.intent == "help":
            return Answer(help_text(texts))
        return Answer(reply_mrkdwn(not_understood(texts, ASKED)))

    # The subcommands. Each takes the invocation, the rest of the line and the texts.

    async def _subscribe(self, invocation: Invocation, rest: str, texts: Texts) -> Answer:
        if not rest:
            raise CommandProblem(
                texts(
                    "Say what to follow, e.g. `/untoc subscribe AT, Brazil, tip`; "
                    "`/untoc subscribe all` follows every deadline."
                )
            )
        everything = rest.lower() == ALL
        values = {} if everything else parse_values(rest, self.vocabulary, texts)
        # Asked before the transaction: no database session waits on Slack.
        reachable = self.reachable is None or await self.reachable(invocation.channel_id)
        async with self._sessions(texts) as session, session.begin():
            subscriber = await subs.ensure_subscriber(
                session,
                channel=APP_TARGET,
                address=invocation.channel_id,
                now=self.clock(),
                display_name=_display_name(invocation),
            )
            if everything:
                await subs.unfollow(session, subscriber, None, self.clock())
            else:
                await subs.follow(session, subscriber, values, self.clock())
            if not reachable:  # kept, stopped: the first alert would fail and be lost
                await subs.deactivate(session, subscriber.id, NOT_INVITED, self.clock())
            summary = describe(subscriber, texts)
        if everything:
            done = texts("{user} subscribed this channel to every deadline.")
        else:
            done = texts("{user} subscribed this channel to: {values}.")
        text = done.format(user=_mention(invocation, texts), values=named(values, texts))
        unknown = unknown_groups(values.get("country", set()), self.dataset)
        if unknown:
            summary += "\n" + escape(unknown_group_note(unknown, SLACK_COMMANDS, texts))
        if not reachable:
            summary += "\n" + texts(
                "Alerts cannot reach this private channel until the app is in it: invite it "
                "with `/invite` followed by the app's name, then subscribe again."
            )
        return Answer(f"{text}\n{summary}", in_channel=True)

    async def _unsubscribe(self, invocation: Invocation, rest: str, texts: Texts) -> Answer:
        if not rest:  # list first: stopping everything takes `all`, as Telegram shows a list
            subscriber = await self._subscriber(invocation.channel_id)
            if subscriber is None or not subscriber.active:
                return Answer(_not_subscribed(texts))
            hint = texts(
                "Say what to stop following, e.g. `/untoc unsubscribe AT, tip`; "
                "`/untoc unsubscribe all` stops every alert in this channel."
            )
            return Answer(f"{describe(subscriber, texts)}\n{hint}")
        values = {} if rest.lower() == ALL else parse_values(rest, self.vocabulary, texts)
        names = named(values, texts)
        async with self._sessions(texts) as session, session.begin():
            subscriber = await subs.find_subscriber(session, APP_TARGET, invocation.channel_id)
            if subscriber is None or not subscriber.active:
                return Answer(_not_subscribed(texts))
            now = self.clock()
            if not values:
                await subs.unfollow(session, subscriber, None, now)
                await subs.deactivate(
                    session, subscriber.id, f"unsubscribed in Slack by {invocation.user_id}", now
                )
                text = texts(
                    "{user} stopped UNTOC Watch alerts in this channel. "
                    "`/untoc subscribe` starts them again."
                ).format(user=_mention(invocation, texts))
                return Answer(text, in_channel=True)
            for code in values.pop("country", set()):
                await subs.mute_country(session, subscriber, code, now)
            if values:
                await subs.unfollow(session, subscriber, values, now)
            summary = describe(subscriber, texts)
        text = texts("{user} stopped following in this channel: {values}.").format(
            user=_mention(invocation, texts), values=names
        )
        return Answer(f"{text}\n{summary}", in_channel=True)

    async def _list(self, invocation: Invocation, rest: str, texts: Texts) -> Answer:
        self._store(texts)
        subscriber = await self._subscriber(invocation.channel_id)
        if subscriber is None:
            return Answer(_not_subscribed(texts))
        if not subscriber.active:
            stopped = texts("Alerts are stopped in this channel. `/untoc subscribe` starts them.")
            return Answer(stopped)
        return Answer(describe(subscriber, texts))

    async def _upcoming(self, invocation: Invocation, rest: str, texts: Texts) -> Answer:
        now = self.clock()
        code: str | None = None
        active = False
        if rest:
            code = self._resolve(rest, texts)
            selection = Selection(countries={code})
            heading = texts.plural(
                "Open deadlines in the next {days} day for {country}:",
                "Open deadlines in the next {days} days for {country}:",
                UPCOMING_DAYS,
            ).format(days=UPCOMING_DAYS, country=escape(texts.country(code)))
        else:
            subscriber = await self._subscriber(invocation.channel_id)
            active = subscriber is not None and subscriber.active
            selection = subs.selection_of(subscriber) if subscriber and active else Selection()
            heading = (
                texts.plural(
                    "Open deadlines in the next {days} day for this channel:",
                    "Open deadlines in the next {days} days for this channel:",
                    UPCOMING_DAYS,
                )
                if active
                else texts.plural(
                    "Open deadlines in the next {days} day:",
                    "Open deadlines in the next {days} days:",
                    UPCOMING_DAYS,
                )
            ).format(days=UPCOMING_DAYS)
        deadlines = await self.publisher.deadlines()
        data = (await self.publisher.snapshot()).dataset
        answer = upcoming_answer(
            found=upcoming(deadlines, now, UPCOMING_DAYS, selection),
            deadlines=deadlines,
            projections=project(data, now),
            data=data,
            now=now,
            texts=texts,
            days=UPCOMING_DAYS,
            selection=selection,
            country=code,
            followed=active and selection.key() != Selection().key(),
            sources_read=await self.publisher.sources_read(),
            commands=SLACK_COMMANDS,
        )
        if answer.nothing is not None:
            return Answer(reply_mrkdwn(answer.nothing))
        found = answer.announced
        zone = await self._zone(invocation.channel_id)
        lines = [f"*{heading}*"]
        lines += [deadline_line(d, texts, zone, with_title=True) for d in found[:MAX_LISTED]]
        if len(found) > MAX_LISTED:
            page = self._page_link(selection)
            hidden = len(found) - MAX_LISTED
            more = texts.plural("and {count} more", "and {count} more", hidden).format(count=hidden)
            all_of_them = link(page, texts("see them all on the web page"))
            lines.append(f"{escape(more)}: {all_of_them}")
        if answer.expected is not None:
            lines += ["", part_mrkdwn(answer.expected)]
        return Answer("\n".join(lines))

    async def _country(self, invocation: Invocation, rest: str, texts: Texts) -> Answer:
        if not rest:
            raise CommandProblem(texts("Name a country, e.g. `/untoc country AT`."))
        code = self._resolve(rest, texts)
        data = (await self.publisher.snapshot()).dataset
        review = country_review(data, code, self.clock().astimezone(MECHANISM_ZONE).date())
        return Answer(reply_mrkdwn(review_reply(review, data, texts, self.base_url)))

    async def _calendar(self, invocation: Invocation, rest: str, texts: Texts) -> Answer:
        self._store(texts)
        subscriber = await self._subscriber(invocation.channel_id)
        if subscriber is None:
            everything = f"{self.base_url}/calendar.ics"
            text = texts(
                "This channel is not subscribed yet. The calendar of every deadline: {link}"
            )
            return Answer(text.format(link=link(everything, everything)))
        url = personal_calendar_url(self.base_url, self.calendar_key, subscriber.calendar_nonce)
        text = texts(
            "This channel's calendar: {link}\nSubscribe to it by URL in any calendar app; it "
            "follows this channel's subscription."
        )
        return Answer(text.format(link=link(url, url)))

    async def _settings(self, invocation: Invocation, rest: str, texts: Texts) -> Answer:
        self._store(texts)
        subscriber = await self._subscriber(invocation.channel_id)
        if subscriber is None or not subscriber.active:
            return Answer(_not_subscribed(texts))
        if not rest:
            return Answer(f"{settings_text(subscriber, texts)}\n{settings_usage(texts)}")
        try:
            setting = read_setting(rest, texts, self.vocabulary)
        except NotASetting as problem:
            raise CommandProblem(f"{escape(str(problem))}\n{settings_usage(texts)}") from None
        async with self._sessions(texts) as session, session.begin():
            found = await subs.find_subscriber(session, APP_TARGET, invocation.channel_id)
            if found is None:
                return Answer(_not_subscribed(texts))
            try:
                await subs.set_preferences(session, found, self.clock(), **setting.change)
            except subs.InvalidPreference as exc:
                raise CommandProblem(
                    texts("That setting cannot be used: {problem}").format(problem=escape(str(exc)))
                ) from None
            texts = Texts(found.language)
            shown = settings_text(found, texts)
        text = texts("{user} changed how this channel gets alerts.").format(
            user=_mention(invocation, texts)
        )
        return Answer(f"{text}\n{shown}", in_channel=True, language=texts.language)

    # Helpers.

    def _resolve(self, text: str, texts: Texts) -> str:
        try:
            return self.vocabulary.country(text, texts)
        except (NotUnderstood, TooLong) as problem:
            unknown = problem.unknown[0].suggestions if isinstance(problem, NotUnderstood) else ()
            suggestions = [f"{code} ({country_name(code)})" for code in unknown]
            raise CommandProblem(unknown_value(text, suggestions, texts)) from None

    def _sessions(self, texts: Texts) -> Session:
        return self._store(texts).sessions()

    def _store(self, texts: Texts) -> Store:
        if self.store is None:
            raise CommandProblem(
                texts("The service cannot store subscriptions right now; tell its operator.")
            )
        return self.store

    async def _subscriber(self, channel_id: str) -> Subscriber | None:
        if self.store is None:
            return None
        async with self.store.sessions() as session:
            return await subs.find_subscriber(session, APP_TARGET, channel_id)

    async def _zone(self, channel_id: str) -> str:
        subscriber = await self._subscriber(channel_id)
        return subscriber.timezone if subscriber is not None else DEFAULT_ZONE

    def _page_link(self, selection: Selection) -> str:
        params = query_string(Query(selection=selection, days=UPCOMING_DAYS), with_days=True)
        return f"{self.base_url}/" + ("?" + urllib.parse.urlencode(params) if params else "")


def _unknown(name: str, texts: Texts) -> str:
    message = texts("Unknown command “{name}”.").format(name=escape(clip(name, ECHO_MAX)))
    close = difflib.get_close_matches(name, [*SUBCOMMANDS, HELP], n=1, cutoff=0.6)
    if close:
        message += " " + texts("Did you mean `/untoc {command}`?").format(command=close[0])
    return f"{message}\n{help_text(texts)}"


def _mention(invocation: Invocation, texts: Texts) -> str:
    if _SLACK_ID.match(invocation.user_id):
        return f"<@{invocation.user_id}>"
    return escape(texts("Someone"))


def _display_name(invocation: Invocation) -> str | None:
    name = invocation.channel_name
    return clip(f"#{name}", 200) if name else None


def _not_subscribed(texts: Texts) -> str:
    return texts("This channel is not subscribed. Try `/untoc subscribe AT, tip`.")
