"""Why a person has (or does not have) a shift: the coverage it fills, the rules that bind them that day, and
for everyone else who could work it the first rule that keeps them off it or what giving it to them would cost.

Everything is read from one block's schedule (its published version, or a schedule file) under the program's
rule set, with the checker the swaps use (``rotaflow.services.swaps``); nothing is solved and nothing written.

1. **Coverage.** The coverage.csv rows of the (date, shift) slot: minimum, maximum, target, the people the row
   counts who work it, and whether taking the person off would leave it below its minimum.
2. **Binding rules.** A *probe* is one more shift for the person that day: each shift their rotation lets them
   work that day and that they do not work already. The hard rules a probe breaks (what it adds, checked by
   the rules' own checkers on the person's shifts; not what the schedule already broke) bind that day: leave,
   the rest after last night's call, a 28-day window at its hour or call limit. When the person works that
   day, the rules that only say so (one shift at a time, one shift a day) are left out.
3. **Alternatives.** Everyone else whose rotation lets them work the shift that day (the eligibility the solver
   gives them) is tried in the person's place, as a give-away would be: the first hard rule the move breaks,
   in the order of ``swaps.PRECEDENCE`` (leave, rest, hours …; the later published blocks whose windows reach
   back into the day included) keeps them off it. When none does, the move's **cost** is the change of the
   objective: the soft rules' weighted penalties (fairness, requests, coverage targets, rest between shifts …)
   after the move less before, from each rule's exact penalty (a rule without one: the solver's own penalty
   terms, solved with every cell fixed). Continuity (changes from the published schedule) is left out: every
   move would pay it. For a shift the person does not work, the person is tried in the place of each who
   works it, and as one more.

``cell_explanations`` says the same in fewer words for every cell of a validated schedule (report.html): the
coverage and that day's findings for a shift worked, and for a day off the first rule that keeps the person
off each shift they may work. It tries no alternatives (it names who else was free, unchecked), and when a
program needs more than ``MAX_PROBES`` probes it checks no rule at all and says so.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from ortools.sat.python import cp_model

from rotaflow.constraints.instance import Cell, Demand, Instance, Schedule
from rotaflow.constraints.model import BuiltModel, build_model
from rotaflow.constraints.rules import acgme_rest_between_shifts, coverage_target, fairness
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.solve import penalty_totals
from rotaflow.db.session import Engine
from rotaflow.errors import InputError, Problem
from rotaflow.services.generate import findings_rows
from rotaflow.services.swaps import (
    Row,
    SwapContext,
    _added,
    _Change,
    _later_added,
    _rule_added,
    context_from,
    swap_context,
)
from rotaflow.services.versions import published_version
from rotaflow.services.year_report import prior_loads
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import rules_for

__all__ = [
    "MAX_PROBES",
    "Alternative",
    "Binding",
    "Request",
    "CoverageRow",
    "Explanation",
    "Finding",
    "cell_explanations",
    "explain",
    "explain_cell",
    "explain_schedule",
    "check_cell",
    "explanation_context",
]

MAX_PROBES = 3000
"""``cell_explanations`` checks the rules for a day off only while the program's days off need at most this many
probes (one per shift a person may work that day): about a second for the 48-person sample block (some 1,500
probes), a few seconds at the cap. Above it the report gives coverage and findings only, and says so."""

_SAME_DAY = frozenset({"one_shift_at_a_time", "one_shift_per_day"})
"""Rules a probe breaks just because the person already works that day: not worth saying then."""

_NOT_COSTED = frozenset({"continuity"})
"""Soft rules left out of a move's cost: continuity counts changes from the published schedule, which every move
pays alike."""

_NAMES_SHOWN = 6
"""How many people a report cell names before "+N more"."""


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class Finding:
    """A rule finding (findings.csv's columns but severity and person)."""

    rule: str
    window_start: str
    window_end: str
    value: float
    limit: float
    unit: str
    message: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Finding:
        return cls(
            str(row["rule"]),
            str(row["window_start"]),
            str(row["window_end"]),
            float(row["value"]),
            float(row["limit"]),
            str(row["unit"]),
            str(row["message"]),
        )

    def as_dict(self) -> dict[str, Any]:
        return _dataclass_dict(self)


@dataclass(frozen=True)
class CoverageRow:
    """One coverage.csv row of a (date, shift) slot and how it stands."""

    shift_id: str
    row: str
    """Where it comes from: ``coverage.csv row N``."""
    who: str
    """Whom it counts, in words (``residents on NF``, ``faculty with skill procedures``)."""
    minimum: int
    maximum: int | None
    target: int | None
    assigned: tuple[str, ...]
    """The people it counts who work the slot."""
    counts_person: bool
    """Whether the person explained is one it counts."""
    needed: bool
    """The person works the slot, counts for the row, and without them it is below its minimum."""

    def as_dict(self) -> dict[str, Any]:
        return _dataclass_dict(self)

    def line(self) -> str:
        bounds = f"min {self.minimum}" + (f", max {self.maximum}" if self.maximum is not None else "")
        if self.target is not None:
            bounds += f", target {self.target}"
        assigned = f"{len(self.assigned)} assigned" + (f" ({', '.join(self.assigned)})" if self.assigned else "")
        tail = ""
        if self.needed:
            tail = "; without them it is below its minimum"
        elif self.maximum is not None and len(self.assigned) >= self.maximum:
            tail = "; full"
        elif len(self.assigned) < self.minimum:
            tail = f"; {self.minimum - len(self.assigned)} short"
        return f"{self.shift_id} ({self.row}, {self.who}): {bounds}; {assigned}{tail}"


@dataclass(frozen=True)
class Request:
    """The person's request for that day (requests.csv): to work (``on``) or be off (``off``) a shift, or the whole
    day (``shift_id`` None), and whether the schedule grants it."""

    shift_id: str | None
    kind: str
    weight: int
    granted: bool

    def as_dict(self) -> dict[str, Any]:
        return _dataclass_dict(self)

    def words(self) -> str:
        what = self.shift_id or "the day"
        wish = f"to work {what}" if self.kind == "on" else f"to be off {what}"
        return f"{wish} (weight {self.weight}): {'granted' if self.granted else 'not granted'}"


@dataclass(frozen=True)
class Binding:
    """A hard rule one more shift that day would break: the shifts that would break it, and the finding."""

    rule: str
    shifts: tuple[str, ...]
    finding: Finding

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "shifts": list(self.shifts), "finding": self.finding.as_dict()}


