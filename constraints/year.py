"""Year planning: which rotation each resident does in each block of the academic year, by CP-SAT.

One boolean per resident × block × rotation the resident may do (the rotations of their PGY's requirements,
or every rotation when the PGY has none), exactly one a block. Hard: each resident meets their PGY's
requirements (minimum and maximum blocks of a rotation over the year); each rotation's head-count in each block
stays within its capacity (the rotation's bounds, or the block's override); no more than
``max_consecutive_blocks`` blocks of one rotation in a row; locked rows stay as they are; a blocking absence
inside a block needs a rotation that allows leave in that block (hard, or a wish when the leave is soft).
Soft: the residents' rotation requests, soft leave, and an even spread of each rotation's head-count across
the blocks.

Every hard group sits behind one enforcement literal, so an impossible plan is diagnosed as in
``explain``: CP-SAT's sufficient assumptions, shrunk by a deletion filter to a conflict where dropping any
one group makes the rest possible, each group in words with its numbers (who, how many, which block).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ortools.sat.python import cp_model

from rotaflow.constraints.explain import minimal_conflict
from rotaflow.constraints.solve import Status, kill_switch, status_of

__all__ = [
    "Leave",
    "PlanResult",
    "Resident",
    "Requirement",
    "Rotation",
    "Unmet",
    "Wish",
    "YearProblem",
    "Weights",
    "plan_year",
]

WORKERS = 8
"""CP-SAT search workers, whatever the machine's cores: the year's bound (the spread of a rotation's load) is
proved by workers of the portfolio that CP-SAT only runs with six or more (the sample year: optimal in 2-4 s
with 8 workers on two cores, not proved in 30 s with 2 or 4)."""
Cell = tuple[str, str]
"""(person_id, block_id)."""


@dataclass(frozen=True)
class Resident:
    id: str
    pgy: int


@dataclass(frozen=True)
class Rotation:
    id: str
    setting: str
    leave_allowed: bool
    min_residents: int | None = None
    max_residents: int | None = None
    max_consecutive_blocks: int | None = None


@dataclass(frozen=True)
class Requirement:
    """Residents of ``pgy`` do at least ``min_blocks`` (and at most ``max_blocks``) blocks of ``rotation``."""

    pgy: int
    rotation: str
    min_blocks: int
    max_blocks: int | None = None


@dataclass(frozen=True)
class Leave:
    """A blocking absence of ``person`` for ``days`` days inside ``block``: the block's rotation must allow leave
    (hard), or should (``soft``: granted where possible, reported when not)."""

    person: str
    block: str
    days: int
    kind: str
    soft: bool = False

    @property
    def weeks(self) -> int:
        return max(1, math.ceil(self.days / 7))


@dataclass(frozen=True)
class Wish:
    """A resident's wish for (``on``) or against (``off``) a rotation in a block."""

    person: str
    block: str
    rotation: str
    kind: Literal["on", "off"]
    weight: int = 1


@dataclass(frozen=True)
class Weights:
    """What a unit of each soft goal costs in the objective."""

    wish: int = 10
    """Per unit of a wish's weight."""
    leave_week: int = 100
    """Per week of soft leave not granted."""
    spread: int = 5
    """Per resident between a rotation's fullest and emptiest block."""


@dataclass
class YearProblem:
    residents: tuple[Resident, ...]
    blocks: tuple[str, ...]
    """In date order."""
    rotations: tuple[Rotation, ...]
    requirements: tuple[Requirement, ...] = ()
    capacity: Mapping[tuple[str, str], tuple[int | None, int | None]] = field(default_factory=dict)
    """(block, rotation) → (min, max) overriding the rotation's own bounds for that block; None keeps the
    rotation's bound."""
    locked: Mapping[Cell, str] = field(default_factory=dict)
    leave: tuple[Leave, ...] = ()
    wishes: tuple[Wish, ...] = ()
    hint: Mapping[Cell, str] = field(default_factory=dict)
    """A previous plan to start from (rows not locked)."""
    weights: Weights = field(default_factory=Weights)

    @property
    def rotation(self) -> dict[str, Rotation]:
        return {r.id: r for r in self.rotations}

    def bounds(self, block: str, rotation: str) -> tuple[int | None, int | None]:
        """The head-count bounds of ``rotation`` in ``block``: the block's override where given."""
        spec = self.rotation[rotation]
        low, high = spec.min_residents, spec.max_residents
        override = self.capacity.get((block, rotation))
        if override is not None:
            low = override[0] if override[0] is not None else low
            high = override[1] if override[1] is not None else high
        return low, high

    def allowed(self, resident: Resident, block: str) -> list[str]:
        """The rotations ``resident`` may do in ``block``: those their PGY's requirements name (every rotation when
        none do), and the rotation a locked row gives them there."""
        named = [q.rotation for q in self.requirements if q.pgy == resident.pgy]
        ids = [r.id for r in self.rotations if not named or r.id in named]
        locked = self.locked.get((resident.id, block))
        if locked is not None and locked not in ids:
            ids.append(locked)
        return ids


@dataclass(frozen=True)
class Unmet:
    """A wish or a soft leave the plan does not grant, and why."""

    kind: Literal["wish", "leave"]
    person_id: str
    block_id: str
    rotation_id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "person_id": self.person_id,
            "block_id": self.block_id,
            "rotation_id": self.rotation_id,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Group:
    """A hard group behind one enforcement literal, in words."""

    kind: str
    subject: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


@dataclass
class PlanResult:
    status: Status
    objective: float | None
    best_bound: float | None
    seconds: float
    plan: dict[Cell, str]
    unmet: list[Unmet] = field(default_factory=list)
    diagnosis: list[Group] = field(default_factory=list)
    penalties: dict[str, int] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.best_bound is None:
            return None
        if self.objective == 0:
            return 0.0
        return abs(self.objective - self.best_bound) / max(abs(self.objective), 1e-9)


# --------------------------------------------------------------------------- the model


@dataclass
class _Built:
    model: cp_model.CpModel
    x: dict[tuple[str, str, str], cp_model.IntVar]
    groups: list[tuple[cp_model.IntVar, Group]]
    terms: dict[str, list[tuple[int, Any]]]
    """Objective terms by soft goal: (weight, expression)."""
    granted: dict[Leave, Any]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _build(problem: YearProblem) -> _Built:
    model = cp_model.CpModel()
    blocks = problem.blocks
    rotations = problem.rotation
    x: dict[tuple[str, str, str], cp_model.IntVar] = {}
    for p in problem.residents:
        for b in blocks:
            options = [r for r in problem.allowed(p, b) if r in rotations]
            for r in options:
                x[p.id, b, r] = model.new_bool_var(f"x[{p.id},{b},{r}]")
            model.add_exactly_one(x[p.id, b, r] for r in options)
    groups: list[tuple[cp_model.IntVar, Group]] = []

    def guard(group: Group) -> cp_model.IntVar:
        literal = model.new_bool_var(f"guard[{group.kind}:{group.subject}]")
        groups.append((literal, group))
        return literal

    def var(p: str, b: str, r: str) -> Any:
        return x.get((p, b, r), 0)

    # requirements: one group per PGY × rotation × side
    by_pgy: dict[int, list[Resident]] = {}
    for p in problem.residents:
        by_pgy.setdefault(p.pgy, []).append(p)
    for q in problem.requirements:
        people = by_pgy.get(q.pgy, [])
        if not people or q.rotation not in rotations:
            continue
        who = f"the {_plural(len(people), 'PGY-' + str(q.pgy) + ' resident')}"
        if q.min_blocks > 0:
            lit = guard(
                Group(
                    "requirement",
                    f"PGY-{q.pgy} {q.rotation} min",
                    f"{who} must each do at least {_plural(q.min_blocks, 'block')} of {q.rotation}"
                    f" ({len(people) * q.min_blocks} resident-blocks)",
                )
            )
            for p in people:
                model.add(sum(var(p.id, b, q.rotation) for b in blocks) >= q.min_blocks).only_enforce_if(lit)
        if q.max_blocks is not None:
            lit = guard(
                Group(
                    "requirement",
                    f"PGY-{q.pgy} {q.rotation} max",
                    f"{who} may each do at most {_plural(q.max_blocks, 'block')} of {q.rotation}"
                    f" ({len(people) * q.max_blocks} resident-blocks)",
                )
            )
            for p in people:
                model.add(sum(var(p.id, b, q.rotation) for b in blocks) <= q.max_blocks).only_enforce_if(lit)

    # capacity: the rotation's own bounds as one group a side, each block's override as its own
    counts: dict[tuple[str, str], Any] = {
        (b, r): sum(var(p.id, b, r) for p in problem.residents) for b in blocks for r in rotations
    }
    for r, spec in rotations.items():
        for side in ("min", "max"):
            own = spec.min_residents if side == "min" else spec.max_residents
            plain = [b for b in blocks if (b, r) not in problem.capacity or _side(problem.capacity[b, r], side) is None]
            if own is not None and plain:
                word = "at least" if side == "min" else "at most"
                lit = guard(
                    Group(
                        "capacity",
                        f"{r} {side}",
                        f"{r} takes {word} {_plural(own, 'resident')} in each of {_plural(len(plain), 'block')}"
                        f" ({own * len(plain)} resident-blocks)",
                    )
                )
                for b in plain:
                    if side == "min":
                        model.add(counts[b, r] >= own).only_enforce_if(lit)
                    else:
                        model.add(counts[b, r] <= own).only_enforce_if(lit)
        for b in blocks:
            override = problem.capacity.get((b, r))
            if override is None:
                continue
            for side, bound in (("min", override[0]), ("max", override[1])):
                if bound is None:
                    continue
                word = "at least" if side == "min" else "at most"
                lit = guard(
                    Group(
                        "capacity",
                        f"{r} {b} {side}",
                        f"{r} takes {word} {_plural(bound, 'resident')} in block {b} (rotation_capacity.csv)",
                    )
                )
                if side == "min":
                    model.add(counts[b, r] >= bound).only_enforce_if(lit)
                else:
                    model.add(counts[b, r] <= bound).only_enforce_if(lit)

    # at most k blocks of a rotation in a row
    for r, spec in rotations.items():
        k = spec.max_consecutive_blocks
        if k is None or k >= len(blocks):
            continue
        lit = guard(Group("consecutive", r, f"nobody does more than {_plural(k, 'block')} of {r} in a row"))
        for p in problem.residents:
            if not any((p.id, b, r) in x for b in blocks):
                continue
            for start in range(len(blocks) - k):
                window = blocks[start : start + k + 1]
                model.add(sum(var(p.id, b, r) for b in window) <= k).only_enforce_if(lit)

    # locked rows
    for (person, block), rotation in sorted(problem.locked.items()):
        if (person, block, rotation) not in x:
            continue
        lit = guard(Group("locked", f"{person} {block}", f"{person} is locked to {rotation} in block {block}"))
        model.add(x[person, block, rotation] == 1).only_enforce_if(lit)

    # leave: the block's rotation allows leave
    leave_rotations = {r for r, spec in rotations.items() if spec.leave_allowed}
    granted: dict[Leave, Any] = {}
    for item in problem.leave:
        allows = sum(var(item.person, item.block, r) for r in leave_rotations)
        if item.soft:
            granted[item] = allows
            continue
        lit = guard(
            Group(
                "leave",
                f"{item.person} {item.block}",
                f"{item.person} is away {_plural(item.days, 'day')} in block {item.block} ({item.kind}) and needs"
                f" a rotation that allows leave there ({', '.join(sorted(leave_rotations)) or 'none does'})",
            )
        )
        model.add(allows == 1).only_enforce_if(lit)

    # soft goals
    terms: dict[str, list[tuple[int, Any]]] = {"wishes": [], "leave": [], "spread": []}
    weights = problem.weights
    for wish in problem.wishes:
        if (wish.person, wish.block, wish.rotation) not in x and wish.kind == "off":
            continue
        value = var(wish.person, wish.block, wish.rotation)
        miss = 1 - value if wish.kind == "on" else value
        terms["wishes"].append((weights.wish * wish.weight, miss))
    for item, allows in granted.items():
        terms["leave"].append((weights.leave_week * item.weeks, 1 - allows))
    for r in rotations:
        column = [counts[b, r] for b in blocks]
        if len(blocks) < 2 or not any((p.id, b, r) in x for p in problem.residents for b in blocks):
            continue
        n = len(problem.residents)
        high, low = model.new_int_var(0, n, f"high[{r}]"), model.new_int_var(0, n, f"low[{r}]")
        model.add_max_equality(high, column)
        model.add_min_equality(low, column)
        terms["spread"].append((weights.spread, high - low))
    model.minimize(sum(w * e for items in terms.values() for w, e in items))
    return _Built(model, x, groups, terms, granted)


def _side(bounds: tuple[int | None, int | None], side: str) -> int | None:
    return bounds[0] if side == "min" else bounds[1]


# --------------------------------------------------------------------------- solving


def plan_year(
    problem: YearProblem,
    *,
    time_limit: float = 30.0,
    workers: int = WORKERS,
    seed: int = 0,
    stop: threading.Event | None = None,
    on_solution: Callable[[float, float, float], None] | None = None,
    diagnosis_seconds: float = 30.0,
) -> PlanResult:
    """Plan the year within ``time_limit`` seconds (``stop`` ends the search within moments). An impossible plan
    comes back ``infeasible`` with its diagnosis: a minimal conflicting set of hard groups, in words."""
    if not isinstance(time_limit, int | float) or not math.isfinite(time_limit) or time_limit <= 0:
        raise ValueError("a positive time limit is required (finite, in seconds)")
    built = _build(problem)
    model = built.model
    for literal, _ in built.groups:
        model.add(literal == 1)  # every hard group on (the diagnosis turns them into assumptions)
    for (person, block), rotation in problem.hint.items():
        if (person, block, rotation) in built.x:
            model.add_hint(built.x[person, block, rotation], 1)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed

    class _Progress(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            if on_solution is not None:
                on_solution(time.monotonic() - started, self.objective_value, self.best_objective_bound)

    started = time.monotonic()
    with kill_switch(solver, stop, "year-plan-kill-switch") as cancelled:
        code = solver.solve(model, _Progress())
    seconds = time.monotonic() - started
    status = status_of(code, cancelled.is_set())
    if status == "infeasible":
        return PlanResult(status, None, None, seconds, {}, diagnosis=diagnose(problem, time_limit=diagnosis_seconds))
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound = solver.best_objective_bound if code == cp_model.UNKNOWN else None
        return PlanResult(status, None, bound, seconds, {})
    plan = {(p, b): r for (p, b, r), v in built.x.items() if solver.boolean_value(v)}
    penalties = {goal: int(sum(w * solver.value(e) for w, e in items)) for goal, items in built.terms.items()}
    unmet = _unmet(problem, plan)
    return PlanResult(status, solver.objective_value, solver.best_objective_bound, seconds, plan, unmet, [], penalties)


def diagnose(problem: YearProblem, *, time_limit: float = 30.0) -> list[Group]:
    """A minimal set of hard groups that cannot all hold (empty when none is found in time)."""
    built = _build(problem)
    built.model.clear_objective()
    by_index = {literal.index: group for literal, group in built.groups}
    kept = minimal_conflict(built.model, [literal for literal, _ in built.groups], time_limit=time_limit)
    if kept is None:
        return []
    if not kept:  # the structure alone (one rotation a block) cannot hold: no resident may do any rotation
        return [Group("structure", "rotations", "a resident has no rotation they may do in some block")]
    return [by_index[literal.index] for literal in kept]


# --------------------------------------------------------------------------- what was not granted


def _unmet(problem: YearProblem, plan: Mapping[Cell, str]) -> list[Unmet]:
    rotations = problem.rotation
    head: dict[tuple[str, str], int] = {}
    for (_, block), rotation in plan.items():
        head[block, rotation] = head.get((block, rotation), 0) + 1
    pgy = {p.id: p.pgy for p in problem.residents}
    done: dict[tuple[str, str], int] = {}
    for (person, _), rotation in plan.items():
        done[person, rotation] = done.get((person, rotation), 0) + 1
    out: list[Unmet] = []
    for wish in problem.wishes:
        got = plan.get((wish.person, wish.block))
        if (wish.kind == "on") == (got == wish.rotation):
            continue
        out.append(
            Unmet("wish", wish.person, wish.block, wish.rotation, _wish_reason(problem, wish, got, head, done, pgy))
        )
    leave_rotations = sorted(r for r, spec in rotations.items() if spec.leave_allowed)
    for item in problem.leave:
        if not item.soft:
            continue
        got = plan.get((item.person, item.block))
        if got is not None and rotations[got].leave_allowed:
            continue
        full = [
            r
            for r in leave_rotations
            if (bound := problem.bounds(item.block, r)[1]) is not None and head.get((item.block, r), 0) >= bound
        ]
        if (item.person, item.block) in problem.locked:
            why = f"locked to {got}, which does not allow leave"
        else:
            why = f"on {got}, which does not allow leave"
            if full:
                why += f"; full in block {item.block} of those that allow it: {', '.join(full)}"
        out.append(
            Unmet(
                "leave", item.person, item.block, got, f"{_plural(item.days, 'day')} of {item.kind} not granted: {why}"
            )
        )
    return out


def _wish_reason(
    problem: YearProblem,
    wish: Wish,
    got: str | None,
    head: Mapping[tuple[str, str], int],
    done: Mapping[tuple[str, str], int],
    pgy: Mapping[str, int],
) -> str:
    if (wish.person, wish.block) in problem.locked:
        return f"the block is locked to {problem.locked[wish.person, wish.block]}"
    if wish.kind == "off":
        return f"on {wish.rotation} after all: the requirements and capacities need them there"
    resident = next(p for p in problem.residents if p.id == wish.person)
    if wish.rotation not in problem.allowed(resident, wish.block):
        return f"{wish.rotation} is not among the rotations of PGY-{pgy[wish.person]}'s requirements"
    high = problem.bounds(wish.block, wish.rotation)[1]
    if high is not None and head.get((wish.block, wish.rotation), 0) >= high:
        return f"{wish.rotation} is full in block {wish.block} ({high} of {high})"
    for q in problem.requirements:
        mine = q.pgy == pgy[wish.person] and q.rotation == wish.rotation
        if mine and q.max_blocks is not None and done.get((wish.person, wish.rotation), 0) >= q.max_blocks:
            most = _plural(q.max_blocks, "block")
            return f"PGY-{q.pgy} residents do at most {most} of {wish.rotation}, placed in other blocks"
    return f"on {got}: the requirements, capacities and other wishes fit better that way"
