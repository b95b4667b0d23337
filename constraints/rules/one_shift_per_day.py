"""one_shift_per_day: at most one shift starts on any day for a person."""

from __future__ import annotations

from typing import Any

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


@register
class OneShiftPerDay(Rule):
    """A person starts at most one shift a day."""

    name = "one_shift_per_day"
    summary = "at most one shift a day per person"
    unit = "shifts"
    personal = True

    def build(self, ctx: BuildContext, params: Any) -> None:
        for person in ctx.people:
            for day in range(ctx.instance.days):
                if not ctx.applies(person, day):
                    continue
                shifts = ctx.x.on_day(person, day)
                if ctx.kind == "hard":
                    guard = ctx.guard(f"person={person}", person=person)
                    ctx.model.add_at_most_one(shifts).only_enforce_if(guard)
                    ctx.x.declare_one_a_day(person, day, guard)
                else:
                    ctx.at_most([(1, v) for v in shifts], 1, subject=f"person={person}", name=f"{person}:{day}")

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        counts: dict[tuple[str, int], int] = {}
        for person, day, _ in schedule.cells:
            counts[(person, day)] = counts.get((person, day), 0) + 1
        return [
            Violation(self.name, p, d, d, n, 1, "shifts", f"{p} has {n} shifts on {date_label(inst, d)}")
            for (p, d), n in sorted(counts.items())
            if n > 1 and p in people and selector.day_matches(inst, p, d)
        ]
