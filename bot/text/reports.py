"""What a reporter is told, in their language: the same words in Telegram, Slack and the page.

Pure: the problems `feeds.reports` found, or a queued report's number, in; plain text
out (each channel escapes it for its own markup).
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.text.i18n import N_, Texts
from feeds.reports import Problem

REPORT_EXAMPLE = "/report AT self-assessment 2027-01-15 https://www.unodc.org/..."
SLACK_REPORT_EXAMPLE = "/untoc report AT self-assessment 2027-01-15 https://www.unodc.org/..."
DATE_EXAMPLE = "2027-01-15"

PROBLEM_WORDS = {
    "usage": N_("Write it in one line: {example}"),
    "unknown_country": N_("Unknown country {text}."),
    "unknown_step": N_("Unknown step {text}; known: {known}."),
    "unknown_cluster": N_("Unknown cluster {number}."),
    "unknown_event": N_("No known event has the id {text}."),
    "not_a_date": N_("{text} is not a date; write YYYY-MM-DD."),
    "future": N_("{date} is in the future; report a step once it has happened."),
    "out_of_range": N_("{date} is outside the years of the review mechanism."),
    "no_evidence": N_("Give a link or a few words of evidence: where did you read or hear it?"),
    "too_long": N_("That is too long: at most {limit} characters."),
    "control_characters": N_("Please send plain text, without control characters."),
    "markup": N_("Please send plain text, without markup."),
    "bad_link": N_("Only http:// and https:// links can be kept."),
    "private_link": N_("That link points to a private address; give the address of a public page."),
    "too_many": N_(
        "You sent {limit} reports today, the most we take in a day. Please try again tomorrow."
    ),
    "blocked": N_("Your reports cannot be accepted."),
    "duplicate": N_("You sent this report already; it is waiting for an operator."),
}


def problems_text(
    texts: Texts, problems: Iterable[Problem], example: str = REPORT_EXAMPLE
) -> list[str]:
    """Each problem in one sentence of the reader's language (`example`: the channel's line)."""
    lines = []
    for problem in problems:
        values = {"example": example, **problem.values}
        lines.append(texts(PROBLEM_WORDS[problem.code]).format(**values))
    return lines


def queued_text(texts: Texts, number: int, *, told_here: bool = True) -> str:
    """The thanks for a report, with what happens next."""
    thanks = texts(
        "Thank you. Your report #{number} is waiting for an operator, who checks it before "
        "anything changes."
    ).format(number=number)
    if told_here:
        thanks += " " + texts("You will be told the outcome here.")
    return thanks