@dataclass(frozen=True)
class Alternative:
    """Someone tried on the shift: in ``instead_of``'s place, or as one more (None). Kept off by ``rule``, or, when
    no hard rule keeps them off, ``cost`` is the change of the objective (by soft rule in ``costs``)."""

    person_id: str
    shift_id: str
    instead_of: str | None
    rule: str | None = None
    message: str | None = None
    cost: int | None = None
    costs: dict[str, int] = field(default_factory=dict)

    @property
    def legal(self) -> bool:
        return self.rule is None

    def as_dict(self) -> dict[str, Any]:
        return {**_dataclass_dict(self), "legal": self.legal}

    def line(self) -> str:
        place = f"in {self.instead_of}'s place" if self.instead_of else "as one more"
        if self.rule is not None:
            return f"{self.person_id} ({self.shift_id}, {place}): kept off by {self.rule}: {self.message}"
        return f"{self.person_id} ({self.shift_id}, {place}): no hard rule against it; {_cost_words(self)}"


def _cost_words(alternative: Alternative) -> str:
    if alternative.cost is None:
        return "cost not computed"
    parts = ", ".join(f"{rule} {delta:+d}" for rule, delta in sorted(alternative.costs.items()))
    return f"objective {alternative.cost:+d}" + (f" ({parts})" if parts else "")


