"""acgme_weekly_hours: at most 80 hours a week, averaged over four weeks (ACGME VI.F.1 / 6.20)."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import HistoryShift, Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label, implying_neighbours, kept_windows


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit_hours: float = Field(default=80.0, gt=0, le=88)
    window_days: int = Field(default=28, ge=7)
    averaging: Literal["rolling_28d", "block"] | None = Field(default=None, description="default: program.yaml")
    leave_excluded_from_average: bool | None = Field(default=None, description="default: program.yaml")


_Params = Params


def _settings(inst: Instance, params: _Params) -> tuple[str, bool]:
    acgme = inst.meta.get("acgme", {})
    assert isinstance(acgme, dict)
    averaging = params.averaging or acgme.get("averaging", "rolling_28d")
    excluded = params.leave_excluded_from_average
    if excluded is None:
        excluded = bool(acgme.get("leave_excluded_from_average", True))
    return str(averaging), excluded


def windows_for(inst: Instance, params: _Params) -> list[tuple[int, int]]:
    """The averaging windows (first, last day index) that touch the horizon."""
    length = params.window_days
    averaging, _ = _settings(inst, params)
    if averaging == "block":
        return [(start, start + length - 1) for start in range(0, inst.days, length)]
    return [(start, start + length - 1) for start in range(-length + 1, inst.days)]


def limit_minutes(inst: Instance, params: _Params, person: str, first: int, last: int) -> int:
    """The window's limit in minutes; leave days leave the average when the program says so."""
    _, excluded = _settings(inst, params)
    days = last - first + 1
    if excluded:
        days -= inst.leave_count(person, first, last)
    return int(params.limit_hours * 60 * days / 7)


def history_minutes(inst: Instance, person: str, start: dt.datetime, end: dt.datetime) -> int:
    return _minutes_of(inst.history_of(person), start, end)


def _minutes_of(history: Iterable[HistoryShift], start: dt.datetime, end: dt.datetime) -> int:
    """Work minutes of shifts in history inside ``[start, end)`` (pro rata)."""
    total = 0
    for past in history:
        if past.start < end and start < past.end_with_transition and past.work_minutes:
            span = (past.end_with_transition - past.start).total_seconds()
            inside = (min(end, past.end_with_transition) - max(start, past.start)).total_seconds()
            total += int(round(past.work_minutes * inside / span)) if span else past.work_minutes
    return total


@register
class AcgmeWeeklyHours(Rule):
    """Work hours in every four-week window, divided by four, stay at or under 80."""

    name = "acgme_weekly_hours"
    summary = "80 hours a week averaged over 4 weeks"
    unit = "hours_per_week"
    Params = Params
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        # each window's slots and their minutes in it, the same for everyone: found once, by bisection
        windows = []
        for first, last in windows_for(inst, params):
            start, end = inst.midnight(first), inst.midnight(last + 1)
            found = inst.window_minutes(start, end)
            if found:
                places, minutes = [i for i, _ in found], [m for _, m in found]
                windows.append((first, last, start, end, places, minutes, date_label(inst, first)))
        # hard, a window at an edge of the horizon that a neighbour holding the same work and more keeps at
        # a bound no greater adds nothing; soft, each window's excess is its own cost
        implying: list[int | None] = (
            implying_neighbours(
                [w[:2] for w in windows], [dict(zip(w[4], w[5], strict=True)) for w in windows], inst.days
            )
            if ctx.kind == "hard"
            else [None] * len(windows)
        )
        days_in_horizon = range(inst.days)
        for person in ctx.people:
            refs = ctx.x.refs(person)
            past = inst.history_of(person)
            if ctx.every_day:
                binds = None
            else:  # a rotation selector binds the windows that touch days on that rotation
                binds = [0, *itertools.accumulate(int(ctx.applies(person, d)) for d in days_in_horizon)]
            # work already done counts; when it alone breaks the window, no new work may enter it
            bounds = [
                max(
                    0, limit_minutes(inst, params, person, first, last) - (_minutes_of(past, start, end) if past else 0)
                )
                for first, last, start, end, *_ in windows
            ]
            for (first, last, _start, _end, places, minutes, label), bound, kept in zip(
                windows, bounds, kept_windows(implying, bounds), strict=True
            ):
                if not kept:
                    continue
                if binds is not None:
                    lo, hi = max(first, 0), min(last, inst.days - 1) + 1
                    if lo >= hi or binds[hi] == binds[lo]:
                        continue
                ctx.at_most_literals(
                    [refs[i] for i in places],
                    minutes,
                    bound,
                    subject=f"person={person}, window={label}",
                    name=f"{person}:{first}",
                    person=person,
                    first=first,
                    last=last,
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        windows = windows_for(inst, params)
        out = []
        for person in people:
            # the person's slots by start, with running sums of their work minutes: a window counts the
            # slots starting inside it from the sums, then corrects the few that cross one of its edges
            slots = sorted(schedule.by_person.get(person, []), key=lambda s: s.start)
            starts = [s.start for s in slots]
            sums = [0, *itertools.accumulate(s.work_minutes for s in slots)]
            longest = max((s.end_with_transition - s.start for s in slots), default=dt.timedelta(0))
            matching = [0, *itertools.accumulate(int(selector.day_matches(inst, person, d)) for d in range(inst.days))]
            for first, last in windows:
                lo, hi = max(first, 0), min(last, inst.days - 1) + 1
                if lo >= hi or matching[hi] == matching[lo]:  # no day of the window is the rule's
                    continue
                start, end = inst.midnight(first), inst.midnight(last + 1)
                inside, after = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
                minutes = sums[after] - sums[inside]
                for slot in slots[bisect.bisect_left(starts, end - longest, inside, after) : after]:
                    if slot.end_with_transition > end:  # runs past the window: only its share inside
                        minutes += slot.overlap_minutes(start, end) - slot.work_minutes
                reach = bisect.bisect_left(starts, start - longest, 0, inside)
                minutes += sum(slot.overlap_minutes(start, end) for slot in slots[reach:inside])
                minutes += history_minutes(inst, person, start, end)
                limit = limit_minutes(inst, params, person, first, last)
                if minutes > limit and any(slot.overlap_minutes(start, end) for slot in slots[reach:after]):
                    weeks = (last - first + 1) / 7
                    out.append(
                        Violation(
                            self.name,
                            person,
                            first,
                            last,
                            round(minutes / 60 / weeks, 2),
                            round(limit / 60 / weeks, 2),
                            self.unit,
                            f"{person} averages {minutes / 60 / weeks:.1f} h a week from "
                            f"{date_label(inst, first)} to {date_label(inst, last)}, over the limit of "
                            f"{limit / 60 / weeks:.1f} h",
                        )
                    )
        return out
