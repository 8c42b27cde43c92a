"""The data behind inline buttons: short versioned strings, parsed without trust.

Telegram gives a button at most 64 bytes of data and hands it back unchanged when the
button is pressed, so anyone can send any string. Data is `verb:arg:arg...`; a verb
carries its version (`ack` is version 1; an incompatible change would be `ack2`), so a
button on a message sent by an older version is recognised as stale, never misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
SEPARATOR = ":"
# Alert buttons (sent by the delivery loop): mark a deadline done, mute its country.
ACK = "ack"
MUTE = "mute"
# Interactive keyboards.
START_LANGUAGE = "lang"
SUBSCRIBE = "sub"
UNSUBSCRIBE = "uns"
SETTINGS = "set"
PROPOSAL = "prop"
BROADCAST = "bc"
# Reports: the guided /report (its step, or cancel), and the answers to a question.
REPORT = "rep"
QUESTION = "q"
ANSWER_HAPPENED = "y"
ANSWER_NOT_YET = "n"
ANSWER_UNKNOWN = "d"
VERBS = frozenset(
    {ACK, MUTE, START_LANGUAGE, SUBSCRIBE, UNSUBSCRIBE, SETTINGS, PROPOSAL, BROADCAST}
    | {REPORT, QUESTION}
)
_ARG = re.compile(r"^[A-Za-z0-9_./+-]{0,48}$")


class StaleButton(ValueError):
    """Data we did not write, or wrote in a version that is gone: answer it politely."""


@dataclass(frozen=True)
class Press:
    """A parsed button press: the verb and its arguments."""

    verb: str
    args: tuple[str, ...]

    def arg(self, index: int) -> str:
        """The argument at `index`; `StaleButton` if it is missing."""
        if index >= len(self.args):
            raise StaleButton(f"{self.verb}: missing argument {index}")
        return self.args[index]


def encode(verb: str, *args: str | int) -> str | None:
    """The data for a button, or None when it would not fit in 64 bytes."""
    data = SEPARATOR.join([verb, *(str(arg) for arg in args)])
    return data if len(data.encode()) <= MAX_BYTES else None


def decode(data: str | None) -> Press:
    """Parse button data; raises `StaleButton` for anything we would not have written."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise StaleButton("empty or oversized data")
    verb, *args = data.split(SEPARATOR)
    if verb not in VERBS or any(not _ARG.match(arg) for arg in args):
        raise StaleButton(f"unknown data {data[:20]!r}")
    return Press(verb, tuple(args))
