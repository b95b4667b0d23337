"""max_shifts_per_type: a person works each shift type at most so many times."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: dict[str, int] = Field(default={}, description="shift id → max, for everyone")
    limits: dict[str, dict[str, int]] = Field(default={}, description="person id → shift id → max")

    def limit(self, person: str, shift: str) -> int | None:
        return self.limits.get(person, {}).get(shift, self.default.get(shift))


_Params = Params


@register
class MaxShiftsPerType(Rule):
    """No more than the allowed number of each shift type over the horizon (0 forbids it)."""

    name = "max_shifts_per_type"
    summary = "cap per shift type"
    unit = "shifts"
    Params = Params
    personal = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        for person in ctx.people:
            for shift in inst.shift_ids:
                limit = params.limit(person, shift)
                if limit is None:
                    continue
                row, k, size = ctx.x.row(person), inst.shift_position[shift], len(inst.shift_ids)
                ctx.at_most_literals(
                    row[k::size],
                    None,
                    limit,
                    subject=f"person={person}, shift={shift}",
                    name=f"{person}:{shift}",
                    person=person,
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            for shift in inst.shift_ids:
                limit = params.limit(person, shift)
                count = sum(1 for p, _, s in schedule.cells if p == person and s == shift)
                if limit is not None and count > limit:
                    out.append(
                        Violation(
                            self.name,
                            person,
                            0,
                            inst.days - 1,
                            count,
                            limit,
                            "shifts",
                            f"{person} works {shift} {count} times, more than {limit}",
                        )
                    )
        return out
