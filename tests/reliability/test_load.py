"""The load part of the reliability suite, in its short form (300 subscribers, SQLite).

A broadcast and a compressed day of reminders go through a real worker process to the
fake Bot API while a real web process serves calendars: nothing may be lost or repeated,
no limit overrun, no reminder sent after its deadline, no request fail.
"""

from __future__ import annotations

from reliability.load import run


def test_a_broadcast_and_a_day_of_reminders_under_load_hold():
    section = run(quick=True)
    assert section.held, section.markdown()
