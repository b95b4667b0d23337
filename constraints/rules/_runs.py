"""Runs of working days and days off, shared by the consecutive-day rules."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["runs"]


def runs(worked: list[bool]) -> Iterator[tuple[bool, int, int]]:
    """(working?, first day, last day) for each maximal run over the horizon."""
    start = 0
    for day in range(1, len(worked) + 1):
        if day == len(worked) or worked[day] != worked[start]:
            yield worked[start], start, day - 1
            start = day
