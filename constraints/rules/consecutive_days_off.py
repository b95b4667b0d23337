"""consecutive_days_off: runs of days off last at least a minimum."""

from __future__ import annotations

from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label
from rotaflow.constraints.rules._runs import runs


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_days: dict[str, int] = Field(default={}, description="person id → shortest run of days off")
    default_min: int | None = None
    exempt_runs_at_horizon_ends: bool = True


_Params = Params


@register
class ConsecutiveDaysOff(Rule):
    """Days off come in runs of at least the minimum length."""

    name = "consecutive_days_off"
    summary = "minimum days off in a row"
    unit = "days"
    Params = Params
    personal = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        horizon = ctx.instance.days
        for person in ctx.people:
            shortest = params.min_days.get(person, params.default_min) or 0
            works = [ctx.x.works(person, d) for d in range(horizon)]
            for length in range(1, shortest):
                for first in range(horizon - length + 1):
                    last = first + length - 1
                    before, after = first - 1, last + 1
                    if params.exempt_runs_at_horizon_ends and (before < 0 or after >= horizon):
                        continue
                    pattern: list[cp_model.LiteralT] = [ctx.x.negation(works[d]) for d in range(first, last + 1)]
                    if before >= 0:
                        pattern.append(works[before])
                    if after < horizon:
                        pattern.append(works[after])
                    ctx.not_all(
                        pattern, subject=f"person={person}", name=f"{person}:off:{first}:{length}", person=person
                    )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            shortest = params.min_days.get(person, params.default_min) or 0
            worked = [schedule.works(person, d) for d in range(inst.days)]
            for working, first, last in runs(worked):
                length = last - first + 1
                touches = first == 0 or last == inst.days - 1
                if not working and length < shortest and not (params.exempt_runs_at_horizon_ends and touches):
                    out.append(
                        Violation(
                            self.name,
                            person,
                            first,
                            last,
                            length,
                            shortest,
                            "days",
                            f"{person} has only {length} day(s) off in a row from {date_label(inst, first)}",
                        )
                    )
        return out
