"""fairness: calls, weekends and nights shared evenly within each PGY class (soft)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register

Category = Literal["calls", "weekends", "nights"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: list[Category] = Field(default=["calls", "weekends", "nights"])
    tolerance: int = Field(default=1, ge=0, description="a spread up to this is fair and costs nothing")
    by_rotation: bool = Field(default=True, description="compare residents on the same rotation only")


_Params = Params


def counts(inst: Instance, category: Category) -> Callable[[int, str], bool]:
    if category == "calls":
        return lambda day, shift: inst.shift[shift].in_house_call
    if category == "nights":
        return lambda day, shift: inst.shift[shift].kind == "night"
    return lambda day, shift: inst.weekday(day) >= 5


def classes(
    inst: Instance, people: list[str], category: Category, by_rotation: bool = True
) -> dict[tuple[int, str], list[str]]:
    """Residents of each PGY year (and rotation) who could work that category at all in the horizon."""
    counted = counts(inst, category)
    out: dict[tuple[int, str], list[str]] = {}
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
            rotation = _main_rotation(inst, person) if by_rotation else ""
            out.setdefault((spec.pgy, rotation), []).append(person)
    return {k: v for k, v in out.items() if len(v) > 1}


def _main_rotation(inst: Instance, person: str) -> str:
    seen: dict[str, int] = {}
    for day in range(inst.days):
        rotation = inst.rotation.get((person, day))
        if rotation:
            seen[rotation] = seen.get(rotation, 0) + 1
    return max(sorted(seen), key=lambda r: seen[r]) if seen else ""


def _label(key: tuple[int, str]) -> str:
    pgy, rotation = key
    return f"PGY-{pgy}" + (f" on {rotation}" if rotation else "")


@register
class Fairness(Rule):
    """Within a PGY class, the spread (most − fewest) of calls, weekend and night shifts is small.

    Residents are compared with those of the same PGY year on the same rotation who can work
    that kind of shift in the block; a spread up to ``tolerance`` (default 1) costs nothing.
    """

    name = "fairness"
    summary = "even share of calls, weekends and nights within a PGY class"
    default_kind = "soft"
    kinds = frozenset({"soft"})
    unit = "shifts"
    Params = Params

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        for category in params.categories:
            counted = counts(inst, category)
            cells = [(d, s) for d in range(inst.days) for s in inst.shift_ids if counted(d, s)]
            if not cells:
                continue
            for key, people in sorted(classes(inst, ctx.people, category, params.by_rotation).items()):
                tag = f"{category}:pgy{key[0]}:{key[1]}"
                high = ctx.model.new_int_var(0, len(cells), f"fair_hi:{tag}")
                low = ctx.model.new_int_var(0, len(cells), f"fair_lo:{tag}")
                for person in people:
                    total = sum(ctx.x.is_assigned(person, d, s) for d, s in cells)
                    ctx.model.add(high >= total)
                    ctx.model.add(low <= total)
                # spread beyond the tolerance costs; within it a class is fair
                ctx.at_most([(1, high), (-1, low)], params.tolerance, subject=tag, name=tag)

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for category in params.categories:
            counted = counts(inst, category)
            for key, members in sorted(classes(inst, people, category, params.by_rotation).items()):
                per = [sum(1 for p, d, s in schedule.cells if p == m and counted(d, s)) for m in members]
                spread = max(per) - min(per)
                if spread > params.tolerance:
                    out.append(
                        Violation(
                            self.name,
                            None,
                            0,
                            inst.days - 1,
                            spread,
                            params.tolerance,
                            "shifts",
                            f"{_label(key)} residents' {category} range from {min(per)} to {max(per)}",
                            "warning",
                        )
                    )
        return out


def penalty(schedule: Schedule, params: _Params | None = None, people: list[str] | None = None) -> int:
    """Exact penalty (weight 1): Σ over categories and classes of max(0, most − fewest − tolerance)."""
    params = params or Params()
    inst = schedule.instance
    total = 0
    for category in params.categories:
        counted = counts(inst, category)
        if not any(counted(d, s) for d in range(inst.days) for s in inst.shift_ids):
            continue
        for members in classes(inst, people or list(inst.person_ids), category, params.by_rotation).values():
            per = [sum(1 for p, d, s in schedule.cells if p == m and counted(d, s)) for m in members]
            total += max(0, max(per) - min(per) - params.tolerance)
    return total
