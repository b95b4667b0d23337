"""fairness: calls, weekends and nights shared evenly within each PGY class (soft)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from constraints.instance import Instance, Schedule
from constraints.registry import BuildContext, Rule, Selector, Violation, register

Category = Literal["calls", "weekends", "nights"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: list[Category] = Field(default=["calls", "weekends", "nights"])


def counts(inst: Instance, category: Category) -> Callable[[int, str], bool]:
    if category == "calls":
        return lambda day, shift: inst.shift[shift].in_house_call
    if category == "nights":
        return lambda day, shift: inst.shift[shift].kind == "night"
    return lambda day, shift: inst.weekday(day) >= 5


def classes(inst: Instance, people: list[str], category: Category) -> dict[int, list[str]]:
    """Residents of each PGY year who could work that category at all in the horizon."""
    counted = counts(inst, category)
    out: dict[int, list[str]] = {}
    for person in people:
        spec = inst.person[person]
        if spec.role != "resident" or spec.pgy is None:
            continue
        blocked = inst.blocked_days.get(person, frozenset())
        if any(
            counted(d, s) and inst.may_work(person, d, s) and d not in blocked
            for d in range(inst.days)
            for s in inst.shift_ids
        ):
            out.setdefault(spec.pgy, []).append(person)
    return {k: v for k, v in out.items() if len(v) > 1}


@register
class Fairness(Rule):
    """Within a PGY class, the spread (most − fewest) of calls, weekend and night shifts is small.

    Only residents whose rotation lets them work that kind of shift in the block are compared.
    """

    name = "fairness"
    summary = "even share of calls, weekends and nights within a PGY class"
    default_kind = "soft"
    kinds = frozenset({"soft"})
    unit = "shifts"
    Params = Params

    def build(self, ctx: BuildContext, params: Params) -> None:
        inst = ctx.instance
        for category in params.categories:
            counted = counts(inst, category)
            cells = [(d, s) for d in range(inst.days) for s in inst.shift_ids if counted(d, s)]
            if not cells:
                continue
            for pgy, people in sorted(classes(inst, ctx.people, category).items()):
                high = ctx.model.new_int_var(0, len(cells), f"fair_hi:{category}:{pgy}")
                low = ctx.model.new_int_var(0, len(cells), f"fair_lo:{category}:{pgy}")
                for person in people:
                    total = sum(ctx.x.is_assigned(person, d, s) for d, s in cells)
                    ctx.model.add(high >= total)
                    ctx.model.add(low <= total)
                ctx.penalize([(1, high), (-1, low)], name=f"{category}:pgy{pgy}")

    def check(self, schedule: Schedule, params: Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for category in params.categories:
            counted = counts(inst, category)
            for pgy, members in sorted(classes(inst, people, category).items()):
                per = [sum(1 for p, d, s in schedule.cells if p == m and counted(d, s)) for m in members]
                spread = max(per) - min(per)
                if spread > 1:
                    out.append(
                        Violation(
                            self.name,
                            None,
                            0,
                            inst.days - 1,
                            spread,
                            1,
                            "shifts",
                            f"PGY-{pgy} residents' {category} range from {min(per)} to {max(per)}",
                            "warning",
                        )
                    )
        return out


def penalty(schedule: Schedule, params: Params | None = None, people: list[str] | None = None) -> int:
    """Exact penalty (weight 1): Σ over categories and classes of (most − fewest)."""
    params = params or Params()
    inst = schedule.instance
    total = 0
    for category in params.categories:
        counted = counts(inst, category)
        if not any(counted(d, s) for d in range(inst.days) for s in inst.shift_ids):
            continue
        for members in classes(inst, people or list(inst.person_ids), category).values():
            per = [sum(1 for p, d, s in schedule.cells if p == m and counted(d, s)) for m in members]
            total += max(per) - min(per)
    return total
