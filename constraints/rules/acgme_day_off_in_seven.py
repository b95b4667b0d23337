"""acgme_day_off_in_seven: one day in seven free, averaged over four weeks (ACGME VI.F.2.c / 6.21.b).

A free day is a continuous 24-hour period with no work and no home call. The model counts
disjoint 24-hour periods that start at local midnight (a period is pushed later where a short
spring-forward day would make two overlap), so every counted period is a real free day.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from constraints.instance import Instance, Schedule
from constraints.registry import BuildContext, Rule, Selector, Violation, register
from constraints.rules._common import date_label

DAY = dt.timedelta(hours=24)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variant: Literal["averaged", "strict_weekly"] = "averaged"
    min_free_days: int = Field(default=4, ge=0, description="free days per window (averaged variant)")
    window_days: int = Field(default=28, ge=7)


def periods(inst: Instance, first: int) -> dict[int, tuple[dt.datetime, dt.datetime]]:
    """Disjoint 24-hour periods, one per day from ``first`` to the horizon's end."""
    out: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    previous_end: dt.datetime | None = None
    for day in range(first, inst.days):
        start = inst.midnight(day)
        if previous_end is not None and start < previous_end:
            start = previous_end
        out[day] = (start, start + DAY)
        previous_end = start + DAY
    return out


def _busy_in_history(inst: Instance, person: str, start: dt.datetime, end: dt.datetime) -> bool:
    return any(h.person == person and h.start < end and start < h.end_with_transition for h in inst.history)


def _windows(inst: Instance, params: Params) -> list[tuple[int, int]]:
    """Windows that touch the horizon and end inside it (later days are not scheduled yet)."""
    length = params.window_days if params.variant == "averaged" else 7
    return [(s, s + length - 1) for s in range(-length + 1, inst.days - length + 1)]


@register
class AcgmeDayOffInSeven(Rule):
    """At least 4 free 24-hour periods in every 28 days (or one in every 7 days, strictly)."""

    name = "acgme_day_off_in_seven"
    summary = "one day in seven free of clinical work"
    unit = "days_off"
    Params = Params

    def build(self, ctx: BuildContext, params: Params) -> None:
        inst = ctx.instance
        windows = _windows(inst, params)
        if not windows:
            return
        chain = periods(inst, windows[0][0])
        slots = list(inst.slots())
        need = params.min_free_days if params.variant == "averaged" else 1
        for person in ctx.people:
            free: dict[int, object] = {}
            for day, (start, end) in chain.items():
                if _busy_in_history(inst, person, start, end):
                    free[day] = 0
                    continue
                touching = [s for s in slots if s.start < end and start < s.end_with_transition]
                if not touching:
                    free[day] = 1
                    continue
                var = ctx.model.new_bool_var(f"free[{person},{day}]")
                for slot in touching:
                    ctx.model.add_implication(var, ctx.x.is_assigned(person, slot.day, slot.shift).Not())
                free[day] = var
            for first, last in windows:
                constant = sum(1 for d in range(first, last + 1) if isinstance(free[d], int) and free[d] == 1)
                terms = [(1, free[d]) for d in range(first, last + 1) if not isinstance(free[d], int)]
                if constant >= need:
                    continue
                ctx.at_least(terms, need - constant, subject=f"person={person}, window={date_label(inst, first)}",
                             name=f"{person}:{first}", person=person, first=first, last=last)

    def check(self, schedule: Schedule, params: Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        need = params.min_free_days if params.variant == "averaged" else 1
        out = []
        for person in people:
            busy = [(h.start, h.end_with_transition) for h in inst.history if h.person == person]
            busy += [(s.start, s.end_with_transition) for s in schedule.by_person.get(person, [])]
            for first, last in _windows(inst, params):
                count = _free_periods(busy, inst.midnight(first), inst.midnight(last + 1))
                if count < need:
                    out.append(
                        Violation(self.name, person, first, last, count, need, self.unit,
                                  f"{person} has {count} free 24-hour periods from {date_label(inst, first)} to "
                                  f"{date_label(inst, last)}; at least {need} are required")
                    )
        return out


def _free_periods(busy: list[tuple[dt.datetime, dt.datetime]], start: dt.datetime, end: dt.datetime) -> int:
    """Σ ⌊gap ÷ 24 h⌋ over the free gaps inside [start, end)."""
    inside = sorted((max(a, start), min(b, end)) for a, b in busy if a < end and start < b)
    count, cursor = 0, start
    for a, b in inside:
        if a > cursor:
            count += int((a - cursor) / DAY)
        cursor = max(cursor, b)
    if end > cursor:
        count += int((end - cursor) / DAY)
    return count
