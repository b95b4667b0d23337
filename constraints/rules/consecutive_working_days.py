"""consecutive_working_days: runs of working days between a minimum and a maximum length.

A run that began before the block (days worked in history up to the day before it) goes on into
the block: the maximum counts those days too. The minimum keeps its ``exempt_runs_at_horizon_ends``
choice for runs touching the block's first or last day.
"""

from __future__ import annotations

from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label, history_days, history_run
from rotaflow.constraints.rules._runs import runs


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_days: dict[str, int] = Field(default={}, description="person id → longest run")
    min_days: dict[str, int] = Field(default={}, description="person id → shortest run")
    default_max: int | None = None
    default_min: int | None = None
    exempt_runs_at_horizon_ends: bool = Field(
        default=True, description="min not enforced on runs touching day 0 or the last day"
    )


_Params = Params


@register
class ConsecutiveWorkingDays(Rule):
    """No run of working days longer than the maximum or shorter than the minimum."""

    name = "consecutive_working_days"
    summary = "min and max working days in a row"
    unit = "days"
    Params = Params
    personal = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        horizon = inst.days
        for person in ctx.people:
            works = [ctx.x.works(person, d) for d in range(horizon)]
            subject = f"person={person}"
            longest = params.max_days.get(person, params.default_max)
            if longest is not None and longest < horizon:
                for first in range(horizon - longest):
                    ctx.at_most_literals(
                        works[first : first + longest + 1],
                        None,
                        longest,
                        subject=subject,
                        name=f"{person}:max:{first}",
                        person=person,
                    )
            past = history_run(history_days(inst, person)) if inst.history_of(person) else 0
            if longest is not None and past and max(0, longest - past) < horizon:
                room = max(0, longest - past)  # days 0..room may not all be worked after the past run
                ctx.at_most_literals(
                    works[: room + 1],
                    None,
                    room,
                    subject=subject,
                    name=f"{person}:max:history",
                    person=person,
                )
            shortest = params.min_days.get(person, params.default_min) or 0
            for length in range(1, shortest):
                for first in range(horizon - length + 1):
                    last = first + length - 1
                    before, after = first - 1, last + 1
                    if params.exempt_runs_at_horizon_ends and (before < 0 or after >= horizon):
                        continue
                    pattern: list[cp_model.LiteralT] = [works[d] for d in range(first, last + 1)]
                    if before >= 0:
                        pattern.append(ctx.x.negation(works[before]))
                    if after < horizon:
                        pattern.append(ctx.x.negation(works[after]))
                    ctx.not_all(pattern, subject=subject, name=f"{person}:min:{first}:{length}", person=person)

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            worked = [schedule.works(person, d) for d in range(inst.days)]
            longest = params.max_days.get(person, params.default_max)
            shortest = params.min_days.get(person, params.default_min) or 0
            past = history_run(history_days(inst, person))
            for working, first, last in runs(worked):
                if not working:
                    continue
                length = last - first + 1
                began = first - past if first == 0 else first  # a run from day 0 began in history
                if longest is not None and last - began + 1 > longest:
                    out.append(
                        Violation(
                            self.name,
                            person,
                            began,
                            last,
                            last - began + 1,
                            longest,
                            "days",
                            f"{person} works {last - began + 1} days in a row from {date_label(inst, began)}",
                        )
                    )
                touches = first == 0 or last == inst.days - 1
                if length < shortest and not (params.exempt_runs_at_horizon_ends and touches):
                    out.append(
                        Violation(
                            self.name,
                            person,
                            first,
                            last,
                            length,
                            shortest,
                            "days",
                            f"{person} works only {length} day(s) in a row from {date_label(inst, first)}",
                        )
                    )
        return out