@dataclass(frozen=True)
class Explanation:
    """Why ``person_id`` has (or does not have) ``shift_id`` on ``date`` in a block's schedule."""

    program: str
    block_id: str
    version: int | None
    """The published version explained (None: a schedule file)."""
    schedule: str | None
    """The schedule file explained (None: the published version)."""
    person_id: str
    date: dt.date
    shift_id: str | None
    """The shift explained: the one asked about, else the one the person works that day (None: a day off)."""
    works: tuple[str, ...]
    """The shifts the person works that day."""
    rotation: str | None
    may_work: tuple[str, ...]
    """The shifts the person's rotation lets them work that day."""
    coverage: tuple[CoverageRow, ...]
    binding: tuple[Binding, ...]
    requests: tuple[Request, ...]
    """The person's requests for that day (a soft rule: granting one lowers the objective)."""
    alternatives: tuple[Alternative, ...]
    """Everyone else tried in the person's place (they work the shift); the person tried in each holder's place
    and as one more (they do not); the person as one more on each shift they may work (a day off)."""
    others_ineligible: int = 0
    """People whose rotation does not work the shift that day (not tried)."""
    left_out: int = 0
    """Alternatives not tried (``limit``)."""

    @property
    def has_shift(self) -> bool:
        return self.shift_id is not None and self.shift_id in self.works

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "block_id": self.block_id,
            "version": self.version,
            "schedule": self.schedule,
            "person_id": self.person_id,
            "date": self.date.isoformat(),
            "shift_id": self.shift_id,
            "has_shift": self.has_shift,
            "works": list(self.works),
            "rotation": self.rotation,
            "may_work": list(self.may_work),
            "coverage": [c.as_dict() for c in self.coverage],
            "binding": [b.as_dict() for b in self.binding],
            "requests": [r.as_dict() for r in self.requests],
            "alternatives": [a.as_dict() for a in self.alternatives],
            "others_ineligible": self.others_ineligible,
            "left_out": self.left_out,
        }

    def text(self) -> str:
        """The explanation in plain words, by person id only."""
        who, day = self.person_id, self.date.isoformat()
        source = f"published version {self.version}" if self.version is not None else f"schedule {self.schedule}"
        lines = [f"{self.program} block {self.block_id} ({source}): {who} on {day}"]
        works = ", ".join(self.works) if self.works else "no shift"
        rotation = f"rotation {self.rotation}" if self.rotation else "no rotation"
        may = ", ".join(self.may_work) if self.may_work else "none"
        lines.append(f"{who} works {works} that day ({rotation}; may work: {may}).")
        if self.shift_id is not None and not self.has_shift:
            lines.append(f"{who} does not work {self.shift_id} that day.")
        if self.coverage:
            lines += ["", "Coverage:"] + [f"  {c.line()}" for c in self.coverage]
        elif self.shift_id is not None:
            lines += ["", f"Coverage: no coverage.csv row asks for {self.shift_id} on {day}."]
        if self.requests:
            lines += ["", f"{who}'s requests that day: " + "; ".join(r.words() for r in self.requests) + "."]
        lines += ["", f"Rules that bind {who} that day (one more shift would break them):"]
        lines += [f"  {b.rule} (with one more {' or '.join(b.shifts)}): {b.finding.message}" for b in self.binding]
        if not self.binding and any(s not in self.works for s in self.may_work):
            lines.append("  none")
        elif not self.binding:
            lines.append("  none tried: their rotation works no other shift that day")
        if self.has_shift:
            head = f"Others who could work {self.shift_id} on {day}, in {who}'s place:"
        elif self.shift_id is not None:
            head = f"{who} on {self.shift_id} on {day}:"
        else:
            head = f"{who} on each shift they may work that day:"
        lines += ["", head] + [f"  {a.line()}" for a in self.alternatives]
        if not self.alternatives:
            lines.append("  nobody")
        if self.others_ineligible:
            lines.append(f"  (not tried, their rotation does not work it that day: {self.others_ineligible} more)")
        if self.left_out:
            lines.append(f"  ({self.left_out} more not tried)")
        return "\n".join(lines)


def _dataclass_dict(value: Any) -> dict[str, Any]:
    return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- contexts


def explanation_context(engine: Engine, bundle: Bundle, block_id: str) -> SwapContext:
    """The block's current published version, ready to explain, with the year so far (year-scope fairness);
    ``InputError`` naming ``--block`` when nothing of it is published."""
    blocks = bundle.frames["blocks"]
    if (
        block_id in set(map(str, blocks["block_id"]))
        and published_version(engine, bundle.program.key, block_id) is None
    ):
        raise InputError(
            [Problem("command line", None, "--block", "a block with a published schedule", f"{block_id} has none")]
        )
    context = swap_context(engine, bundle, block_id)
    context.instance.prior = prior_loads(engine, bundle, block_id)
    return context


def explain(
    engine: Engine,
    bundle: Bundle,
    block_id: str,
    person_id: str,
    date: dt.date,
    shift_id: str | None = None,
    *,
    limit: int | None = None,
) -> Explanation:
    """Explain a cell of the block's published schedule (``explain_cell``)."""
    check_cell(bundle, block_id, person_id, date, shift_id)
    return explain_cell(explanation_context(engine, bundle, block_id), person_id, date, shift_id, limit=limit)


