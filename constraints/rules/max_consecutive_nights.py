"""max_consecutive_nights: no more than N night shifts in a row (a program rule)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label, history_days


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_nights: int = Field(default=6, ge=1)
    kinds: list[str] = Field(default=["night"], description="shift kinds that count as nights")


_Params = Params


@register
class MaxConsecutiveNights(Rule):
    """At most ``max_nights`` night shifts on consecutive days."""

    name = "max_consecutive_nights"
    summary = "cap on nights in a row"
    unit = "nights"
    Params = Params
    personal = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        nights = [s.id for s in inst.shifts if s.kind in params.kinds]
        if not nights:
            return
        span = params.max_nights + 1
        size = len(inst.shift_ids)
        offsets = [inst.shift_position[s] for s in nights]
        for person in ctx.people:
            past = _history_nights(inst, person, params)
            row = ctx.x.row(person)
            for first in range(-params.max_nights, inst.days - span + 1):
                days = range(first, first + span)
                before = sum(1 for d in days if d in past) if past else 0
                ctx.at_most_literals(
                    [row[d * size + k] for d in days if d >= 0 for k in offsets],
                    None,
                    max(0, params.max_nights - before),
                    subject=f"person={person}",
                    name=f"{person}:{first}",
                    person=person,
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        nights = {s.id for s in inst.shifts if s.kind in params.kinds}
        out = []
        for person in people:
            scheduled = {d for p, d, s in schedule.cells if p == person and s in nights}
            days = sorted(scheduled | _history_nights(inst, person, params))
            run_start, previous = None, None
            for day in days + [None]:  # type: ignore[list-item]
                if day is not None and previous is not None and day == previous + 1:
                    previous = day
                    continue
                if run_start is not None and previous is not None and previous >= 0:  # not wholly in the past
                    length = previous - run_start + 1
                    if length > params.max_nights:
                        out.append(
                            Violation(
                                self.name,
                                person,
                                run_start,
                                previous,
                                length,
                                params.max_nights,
                                "nights",
                                f"{person} works {length} nights in a row up to {date_label(inst, previous)}",
                            )
                        )
                run_start = previous = day
        return out


def _history_nights(inst: Instance, person: str, params: _Params) -> set[int]:
    """Day indexes (negative: before the horizon) on which the person started a past night."""
    return set(history_days(inst, person, kinds=params.kinds))
