"""The console channel: alerts printed to the terminal, the default with no account.

`make run` uses it so a new user sees alerts arrive without configuring any service.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import Console
from rich.panel import Panel

from bot.channels.base import Alert, ChannelLimits, Target
from bot.text.i18n import Texts
from bot.text.wording import word
from schedulers.dates import Clock


class ConsoleChannel:
    """Prints each alert as a small panel."""

    name: ClassVar[str] = "console"
    limits: ClassVar[ChannelLimits] = ChannelLimits(
        messages_per_second=1000, per_target_per_second=1000, max_text_length=100_000
    )

    def __init__(self, console: Console, clock: Clock) -> None:
        self.console = console
        self.clock = clock
        self.sent: list[tuple[Target, Alert]] = []

    async def send(self, target: Target, alert: Alert) -> None:
        texts = Texts(target.language)
        wording = word(alert, texts, target.timezone, self.clock())
        lines = [line for line in (wording.when, wording.when_announced) if line]
        if wording.status:
            lines.append(f"{wording.status} · {wording.confidence}")
        for extra in (wording.note, wording.hint, wording.url):
            if extra:
                lines.append(extra)
        self.console.print(Panel("\n".join(lines), title=wording.headline, title_align="left"))
        self.sent.append((target, alert))

    async def close(self) -> None:
        return None