def explain_schedule(
    bundle: Bundle,
    block_id: str,
    rows: Iterable[Row],
    person_id: str,
    date: dt.date,
    shift_id: str | None = None,
    *,
    source: str,
    limit: int | None = None,
) -> Explanation:
    """Explain a cell of a schedule's ``rows`` (person, date, shift) instead of the published version: the rows
    before the block are its history (with history.csv); no database is read, so year-scope fairness counts
    the block alone."""
    check_cell(bundle, block_id, person_id, date, shift_id)
    rows = list(rows)
    start = _block_start(bundle, block_id)
    context = context_from(bundle, block_id, 0, [r for r in rows if r[1] >= start], [r for r in rows if r[1] < start])
    return explain_cell(context, person_id, date, shift_id, limit=limit, source=source)


def _block_start(bundle: Bundle, block_id: str) -> dt.date:
    blocks = bundle.frames["blocks"].set_index("block_id")
    return blocks.at[block_id, "start_date"].date()  # type: ignore[no-any-return]


def check_cell(bundle: Bundle, block_id: str, person_id: str, date: dt.date, shift_id: str | None) -> None:
    """``InputError`` naming the option, before anything is read: a person not in people.csv, a shift not in
    shifts.csv, a block not in blocks.csv, or a date outside the block."""
    problems = []
    if person_id not in set(map(str, bundle.frames["people"]["person_id"])):
        problems.append(Problem("command line", None, "--person", "a person_id of people.csv", person_id))
    shifts = [str(s) for s in bundle.frames["shifts"]["shift_id"]]
    if shift_id is not None and shift_id not in shifts:
        expected = f"a shift_id of shifts.csv: {', '.join(shifts)}"
        problems.append(Problem("command line", None, "--shift", expected, shift_id))
    if problems:
        raise InputError(problems)
    blocks = bundle.frames["blocks"].set_index("block_id")
    if block_id not in blocks.index:
        known = ", ".join(map(str, blocks.index[:10]))
        raise InputError([Problem("command line", None, "--block", f"a block_id of blocks.csv ({known})", block_id)])
    first, last = blocks.at[block_id, "start_date"].date(), blocks.at[block_id, "end_date"].date()
    if not first <= date <= last:
        raise InputError(
            [Problem("command line", None, "--date", f"a date of block {block_id} ({first} to {last})", str(date))]
        )


# --------------------------------------------------------------------------- one cell


def explain_cell(
    context: SwapContext,
    person_id: str,
    date: dt.date,
    shift_id: str | None = None,
    *,
    limit: int | None = None,
    source: str | None = None,
) -> Explanation:
    """Why ``person_id`` has (or does not have) ``shift_id`` on ``date`` in the context's schedule; without a shift,
    the one they work that day, or their day off. ``limit`` caps the alternatives tried (the rest are counted in
    ``left_out``). ``InputError`` naming the option for an unknown person or shift or a date outside the block."""
    inst = context.instance
    if person_id not in inst.person:
        raise InputError([Problem("command line", None, "--person", "a person_id of people.csv", person_id)])
    if shift_id is not None and shift_id not in inst.shift:
        known = ", ".join(inst.shift_ids)
        raise InputError([Problem("command line", None, "--shift", f"a shift_id of shifts.csv: {known}", shift_id)])
    day = inst.day_index(date)
    if not 0 <= day < inst.days:
        last = inst.date(inst.days - 1)
        expected = f"a date of block {context.block_id} ({inst.start} to {last})"
        raise InputError([Problem("command line", None, "--date", expected, str(date))])
    works = tuple(sorted(s for p, d, s in context._mine[person_id] if d == day))
    if shift_id is None and works:
        shift_id = works[0]
    may = _may_work(inst, person_id, day)
    shown = (shift_id,) if shift_id is not None else may
    coverage = tuple(row for s in shown for row in coverage_rows(context, person_id, day, s))
    binding = _binding(context, person_id, day, works, may)
    everyone: list[tuple[str, str, str | None]]  # (taker, shift, giver) moves to try
    ineligible = 0
    if shift_id is not None and shift_id in works:
        on = {c[0] for c in context._on_slot.get((day, shift_id), frozenset())}
        others = [q for q in inst.person_ids if q != person_id and q not in on]
        eligible = [q for q in others if inst.may_work(q, day, shift_id)]
        ineligible = len(others) - len(eligible)
        everyone = [(q, shift_id, person_id) for q in eligible]
    elif shift_id is not None:
        holders = sorted(c[0] for c in context._on_slot.get((day, shift_id), frozenset()))
        everyone = [(person_id, shift_id, h) for h in holders] + [(person_id, shift_id, None)]
    else:
        everyone = [(person_id, s, None) for s in may]
    tried = everyone if limit is None else everyone[: max(limit, 0)]
    alternatives = tuple(_try(context, taker, day, shift, giver) for taker, shift, giver in tried)
    return Explanation(
        program=context.bundle.program.key,
        block_id=context.block_id,
        version=context.version if source is None else None,
        schedule=source,
        person_id=person_id,
        date=date,
        shift_id=shift_id,
        works=works,
        rotation=inst.rotation.get((person_id, day)),
        may_work=may,
        coverage=coverage,
        binding=binding,
        requests=_requests(inst, person_id, day, works),
        alternatives=alternatives,
        others_ineligible=ineligible,
        left_out=len(everyone) - len(tried),
    )


