"""max_weekends: a person works at most so many weekends (Saturday or Sunday worked)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limits: dict[str, int] = Field(default={}, description="person id → most weekends")
    default: int | None = None


_Params = Params


def weekends(inst: Instance) -> list[list[int]]:
    """Day indexes of each weekend (Saturday and/or Sunday) inside the horizon."""
    out: dict[int, list[int]] = {}
    for day in range(inst.days):
        weekday = inst.weekday(day)
        if weekday >= 5:
            saturday = day - (weekday - 5)
            out.setdefault(saturday, []).append(day)
    return [out[k] for k in sorted(out)]


@register
class MaxWeekends(Rule):
    """At most the allowed number of weekends with any shift on Saturday or Sunday."""

    name = "max_weekends"
    summary = "cap on weekends worked"
    unit = "weekends"
    Params = Params
    personal = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        ends = weekends(inst)
        for person in ctx.people:
            limit = params.limits.get(person, params.default)
            if limit is None or limit >= len(ends):
                continue
            worked = []
            for n, days in enumerate(ends):
                var = ctx.model.new_bool_var(f"weekend[{person},{n}]")
                ctx.model.add_max_equality(var, [ctx.x.works(person, d) for d in days])
                worked.append((1, var))
            ctx.at_most(worked, limit, subject=f"person={person}", name=f"{person}", person=person)

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        ends = weekends(inst)
        out = []
        for person in people:
            limit = params.limits.get(person, params.default)
            count = sum(1 for days in ends if any(schedule.works(person, d) for d in days))
            if limit is not None and count > limit:
                out.append(
                    Violation(
                        self.name,
                        person,
                        0,
                        inst.days - 1,
                        count,
                        limit,
                        "weekends",
                        f"{person} works {count} weekends, more than {limit}",
                    )
                )
        return out
