"""The fault part of the reliability suite, in its short form (SQLite, one run of each).

The worker killed mid-broadcast, the web process killed under load, the chat services
failing in every way they do, the watched pages broken, and reminders whose deadline
passed while the worker was away: nothing lost, duplicates within what was in flight,
no stale reminder sent. (PostgreSQL stopped and started runs only in `make reliability`.)
"""

from __future__ import annotations

import pytest

from reliability.faults import run


# The whole service in a short form: a minute alone, more beside a parallel suite.
@pytest.mark.timeout(360)
def test_crashes_restarts_and_failing_neighbours_lose_nothing():
    section = run(quick=True)
    assert section.held, section.markdown()