def _requests(inst: Instance, person: str, day: int, works: tuple[str, ...]) -> tuple[Request, ...]:
    out = []
    for r in inst.requests:
        if r.person == person and r.day == day:
            worked = r.shift in works if r.shift else bool(works)
            out.append(Request(r.shift, r.kind, r.weight, worked if r.kind == "on" else not worked))
    return tuple(out)


def _may_work(inst: Instance, person: str, day: int) -> tuple[str, ...]:
    return tuple(s for s in inst.shift_ids if inst.may_work(person, day, s))


def coverage_rows(context: SwapContext, person: str, day: int, shift: str) -> list[CoverageRow]:
    """The coverage rows of the (day, shift) slot as the schedule staffs it, seen from ``person``."""
    on = {c[0] for c in context._on_slot.get((day, shift), frozenset())}
    out = []
    for demand in _demands(context).get((day, shift), ()):
        assigned = tuple(sorted(p for p in on if p in demand.people))
        counts = person in demand.people
        needed = counts and person in on and len(assigned) - 1 < demand.min
        who = _who(context, demand.label)
        out.append(
            CoverageRow(shift, demand.label, who, demand.min, demand.max, demand.target, assigned, counts, needed)
        )
    return out


def _demands(context: SwapContext) -> dict[tuple[int, str], list[Demand]]:
    """The instance's demands by (day, shift) slot."""

    def make() -> dict[tuple[int, str], list[Demand]]:
        out: dict[tuple[int, str], list[Demand]] = {}
        for demand in context.instance.demands:
            out.setdefault((demand.day, demand.shift), []).append(demand)
        return out

    return context._derived("explain:demands", make)  # type: ignore[no-any-return]


def _who(context: SwapContext, label: str) -> str:
    """Whom a coverage row counts, in words, from its coverage.csv row (``label``: ``coverage.csv row N``)."""

    def make() -> dict[str, str]:
        out = {}
        for number, row in context.bundle.frames["coverage"].iterrows():
            role = row.get("role")
            words = "faculty" if role == "faculty" else "residents" if role == "resident" else "anyone"
            if not pd.isna(row.get("min_pgy")):
                words += f" of PGY {int(row['min_pgy'])} or more"
            if isinstance(row.get("rotation_id"), str) and row["rotation_id"]:
                words += f" on {row['rotation_id']}"
            if isinstance(row.get("skill"), str) and row["skill"]:
                words += f" with skill {row['skill']}"
            out[f"coverage.csv row {number}"] = words
        return out

    words: dict[str, str] = context._derived("explain:who", make)
    return words.get(label, "the people it counts")


def _plus(context: SwapContext, person: str, day: int, shift: str) -> _Change:
    """``person`` works ``shift`` on ``day`` as well."""
    cell = (person, day, shift)
    row = (person, context.instance.date(day), shift)
    after = {person: context._mine[person] | {cell}}
    return _Change((person,), after, frozenset(), frozenset({cell}), ((day, shift),), frozenset(), frozenset({row}))


def _move(context: SwapContext, giver: str, taker: str, day: int, shift: str) -> _Change:
    """``giver``'s ``shift`` on ``day`` goes to ``taker``."""
    date = context.instance.date(day)
    gone, new = (giver, day, shift), (taker, day, shift)
    mine = context._mine
    after = {giver: mine[giver] - {gone}, taker: mine[taker] | {new}}
    return _Change(
        (giver, taker),
        after,
        frozenset({gone}),
        frozenset({new}),
        ((day, shift),),
        frozenset({(giver, date, shift)}),
        frozenset({(taker, date, shift)}),
    )


