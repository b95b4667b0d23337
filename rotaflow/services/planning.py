"""Dates as the program sees them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["program_today"]


def program_today(timezone: str, *, now: dt.datetime | None = None) -> dt.date:
    """Today's date where the program works (its IANA ``timezone``), not where rotaflow runs.

    Which block is current or next depends on it: a run at 23:30 in New York is still on that
    day there, though already on the next in UTC. ``now`` (aware) stands for the current instant.
    """
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(timezone)).date()
