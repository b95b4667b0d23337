"""acgme_rest_between_shifts: 8 hours free between shifts, a "should" (VI.F.2.a / 6.21)."""

from __future__ import annotations

import datetime as dt
import math

from pydantic import BaseModel, ConfigDict, Field

from constraints.instance import Schedule, Slot
from constraints.registry import BuildContext, Rule, Selector, Violation, register
from constraints.rules._common import date_label, slot_pairs


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_rest_hours: float = Field(default=8.0, ge=0)


_Params = Params


@register
class AcgmeRestBetweenShifts(Rule):
    """Between two periods of work there should be 8 hours free; each missing hour costs."""

    name = "acgme_rest_between_shifts"
    summary = "8 hours free between shifts (should)"
    default_kind = "soft"
    unit = "hours"
    Params = Params

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        rest = dt.timedelta(hours=params.min_rest_hours)
        slots = list(inst.slots())
        pairs = []
        for a, b in slot_pairs(inst, max_gap=rest):
            gap = b.start - a.end_with_transition
            if dt.timedelta(0) < gap < rest:
                # a shift wholly inside the gap makes a and b not consecutive
                between = [c for c in slots if a.end_with_transition <= c.start and c.end_with_transition <= b.start]
                pairs.append((a, b, gap, between))
        for person in ctx.people:
            for a, b, gap, between in pairs:
                missing = math.ceil((rest - gap).total_seconds() / 3600)
                terms = [(1, ctx.x.is_assigned(person, a.day, a.shift)), (1, ctx.x.is_assigned(person, b.day, b.shift))]
                terms += [(-1, ctx.x.is_assigned(person, c.day, c.shift)) for c in between]
                ctx.at_most(
                    terms,
                    1,
                    subject=f"person={person}",
                    name=f"{person}:{a.day}:{a.shift}:{b.day}:{b.shift}",
                    scale=missing,
                    person=person,
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            for b, gap in _short_rests(schedule.by_person[person], params):
                out.append(
                    Violation(
                        self.name,
                        person,
                        b.day,
                        b.day,
                        round(gap.total_seconds() / 3600, 2),
                        params.min_rest_hours,
                        "hours",
                        f"{person} has only {gap.total_seconds() / 3600:.1f} h free before "
                        f"{b.shift} on {date_label(inst, b.day)}",
                        "warning",
                    )
                )
        return out


def _short_rests(slots: list[Slot], params: _Params) -> list[tuple[Slot, dt.timedelta]]:
    """(next shift, gap) for each rest shorter than the minimum between consecutive shifts."""
    rest = dt.timedelta(hours=params.min_rest_hours)
    ordered = sorted(slots, key=lambda s: s.start)
    out = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        gap = b.start - a.end_with_transition
        if dt.timedelta(0) < gap < rest:
            out.append((b, gap))
    return out


def penalty(schedule: Schedule, params: _Params | None = None) -> int:
    """Exact penalty (weight 1): missing hours, rounded up, summed over short rests."""
    params = params or Params()
    rest = dt.timedelta(hours=params.min_rest_hours)
    return sum(
        math.ceil((rest - gap).total_seconds() / 3600)
        for slots in schedule.by_person.values()
        for _, gap in _short_rests(slots, params)
    )