def _binding(
    context: SwapContext, person: str, day: int, works: tuple[str, ...], may: tuple[str, ...]
) -> tuple[Binding, ...]:
    """The hard rules one more shift on ``day`` would break for ``person`` (module docstring, 2)."""
    inst = context.instance
    found: dict[str, tuple[list[str], Finding]] = {}
    for shift in may:
        if shift in works:
            continue
        change = _plus(context, person, day, shift)
        for index, rule in enumerate(context.rules):
            if not rule.rule.personal or (works and rule.name in _SAME_DAY):
                continue
            added = _rule_added(context, index, change, (person,))
            if not added:
                continue
            worst = max(added, key=lambda v: (abs(v.value - v.limit), -v.first_day))
            if rule.name in found:
                found[rule.name][0].append(shift)
            else:
                found[rule.name] = ([shift], Finding.of(findings_rows(inst, [worst])[0]))
    order = {rule.name: n for n, rule in enumerate(context.rules)}
    return tuple(
        Binding(name, tuple(shifts), f) for name, (shifts, f) in sorted(found.items(), key=lambda i: order[i[0]])
    )


def _try(context: SwapContext, taker: str, day: int, shift: str, giver: str | None) -> Alternative:
    """``taker`` on ``shift`` that day in ``giver``'s place (or as one more): the first hard rule against it, else
    its cost."""
    change = _plus(context, taker, day, shift) if giver is None else _move(context, giver, taker, day, shift)
    found = findings_rows(context.instance, _added(context, change, first_only=True))
    if not found:
        found = _later_added(context, change, first_only=True)
    if found:
        return Alternative(taker, shift, giver, found[0]["rule"], found[0]["message"])
    costs = move_cost(context, change)
    return Alternative(taker, shift, giver, cost=sum(costs.values()), costs={k: v for k, v in costs.items() if v})


# --------------------------------------------------------------------------- cost


def _soft(context: SwapContext) -> list[ConfiguredRule]:
    def make() -> list[ConfiguredRule]:
        return [r for r in rules_for(context.bundle) if r.kind == "soft" and r.name not in _NOT_COSTED]

    return context._derived("explain:soft", make)  # type: ignore[no-any-return]


def move_cost(context: SwapContext, change: _Change) -> dict[str, int]:
    """Each soft rule's weighted penalty after ``change`` less before (by configured rule key)."""
    before = context._day_cells
    after = (before - change.removed) | change.added
    people = set(change.people)
    out: dict[str, int] = {}
    for rule in _soft(context):
        was = _penalty(context, rule, before, people, change.slots)
        now = _penalty(context, rule, after, people, change.slots)
        out[rule.key] = rule.weight * (now - was)
    return out


def _penalty(
    context: SwapContext,
    rule: ConfiguredRule,
    cells: frozenset[Cell],
    people: set[str],
    slots: tuple[tuple[int, str], ...],
) -> int:
    """Rule ``rule``'s penalty (weight 1) over what a move of ``people`` on ``slots`` can change: the same part
    of the schedule before and after it, so their difference is the move's."""
    inst = context.instance
    scope = [p for p in inst.person_ids if rule.selector.person_matches(inst, p)]
    if rule.name == "fairness":
        years = {inst.person[p].pgy for p in people}
        members = [p for p in scope if inst.person[p].pgy in years and inst.person[p].pgy is not None]
        if not members:
            return 0
        kept = set(members)
        return fairness.penalty(Schedule.of(inst, (c for c in cells if c[0] in kept)), rule.params, members)
    if rule.name == "shift_requests":
        mine = [p for p in scope if p in people]
        schedule = Schedule.of(inst, (c for c in cells if c[0] in people))
        return sum(int(v.value) for v in rule.rule.check(schedule, rule.params, mine, rule.selector))
    if rule.name == "coverage_target":
        return sum(
            coverage_target.penalty(Schedule.of(context._slot_instance(slot), (c for c in cells if c[1:] == slot)))
            for slot in slots
        )
    if rule.name == "acgme_rest_between_shifts":
        bound = {p for p in scope if p in people}
        return acgme_rest_between_shifts.penalty(Schedule.of(inst, (c for c in cells if c[0] in bound)), rule.params)
    return _solved_penalty(context, rule, cells)


