"""N-1 / N-2 contingency: can the block still be covered under every must-rule without any one
(N-1) or any two (N-2) people, and with how few changes to the published schedule?

A *scenario* takes its people out of the block from ``from_date`` on (the whole block by
default). Days before ``from_date`` have happened: every cell on them stays as published,
including the removed people's. From ``from_date`` on the removed people work nothing, their
own person rules no longer bind (they are gone), and everybody else's shifts may change. The
*repair size* counts the cells of people other than the removed ones that the repaired schedule
adds or drops relative to the published one.

Each scenario is settled by the cheapest step that can decide it, in this order:

1. **trivial** — without the removed people's shifts the schedule still meets every hard rule
   (they held none from ``from_date`` on, or theirs were above the minimums): covered, repair 0.
2. **screen** (supply) — sound screens in the manner of ``rotaflow.constraints.preflight``: every coverage
   row, and a supervision row per supervised shift (the faculty that the residents coverage
   requires need), against the people eligible and not on leave minus the removed ones; and for
   shifts running at the same time a maximum flow, since they need distinct people. A failure
   proves the scenario uncovered.
3. **greedy** — fill each missing demand unit with one added shift of somebody eligible and free
   whose own hard rules stay clean, then re-check the schedule. Lower bound: a change is one cell,
   on one day and shift; on each (day, shift) a change raises each coverage row's head-count by at
   most one and shrinks the supervision deficit by at most one (one faculty member more, or one
   resident fewer: a resident weighs at most one faculty), dropping a shift never raises a
   head-count, and nothing before ``from_date`` may change. So at least ``max(row shortfalls,
   supervision deficit)`` changes fall on each (day, shift) from ``from_date`` on, and the *lower
   bound* is their sum. Greedy adds exactly one cell per missing unit, so when it fills them all
   its repair meets the bound: minimal, settled without a solve.
4. **screen** (hours) — where greedy could not fill every unit: the rows only a set of residents
   can fill need more minutes than the 80-hour rule lets them work in an averaging window.
5. **solver** — CP-SAT on the full hard model (``build_model``, built once per process, the cells
   no scenario may fill fixed and the constraints that leaves always true dropped, then cloned per
   scenario): objective = cells changed against the published schedule, the lower bound as a
   constraint, the greedy partial repair as hint; one worker, a fixed seed and a *deterministic*
   time limit, so every runner and machine gets the same answer. ``optimal`` → covered and minimal;
   a solution → covered (minimal when it meets the lower bound); proven infeasible → uncovered;
   neither within the limit → ``unknown``.

``first_uncovered_date`` / ``first_uncovered_shift`` of an uncovered scenario:

- settled by a supply screen: the first row (by shift start) with too few people, or for
  overlapping shifts the shift starting at the first instant they cannot all be staffed;
- by the hours screen: the row whose minutes first overflow the group's allowance;
- by the solver: the earliest day D such that the must-rules cannot hold with the demands
  (coverage, supervision) of the days up to D — a binary search of prefix models — and the first
  shift of day D, in start order, whose demands make that prefix infeasible. A probe the
  deterministic limit cannot decide counts as feasible.

In each case the prefix up to that day is proven uncoverable; an earlier day may still be
uncoverable for a reason a screen does not see, so a screen's day is the earliest day *that screen*
shows uncovered.

N-2: a pair with a critical member (one whose N-1 scenario is uncovered) is uncovered as well —
it loses everything the member's loss does — so it is not screened or solved but marked
``settled_by="n-1"``; its first uncovered day is the earliest of its critical members' and of the
pair's own supply screen. ``fatal_pairs`` lists only the pairs that fail although neither member
is critical; the summary counts the others apart.

Jeopardy (backup) pool sizing rule: the pool has one internal stand-in per person of the largest
covered N-1 repair (the most distinct people any single loss called in), filled with the people
who stood in most often across all covered repairs, plus one cross-cover slot per critical person
— nobody on the current rotations can take over their shift, so that backup must come from
outside them (a moonlighter, faculty, a resident moved from another rotation).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import threading
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import pandas as pd
from ortools.graph.python import max_flow
from ortools.sat.python import cp_model

from rotaflow import events
from rotaflow.constraints.instance import Cell, Demand, Instance, Schedule
from rotaflow.constraints.model import BuiltModel, build_model
from rotaflow.constraints.registry import Violation
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.errors import InfeasibleError, InputError, Problem
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import block_instance, rules_for

__all__ = [
    "DEFAULT_DETERMINISTIC_TIME",
    "MIN_DETERMINISTIC_TIME",
    "RESULT_COLUMNS",
    "ContingencyAnalysis",
    "ContingencyContext",
    "JeopardyPool",
    "Mapper",
    "RepairJob",
    "ScenarioResult",
    "Screened",
    "analyse_contingency",
    "assemble",
    "prepare_context",
    "repair_scenario",
    "screen_scenarios",
    "solve_serially",
]

Outcome = Literal["covered", "uncovered", "unknown"]
SettledBy = Literal["trivial", "screen", "greedy", "solver", "n-1"]

DEFAULT_DETERMINISTIC_TIME = 1.5
"""CP-SAT deterministic-time budget per repair solve (and per prefix probe)."""
MIN_DETERMINISTIC_TIME = 1e-3
"""Below this CP-SAT 9.15 can abort the process (a failed check when the limit strikes before its search starts)."""

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

# Rules whose checker reports only on the people it is given, from their own shifts: checked per
# person as the greedy repair adds shifts. ``coverage`` and ``supervision_ratio`` are computed
# here from the demands; any other rule is re-checked over the whole schedule.
_PERSONAL = frozenset(
    {
        "one_shift_at_a_time",
        "one_shift_per_day",
        "rotation_eligibility",
        "blocking_absence",
        "fixed_days_off",
        "acgme_weekly_hours",
        "acgme_day_off_in_seven",
        "acgme_max_continuous_duty",
        "acgme_rest_after_call",
        "acgme_rest_between_shifts",
        "acgme_call_frequency",
        "acgme_pgy1_no_moonlighting",
        "max_consecutive_nights",
        "consecutive_days_off",
        "consecutive_working_days",
        "forbidden_successions",
        "max_shifts_per_type",
        "max_weekends",
        "total_minutes",
        "shift_requests",
    }
)
# cheap checkers first: a candidate is usually refused by one of them
_CHECK_ORDER = {
    "rotation_eligibility": 0,
    "blocking_absence": 0,
    "fixed_days_off": 0,
    "one_shift_at_a_time": 1,
    "one_shift_per_day": 1,
    "acgme_rest_after_call": 1,
    "max_consecutive_nights": 1,
    "acgme_max_continuous_duty": 2,
    "acgme_day_off_in_seven": 3,
    "acgme_call_frequency": 3,
    "acgme_weekly_hours": 4,
}


# --------------------------------------------------------------------------- results


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


Mapper = Callable[["ContingencyContext", list[RepairJob]], list[ScenarioResult]]
"""Runs repair_scenario over the jobs (in order): serially, or as mapped Prefect tasks."""


# --------------------------------------------------------------------------- context


class ContingencyContext:
    """Everything a scenario needs: picklable, so it travels to Dask workers.

    A plain class, not a dataclass, on purpose: Prefect walks dataclass parameters of every task
    run looking for futures, and this one holds the whole instance and per-process caches.
    """

    def __init__(
        self,
        *,
        program: str,
        block_id: str,
        instance: Instance,
        rules: list[ConfiguredRule],
        published: frozenset[Cell],
        from_day: int,
        deterministic_time: float = DEFAULT_DETERMINISTIC_TIME,
        seed: int = 0,
    ) -> None:
        self.program = program
        self.block_id = block_id
        self.instance = instance
        self.rules = rules
        """The hard rules (soft ones play no part in coverability)."""
        self.published = published
        self.from_day = from_day
        self.deterministic_time = deterministic_time
        self.seed = seed
        self.key = _fingerprint(instance, rules, published)
        """Fingerprint of instance, rules and schedule: names the cached base model in a process."""
        self._cache: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (
            f"ContingencyContext({self.program}/{self.block_id}, from day {self.from_day}, "
            f"{len(self.published)} cells, key {self.key})"
        )

    @property
    def from_date(self) -> dt.date:
        return self.instance.date(self.from_day)

    @property
    def wall_limit(self) -> float:
        """A safety net far above the deterministic limit; hitting it would make results vary."""
        return max(120.0, 60.0 * self.deterministic_time)

    def rule(self, name: str) -> ConfiguredRule | None:
        return next((r for r in self.rules if r.name == name), None)

    # ---------------------------------------------------------------- derived, per process

    def _derived(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    @property
    def demands_at(self) -> dict[tuple[int, str], list[Demand]]:
        def make() -> dict[tuple[int, str], list[Demand]]:
            out: dict[tuple[int, str], list[Demand]] = defaultdict(list)
            for demand in self.instance.demands:
                if demand.min > 0 or demand.max is not None:
                    out[(demand.day, demand.shift)].append(demand)
            return dict(out)

        return self._derived("demands_at", make)  # type: ignore[no-any-return]

    @property
    def supervised(self) -> frozenset[tuple[int, str]]:
        def make() -> frozenset[tuple[int, str]]:
            rule = self.rule("supervision_ratio")
            if rule is None:
                return frozenset()
            inst = self.instance
            if rule.params.shifts is not None:
                return frozenset((d, s) for d in range(inst.days) for s in rule.params.shifts if s in inst.shift)
            faculty = {p.id for p in inst.people if p.role == "faculty"}
            return frozenset((dm.day, dm.shift) for dm in inst.demands if dm.people and dm.people <= faculty and dm.min)

        return self._derived("supervised", make)  # type: ignore[no-any-return]

    @property
    def supervision_scope(self) -> frozenset[str]:
        def make() -> frozenset[str]:
            rule = self.rule("supervision_ratio")
            if rule is None:
                return frozenset()
            return frozenset(p for p in self.instance.person_ids if rule.selector.person_matches(self.instance, p))

        return self._derived("supervision_scope", make)  # type: ignore[no-any-return]

    @property
    def screen_rows(self) -> list[tuple[Demand, frozenset[str]]]:
        """Rows with a minimum (coverage and supervision) and who is free to fill them, by start."""
        return self._derived("screen_rows", lambda: _screen_rows(self))  # type: ignore[no-any-return]

    @property
    def groups(self) -> list[_Group]:
        return self._derived("groups", lambda: _groups(self))  # type: ignore[no-any-return]


def prepare_context(
    bundle: Bundle,
    block_id: str,
    cells: Iterable[tuple[str, int | dt.date, str]],
    *,
    from_date: dt.date | str | None = None,
    deterministic_time: float = DEFAULT_DETERMINISTIC_TIME,
    seed: int = 0,
    rules: list[ConfiguredRule] | None = None,
    history: Iterable[tuple[str, dt.date, str]] = (),
) -> ContingencyContext:
    """The block's instance, hard rules and published schedule (which must meet the hard rules).

    ``cells`` are (person, day index or date, shift); cells outside the block are ignored.
    ``history``: shifts worked before the block beyond history.csv (the published previous block),
    which the rolling windows reach back into.
    """
    instance = block_instance(bundle, block_id, history=history)
    hard = [r for r in (rules if rules is not None else rules_for(bundle)) if r.kind == "hard"]
    published = _cells_in_block(instance, cells)
    from_day = _from_day(instance, block_id, from_date)
    if not (deterministic_time >= MIN_DETERMINISTIC_TIME and math.isfinite(deterministic_time)):
        raise ValueError(f"deterministic_time must be a finite number of at least {MIN_DETERMINISTIC_TIME}")
    context = ContingencyContext(
        program=bundle.program.key,
        block_id=block_id,
        instance=instance,
        rules=hard,
        published=published,
        from_day=from_day,
        deterministic_time=float(deterministic_time),
        seed=seed,
    )
    broken = _hard_violations(context, published, changed=None, removed=())
    if broken:
        first = broken[0]
        raise InfeasibleError(
            f"the schedule of block {block_id} breaks {len(broken)} must-rule finding(s) "
            f"(first: {first.rule}: {first.message}); contingency analysis starts from a schedule that meets them"
        )
    return context


def _cells_in_block(instance: Instance, cells: Iterable[tuple[str, int | dt.date, str]]) -> frozenset[Cell]:
    out = set()
    problems = []
    for person, when, shift in cells:
        if isinstance(when, dt.datetime):  # a pandas Timestamp too
            when = when.date()
        day = instance.day_index(when) if isinstance(when, dt.date) else int(when)
        if not 0 <= day < instance.days:
            continue
        if person not in instance.person:
            problems.append(Problem("schedule", None, "person_id", "a person of people.csv", str(person)))
        elif shift not in instance.shift:
            problems.append(Problem("schedule", None, "shift_id", "a shift of shifts.csv", str(shift)))
        else:
            out.add((str(person), day, str(shift)))
    if problems:
        raise InputError(sorted(set(problems)))
    return frozenset(out)


def _from_day(instance: Instance, block_id: str, from_date: dt.date | str | None) -> int:
    if from_date is None:
        return 0
    try:
        date = dt.date.fromisoformat(from_date) if isinstance(from_date, str) else from_date
    except ValueError:
        date = None
    last = instance.date(instance.days - 1)
    if date is None or not 0 <= instance.day_index(date) < instance.days:
        raise InputError(
            [
                Problem(
                    "options",
                    None,
                    "--from-date",
                    f"a date inside block {block_id} ({instance.start.isoformat()} to {last.isoformat()})",
                    str(from_date),
                )
            ]
        )
    return instance.day_index(date)


def _fingerprint(instance: Instance, rules: list[ConfiguredRule], published: frozenset[Cell]) -> str:
    """Everything the base model depends on, hashed."""
    digest = hashlib.sha256()
    parts: list[Any] = [
        instance.name,
        instance.start.isoformat(),
        instance.days,
        instance.timezone,
        sorted(repr(p) for p in instance.people),
        sorted(repr(s) for s in instance.shifts),
        sorted((k[0], k[1], sorted(v)) for k, v in (instance.allowed or {}).items()),
        sorted((k, sorted(v)) for k, v in instance.blocked_days.items()),
        sorted((k, sorted(v)) for k, v in instance.leave_days.items()),
        sorted((d.day, d.shift, sorted(d.people), d.min, d.max, d.label) for d in instance.demands),
        sorted(repr(h) for h in instance.history),
        sorted(repr(r) for r in instance.requests),
        repr(sorted(instance.pins.items())),
        repr(instance.meta),
        [[r.key, r.name, r.kind, repr(r.params), repr(r.selector)] for r in rules],
        sorted(published),
    ]
    for part in parts:
        digest.update(json.dumps(part, default=str).encode())
    return digest.hexdigest()[:24]


# --------------------------------------------------------------------------- checking


def _hard_violations(
    context: ContingencyContext, cells: frozenset[Cell], *, changed: Iterable[str] | None, removed: Sequence[str]
) -> list[Violation]:
    """Hard findings of a schedule, the removed people's own findings left out.

    ``changed``: the people whose shifts differ from a schedule known to be clean (their person
    rules are checked; ``None`` checks everybody). Demand rules and any rule not known to be
    personal are always checked over everybody.
    """
    inst = context.instance
    schedule = Schedule.of(inst, cells)
    gone = set(removed)
    out: list[Violation] = []
    for rule in context.rules:
        if rule.name in _PERSONAL and changed is not None:
            people = [p for p in changed if p not in gone and rule.selector.person_matches(inst, p)]
        else:
            people = [p for p in inst.person_ids if rule.selector.person_matches(inst, p)]
        if not people and rule.name in _PERSONAL:
            continue
        for violation in rule.rule.check(schedule, rule.params, people, rule.selector):
            if violation.severity == "violation" and violation.person not in gone:
                out.append(violation)
    return out


def _personal_ok(context: ContingencyContext, person: str, cells: frozenset[Cell]) -> bool:
    """The person's own hard rules hold over their shifts ``cells`` (remembered: N-2 asks again and again)."""
    seen: dict[tuple[str, frozenset[Cell]], bool] = context._derived("personal_ok", dict)
    key = (person, cells)
    if key not in seen:
        if len(seen) > 200_000:
            seen.clear()
        seen[key] = _personal_check(context, person, cells)
    return seen[key]


