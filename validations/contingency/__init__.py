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

The modules: ``context`` (the block's instance, hard rules and published schedule; the hard-rule
checks), ``screens`` (demand arithmetic, the supply and hours screens), ``scenarios`` (steps 1-4
for each scenario of an order), ``repair`` (step 5, CP-SAT), ``results`` (a scenario's row, the
frame and the pool) and ``analysis`` (the driver, and the frame assembled from the rows).
"""

from __future__ import annotations

from rotaflow.validations.contingency.analysis import Mapper, analyse_contingency, assemble
from rotaflow.validations.contingency.context import (
    DEFAULT_DETERMINISTIC_TIME,
    MIN_DETERMINISTIC_TIME,
    ContingencyContext,
    prepare_context,
)
from rotaflow.validations.contingency.repair import repair_scenario, solve_serially
from rotaflow.validations.contingency.results import (
    RESULT_COLUMNS,
    ContingencyAnalysis,
    JeopardyPool,
    RepairJob,
    ScenarioResult,
    Screened,
)
from rotaflow.validations.contingency.scenarios import screen_scenarios

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
