"""supervision_ratio: enough faculty on a shift for its residents (PGY-1 1:2, others 1:4)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


def _needed(pgy1: int, others: int, params: Any) -> int:
    return math.ceil(pgy1 / params.pgy1_per_faculty + others / params.others_per_faculty - 1e-9)


@register
class SupervisionRatio(Rule):
    """Faculty on a shift ≥ ⌈PGY-1 ÷ 2 + other residents ÷ 4⌉."""

    name = "supervision_ratio"
    summary = "faculty supervision ratio on supervised shifts"
    unit = "people"
    independently_checked = True

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pgy1_per_faculty: int = Field(default=2, ge=1)
        others_per_faculty: int = Field(default=4, ge=1)
        shifts: list[str] | None = Field(
            default=None, description="supervised shifts; default: shifts with a faculty coverage row that day"
        )

    def _supervised(self, schedule_or_inst: Any, params: Params) -> set[tuple[int, str]]:
        inst = schedule_or_inst
        if params.shifts is not None:
            return {(d, s) for d in range(inst.days) for s in params.shifts if s in inst.shift}
        faculty = {p.id for p in inst.people if p.role == "faculty"}
        return {(dm.day, dm.shift) for dm in inst.demands if dm.people and dm.people <= faculty and dm.min > 0}

    def build(self, ctx: BuildContext, params: Params) -> None:
        inst = ctx.instance
        lcm = math.lcm(params.pgy1_per_faculty, params.others_per_faculty)
        scope = set(ctx.people)
        for day, shift in sorted(self._supervised(inst, params)):
            terms = []
            for person in inst.people:
                var = ctx.x.is_assigned(person.id, day, shift)
                if person.role == "faculty":
                    terms.append((lcm, var))
                elif person.id in scope:
                    per = params.pgy1_per_faculty if person.pgy == 1 else params.others_per_faculty
                    terms.append((-(lcm // per), var))
            ctx.at_least(
                terms,
                0,
                subject=f"shift={shift}, date={date_label(inst, day)}",
                name=f"{shift}:{day}",
                day=day,
                shift=shift,
            )

    def check(self, schedule: Schedule, params: Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        scope = set(people)
        out = []
        for day, shift in sorted(self._supervised(inst, params)):
            on = [inst.person[p] for p in schedule.by_slot.get((day, shift), ())]
            faculty = sum(1 for p in on if p.role == "faculty")
            pgy1 = sum(1 for p in on if p.role == "resident" and p.pgy == 1 and p.id in scope)
            others = sum(1 for p in on if p.role == "resident" and p.pgy != 1 and p.id in scope)
            needed = _needed(pgy1, others, params)
            if faculty < needed:
                out.append(
                    Violation(
                        self.name,
                        None,
                        day,
                        day,
                        faculty,
                        needed,
                        "people",
                        f"{shift} on {date_label(inst, day)} has {faculty} faculty for {pgy1} PGY-1 and "
                        f"{others} other residents; it needs {needed}",
                        shift=shift,
                    )
                )
        return out