def _personal_check(context: ContingencyContext, person: str, cells: frozenset[Cell]) -> bool:
    inst = context.instance
    schedule = Schedule.of(inst, cells)
    rules = context._derived(
        "personal_rules",
        lambda: sorted(
            (r for r in context.rules if r.name in _PERSONAL), key=lambda r: (_CHECK_ORDER.get(r.name, 5), r.key)
        ),
    )
    for rule in rules:
        if not rule.selector.person_matches(inst, person):
            continue
        for violation in rule.rule.check(schedule, rule.params, [person], rule.selector):
            if violation.severity == "violation" and violation.person == person:
                return False
    return True


# --------------------------------------------------------------------------- demand arithmetic


def _supervision_deficit(context: ContingencyContext, day: int, shift: str, on: set[str]) -> int:
    if (day, shift) not in context.supervised:
        return 0
    rule = context.rule("supervision_ratio")
    assert rule is not None
    inst = context.instance
    scope = context.supervision_scope
    faculty = pgy1 = others = 0
    for person in on:
        spec = inst.person[person]
        if spec.role == "faculty":
            faculty += 1
        elif person in scope:
            if spec.pgy == 1:
                pgy1 += 1
            else:
                others += 1
    needed = math.ceil(pgy1 / rule.params.pgy1_per_faculty + others / rule.params.others_per_faculty - 1e-9)
    return max(0, needed - faculty)


