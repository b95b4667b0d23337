"""acgme_day_off_in_seven: one day in seven free, averaged over four weeks (ACGME VI.F.2.c / 6.21.b).

A free day is a continuous 24-hour period with no work and no home call, not a calendar
date. The model counts disjoint 24-hour periods starting at local midnight or at a local
time when some shift ends, so every counted period is a real free day; the checker counts
⌊gap ÷ 24 h⌋ over each free gap, which is never less.

Windows that run past the block's last day are held too, with the days after it taken as free
(the most the next block can give): a block may not leave a window that no next block can
complete, as a run of nights up to its last day would.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label

DAY = dt.timedelta(hours=24)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variant: Literal["averaged", "strict_weekly"] = "averaged"
    min_free_days: int = Field(default=4, ge=0, description="free days per window (averaged variant)")
    window_days: int = Field(default=28, ge=7)


_Params = Params


def candidates(inst: Instance, first: int, last: int | None = None) -> list[tuple[dt.datetime, dt.datetime]]:
    """24-hour periods that may be free days: one from each local midnight and each local
    clock time at which a shift (with its hand-off) ends, on every day from ``first`` up to
    ``last`` (default: the block's last day; later days are not scheduled, so free)."""
    clocks = {dt.time(0, 0)}
    for slot in inst.slots():
        clocks.add(slot.end_with_transition.astimezone(inst.zone).time().replace(second=0, microsecond=0))
    starts = set()
    for day in range(first, inst.days if last is None else last + 1):
        date = inst.date(day)
        for clock in clocks:
            starts.add(dt.datetime.combine(date, clock, tzinfo=inst.zone).astimezone(dt.UTC))
    return [(start, start + DAY) for start in sorted(starts)]


def _windows(inst: Instance, params: _Params) -> list[tuple[int, int]]:
    """Windows that touch the horizon, those running past its last day included unless the
    free time after the latest any shift of the block can end (a 24-hour shift with its
    hand-off may run into the second day after the block) already makes enough."""
    length = params.window_days if params.variant == "averaged" else 7
    need = params.min_free_days if params.variant == "averaged" else 1
    free_from = max([inst.midnight(inst.days), *(slot.end_with_transition for slot in inst.slots())])
    out = []
    for first in range(-length + 1, inst.days):
        last = first + length - 1
        if last >= inst.days and int((inst.midnight(last + 1) - free_from) / DAY) >= need:
            continue
        out.append((first, last))
    return out


@register
class AcgmeDayOffInSeven(Rule):
    """At least 4 free 24-hour periods in every 28 days (or one in every 7 days, strictly)."""

    name = "acgme_day_off_in_seven"
    summary = "one day in seven free of clinical work"
    unit = "days_off"
    Params = Params
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        """Each candidate period is free only if no shift touches it; chosen free periods
        may not overlap (one at most through any instant); every window holds enough."""
        inst = ctx.instance
        windows = _windows(inst, params)
        if not windows:
            return
        periods = candidates(inst, windows[0][0], windows[-1][1])
        # the same for everyone, found once: the slots touching each period, the periods through each
        # period's start (a clique; one inside another adds nothing), the periods inside each window
        touching = [inst.timeline.overlapping(start, end) for start, end in periods]
        starts = [start for start, _ in periods]  # ascending, all distinct; every period lasts 24 hours
        ends = [end for _, end in periods]
        # the periods through the start of period j: lows[j] .. j
        lows = [bisect.bisect_right(starts, start - DAY) for start in starts]
        cliques = [(lows[j], j) for j in range(len(periods)) if j + 1 == len(periods) or lows[j + 1] > lows[j]]
        need = params.min_free_days if params.variant == "averaged" else 1
        inside = []
        for first, last in windows:
            lo, hi = inst.midnight(first), inst.midnight(last + 1)
            inside.append(range(bisect.bisect_left(starts, lo), bisect.bisect_right(ends, hi)))
        labels = [date_label(inst, first) for first, _ in windows]
        model = ctx.model
        new_bool_var, constraints = model.new_bool_var, model.proto.constraints
        for person in ctx.people:
            # the model's references: a decision's is its index, "not assigned" is -index - 1
            refs = [-r - 1 for r in ctx.x.refs(person)]
            past = inst.history_of(person)
            indexes: list[int | None] = []  # None: a period a shift in history makes busy
            for n, (start, end) in enumerate(periods):
                if past and any(h.start < end and start < h.end_with_transition for h in past):
                    indexes.append(None)
                    continue
                var = new_bool_var(f"free[{person},{n}]")
                if touching[n]:  # free ⇒ no slot touching the period is assigned
                    constraint = constraints.add()
                    constraint.enforcement_literal.append(var.index)
                    constraint.bool_and.literals.extend([refs[i] for i in touching[n]])
                indexes.append(var.index)
            for low, high in cliques:
                members = [i for i in indexes[low : high + 1] if i is not None]
                if len(members) > 1:
                    constraints.add().at_most_one.literals.extend(members)
            for (first, last), chosen, label in zip(windows, inside, labels, strict=True):
                found = indexes[chosen.start : chosen.stop]
                ctx.at_least_literals(
                    [i for i in found if i is not None],
                    None,
                    need,
                    subject=f"person={person}, window={label}",
                    name=f"{person}:{first}",
                    person=person,
                    first=first,
                    last=last,
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        need = params.min_free_days if params.variant == "averaged" else 1
        out = []
        windows = [
            (first, last, inst.midnight(first), inst.midnight(last + 1)) for first, last in _windows(inst, params)
        ]
        for person in people:
            busy = [(h.start, h.end_with_transition) for h in inst.history if h.person == person]
            busy += [(s.start, s.end_with_transition) for s in schedule.by_person.get(person, [])]
            for first, last, start, end in windows:
                count = _free_periods(busy, start, end)
                if count < need:
                    out.append(
                        Violation(
                            self.name,
                            person,
                            first,
                            last,
                            count,
                            need,
                            self.unit,
                            f"{person} has {count} free 24-hour periods from {date_label(inst, first)} to "
                            f"{date_label(inst, last)}; at least {need} are required",
                        )
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
