"""Infeasibility diagnosis: the smallest set of conflicting rule groups we can find.

Every hard rule's constraints sit behind one enforcement literal per rule × subject. We
solve with all of them as assumptions; CP-SAT returns a sufficient subset when the model is
infeasible, and a deletion filter shrinks that subset until removing any one group makes
the rest feasible (a minimal conflict, within the time allowed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from rotaflow.constraints.instance import Instance
from rotaflow.constraints.model import build_model
from rotaflow.constraints.registry import RULES, Guard
from rotaflow.constraints.ruleset import ConfiguredRule

__all__ = ["Conflict", "diagnose", "minimal_conflict"]


@dataclass(frozen=True)
class Conflict:
    """One rule group of a conflicting set, in words a chief resident can act on."""

    rule: str
    subject: str
    message: str
    people: tuple[str, ...]
    dates: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "message": self.message,
            "people": list(self.people),
            "dates": list(self.dates),
        }


def _solve(
    model: cp_model.CpModel, assumptions: list[cp_model.IntVar], seconds: float
) -> tuple[Any, cp_model.CpSolver]:
    model.clear_assumptions()
    model.add_assumptions(assumptions)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(seconds, 0.1)
    solver.parameters.num_workers = 1  # core extraction needs a single worker
    return solver.solve(model), solver


def minimal_conflict(
    model: cp_model.CpModel, literals: list[cp_model.IntVar], *, time_limit: float
) -> list[cp_model.IntVar] | None:
    """With every one of ``literals`` (enforcement literals of the model's groups) as an assumption: None when
    the model is not proved infeasible in time; else CP-SAT's sufficient assumptions shrunk by a deletion filter
    (each literal whose removal leaves the rest still infeasible is dropped), a minimal conflict within the time
    allowed ([] when no assumption is needed: the model cannot hold at all)."""
    started = time.monotonic()
    by_index = {literal.index: literal for literal in literals}
    status, solver = _solve(model, list(literals), time_limit / 2)
    if status != cp_model.INFEASIBLE:
        return None
    kept = [by_index[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in by_index]
    for literal in list(kept):
        remaining = time_limit - (time.monotonic() - started)
        if remaining <= 0.2:
            break
        trial = [other for other in kept if other is not literal]
        if not trial:
            continue
        status, _ = _solve(model, trial, min(remaining, max(1.0, time_limit / 10)))
        if status == cp_model.INFEASIBLE:
            kept = trial
    return kept


def diagnose(instance: Instance, rules: list[ConfiguredRule], *, time_limit: float = 30.0) -> list[Conflict]:
    """Return a minimal set of hard rule groups that cannot all hold (empty if none is found)."""
    hard = [r for r in rules if r.kind == "hard"]
    built = build_model(instance, hard, enforce=False)
    built.model.clear_objective()
    guards = list(built.guards.values())
    by_literal = {g.literal.index: g for g in guards}
    kept = minimal_conflict(built.model, [g.literal for g in guards], time_limit=time_limit)
    return [_describe(instance, by_literal[literal.index]) for literal in kept or []]


def _describe(instance: Instance, guard: Guard) -> Conflict:
    detail = guard.detail
    people: tuple[str, ...] = (detail["person"],) if "person" in detail else ()
    dates: list[str] = []
    if "day" in detail:
        dates.append(instance.date(int(detail["day"])).isoformat())
    if "first" in detail and "last" in detail:
        dates += [instance.date(int(detail["first"])).isoformat(), instance.date(int(detail["last"])).isoformat()]
    if guard.rule in RULES:
        summary = RULES[guard.rule].summary
    elif guard.rule == "frozen":
        summary = "a day before the repair date, kept exactly as published"
    else:
        summary = "a pinned assignment"
    if guard.rule == "coverage" and "people" in detail:
        summary = f"coverage needs at least {detail['min']} of the {detail['people']} people who count for it"
        if detail.get("row"):
            summary += f" ({detail['row']})"
    return Conflict(guard.rule, guard.subject, f"{summary}: {guard.subject}", people, tuple(dates))