def _deficit(context: ContingencyContext, day: int, shift: str, on: set[str]) -> int:
    """Changes at least needed on (day, shift): the largest row shortfall or the supervision deficit."""
    worst = _supervision_deficit(context, day, shift, on)
    for demand in context.demands_at.get((day, shift), ()):
        if demand.min > 0:
            worst = max(worst, demand.min - len(on & demand.people))
    return worst


def _over_max(context: ContingencyContext, day: int, shift: str, on: set[str]) -> bool:
    return any(
        demand.max is not None and len(on & demand.people) > demand.max
        for demand in context.demands_at.get((day, shift), ())
    )


def _on(cells: Iterable[Cell]) -> dict[tuple[int, str], set[str]]:
    out: dict[tuple[int, str], set[str]] = defaultdict(set)
    for person, day, shift in cells:
        out[(day, shift)].add(person)
    return out


def _lower_bound(context: ContingencyContext, on: dict[tuple[int, str], set[str]]) -> dict[tuple[int, str], int]:
    keys = set(context.demands_at) | set(context.supervised)
    out = {}
    for day, shift in keys:
        if day < context.from_day:
            continue
        need = _deficit(context, day, shift, on.get((day, shift), set()))
        if need > 0:
            out[(day, shift)] = need
    return out


# --------------------------------------------------------------------------- supply screen


