"""The email pages: sign up on `/` and the State pages, confirm, manage, leave.

Every form works without JavaScript and carries a CSRF token signed for that form
(`email_signup.csrf_token`); every link carries a signed token, so nothing here needs
a session. A sign-up answers the same whether or not the address is known, and stores
nothing before its confirmation link is used (only a count, for the limits). The
one-click unsubscribe of RFC 8058 is a POST to the `List-Unsubscribe` address, which
works with no page at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.db.engine import DatabaseError
from bot.db.store import Store
from bot.delivery import email_signup as signup
from bot.delivery.tokens import BadToken, ExpiredToken
from bot.filters.query import QueryError
from bot.text.i18n import LANGUAGES, Texts, negotiate
from bot.text.marks import N_
from bot.text.render import THEME_NAMES
from bot.web.forms import DIGEST_CHOICES, ChoiceFields, one, read_choice, read_form
from config.dataset import THEMES, Dataset
from config.settings import Settings
from schedulers.dates import Clock

log = logging.getLogger(__name__)

SIGNUP_FIELDS = frozenset({"csrf", "email", "country", "theme", "lang", "digest"})
MANAGE_FIELDS = frozenset({"csrf", "country", "theme", "lang", "digest", "action"})
CONFIRM_FIELDS = frozenset({"csrf"})
ONE_CLICK_FIELDS = frozenset({"List-Unsubscribe", "csrf"})
DIGEST_LABELS = {
    "weekly": N_("Once a week: one message with what is coming"),
    "daily": N_("Once a day: one message with what is coming"),
    "off": N_("Each alert as it comes"),
}
Common = Callable[[str, list[tuple[str, str]]], dict[str, object]]


def _choice(fields: ChoiceFields) -> signup.Choice:
    return signup.Choice(
        countries=fields.countries,
        themes=fields.themes,
        language=fields.language,
        digest=fields.digest,  # type: ignore[arg-type]  # checked by read_choice
    )


class EmailPages:
    """The handlers of the email pages, and the sign-up form the other pages show."""

    def __init__(
        self,
        settings: Settings,
        dataset: Dataset,
        store: Store | None,
        templates: Environment,
        common: Common,
        clock: Clock,
        limits: signup.SignupLimits = signup.SIGNUP_LIMITS,
    ) -> None:
        self.settings = settings
        self.dataset = dataset
        self.store = store
        self.common = common
        self.clock = clock
        self.limits = limits
        self.base_url = settings.public_base_url
        secret = settings.email_secret.get_secret_value() if settings.email_secret else None
        self.keys = signup.EmailKeys(store, secret)
        self.message_page = templates.get_template("email_message.html")
        self.confirm_page = templates.get_template("email_confirm.html")
        self.manage_page = templates.get_template("email_manage.html")

    @property
    def enabled(self) -> bool:
        """Email is offered where the service can send it and remember who confirmed."""
        return (
            self.store is not None
            and self.settings.smtp_url is not None
            and self.settings.mail_from is not None
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/email/subscribe", self.subscribe, methods=["POST"]),
            Route("/email/confirm/{token}", self.confirm, methods=["GET", "POST"]),
            Route("/email/manage/{token}", self.manage, methods=["GET", "POST"]),
            Route("/email/unsubscribe/{token}", self.unsubscribe, methods=["GET", "POST"]),
        ]

    def _choices(self, texts: Texts, chosen: signup.Choice) -> dict[str, Any]:
        return {
            "states": sorted(self.dataset.states, key=texts.country),
            "themes": [(theme, texts(THEME_NAMES[theme])) for theme in THEMES],
            "languages": [(code, Texts(code).language_name) for code in LANGUAGES],
            "digests": [(d, texts(DIGEST_LABELS[d])) for d in DIGEST_CHOICES],
            "chosen": chosen,
        }

    async def form(self, language: str, country: str | None = None) -> dict[str, Any] | None:
        """What the sign-up form on `/` and `/country/{code}` shows, or None without email."""
        if not self.enabled:
            return None
        try:
            secret = await self.keys.secret(self.clock())
        except (DatabaseError, OSError):
            return None  # the page still shows; only the form waits for the database
        chosen = signup.Choice(countries=(country,) if country else (), language=language)
        return {
            "csrf": signup.csrf_token(secret, "signup", self.clock()),
            "fixed_country": country,
            **self._choices(Texts(language), chosen),
        }

    def _language(self, request: Request, fields: Mapping[str, list[str]] | None = None) -> str:
        wanted = (fields or {}).get("lang") or request.query_params.getlist("lang")
        if wanted and wanted[0] in LANGUAGES:
            return wanted[0]
        return negotiate(request.headers.get("accept-language"))

    def _page(
        self, language: str, heading: str, lines: list[str], status: int = 200, **extra: Any
    ) -> Response:
        texts = Texts(language)
        switch = [(code, f"?lang={code}") for code in LANGUAGES]
        body = self.message_page.render(
            **self.common(language, switch),
            heading=texts(heading),
            lines=[texts(line) for line in lines],
            **extra,
        )
        headers = {"Content-Language": language, "Cache-Control": "no-store"}
        return HTMLResponse(body, status_code=status, headers=headers)

    def _refused(self, language: str, problem: str, status: int) -> Response:
        """A clear 4xx page: what was wrong, in English as the feeds say it, and a way on."""
        return self._page(
            language,
            N_("This request could not be used"),
            [],
            status=status,
            problem=problem,
        )

    async def _read(self, request: Request, allowed: frozenset[str]) -> dict[str, list[str]]:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > 1 << 20):
            raise QueryError("the form is too large", status=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > 1 << 20:
                raise QueryError("the form is too large", status=413)
        return read_form(request.headers.get("content-type"), body, allowed)

    async def _guard(self, request: Request, handler: Callable[[], Any]) -> Response:
        """Run a handler, turning a bad form or token into its 4xx and a missing
        database into a 503."""
        language = self._language(request)
        if not self.enabled:
            return self._refused(language, "email alerts are not offered here", 404)
        try:
            response: Response = await handler()
            return response
        except QueryError as exc:
            return self._refused(language, str(exc), exc.status)
        except ExpiredToken as exc:
            return self._refused(language, f"{exc}; ask again from the page", 410)
        except BadToken as exc:
            return self._refused(language, str(exc), 400)
        except (DatabaseError, OSError) as exc:
            log.warning("email: the database did not answer (%s)", type(exc).__name__)
            return PlainTextResponse(
                "The service cannot read its database just now; try again in a minute.\n",
                status_code=503,
                headers={"Retry-After": "60"},
            )

    async def subscribe(self, request: Request) -> Response:
        async def handle() -> Response:
            fields = await self._read(request, SIGNUP_FIELDS)
            language = self._language(request, fields)
            now = self.clock()
            secret = await self.keys.secret(now)
            signup.check_csrf(secret, "signup", one(fields, "csrf"), now)
            try:
                address = signup.check_address(one(fields, "email"))
            except signup.InvalidAddress as exc:
                raise QueryError(f"this email address cannot be used: {exc}") from None
            choice = _choice(read_choice(fields, self.dataset.states))
            assert self.store is not None  # `enabled` says so
            client = request.client.host if request.client else "unknown"
            accepted = await signup.request_signup(
                self.store,
                self.keys,
                signup.Signup(address, choice),
                client,
                now,
                self.base_url,
                self.limits,
            )
            if not accepted:
                return self._page(
                    language,
                    N_("Too many requests"),
                    [N_("Too many sign-ups from here or for this address. Try again tomorrow.")],
                    status=429,
                )
            return self._page(
                language,
                N_("Check your inbox"),
                [
                    N_(
                        "If this address can receive our messages, a confirmation is on its "
                        "way. Nothing else will be sent until you open its link."
                    ),
                    N_("The link works for 3 days."),
                ],
            )

        return await self._guard(request, handle)

    async def confirm(self, request: Request) -> Response:
        async def handle() -> Response:
            token = str(request.path_params["token"])
            now = self.clock()
            secret = await self.keys.secret(now)
            chosen = signup.read_confirmation(secret, token, now)  # refuses bad ones first
            language = self._language(request) if request.query_params else chosen.choice.language
            if request.method == "POST":
                fields = await self._read(request, CONFIRM_FIELDS)
                signup.check_csrf(secret, "confirm", one(fields, "csrf"), now)
                assert self.store is not None  # `enabled` says so
                subscriber = await signup.subscribe(self.store, chosen, now)
                manage = signup.manage_token(secret, subscriber.id, subscriber.address)
                return RedirectResponse(
                    f"/email/manage/{manage}?lang={subscriber.language}&confirmed=1",
                    status_code=303,
                )
            texts = Texts(language)
            switch = [(code, f"?lang={code}") for code in LANGUAGES]
            body = self.confirm_page.render(
                **self.common(language, switch),
                address=chosen.address,
                csrf=signup.csrf_token(secret, "confirm", now),
                summary=self._summary(texts, chosen.choice),
            )
            return HTMLResponse(body, headers={"Cache-Control": "no-store"})

        return await self._guard(request, handle)

    def _summary(self, texts: Texts, choice: signup.Choice) -> list[str]:
        states = ", ".join(texts.country(c) for c in choice.countries) or texts("All States")
        themes = ", ".join(texts(THEME_NAMES[t]) for t in choice.themes if t in THEME_NAMES)
        return [
            texts("States: {states}").format(states=states),
            texts("Themes: {themes}").format(themes=themes or texts("All themes")),
            texts("Language: {language}").format(language=Texts(choice.language).language_name),
            texts(DIGEST_LABELS[choice.digest]),
        ]

    async def manage(self, request: Request) -> Response:
        async def handle() -> Response:
            token = str(request.path_params["token"])
            now = self.clock()
            secret = await self.keys.secret(now)
            assert self.store is not None  # `enabled` says so
            subscriber = await signup.subscriber_of(self.store, self.keys, token, now)
            if subscriber is None:
                return self._page(
                    self._language(request),
                    N_("You are not subscribed"),
                    [N_("This address receives nothing from us. Sign up again from the page.")],
                    status=404,
                )
            if request.method == "POST":
                fields = await self._read(request, MANAGE_FIELDS)
                signup.check_csrf(secret, "manage", one(fields, "csrf"), now)
                if one(fields, "action", "save") == "leave":
                    await signup.leave(self.store, subscriber.id)
                    return self._left(self._language(request, fields))
                choice = _choice(read_choice(fields, self.dataset.states))
                await signup.change(self.store, subscriber.id, choice, now)
                return RedirectResponse(
                    f"/email/manage/{token}?lang={choice.language}&saved=1", status_code=303
                )
            language = (
                self._language(request) if request.query_params.get("lang") else subscriber.language
            )
            texts = Texts(language)
            switch = [(code, f"?lang={code}") for code in LANGUAGES]
            choices = self._choices(texts, signup.choice_of(subscriber))
            body = self.manage_page.render(
                **self.common(language, switch),
                address=subscriber.address,
                csrf=signup.csrf_token(secret, "manage", now),
                confirmed="confirmed" in request.query_params,
                saved="saved" in request.query_params,
                form={"fixed_country": None, **choices},
                chosen=choices["chosen"],
                states=choices["states"],
            )
            return HTMLResponse(body, headers={"Cache-Control": "no-store"})

        return await self._guard(request, handle)

    def _left(self, language: str) -> Response:
        return self._page(
            language,
            N_("You are unsubscribed"),
            [N_("We will send nothing more to this address, and we have deleted it.")],
        )

    async def unsubscribe(self, request: Request) -> Response:
        """RFC 8058: a POST here unsubscribes at once; a GET shows the button for it."""

        async def handle() -> Response:
            token = str(request.path_params["token"])
            now = self.clock()
            assert self.store is not None  # `enabled` says so
            subscriber = await signup.subscriber_of(self.store, self.keys, token, now)
            language = self._language(request)
            if request.method == "POST":
                await self._read(request, ONE_CLICK_FIELDS)
                if subscriber is not None:
                    await signup.leave(self.store, subscriber.id)
                return self._left(subscriber.language if subscriber else language)
            if subscriber is None:
                return self._left(language)
            return self._page(
                subscriber.language,
                N_("Unsubscribe"),
                [N_("Press the button to receive nothing more from UNTOC Watch.")],
                unsubscribe=True,
            )

        return await self._guard(request, handle)