def _solved_penalty(context: SwapContext, rule: ConfiguredRule, cells: frozenset[Cell]) -> int:
    """A soft rule without a penalty function of its own: its penalty terms in the solver's model, every cell
    fixed to ``cells``."""

    def make() -> BuiltModel:
        inst = copy.copy(context.instance)
        inst.previous = frozenset()
        inst.pins = {}
        inst.frozen_days = 0
        return build_model(inst, [rule])

    built: BuiltModel = context._derived(("explain:model", rule.key), make)
    model = built.model.clone()
    fixed = {cell: cell in cells for cell in built.instance.cells}
    model.proto.constraints.add().bool_and.literals.extend(built.x.literals(fixed))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 10.0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return 0
    totals = penalty_totals(built, solver.value)
    return sum(totals.values()) // max(rule.weight, 1)


# --------------------------------------------------------------------------- the report


def cell_explanations(
    bundle: Bundle,
    validation: Any,
    *,
    history: Iterable[Row] = (),
    max_probes: int = MAX_PROBES,
) -> dict[tuple[str, str, str], str]:
    """Plain-text explanations of every cell of a validated schedule's grid (``rotaflow.services.validate.
    Validation``): ``(person_id, iso_date, shift_id)`` for a shift worked, ``(person_id, iso_date, "")`` for a day
    without one, for everyone of people.csv on every day of the validated period inside its blocks. ``history``:
    shifts before the period (the rows of the schedule before a block are its history too)."""
    schedule = validation.schedule
    dates = pd.to_datetime(schedule["date"]).dt.date if len(schedule) else pd.Series([], dtype=object)
    rows = list(zip(schedule["person_id"].astype(str), dates, schedule["shift_id"].astype(str), strict=True))
    past = list(history)
    first, last = validation.period
    findings = _findings_by_person(validation.findings)
    out: dict[tuple[str, str, str], str] = {}
    for block_id in validation.blocks:
        start = _block_start(bundle, block_id)
        context = context_from(
            bundle,
            block_id,
            0,
            [r for r in rows if r[1] >= start],
            [r for r in rows if r[1] < start] + past,
        )
        out.update(_block_cells(context, findings, first, last, max_probes))
    return out


def _findings_by_person(findings: pd.DataFrame) -> dict[str, list[tuple[str, str, str, str, str]]]:
    """Each person's findings: (window_start, window_end, severity, rule, message)."""
    out: dict[str, list[tuple[str, str, str, str, str]]] = {}
    if findings is None or not len(findings):
        return out
    for row in findings.itertuples(index=False):
        person = str(row.person_id or "")
        if person:
            start, end = str(row.window_start)[:10], str(row.window_end)[:10]
            out.setdefault(person, []).append((start, end, str(row.severity), str(row.rule), str(row.message)))
    return out


def _block_cells(
    context: SwapContext,
    findings: dict[str, list[tuple[str, str, str, str, str]]],
    first: dt.date,
    last: dt.date,
    max_probes: int,
) -> dict[tuple[str, str, str], str]:
    inst = context.instance
    days = [d for d in range(inst.days) if first <= inst.date(d) <= last]
    probes = sum(
        len(_may_work(inst, p, d))
        for p in inst.person_ids
        for d in days
        if p not in _busy(context, d) and d not in inst.blocked_days.get(p, frozenset())
    )
    checked = probes <= max_probes
    out: dict[tuple[str, str, str], str] = {}
    for person in inst.person_ids:
        blocked = inst.blocked_days.get(person, frozenset())
        for day in days:
            iso = inst.date(day).isoformat()
            notes = _day_findings(findings.get(person, ()), iso)
            works = sorted(s for _, d, s in context._mine[person] if d == day)
            for shift in works:
                out[(person, iso, shift)] = _worked_text(context, person, day, shift, works, notes)
            if not works:
                unchecked = None if checked else probes
                out[(person, iso, "")] = _off_text(context, person, day, day in blocked, unchecked, notes)
    return out


def _day_findings(found: Iterable[tuple[str, str, str, str, str]], iso: str) -> list[str]:
    """The person's findings whose window holds the day, violations first (three at most, then how many more)."""
    hits = sorted((f for f in found if f[0] <= iso <= f[1]), key=lambda f: (f[2] != "violation", f[3], f[0]))
    lines = [f"{rule} ({severity}): {message}" for _, _, severity, rule, message in hits[:3]]
    if len(hits) > 3:
        lines.append(f"and {len(hits) - 3} more findings")
    return lines


