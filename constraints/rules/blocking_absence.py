"""blocking_absence: nobody starts a shift on a day of blocking leave."""

from __future__ import annotations

from typing import Any

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


def _runs(days: frozenset[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


@register
class BlockingAbsence(Rule):
    """A person on blocking leave (vacation, sick, parental …) is not scheduled that day."""

    name = "blocking_absence"
    summary = "no shifts during blocking absences"
    kinds = frozenset({"hard"})
    unit = "shifts"
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: Any) -> None:
        inst = ctx.instance
        for person in ctx.people:
            for first, last in _runs(inst.blocked_days.get(person, frozenset())):
                subject = f"person={person}, from={date_label(inst, first)}, to={date_label(inst, last)}"
                days = range(max(first, 0), min(last, inst.days - 1) + 1)
                ctx.forbid_all(
                    [v for day in days for v in ctx.x.on_day(person, day)],
                    [f"{person}:{day}:{shift}" for day in days for shift in inst.shift_ids],
                    subject=subject,
                    person=person,
                    first=first,
                    last=last,
                )

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        return [
            Violation(
                self.name, p, d, d, 1, 0, "shifts", f"{p} works {s} on {date_label(inst, d)} while on leave", shift=s
            )
            for p, d, s in sorted(schedule.cells)
            if p in people and d in inst.blocked_days.get(p, frozenset())
        ]
