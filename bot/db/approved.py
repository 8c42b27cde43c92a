"""Approved proposals read back as events, the same way on both reading paths.

Kept apart from `facts.py` (and free of SQLAlchemy) because the CLI's SQLite fast path
in `store.py` reads the payloads with the standard library's driver and needs the same
rule as `facts.list_approved_events`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from pydantic import ValidationError

from config.dataset import Event


def latest_approved_events(payloads: Iterable[object]) -> list[Event]:
    """Events from approved proposals in decision order: the latest wins for each id.

    A payload that no longer validates (the model changed since) is skipped, the same way
    on both reading paths.
    """
    latest: dict[str, Event] = {}
    for payload in payloads:
        try:
            event = Event.model_validate(
                json.loads(payload) if isinstance(payload, str) else payload
            )
        except (ValidationError, ValueError):
            continue
        latest[event.id] = event
    return [latest[event_id] for event_id in sorted(latest)]
