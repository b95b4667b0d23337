"""acgme_call_frequency: in-house call no more often than every third night (≤ 9 in 28 days)."""

from __future__ import annotations

import itertools

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label, implying_neighbours, kept_windows


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_calls: int = Field(default=9, ge=0)
    window_days: int = Field(default=28, ge=1)


_Params = Params


def _history_calls(inst: Instance, person: str, first: int, last: int) -> int:
    past = inst.history_of(person)
    if not past:
        return 0
    start, end = inst.midnight(first), inst.midnight(last + 1)
    return sum(1 for h in past if h.in_house_call and start <= h.start < end)


@register
class AcgmeCallFrequency(Rule):
    """At most 9 in-house call shifts in any 28 days (home call is exempt)."""

    name = "acgme_call_frequency"
    summary = "in-house call at most every third night"
    unit = "calls"
    Params = Params
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        calls = [s.id for s in inst.shifts if s.in_house_call]
        if not calls:
            return
        size = len(inst.shift_ids)
        offsets = [inst.shift_position[s] for s in calls]
        days = range(inst.days)
        windows = [(first, first + params.window_days - 1) for first in range(-params.window_days + 1, inst.days)]
        labels = {first: date_label(inst, first) for first, _ in windows}
        # hard, a window at an edge of the horizon whose neighbour holds its days and one more, at a bound
        # no greater, adds nothing; soft, each window's excess is its own cost
        spans = [range(max(first, 0), min(last, inst.days - 1) + 1) for first, last in windows]
        implying: list[int | None] = (
            implying_neighbours(windows, [dict.fromkeys(span, 1) for span in spans], inst.days)
            if ctx.kind == "hard"
            else [None] * len(windows)
        )
        for person in ctx.people:
            row = ctx.x.row(person)
            binds = None if ctx.every_day else [0, *itertools.accumulate(int(ctx.applies(person, d)) for d in days)]
            bounds = [max(0, params.max_calls - _history_calls(inst, person, first, last)) for first, last in windows]
            for (first, last), span, bound, kept in zip(
                windows, spans, bounds, kept_windows(implying, bounds), strict=True
            ):
                lo, hi = span.start, span.stop
                if not kept or lo >= hi or (binds is not None and binds[hi] == binds[lo]):
                    continue  # a rotation selector binds the windows that touch days on that rotation
                ctx.at_most_literals(
                    [row[d * size + k] for d in range(lo, hi) for k in offsets],
                    None,
                    bound,
                    subject=f"person={person}, window={labels[first]}",
                    name=f"{person}:{first}",
                    person=person,
                    first=first,
                    last=last,
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            days = sorted(d for p, d, s in schedule.cells if p == person and inst.shift[s].in_house_call)
            for first in range(-params.window_days + 1, inst.days):
                last = first + params.window_days - 1
                if not any(
                    selector.day_matches(inst, person, d) for d in range(max(first, 0), min(last, inst.days - 1) + 1)
                ):
                    continue
                count = sum(1 for d in days if first <= d <= last) + _history_calls(inst, person, first, last)
                if count > params.max_calls and any(first <= d <= last for d in days):
                    out.append(
                        Violation(
                            self.name,
                            person,
                            first,
                            last,
                            count,
                            params.max_calls,
                            self.unit,
                            f"{person} has {count} in-house calls from {date_label(inst, first)} to "
                            f"{date_label(inst, last)}, more than {params.max_calls}",
                        )
                    )
        return out
