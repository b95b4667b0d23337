"""coverage: every shift gets at least ``min`` and at most ``max`` of the people who count for it."""

from __future__ import annotations

from typing import Any

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


@register
class Coverage(Rule):
    """Each coverage row's head-count is met: at least min, at most max."""

    name = "coverage"
    summary = "coverage min and max head-counts"
    unit = "people"
    independently_checked = True

    def build(self, ctx: BuildContext, params: Any) -> None:
        inst = ctx.instance
        for n, demand in enumerate(inst.demands):
            place = inst.position(demand.day, demand.shift)
            literals = [ctx.x.row(p)[place] for p in sorted(demand.people)]
            subject = f"shift={demand.shift}, date={date_label(inst, demand.day)}"
            detail: dict[str, Any] = {
                "day": demand.day,
                "shift": demand.shift,
                "people": len(demand.people),
                "row": demand.label,
                "min": demand.min,
                "max": demand.max,
            }
            if demand.min > 0:
                ctx.at_least_literals(literals, None, demand.min, subject=subject, name=f"min:{n}", **detail)
            if demand.max is not None:
                ctx.at_most_literals(literals, None, demand.max, subject=subject, name=f"max:{n}", **detail)

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for demand in inst.demands:
            count = len(demand.people & schedule.by_slot.get((demand.day, demand.shift), frozenset()))
            when = f"{demand.shift} on {date_label(inst, demand.day)}"
            if count < demand.min:
                out.append(
                    Violation(
                        self.name,
                        None,
                        demand.day,
                        demand.day,
                        count,
                        demand.min,
                        "people",
                        f"{when} has {count} of the {demand.min} people it needs{_row(demand.label)}",
                        shift=demand.shift,
                    )
                )
            if demand.max is not None and count > demand.max:
                out.append(
                    Violation(
                        self.name,
                        None,
                        demand.day,
                        demand.day,
                        count,
                        demand.max,
                        "people",
                        f"{when} has {count} people, more than its maximum of {demand.max}{_row(demand.label)}",
                        shift=demand.shift,
                    )
                )
        return out


def _row(label: str) -> str:
    return f" ({label})" if label else ""