@dataclass(frozen=True)
class _Group:
    """Shifts running at one instant: their rows need distinct people (a maximum flow)."""

    instant: dt.datetime
    day: int
    shift: str
    rows: tuple[tuple[Demand, frozenset[str]], ...]
    need: int
    flow: int


def _available(context: ContingencyContext, demand: Demand) -> frozenset[str]:
    inst = context.instance
    eligibility = context.rule("rotation_eligibility") is not None
    leave = context.rule("blocking_absence") is not None
    return frozenset(
        p
        for p in demand.people
        if (not eligibility or inst.may_work(p, demand.day, demand.shift))
        and (not leave or demand.day not in inst.blocked_days.get(p, frozenset()))
    )


def _screen_rows(context: ContingencyContext) -> list[tuple[Demand, frozenset[str]]]:
    inst = context.instance
    rows = [(d, _available(context, d)) for d in inst.demands if d.min > 0 and context.rule("coverage") is not None]
    rule = context.rule("supervision_ratio")
    if rule is not None:
        lcm = math.lcm(rule.params.pgy1_per_faculty, rule.params.others_per_faculty)
        scope = context.supervision_scope
        faculty = frozenset(p.id for p in inst.people if p.role == "faculty")
        for day, shift in sorted(context.supervised):
            # residents coverage requires there: rows of residents in scope, pairwise disjoint
            chosen: list[Demand] = []
            for demand in sorted(
                context.demands_at.get((day, shift), ()), key=lambda d: (-d.min, d.label, sorted(d.people))
            ):
                if (
                    demand.min > 0
                    and demand.people
                    and demand.people <= scope - faculty
                    and all(not (demand.people & other.people) for other in chosen)
                ):
                    chosen.append(demand)
            weight = 0
            for demand in chosen:
                per = min(
                    lcm // (rule.params.pgy1_per_faculty if inst.person[p].pgy == 1 else rule.params.others_per_faculty)
                    for p in demand.people
                )
                weight += demand.min * per
            need = -(-weight // lcm)
            if need > 0:
                virtual = Demand(day, shift, faculty, min=need, label="supervision_ratio")
                rows.append((virtual, _available(context, virtual)))
    rows.sort(key=lambda r: (inst.slot(r[0].day, r[0].shift).start, r[0].shift, r[0].label))
    return rows


def _disjoint(rows: list[tuple[Demand, frozenset[str]]]) -> list[tuple[Demand, frozenset[str]]]:
    """Rows of one shift that share nobody (one person counts for every row they belong to)."""
    chosen: list[tuple[Demand, frozenset[str]]] = []
    for demand, free in sorted(rows, key=lambda r: (-r[0].min, r[0].label, sorted(r[0].people))):
        if all(not (demand.people & other.people) for other, _ in chosen):
            chosen.append((demand, free))
    return chosen


def _groups(context: ContingencyContext) -> list[_Group]:
    inst = context.instance
    if context.rule("one_shift_at_a_time") is None:
        return []
    by_slot: dict[tuple[int, str], list[tuple[Demand, frozenset[str]]]] = defaultdict(list)
    for demand, free in context.screen_rows:
        by_slot[(demand.day, demand.shift)].append((demand, free))
    slots = sorted(inst.slots(), key=lambda s: (s.start, s.shift))
    out = []
    seen: set[tuple[tuple[int, str], ...]] = set()
    for slot in slots:
        running = [s for s in slots if s.start <= slot.start < s.end_with_transition and (s.day, s.shift) in by_slot]
        key = tuple(sorted((s.day, s.shift) for s in running))
        if len(running) < 2 or key in seen:
            continue
        seen.add(key)
        rows = tuple(r for s in running for r in _disjoint(by_slot[(s.day, s.shift)]))
        need = sum(d.min for d, _ in rows)
        out.append(_Group(slot.start, slot.day, slot.shift, rows, need, _flow(rows, set())))
    return out


def _flow(rows: Sequence[tuple[Demand, frozenset[str]]], gone: set[str]) -> int:
    graph = max_flow.SimpleMaxFlow()
    nodes: dict[str, int] = {}
    for n, (demand, free) in enumerate(rows):
        graph.add_arc_with_capacity(0, 2 + n, demand.min)
        for person in sorted(free - gone):
            if person not in nodes:
                nodes[person] = 2 + len(rows) + len(nodes)
                graph.add_arc_with_capacity(nodes[person], 1, 1)
            graph.add_arc_with_capacity(2 + n, nodes[person], 1)
    if graph.solve(0, 1) != graph.OPTIMAL:  # pragma: no cover - a bipartite flow always solves
        return 0
    return int(graph.optimal_flow())


@dataclass(frozen=True)
class _Budget:
    """Resident rows the weekly-hours rule caps: their minutes in each averaging window."""

    rows: tuple[tuple[int, str, int, frozenset[str]], ...]
    """(window, shift, minutes the row needs inside its window, who is free to fill it), by start."""
    days: tuple[int, ...]
    capacity: dict[str, tuple[int, ...]]
    """Each person's limit in minutes, per window."""


def _budget(context: ContingencyContext) -> _Budget | None:
    from rotaflow.constraints.rules.acgme_weekly_hours import limit_minutes

    weekly = context.rule("acgme_weekly_hours")
    if weekly is None or context.rule("coverage") is None:
        return None
    inst = context.instance
    bound = frozenset(p for p in inst.person_ids if weekly.selector.person_matches(inst, p))
    length = weekly.params.window_days
    windows = [(first, first + length - 1) for first in range(0, inst.days, length)]
    by_slot: dict[tuple[int, str], list[tuple[Demand, frozenset[str]]]] = defaultdict(list)
    for demand, free in context.screen_rows:
        if demand.label != "supervision_ratio" and demand.people <= bound:
            by_slot[(demand.day, demand.shift)].append((demand, free))
    rows = []
    days = []
    for (day, shift), options in sorted(by_slot.items(), key=lambda kv: (inst.slot(*kv[0]).start, kv[0][1])):
        window = day // length
        first, last = windows[window]
        minutes = inst.slot(day, shift).overlap_minutes(inst.midnight(first), inst.midnight(last + 1))
        for demand, free in _disjoint(options):
            rows.append((window, shift, demand.min * minutes, free))
            days.append(day)
    capacity = {p: tuple(limit_minutes(inst, weekly.params, p, a, b) for a, b in windows) for p in bound}
    return _Budget(tuple(rows), tuple(days), capacity)


def _budget_screen(context: ContingencyContext, removed: Sequence[str]) -> tuple[dt.date, str] | None:
    """Hours screen: the rows only a set of residents can fill need more than the 80-hour rule lets them
    work in an averaging window. Returns the row whose minutes first overflow a window, or None."""
    budget: _Budget | None = context._derived("budget", lambda: _budget(context))
    if budget is None or not budget.rows:
        return None
    gone = set(removed)
    f = context.from_day
    free = [fr if day < f else fr - gone for (_, _, _, fr), day in zip(budget.rows, budget.days, strict=True)]
    groups = set(free)
    groups.add(frozenset().union(*free))
    first: tuple[int, str] | None = None
    for group in groups:
        caps = [
            sum(budget.capacity.get(p, (0,) * (w + 1))[w] for p in group)
            for w in range(max(r[0] for r in budget.rows) + 1)
        ]
        used = [0] * len(caps)
        for n, ((window, shift, minutes, _), who) in enumerate(zip(budget.rows, free, strict=True)):
            if first is not None and n >= first[0]:
                break
            if who <= group:
                used[window] += minutes
                if used[window] > caps[window]:
                    first = (n, shift)
                    break
    if first is None:
        return None
    return context.instance.date(budget.days[first[0]]), first[1]


def _supply_screen(context: ContingencyContext, removed: Sequence[str]) -> tuple[dt.date, str] | None:
    """The first (date, shift) no choice of the remaining people can staff, or None."""
    inst = context.instance
    gone = set(removed)
    f = context.from_day
    failures: list[tuple[dt.datetime, int, str]] = []
    for demand, free in context.screen_rows:
        if demand.day >= f and len(free - gone) < demand.min:
            failures.append((inst.slot(demand.day, demand.shift).start, demand.day, demand.shift))
            break  # rows are in start order: the first is the earliest
    flows: dict[tuple[int, frozenset[str]], int] = context._derived("flows", dict)
    for n, group in enumerate(context.groups):
        if failures and group.instant >= failures[0][0]:
            break
        if all(d.day < f for d, _ in group.rows):
            continue
        lost = frozenset().union(*(free for d, free in group.rows if d.day >= f)) & gone
        if group.flow - len(lost) >= group.need:  # one person less takes at most one unit of flow
            continue
        if (n, lost) not in flows:  # pairs mostly share the loss of one member: remember each
            flows[(n, lost)] = _flow([(d, free if d.day < f else free - lost) for d, free in group.rows], set())
        if flows[(n, lost)] < group.need:
            failures = [(group.instant, group.day, group.shift)]
            break
    if not failures:
        return None
    instant, day, shift = min(failures)
    return inst.date(day), shift


# --------------------------------------------------------------------------- greedy repair


def _greedy(
    context: ContingencyContext, removed: tuple[str, ...], reduced: frozenset[Cell], need: dict[tuple[int, str], int]
) -> tuple[frozenset[Cell], tuple[str, ...], bool]:
    """One added shift per missing unit; (cells, stand-ins, whether every unit was filled)."""
    inst = context.instance
    gone = set(removed)
    eligibility = context.rule("rotation_eligibility") is not None
    leave = context.rule("blocking_absence") is not None
    cells = set(reduced)
    mine: dict[str, set[Cell]] = defaultdict(set)
    minutes: Counter[str] = Counter()
    for cell in cells:
        mine[cell[0]].add(cell)
        minutes[cell[0]] += inst.slot(cell[1], cell[2]).work_minutes
    on = _on(cells)
    added: list[str] = []
    complete = True
    for day, shift in sorted(need, key=lambda k: (inst.slot(*k).start, k[1])):
        here = on[(day, shift)]
        pool: set[str] = set()
        for demand in context.demands_at.get((day, shift), ()):
            if demand.min > len(here & demand.people):
                pool |= demand.people
        if _supervision_deficit(context, day, shift, here):
            pool |= {p.id for p in inst.people if p.role == "faculty"}
        candidates = sorted(
            (
                p
                for p in pool - gone - here
                if (not eligibility or inst.may_work(p, day, shift))
                and (not leave or day not in inst.blocked_days.get(p, frozenset()))
            ),
            key=lambda p: (minutes[p], p),
        )
        while (current := _deficit(context, day, shift, here)) > 0:
            chosen = None
            for person in candidates:
                trial = here | {person}
                if _deficit(context, day, shift, trial) != current - 1 or _over_max(context, day, shift, trial):
                    continue
                if _personal_ok(context, person, frozenset(mine[person] | {(person, day, shift)})):
                    chosen = person
                    break
            if chosen is None:  # go on: the more units it fills, the better the solver's hint
                complete = False
                break
            cell = (chosen, day, shift)
            cells.add(cell)
            mine[chosen].add(cell)
            minutes[chosen] += inst.slot(day, shift).work_minutes
            here.add(chosen)
            candidates.remove(chosen)
            added.append(chosen)
    return frozenset(cells), tuple(sorted(set(added))), complete


# --------------------------------------------------------------------------- screening


def _scenarios(context: ContingencyContext, order: int) -> list[tuple[str, ...]]:
    people = sorted(context.instance.person_ids)
    return [tuple(c) for c in combinations(people, order)]


def _settle(context: ContingencyContext, removed: tuple[str, ...]) -> ScenarioResult | RepairJob:
    """Trivial, screen or greedy; otherwise the job for the solver."""
    started = time.perf_counter()
    f = context.from_day
    gone = set(removed)
    reduced = frozenset(c for c in context.published if c[0] not in gone or c[1] < f)

    def result(**kw: Any) -> ScenarioResult:
        return ScenarioResult(
            people=removed,
            order=len(removed),
            from_date=context.from_date,
            seconds=round(time.perf_counter() - started, 4),
            **kw,
        )

    need = _lower_bound(context, _on(reduced))
    bound = sum(need.values())
    if reduced == context.published or (
        not need and not _hard_violations(context, reduced, changed=(), removed=removed)
    ):
        return result(outcome="covered", settled_by="trivial", repair_size=0, repair_minimal=True, lower_bound=0)
    failed = _supply_screen(context, removed)
    if failed is not None:
        return result(
            outcome="uncovered", settled_by="screen", first_uncovered_date=failed[0], first_uncovered_shift=failed[1]
        )
    cells, stand_ins, complete = _greedy(context, removed, reduced, need)
    if complete and not _hard_violations(context, cells, changed=stand_ins, removed=removed):
        return result(
            outcome="covered",
            settled_by="greedy",
            repair_size=bound,
            repair_minimal=True,
            lower_bound=bound,
            stand_ins=stand_ins,
        )
    failed = _budget_screen(context, removed)  # only worth its time where greedy could not repair
    if failed is not None:
        return result(
            outcome="uncovered", settled_by="screen", first_uncovered_date=failed[0], first_uncovered_shift=failed[1]
        )
    return RepairJob(removed, bound, cells, round(time.perf_counter() - started, 4))


def screen_scenarios(context: ContingencyContext, order: int, *, singles: Sequence[ScenarioResult] = ()) -> Screened:
    """Settle the order-``order`` scenarios the screens can; N-2 needs the N-1 results."""
    if order not in (1, 2):
        raise ValueError("order is 1 (N-1) or 2 (N-2)")
    fallen = {r.people[0]: r for r in singles if r.order == 1 and r.outcome == "uncovered"}
    settled: list[ScenarioResult] = []
    jobs: list[RepairJob] = []
    scenarios = _scenarios(context, order)
    events.scenarios_planned(order, len(scenarios))  # the observers of rotaflow.events, if any
    for removed in scenarios:
        critical = [fallen[p] for p in removed if p in fallen]
        if critical:
            started = time.perf_counter()
            dates = [(r.first_uncovered_date, r.first_uncovered_shift) for r in critical if r.first_uncovered_date]
            own = _supply_screen(context, removed)
            if own is not None:
                dates.append(own)
            first = min(dates, key=lambda d: _when(context, d)) if dates else (None, None)
            settled.append(
                ScenarioResult(
                    removed,
                    order,
                    context.from_date,
                    "uncovered",
                    "n-1",
                    first_uncovered_date=first[0],
                    first_uncovered_shift=first[1],
                    seconds=round(time.perf_counter() - started, 4),
                )
            )
            events.scenarios_done(order)
            continue
        outcome = _settle(context, removed)
        if isinstance(outcome, RepairJob):
            jobs.append(outcome)
        else:
            settled.append(outcome)
            events.scenarios_done(order)
    return Screened(settled, jobs)


def _when(context: ContingencyContext, where: tuple[dt.date | None, str | None]) -> tuple[dt.date, dt.datetime]:
    inst = context.instance
    date = where[0] or inst.date(inst.days - 1)
    day = inst.day_index(date)
    return date, inst.slot(day, where[1]).start if where[1] in inst.shift else inst.midnight(day)


# --------------------------------------------------------------------------- CP-SAT repair


@dataclass
class _Base:
    built: BuiltModel
    lock: threading.Lock
    objective: list[tuple[int, int]]
    """(variable index, coefficient): Σ x of unpublished cells − Σ x of published ones, which is the
    number of changed cells minus |published|."""


_BASES: OrderedDict[str, _Base] = OrderedDict()
_BASES_LOCK = threading.Lock()
_BUILD_LOCKS: dict[str, threading.Lock] = {}


def _base(context: ContingencyContext) -> _Base:
    """The hard model of the block with the change-count objective, built once per process."""
    with _BASES_LOCK:
        if context.key in _BASES:
            _BASES.move_to_end(context.key)
            return _BASES[context.key]
        lock = _BUILD_LOCKS.setdefault(context.key, threading.Lock())
    with lock:
        with _BASES_LOCK:
            if context.key in _BASES:
                return _BASES[context.key]
        built = build_model(context.instance, context.rules, enforce=False)
        variables = [var for _, var in built.x.items()]
        weights = [-1 if cell in context.published else 1 for cell, _ in built.x.items()]
        built.model.clear_objective()
        built.model.minimize(cp_model.LinearExpr.weighted_sum(variables, weights))
        built.model = _compact(built.model, _never(context, built))
        objective = [(var.index, w) for var, w in zip(variables, weights, strict=True)]
        base = _Base(built, threading.Lock(), objective)
        with _BASES_LOCK:
            _BASES[context.key] = base
            while len(_BASES) > 2:
                _BASES.popitem(last=False)
        return base


def _never(context: ContingencyContext, built: BuiltModel) -> set[int]:
    """Variable indexes of the cells no scenario may fill: outside the person's rotation, on blocking leave.

    Every scenario holds them at 0: hard rules forbid them to everyone still there, and the
    removed people's cells are fixed (to 0, or before the date to the published value, which
    meets those rules).
    """
    inst = context.instance
    eligibility = context.rule("rotation_eligibility")
    leave = context.rule("blocking_absence")
    out = set()
    for (person, day, shift), index in built.x.indices().items():
        if (
            eligibility is not None
            and inst.allowed is not None
            and eligibility.selector.person_matches(inst, person)
            and not inst.may_work(person, day, shift)
        ) or (
            leave is not None
            and leave.selector.person_matches(inst, person)
            and day in inst.blocked_days.get(person, frozenset())
        ):
            out.add(index)
    return out


def _compact(model: cp_model.CpModel, zero: set[int]) -> cp_model.CpModel:
    """The model with the ``zero`` variables fixed at 0 and the constraints that leaves always true
    dropped (variable indexes unchanged): a third of the size, so each scenario presolves faster."""
    proto = model.proto

    def known(literal: int) -> bool | None:
        if literal >= 0:
            return False if literal in zero else None
        return True if -literal - 1 in zero else None

    def bounds(var: int) -> tuple[int, int]:
        if var in zero:
            return 0, 0
        domain = proto.variables[var].domain
        return domain[0], domain[len(domain) - 1]

    def always(constraint: Any) -> bool:
        if any(known(lit) is False for lit in constraint.enforcement_literal):
            return True
        if constraint.has_bool_and():
            return all(known(lit) is True for lit in constraint.bool_and.literals)
        if constraint.has_bool_or():
            return any(known(lit) is True for lit in constraint.bool_or.literals)
        if constraint.has_at_most_one():
            return sum(1 for lit in constraint.at_most_one.literals if known(lit) is not False) <= 1
        if constraint.has_linear():
            low = high = 0
            for var, coefficient in zip(constraint.linear.vars, constraint.linear.coeffs, strict=True):
                lo, hi = bounds(var)
                low += min(coefficient * lo, coefficient * hi)
                high += max(coefficient * lo, coefficient * hi)
            domain = list(constraint.linear.domain)
            return any(domain[i] <= low and high <= domain[i + 1] for i in range(0, len(domain), 2))
        return False

    out = cp_model.CpModel()
    target = out.proto
    for n, var in enumerate(proto.variables):
        copy = target.variables.add()
        copy.copy_from(var)
        if n in zero:
            copy.domain.clear()
            copy.domain.extend([0, 0])
    for constraint in proto.constraints:
        if not always(constraint):
            target.constraints.add().copy_from(constraint)
    target.objective.copy_from(proto.objective)
    return out


def _scenario_model(
    context: ContingencyContext,
    base: _Base,
    removed: tuple[str, ...],
    *,
    until: tuple[int, frozenset[str]] | None = None,
    lower_bound: int = 0,
    hint: frozenset[Cell] | None = None,
) -> tuple[cp_model.CpModel, int]:
    """A clone of the base model for one scenario, and the offset: repair size = objective + offset.

    ``until=(day, shifts)``: a prefix probe — demand rules bind on days before ``day`` and on
    ``day`` for ``shifts`` only; the objective is dropped.
    """
    with base.lock:
        model = base.built.model.clone()
    proto = model.proto
    gone = set(removed)
    f = context.from_day

    def fix(index: int, value: int) -> None:
        var = proto.variables[index]
        var.domain.clear()
        var.domain.extend([value, value])

    for guard in base.built.guards.values():
        person = guard.detail.get("person")
        if person in gone or any(
            guard.subject.startswith(f"person={p},") or guard.subject == f"person={p}" for p in gone
        ):
            continue  # the removed people's own rules no longer bind
        if until is not None and "day" in guard.detail and person is None:
            day = int(guard.detail["day"])
            if day > until[0] or (day == until[0] and guard.detail.get("shift") not in until[1]):
                continue
        fix(guard.literal.index, 1)
    removed_cells = 0
    for (person, day, shift), index in base.built.x.indices().items():
        published = (person, day, shift) in context.published
        if day < f:
            fix(index, int(published))
        elif person in gone:
            fix(index, 0)
            removed_cells += published
    offset = len(context.published) - removed_cells
    if until is not None:
        model.clear_objective()
    else:
        # Σ changes of everybody else ≥ the lower bound
        ct = proto.constraints.add()
        ct.linear.vars.extend(i for i, _ in base.objective)
        ct.linear.coeffs.extend(c for _, c in base.objective)
        ct.linear.domain.extend([lower_bound - offset, cp_model.INT_MAX])
    if hint is not None:
        indices = base.built.x.indices()
        proto.solution_hint.vars.extend(indices.values())
        proto.solution_hint.values.extend(int(cell in hint) for cell in indices)
    return model, offset


def _solver(context: ContingencyContext) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = context.seed
    solver.parameters.max_deterministic_time = context.deterministic_time
    solver.parameters.max_time_in_seconds = context.wall_limit
    # start from the hint and repair it; probing and symmetry detection cost more than they give here
    solver.parameters.repair_hint = True
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    return solver


def repair_scenario(context: ContingencyContext, job: RepairJob) -> ScenarioResult:
    """CP-SAT decides a scenario the screens left open (deterministic: one worker, fixed seed)."""
    result = _repair(context, job)
    events.scenarios_done(result.order)  # the observers of rotaflow.events, if any
    return result


def _repair(context: ContingencyContext, job: RepairJob) -> ScenarioResult:
    started = time.perf_counter()
    base = _base(context)
    model, offset = _scenario_model(context, base, job.people, lower_bound=job.lower_bound, hint=job.hint)
    solver = _solver(context)
    code = solver.solve(model)
    common: dict[str, Any] = {"people": job.people, "order": len(job.people), "from_date": context.from_date}
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        size = int(round(solver.objective_value)) + offset
        gone = set(job.people)
        stand_ins = sorted(
            {
                cell[0]
                for cell, var in base.built.x.items()
                if cell[0] not in gone and cell not in context.published and solver.value(var)
            }
        )
        return ScenarioResult(
            **common,
            outcome="covered",
            settled_by="solver",
            repair_size=size,
            repair_minimal=code == cp_model.OPTIMAL or size == job.lower_bound,
            lower_bound=job.lower_bound,
            stand_ins=tuple(stand_ins),
            seconds=round(job.screened_seconds + time.perf_counter() - started, 4),
        )
    if code == cp_model.INFEASIBLE:
        date, shift = _first_uncovered(context, base, job.people)
        return ScenarioResult(
            **common,
            outcome="uncovered",
            settled_by="solver",
            first_uncovered_date=date,
            first_uncovered_shift=shift,
            lower_bound=job.lower_bound,
            seconds=round(job.screened_seconds + time.perf_counter() - started, 4),
        )
    return ScenarioResult(
        **common,
        outcome="unknown",
        settled_by="solver",
        lower_bound=job.lower_bound,
        seconds=round(job.screened_seconds + time.perf_counter() - started, 4),
    )


def _infeasible(
    context: ContingencyContext, base: _Base, removed: tuple[str, ...], day: int, shifts: Iterable[str]
) -> bool:
    model, _ = _scenario_model(context, base, removed, until=(day, frozenset(shifts)))
    return _solver(context).solve(model) == cp_model.INFEASIBLE


def _first_uncovered(context: ContingencyContext, base: _Base, removed: tuple[str, ...]) -> tuple[dt.date, str | None]:
    """The earliest day whose prefix is shown infeasible, and the first shift of it that makes it so."""
    inst = context.instance
    lo, hi = context.from_day, inst.days - 1  # the whole block is infeasible: hi is
    while lo < hi:
        mid = (lo + hi) // 2
        if _infeasible(context, base, removed, mid, inst.shift_ids):
            hi = mid
        else:
            lo = mid + 1
    order = sorted(inst.shift_ids, key=lambda s: (inst.slot(hi, s).start, s))
    for n in range(1, len(order)):
        if _infeasible(context, base, removed, hi, order[:n]):
            return inst.date(hi), order[n - 1]
    return inst.date(hi), order[-1]


def solve_serially(context: ContingencyContext, jobs: list[RepairJob]) -> list[ScenarioResult]:
    """The default mapper: one job after another in this process."""
    return [repair_scenario(context, job) for job in jobs]


# --------------------------------------------------------------------------- assembling


def assemble(
    context: ContingencyContext, results: Iterable[ScenarioResult], *, order: int, seconds: float = 0.0
) -> ContingencyAnalysis:
    """The scenario frame (N-1 rows, then N-2, each by people), critical people, fatal pairs, pool."""
    rows = sorted(results, key=lambda r: (r.order, r.people))
    frame = pd.DataFrame([r.row() for r in rows], columns=RESULT_COLUMNS)
    frame["order"] = frame["order"].astype("int64")
    for column in ("repair_size", "lower_bound"):
        frame[column] = frame[column].astype("Int64")
    frame["repair_minimal"] = frame["repair_minimal"].astype("boolean")
    singles = [r for r in rows if r.order == 1]
    critical = tuple(sorted(r.people[0] for r in singles if r.outcome == "uncovered"))
    pairs = [r for r in rows if r.order == 2 and r.outcome == "uncovered"]
    fatal = tuple(r.people for r in pairs if r.settled_by != "n-1")
    covered = [r for r in rows if r.outcome == "covered"]
    frequency = Counter(p for r in covered for p in r.stand_ins)
    largest = max((len(r.stand_ins) for r in singles if r.outcome == "covered"), default=0)
    members = tuple(sorted(frequency, key=lambda p: (-frequency[p], p))[:largest])
    shifts = tuple(
        sorted({r.first_uncovered_shift for r in singles if r.outcome == "uncovered" and r.first_uncovered_shift})
    )
    pool = JeopardyPool(
        size=len(members) + len(critical),
        members=members,
        cross_cover=len(critical),
        cross_cover_shifts=shifts,
        largest_repair_people=largest,
        largest_repair_size=max((r.repair_size or 0 for r in singles if r.outcome == "covered"), default=0),
    )
    return ContingencyAnalysis(
        program=context.program,
        block_id=context.block_id,
        order=order,
        from_date=context.from_date,
        scenarios=frame,
        critical=critical,
        fatal_pairs=tuple((a, b) for a, b in fatal),
        pairs_with_critical=sum(1 for r in pairs if r.settled_by == "n-1"),
        jeopardy=pool,
        seconds=seconds,
    )


def analyse_contingency(
    bundle: Bundle,
    block_id: str,
    cells: Iterable[tuple[str, int | dt.date, str]],
    *,
    order: int = 1,
    from_date: dt.date | str | None = None,
    solve: Mapper | None = None,
    deterministic_time: float = DEFAULT_DETERMINISTIC_TIME,
    seed: int = 0,
    history: Iterable[tuple[str, dt.date, str]] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> ContingencyAnalysis:
    """N-1 (``order=1``) or N-1 and N-2 (``order=2``) of a block's schedule, without Prefect.

    ``solve`` maps :func:`repair_scenario` over the scenarios the screens leave open (default:
    one after another here). ``on_progress(done, total)`` hears of the scenarios settled, over both
    orders: at the start, after each screening and after each mapping (the observers of
    ``rotaflow.events`` hear of each scenario).
    """
    if order not in (1, 2):
        raise ValueError("order is 1 (N-1) or 2 (N-2)")
    started = time.perf_counter()
    mapper = solve or solve_serially
    context = prepare_context(
        bundle, block_id, cells, from_date=from_date, deterministic_time=deterministic_time, seed=seed, history=history
    )
    total = sum(len(_scenarios(context, k)) for k in range(1, order + 1)) if on_progress is not None else 0
    done = 0

    def settled(results: list[ScenarioResult]) -> list[ScenarioResult]:
        nonlocal done
        done += len(results)
        if on_progress is not None:
            on_progress(done, total)
        return results

    settled([])
    first = screen_scenarios(context, 1)
    singles = settled(first.settled) + settled(list(mapper(context, first.jobs)))
    results = list(singles)
    if order == 2:
        second = screen_scenarios(context, 2, singles=singles)
        results += settled(second.settled) + settled(list(mapper(context, second.jobs)))
    return assemble(context, results, order=order, seconds=time.perf_counter() - started)
