"""fairness: calls, weekends, nights and holidays shared evenly within each PGY class (soft), in the block or over
the year.

``scope: block`` compares each resident's count in the block with the others of their PGY (on the same rotation,
``by_rotation``). ``scope: year`` compares the academic year so far: the count before the block
(``Instance.prior``) plus the block's, per 28 available days at full time (count × 28 / (FTE × days available
before and in the block)), across the whole PGY; a resident who has had fewer calls so far gets more now. Both
compare only the residents who can work that kind of shift in the block at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register

Category = Literal["calls", "weekends", "nights", "holidays"]
SCALE = 100
"""Year scope works in hundredths of a shift per 28 available days."""


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: list[Category] = Field(default=["calls", "weekends", "nights"])
    tolerance: int = Field(default=1, ge=0, description="a spread up to this is fair and costs nothing")
    by_rotation: bool = Field(default=True, description="block scope: compare residents on the same rotation only")
    scope: Literal["block", "year"] = Field(
        default="block", description="block: this block's counts; year: the year so far, per FTE and days available"
    )


_Params = Params


def counts(inst: Instance, category: Category) -> Callable[[int, str], bool]:
    if category == "calls":
        return lambda day, shift: inst.shift[shift].in_house_call
    if category == "nights":
        return lambda day, shift: inst.shift[shift].kind == "night"
    if category == "holidays":
        return lambda day, shift: day in inst.holidays
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


def _groups(inst: Instance, people: list[str], category: Category, params: _Params) -> dict[tuple[int, str], list[str]]:
    return classes(inst, people, category, params.by_rotation and params.scope == "block")


def available_days(inst: Instance, person: str) -> int:
    """The resident's days of the year so far and of the horizon, less leave (at least one)."""
    before = inst.prior[person].available_days if person in inst.prior else 0
    away = inst.leave_days.get(person, frozenset()) | inst.blocked_days.get(person, frozenset())
    inside = sum(1 for d in range(inst.days) if d not in away)
    return max(1, before + inside)


def multiplier(inst: Instance, person: str) -> int:
    """Year scope: what one shift of ``person`` weighs, in hundredths of a shift per 28 available full-time days."""
    fte = inst.person[person].fte or 1.0
    return max(1, round(28 * SCALE / (fte * available_days(inst, person))))


def prior_count(inst: Instance, person: str, category: Category) -> int:
    load = inst.prior.get(person)
    return 0 if load is None else int(getattr(load, category))


def _year_spread(inst: Instance, members: list[str], category: Category, per: list[int]) -> int:
    """The spread of the year's scaled rates (hundredths) of ``members`` with ``per`` shifts in the horizon."""
    rates = [(prior_count(inst, m, category) + n) * multiplier(inst, m) for m, n in zip(members, per, strict=True)]
    return max(rates) - min(rates)


def _year_cost(spread: int, tolerance: int) -> int:
    """Whole shifts (per 28 days) of a scaled spread beyond the tolerance, rounded up."""
    return max(0, math.ceil((spread - tolerance * SCALE) / SCALE))


@register
class Fairness(Rule):
    """Within a PGY class, the spread (most − fewest) of calls, weekend and night shifts is small.

    Block scope compares residents of the same PGY year on the same rotation who can work that kind of shift in
    the block; year scope compares the whole PGY over the academic year so far, per FTE and days available. A
    spread up to ``tolerance`` (default 1 shift; in year scope, 1 shift per 28 days) costs nothing.
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
            for key, people in sorted(_groups(inst, ctx.people, category, params).items()):
                tag = f"{category}:pgy{key[0]}:{key[1]}"
                if params.scope == "year":
                    self._build_year(ctx, params, category, cells, people, tag)
                    continue
                high = ctx.model.new_int_var(0, len(cells), f"fair_hi:{tag}")
                low = ctx.model.new_int_var(0, len(cells), f"fair_lo:{tag}")
                for person in people:
                    total = sum(ctx.x.is_assigned(person, d, s) for d, s in cells)
                    ctx.model.add(high >= total)
                    ctx.model.add(low <= total)
                # spread beyond the tolerance costs; within it a class is fair
                ctx.at_most([(1, high), (-1, low)], params.tolerance, subject=tag, name=tag)

    @staticmethod
    def _build_year(
        ctx: BuildContext,
        params: _Params,
        category: Category,
        cells: list[tuple[int, str]],
        people: list[str],
        tag: str,
    ) -> None:
        inst = ctx.instance
        scaled = {p: (prior_count(inst, p, category), multiplier(inst, p)) for p in people}
        top = max((prior + len(cells)) * weight for prior, weight in scaled.values())
        high = ctx.model.new_int_var(0, top, f"fair_hi:{tag}")
        low = ctx.model.new_int_var(0, top, f"fair_lo:{tag}")
        for person, (prior, weight) in scaled.items():
            total = sum(ctx.x.is_assigned(person, d, s) for d, s in cells)
            ctx.model.add(high >= weight * (total + prior))
            ctx.model.add(low <= weight * (total + prior))
        # the spread beyond the tolerance, in whole shifts per 28 days (rounded up), costs
        cost = ctx.model.new_int_var(0, max(0, math.ceil(top / SCALE)), f"fair_cost:{tag}")
        ctx.model.add(SCALE * cost >= high - low - params.tolerance * SCALE)
        ctx.penalize([(1, cost)], name=tag)

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for category in params.categories:
            counted = counts(inst, category)
            for key, members in sorted(_groups(inst, people, category, params).items()):
                per = [sum(1 for p, d, s in schedule.cells if p == m and counted(d, s)) for m in members]
                if params.scope == "year":
                    rates = [
                        (prior_count(inst, m, category) + n) * multiplier(inst, m) / SCALE
                        for m, n in zip(members, per, strict=True)
                    ]
                    spread = _year_spread(inst, members, category, per)
                    if _year_cost(spread, params.tolerance) == 0:
                        continue
                    message = (
                        f"{_label(key)} residents' {category} per 28 available days over the year so far range "
                        f"from {min(rates):.2f} to {max(rates):.2f}"
                    )
                    value: float = round(spread / SCALE, 2)
                else:
                    spread = max(per) - min(per)
                    if spread <= params.tolerance:
                        continue
                    message = f"{_label(key)} residents' {category} range from {min(per)} to {max(per)}"
                    value = spread
                out.append(
                    Violation(self.name, None, 0, inst.days - 1, value, params.tolerance, "shifts", message, "warning")
                )
        return out


def penalty(schedule: Schedule, params: _Params | None = None, people: list[str] | None = None) -> int:
    """Exact penalty (weight 1): Σ over categories and classes of the spread beyond the tolerance (block scope:
    most − fewest; year scope: in whole shifts per 28 available days, rounded up)."""
    params = params or Params()
    inst = schedule.instance
    total = 0
    for category in params.categories:
        counted = counts(inst, category)
        if not any(counted(d, s) for d in range(inst.days) for s in inst.shift_ids):
            continue
        for members in _groups(inst, people or list(inst.person_ids), category, params).values():
            per = [sum(1 for p, d, s in schedule.cells if p == m and counted(d, s)) for m in members]
            if params.scope == "year":
                total += _year_cost(_year_spread(inst, members, category, per), params.tolerance)
            else:
                total += max(0, max(per) - min(per) - params.tolerance)
    return total
