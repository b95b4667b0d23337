"""Vocabularies the contracts check and the command line names in its help, without pandas or Pandera
(``rotaflow --help`` reads them; ``rotaflow.validations.contracts`` builds its models on them)."""

from __future__ import annotations

__all__ = ["ABSENCE_TYPES", "WEEKDAYS", "applies_on_weekday"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""coverage.csv's day names, Monday first (``date.weekday()`` indexes them)."""


def applies_on_weekday(pattern: str, weekday: int) -> bool:
    """Whether a weekly ``applies_on`` pattern of coverage.csv (``daily``, ``weekday``, ``weekend`` or day names
    joined by ``;``) covers ``weekday`` (0 = Monday)."""
    if pattern == "daily":
        return True
    if pattern == "weekday":
        return weekday < 5
    if pattern == "weekend":
        return weekday >= 5
    return WEEKDAYS[weekday] in pattern.split(";")


ABSENCE_TYPES = [
    "vacation",
    "sick",
    "conference",
    "parental",
    "bereavement",
    "medical",
    "deployment",
    "other",
]
