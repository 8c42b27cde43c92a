"""The load part of the reliability suite, in its short form (300 subscribers, SQLite).

A broadcast and a compressed day of reminders go through a real worker process to the
fake Bot API while a real web process serves calendars: nothing may be lost or repeated,
no limit overrun, no reminder sent after its deadline, no request fail.
"""

from __future__ import annotations

import pytest

from reliability.load import run


# The whole service in a short form: a minute alone, more beside a parallel suite.
@pytest.mark.timeout(360)
def test_a_broadcast_and_a_day_of_reminders_under_load_hold():
    section = run(quick=True)
    assert section.held, section.markdown()
