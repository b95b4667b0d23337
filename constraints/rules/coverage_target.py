"""coverage_target: prefer each shift's ``target`` head-count (soft; under and over weighted)."""

from __future__ import annotations

from typing import Any

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


@register
class CoverageTarget(Rule):
    """Staff each shift at its target: every missing person costs ``weight × weight_under``."""

    name = "coverage_target"
    summary = "coverage at the preferred head-count"
    default_kind = "soft"
    kinds = frozenset({"soft"})
    unit = "people"
    independently_checked = True

    def build(self, ctx: BuildContext, params: Any) -> None:
        inst = ctx.instance
        for n, demand in enumerate(inst.demands):
            if demand.target is None:
                continue
            place = inst.position(demand.day, demand.shift)
            literals = [ctx.x.row(p)[place] for p in sorted(demand.people)]
            subject = f"shift={demand.shift}, date={date_label(inst, demand.day)}"
            if demand.weight_under:
                ctx.at_least_literals(
                    literals, None, demand.target, subject=subject, name=f"under:{n}", scale=demand.weight_under
                )
            if demand.weight_over:
                ctx.at_most_literals(
                    literals, None, demand.target, subject=subject, name=f"over:{n}", scale=demand.weight_over
                )

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for demand in inst.demands:
            if demand.target is None:
                continue
            count = sum(1 for p in demand.people if (p, demand.day, demand.shift) in schedule.cells)
            if count != demand.target and (
                (count < demand.target and demand.weight_under) or (count > demand.target and demand.weight_over)
            ):
                out.append(
                    Violation(
                        self.name,
                        None,
                        demand.day,
                        demand.day,
                        count,
                        demand.target,
                        "people",
                        f"{demand.shift} on {date_label(inst, demand.day)} has {count} people, "
                        f"its target is {demand.target}",
                        "warning",
                        demand.shift,
                    )
                )
        return out


def penalty(schedule: Schedule) -> int:
    """The exact weighted penalty of a schedule under this rule (weight 1)."""
    total = 0
    for demand in schedule.instance.demands:
        if demand.target is None:
            continue
        count = sum(1 for p in demand.people if (p, demand.day, demand.shift) in schedule.cells)
        total += max(0, demand.target - count) * demand.weight_under
        total += max(0, count - demand.target) * demand.weight_over
    return total
