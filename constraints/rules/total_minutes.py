"""total_minutes: each person's worked minutes over the horizon stay within bounds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: dict[str, int] = Field(default={}, description="person id → minimum minutes")
    max: dict[str, int] = Field(default={}, description="person id → maximum minutes")
    default_min: int | None = None
    default_max: int | None = None


_Params = Params


@register
class TotalMinutes(Rule):
    """Total work minutes between a person's minimum and maximum."""

    name = "total_minutes"
    summary = "minimum and maximum total work time"
    unit = "minutes"
    Params = Params
    personal = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        minutes = [s.work_minutes for s in inst.slot_list]
        for person in ctx.people:
            row = ctx.x.row(person)
            low = params.min.get(person, params.default_min)
            high = params.max.get(person, params.default_max)
            if low:
                ctx.at_least_literals(
                    row, minutes, low, subject=f"person={person}", name=f"{person}:min", person=person
                )
            if high is not None:
                ctx.at_most_literals(
                    row, minutes, high, subject=f"person={person}", name=f"{person}:max", person=person
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            total = sum(s.work_minutes for s in schedule.by_person[person])
            low = params.min.get(person, params.default_min)
            high = params.max.get(person, params.default_max)
            if low and total < low:
                out.append(
                    Violation(
                        self.name,
                        person,
                        0,
                        inst.days - 1,
                        total,
                        low,
                        "minutes",
                        f"{person} works {total} minutes, fewer than {low}",
                    )
                )
            if high is not None and total > high:
                out.append(
                    Violation(
                        self.name,
                        person,
                        0,
                        inst.days - 1,
                        total,
                        high,
                        "minutes",
                        f"{person} works {total} minutes, more than {high}",
                    )
                )
        return out