def _staffed(row: CoverageRow) -> str:
    bounds = f"min {row.minimum}" + (f", max {row.maximum}" if row.maximum is not None else "")
    return f"{len(row.assigned)} assigned ({bounds})"


def _names(people: list[str]) -> str:
    shown = ", ".join(people[:_NAMES_SHOWN])
    return shown + (f" (+{len(people) - _NAMES_SHOWN} more)" if len(people) > _NAMES_SHOWN else "")


def _busy(context: SwapContext, day: int) -> frozenset[str]:
    """The people who work on ``day``."""

    def make() -> dict[int, frozenset[str]]:
        out: dict[int, set[str]] = {}
        for person, d, _ in context._day_cells:
            out.setdefault(d, set()).add(person)
        return {d: frozenset(people) for d, people in out.items()}

    busy: dict[int, frozenset[str]] = context._derived("explain:busy", make)
    return busy.get(day, frozenset())


def _command(context: SwapContext, person: str, date: str) -> str:
    return f"rotaflow explain --program PATH --block {context.block_id} --person {person} --date {date}"


def _worked_text(context: SwapContext, person: str, day: int, shift: str, works: list[str], notes: list[str]) -> str:
    inst = context.instance
    date = inst.date(day).isoformat()
    rotation = inst.rotation.get((person, day))
    head = f"{person} works {shift} on {date}" + (f" (rotation {rotation})" if rotation else "")
    if len(works) > 1:
        head += f"; also {', '.join(s for s in works if s != shift)}"
    lines = [head + "."]
    rows = coverage_rows(context, person, day, shift)
    counted = [r for r in rows if r.counts_person]
    if counted:
        lines += [f"Coverage: {r.line()}" for r in counted]
    elif rows:
        lines.append(f"Coverage: none of the {len(rows)} coverage.csv rows of {shift} that day counts {person}.")
    else:
        lines.append(f"Coverage: no coverage.csv row asks for {shift} that day.")
    lines += [f"Finding: {note}" for note in notes]
    busy = _busy(context, day)
    free = [
        q
        for q in inst.person_ids
        if q not in busy and inst.may_work(q, day, shift) and day not in inst.blocked_days.get(q, frozenset())
    ]
    if free:
        lines.append(f"Free that day and on a rotation that works {shift} (rules not checked here): {_names(free)}.")
    else:
        lines.append(f"Nobody else on a rotation that works {shift} was free that day.")
    lines.append(f"Details: {_command(context, person, date)} --shift {shift}")
    return "\n".join(lines)


def _off_text(
    context: SwapContext, person: str, day: int, blocked: bool, unchecked: int | None, notes: list[str]
) -> str:
    """A day off: leave, no shift the rotation works, or each shift the person may work and the first hard rule
    against it (``unchecked``: the probes the program would need, above the cap: no rule checked)."""
    inst = context.instance
    date = inst.date(day).isoformat()
    rotation = inst.rotation.get((person, day))
    may = _may_work(inst, person, day)
    head = f"{person} has no shift on {date}" + (f" (rotation {rotation})" if rotation else "")
    lines = [head + "."]
    if blocked:
        lines.append("On blocking leave that day (blocking_absence).")
    elif not may:
        reason = f"rotation {rotation}" if rotation else "no rotation and no faculty shift"
        lines.append(f"Works no shift that day: {reason} (rotation_eligibility).")
    elif unchecked is not None:
        lines.append(
            f"May work {', '.join(may)}; the rules are not checked in this report for a program this large "
            f"({unchecked} shifts to try, more than the {MAX_PROBES} it tries)."
        )
    else:
        for shift in may:
            change = _plus(context, person, day, shift)
            found = findings_rows(inst, _added(context, change, first_only=True))
            if found:
                lines.append(f"{shift}: kept off by {found[0]['rule']}: {found[0]['message']}")
                continue
            rows = [r for r in coverage_rows(context, person, day, shift) if r.counts_person]
            staffed = "; ".join(_staffed(r) for r in rows)
            tail = f"; its coverage: {staffed}" if staffed else ""
            lines.append(f"{shift}: no hard rule keeps {person} off it{tail}")
    lines += [f"Finding: {note}" for note in notes]
    lines.append(f"Details: {_command(context, person, date)}")
    return "\n".join(lines)
