"""The results of a contingency analysis: a scenario's row, a job for the solver, the scenario frame
and the recommended backup pool."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from rotaflow.constraints.instance import Cell

__all__ = [
    "RESULT_COLUMNS",
    "ContingencyAnalysis",
    "JeopardyPool",
    "Outcome",
    "RepairJob",
    "ScenarioResult",
    "Screened",
    "SettledBy",
]

Outcome = Literal["covered", "uncovered", "unknown"]
SettledBy = Literal["trivial", "screen", "greedy", "solver", "n-1"]

RESULT_COLUMNS = [
    "people",
    "order",
    "from_date",
    "outcome",
    "settled_by",
    "first_uncovered_date",
    "first_uncovered_shift",
    "repair_size",
    "repair_minimal",
    "lower_bound",
    "stand_ins",
    "seconds",
]
"""Columns of the scenario frame (``seconds`` is wall time: the one column that varies by run)."""


@dataclass(frozen=True)
class ScenarioResult:
    """One row of the scenario frame."""

    people: tuple[str, ...]
    order: int
    from_date: dt.date
    outcome: Outcome
    settled_by: SettledBy
    first_uncovered_date: dt.date | None = None
    first_uncovered_shift: str | None = None
    repair_size: int | None = None
    repair_minimal: bool | None = None
    lower_bound: int | None = None
    stand_ins: tuple[str, ...] = ()
    seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in RESULT_COLUMNS}


@dataclass(frozen=True)
class RepairJob:
    """A scenario the screens could not settle: CP-SAT decides it."""

    people: tuple[str, ...]
    lower_bound: int
    hint: frozenset[Cell]
    """The best partial repair found (the greedy's, else the published schedule without them)."""
    screened_seconds: float = 0.0


@dataclass
class Screened:
    """Scenarios settled without a solve, and the ones left for the solver."""

    settled: list[ScenarioResult]
    jobs: list[RepairJob]


@dataclass(frozen=True)
class JeopardyPool:
    """The recommended backup pool (sizing rule in the module docstring)."""

    size: int
    members: tuple[str, ...]
    """Internal stand-ins, most often called in first."""
    cross_cover: int
    """Backups needed from outside the current rotations: one per critical person."""
    cross_cover_shifts: tuple[str, ...]
    """The shifts those backups must be able to work (each critical person's first uncovered one)."""
    largest_repair_people: int
    largest_repair_size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "members": list(self.members),
            "cross_cover": self.cross_cover,
            "cross_cover_shifts": list(self.cross_cover_shifts),
            "largest_repair_people": self.largest_repair_people,
            "largest_repair_size": self.largest_repair_size,
            "rule": "one stand-in per person of the largest covered N-1 repair, the most frequent stand-ins "
            "first, plus one cross-cover backup per critical person",
        }


@dataclass
class ContingencyAnalysis:
    """The scenario frame and what follows from it."""

    program: str
    block_id: str
    order: int
    from_date: dt.date
    scenarios: pd.DataFrame
    critical: tuple[str, ...]
    fatal_pairs: tuple[tuple[str, str], ...]
    pairs_with_critical: int
    jeopardy: JeopardyPool
    seconds: float

    @property
    def settled_without_solve(self) -> float:
        """Share of scenarios the screens settled (trivial, screen, greedy, N-1), 0..1."""
        if not len(self.scenarios):
            return 1.0
        return float((self.scenarios["settled_by"] != "solver").mean())

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts (validation.json, artifacts, the benchmark)."""
        frame = self.scenarios
        by_order: dict[str, Any] = {}
        for order, part in frame.groupby("order"):
            by_order[f"n{order}"] = {
                "scenarios": len(part),
                "uncovered": int((part["outcome"] == "uncovered").sum()),
                "unknown": int((part["outcome"] == "unknown").sum()),
                "settled_by": {k: int(v) for k, v in sorted(part["settled_by"].value_counts().items())},
            }
        repairs = frame["repair_size"].dropna()
        return {
            "program": self.program,
            "block_id": self.block_id,
            "order": self.order,
            "from_date": self.from_date.isoformat(),
            "scenarios": len(frame),
            **by_order,
            "critical": list(self.critical),
            "fatal_pairs": [list(p) for p in self.fatal_pairs],
            "pairs_with_critical": self.pairs_with_critical,
            "settled_without_solve": round(self.settled_without_solve, 4),
            "largest_repair": int(repairs.max()) if len(repairs) else 0,
            "jeopardy": self.jeopardy.as_dict(),
            "seconds": round(self.seconds, 3),
        }
