"""acgme_pgy1_no_moonlighting: a PGY-1 resident holds no moonlighting shift (VI.F.5.c / 6.25.b)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shifts: list[str] | None = Field(
        default=None, description="moonlighting shifts; default: admin shifts whose id says moonlight"
    )


_Params = Params


def moonlighting(inst: Instance, params: _Params) -> list[str]:
    if params.shifts is not None:
        return [s for s in params.shifts if s in inst.shift]
    return [s.id for s in inst.shifts if s.kind == "admin" and "moonlight" in s.id.lower()]


@register
class AcgmePgy1NoMoonlighting(Rule):
    """PGY-1 residents are never given moonlighting shifts."""

    name = "acgme_pgy1_no_moonlighting"
    summary = "no moonlighting for PGY-1 residents"
    kinds = frozenset({"hard"})
    unit = "shifts"
    Params = Params
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        shifts = moonlighting(inst, params)
        for person in ctx.people:
            if inst.person[person].pgy != 1:
                continue
            cells = [(day, shift) for day in range(inst.days) for shift in shifts]
            ctx.forbid_all(
                [ctx.x.is_assigned(person, day, shift) for day, shift in cells],
                [f"{person}:{day}:{shift}" for day, shift in cells],
                subject=f"person={person}",
                person=person,
            )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        shifts = set(moonlighting(inst, params))
        return [
            Violation(
                self.name,
                p,
                d,
                d,
                1,
                0,
                "shifts",
                f"PGY-1 resident {p} moonlights ({s}) on {date_label(inst, d)}",
                shift=s,
            )
            for p, d, s in sorted(schedule.cells)
            if p in people and s in shifts and inst.person[p].pgy == 1
        ]
