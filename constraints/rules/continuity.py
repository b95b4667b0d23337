"""continuity: change as little as possible of a given (published) schedule (soft)."""

from __future__ import annotations

from typing import Any

from rotaflow.constraints.instance import Cell, Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register


@register
class Continuity(Rule):
    """Every shift removed from, or added to, the previous schedule costs one."""

    name = "continuity"
    summary = "few changes from the previous schedule"
    default_kind = "soft"
    kinds = frozenset({"soft"})
    unit = "changes"

    def build(self, ctx: BuildContext, params: Any) -> None:
        inst = ctx.instance
        if not inst.previous:
            return
        scope = set(ctx.people)
        for cell, var in ctx.x.items():
            if cell[0] not in scope:
                continue
            if cell in inst.previous:
                ctx.penalize([(-1, var)], constant=1, name=f"removed:{cell}")
            else:
                ctx.penalize([(1, var)], name=f"added:{cell}")

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        if not inst.previous:
            return []
        changed = {c for c in schedule.cells ^ _inside(inst) if c[0] in people}
        if not changed:
            return []
        return [
            Violation(
                self.name,
                None,
                0,
                inst.days - 1,
                len(changed),
                0,
                "changes",
                f"{len(changed)} shift(s) differ from the previous schedule",
                "warning",
            )
        ]


def _inside(inst: Instance) -> frozenset[Cell]:
    return frozenset(c for c in inst.previous if 0 <= c[1] < inst.days)


def penalty(schedule: Schedule) -> int:
    """Exact penalty (weight 1): shifts added to or removed from the previous schedule."""
    inst = schedule.instance
    return len(schedule.cells ^ _inside(inst)) if inst.previous else 0
