"""fixed_days_off: named people never work on named days."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


@register
class FixedDaysOff(Rule):
    """Days a person has off by contract: no shift starts on them."""

    name = "fixed_days_off"
    summary = "no shifts on fixed days off"
    kinds = frozenset({"hard"})
    unit = "shifts"
    personal = True

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        days: dict[str, list[int]] = {}

    def build(self, ctx: BuildContext, params: Params) -> None:
        people = set(ctx.people)
        for person, days in params.days.items():
            if person not in people:
                continue
            for day in days:
                if 0 <= day < ctx.instance.days:
                    shifts = ctx.instance.shift_ids
                    ctx.forbid_all(
                        ctx.x.on_day(person, day),
                        [f"{person}:{day}:{shift}" for shift in shifts],
                        subject=f"person={person}, day={date_label(ctx.instance, day)}",
                        person=person,
                    )

    def check(self, schedule: Schedule, params: Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        return [
            Violation(
                self.name, p, d, d, 1, 0, "shifts", f"{p} works {s} on a fixed day off ({date_label(inst, d)})", shift=s
            )
            for p, d, s in sorted(schedule.cells)
            if p in people and d in params.days.get(p, [])
        ]
