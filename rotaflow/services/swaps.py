"""Shift swaps: whether one is legal, and who could take a shift. Nothing here writes to the database.

A swap changes at most four cells of a block's published schedule: person P gives shift S on date D to a
taker (a give-away, or an open offer someone accepts), and in a one-for-one trade takes the taker's shift S2
on D2 back. It is legal when it adds no hard-rule finding to the published schedule: every hard rule of the
program's rule set, history included, over every window the change touches. A finding the published
schedule already had is not the swap's.

Checking is fast because a swap touches little: a rule that is ``personal`` (its checker reports only on
the people it is given, from their own shifts) is checked for P and the taker alone, on their own shifts;
coverage and supervision only on the (date, shift) slots the swap changes; any other hard rule over the
whole schedule. What the published schedule gives (each person's findings, each slot's) is computed once
per context and remembered, so ``candidates`` tries everyone and their trade-backs in well under a second
on a large program.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import rotaflow.constraints.rules  # noqa: F401  (registers every rule)
from rotaflow.constraints.instance import Cell, HistoryShift, Instance, Schedule
from rotaflow.constraints.registry import Violation
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.db.session import Engine
from rotaflow.errors import InputError, Problem
from rotaflow.services.generate import findings_rows, history_from_database
from rotaflow.services.planning import program_today
from rotaflow.services.versions import published_version
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import HISTORY_DAYS, block_instance, history_shifts, rules_for

__all__ = [
    "Candidate",
    "Candidates",
    "Excluded",
    "Following",
    "PRECEDENCE",
    "Row",
    "SwapContext",
    "SwapSpec",
    "block_of",
    "candidates",
    "check_swap",
    "context_from",
    "explain",
    "following_blocks",
    "swap_context",
    "swapped",
]

Row = tuple[str, dt.date, str]
"""One assignment: (person_id, date, shift_id)."""

# Rules whose findings are about one (date, shift) slot, computed from the people on it alone: a swap
# changes their findings only on the slots it changes.
_SLOT_RULES = frozenset({"coverage", "supervision_ratio"})
# The order rules are tried in when only the first reason matters (an excluded taker, a trade-back): the most
# basic reasons first (not on a rotation that works the shift, absent, already busy), which are also the
# cheapest to check, then the rest, the work-hour rules over long windows last; any other rule by name.
PRECEDENCE = (
    "rotation_eligibility",
    "blocking_absence",
    "fixed_days_off",
    "one_shift_at_a_time",
    "one_shift_per_day",
    "coverage",
    "supervision_ratio",
    "acgme_pgy1_no_moonlighting",
    "acgme_rest_after_call",
    "acgme_rest_between_shifts",
    "forbidden_successions",
    "max_consecutive_nights",
    "acgme_max_continuous_duty",
    "consecutive_working_days",
    "consecutive_days_off",
    "acgme_day_off_in_seven",
    "acgme_call_frequency",
    "max_shifts_per_type",
    "max_weekends",
    "total_minutes",
    "acgme_weekly_hours",
)
_CALL_KINDS = frozenset({"call", "home_call", "in_house_call"})

Key = tuple[Hashable, ...]
"""What makes a finding the same before and after a swap: rule, person, window (and slot, demand row and
side of the limit)."""


@dataclass(frozen=True)
class SwapSpec:
    """A swap as requested: P's shift, and for a give-away or trade the partner and the shift taken back."""

    person_id: str
    date: dt.date
    shift_id: str
    with_person_id: str | None = None
    take_date: dt.date | None = None
    take_shift_id: str | None = None

    @property
    def kind(self) -> Literal["trade", "giveaway", "offer"]:
        if self.with_person_id is None:
            return "offer"
        if self.take_date is not None or self.take_shift_id is not None:
            return "trade"
        return "giveaway"


@dataclass
class Following:
    """A later block whose history reaches back into the swap's block: its published version, read with the
    published shifts before it (the swap's block's current version among them). A swap on the days its
    rolling windows look back on (rest after the last shift, the 7- and 28-day windows) is checked on it too.
    """

    block_id: str
    version: int
    instance: Instance
    cells: frozenset[Cell]
    """Its published cells, by its own day index."""

    @property
    def reach(self) -> tuple[dt.date, dt.date]:
        """The days before it whose shifts its rules read: ``[first, last)``."""
        start = self.instance.start
        return start - dt.timedelta(days=HISTORY_DAYS), start


@dataclass
class SwapContext:
    """One block's published version, ready to check swaps against.

    ``rules`` are the program's hard rules (soft ones never make a swap illegal). The private caches
    remember what the published schedule gives, so many checks against one context stay cheap.
    """

    bundle: Bundle
    block_id: str
    version: int
    cells: frozenset[Row]
    instance: Instance
    rules: list[ConfiguredRule]
    following: tuple[Following, ...] = ()
    """The later published blocks whose windows reach back into this one."""
    _cache: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)

    def _derived(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def _day_cells(self) -> frozenset[Cell]:
        """The published cells inside the block, by day index."""

        def make() -> frozenset[Cell]:
            inst = self.instance
            out = set()
            for person, date, shift in self.cells:
                day = inst.day_index(date)
                if 0 <= day < inst.days and person in inst.person and shift in inst.shift:
                    out.add((person, day, shift))
            return frozenset(out)

        return self._derived("day_cells", make)  # type: ignore[no-any-return]

    @property
    def _mine(self) -> dict[str, frozenset[Cell]]:
        """Each person's published cells."""

        def make() -> dict[str, frozenset[Cell]]:
            out: dict[str, set[Cell]] = {p: set() for p in self.instance.person_ids}
            for cell in self._day_cells:
                out[cell[0]].add(cell)
            return {p: frozenset(c) for p, c in out.items()}

        return self._derived("mine", make)  # type: ignore[no-any-return]

    @property
    def _on_slot(self) -> dict[tuple[int, str], frozenset[Cell]]:
        """The published cells of each (day, shift) slot."""

        def make() -> dict[tuple[int, str], frozenset[Cell]]:
            out: dict[tuple[int, str], set[Cell]] = {}
            for cell in self._day_cells:
                out.setdefault((cell[1], cell[2]), set()).add(cell)
            return {slot: frozenset(c) for slot, c in out.items()}

        return self._derived("on_slot", make)  # type: ignore[no-any-return]

    def _people(self, index: int) -> list[str]:
        """The people rule ``index`` binds (its ``applies_to``)."""
        rule = self.rules[index]
        inst = self.instance
        return self._derived(  # type: ignore[no-any-return]
            ("people", index), lambda: [p for p in inst.person_ids if rule.selector.person_matches(inst, p)]
        )

    def _slot_instance(self, slot: tuple[int, str]) -> Instance:
        """The instance with only the slot's demands (its slot rules then look at that slot alone)."""

        def make() -> Instance:
            narrow = copy.copy(self.instance)  # keeps the computed slots, people and shifts
            narrow.demands = tuple(d for d in self.instance.demands if (d.day, d.shift) == slot)
            return narrow

        return self._derived(("slot_instance", slot), make)  # type: ignore[no-any-return]

    def _row_instance(self, slot: tuple[int, str], row: int) -> Instance:
        """The instance with only the slot's ``row``-th demand (coverage then reports on that row alone)."""

        def make() -> Instance:
            narrow = copy.copy(self._slot_instance(slot))
            narrow.demands = (narrow.demands[row],)
            return narrow

        return self._derived(("row_instance", slot, row), make)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- building a context


def block_of(bundle: Bundle, date: dt.date, option: str = "--date") -> str:
    """The block of blocks.csv that holds ``date``; ``InputError`` naming ``option`` when none does."""
    blocks = bundle.frames["blocks"]
    for row in blocks.itertuples():
        if row.start_date.date() <= date <= row.end_date.date():
            return str(row.block_id)
    first = min(blocks["start_date"]).date() if len(blocks) else None
    last = max(blocks["end_date"]).date() if len(blocks) else None
    span = f" ({first} to {last})" if first and last else ""
    raise InputError([Problem("command line", None, option, f"a date inside a block of blocks.csv{span}", str(date))])


def following_blocks(bundle: Bundle, block_id: str) -> list[str]:
    """The blocks after ``block_id`` whose history reaches back into it (they start within ``HISTORY_DAYS``
    days of its last day), in order."""
    blocks = bundle.frames["blocks"].sort_values("start_date")
    row = blocks.loc[blocks["block_id"] == block_id]
    if row.empty:
        return []
    start, end = row["start_date"].iloc[0], row["end_date"].iloc[0]
    reach = end + dt.timedelta(days=HISTORY_DAYS)
    later = blocks[(blocks["start_date"] > start) & (blocks["start_date"] > end) & (blocks["start_date"] <= reach)]
    return [str(b) for b in later["block_id"]]


LaterBlock = tuple[str, int, Iterable[Row], Iterable[Row]]
"""A later published block as read from the database: (block_id, version, its cells, the published shifts
of the days before it)."""


def context_from(
    bundle: Bundle,
    block_id: str,
    version: int,
    cells: Iterable[Row],
    history: Iterable[Row],
    following: Iterable[LaterBlock] = (),
) -> SwapContext:
    """The context of a block's schedule ``cells`` (its version ``version``), with ``history`` the published
    shifts before the block and ``following`` the later published blocks whose windows reach back into it
    (``following_blocks``; each with its own history); no database is read."""
    rows = frozenset((str(p), d, str(s)) for p, d, s in cells)
    instance = block_instance(bundle, block_id, history=history, previous=rows)
    hard = [r for r in rules_for(bundle) if r.kind == "hard"]
    later = []
    for later_id, later_version, later_cells, later_history in following:
        later_rows = frozenset((str(p), d, str(s)) for p, d, s in later_cells)
        inst = block_instance(bundle, later_id, history=later_history, previous=later_rows)
        later.append(Following(later_id, later_version, inst, inst.previous))
    return SwapContext(bundle, block_id, version, rows, instance, hard, tuple(later))


def swap_context(engine: Engine, bundle: Bundle, block_id: str) -> SwapContext:
    """The context of the block's current published version; ``InputError`` when nothing of it is published."""
    blocks = bundle.frames["blocks"].set_index("block_id")
    if block_id not in blocks.index:
        block_instance(bundle, block_id)  # the usual error for an unknown block
    published = published_version(engine, bundle.program.key, block_id)
    if published is None:
        raise InputError(
            [
                Problem(
                    "command line",
                    None,
                    "--date",
                    "a date in a block with a published schedule",
                    f"block {block_id} has no published version",
                )
            ]
        )
    first = blocks.at[block_id, "start_date"].date()
    history = history_from_database(engine, bundle.program.key, first)
    following = []
    for later_id in following_blocks(bundle, block_id):
        later = published_version(engine, bundle.program.key, later_id)
        if later is not None:
            start = blocks.at[later_id, "start_date"].date()
            following.append(
                (later_id, later.number, later.cells, history_from_database(engine, bundle.program.key, start))
            )
    return context_from(bundle, block_id, published.number, published.cells, history, following)


# --------------------------------------------------------------------------- the swap itself


def _refuse(option: str, expected: str, got: str) -> InputError:
    return InputError([Problem("command line", None, option, expected, got)])


def _taker_option(spec: SwapSpec, taker: str) -> str:
    return "--with" if taker == spec.with_person_id else "--by"


def _changes(cells: frozenset[Row], spec: SwapSpec, taker: str) -> tuple[frozenset[Row], frozenset[Row]]:
    """The rows a swap removes and adds, after checking it can be made on ``cells``."""
    given = (spec.person_id, spec.date, spec.shift_id)
    if given not in cells:
        raise _refuse(
            "--person/--date/--shift",
            "a shift the person works in the published schedule",
            f"{spec.person_id} does not work {spec.shift_id} on {spec.date}",
        )
    option = _taker_option(spec, taker)
    if taker == spec.person_id:
        raise _refuse(option, f"someone other than {spec.person_id}", taker)
    if (taker, spec.date, spec.shift_id) in cells:
        raise _refuse(option, f"someone who does not work {spec.shift_id} on {spec.date}", taker)
    removed, added = {given}, {(taker, spec.date, spec.shift_id)}
    if spec.take_date is not None or spec.take_shift_id is not None:
        if spec.with_person_id is None or spec.take_date is None or spec.take_shift_id is None:
            raise _refuse(
                "--take-date/--take-shift",
                "both --take-date and --take-shift, with --with (a one-for-one trade)",
                f"--take-date {spec.take_date or ''} --take-shift {spec.take_shift_id or ''}",
            )
        taken = (taker, spec.take_date, spec.take_shift_id)
        if taken not in cells:
            raise _refuse(
                "--take-date/--take-shift",
                f"a shift {taker} works in the published schedule",
                f"{taker} does not work {spec.take_shift_id} on {spec.take_date}",
            )
        back = (spec.person_id, spec.take_date, spec.take_shift_id)
        if back in cells:
            raise _refuse(
                "--take-date/--take-shift",
                f"a shift {spec.person_id} does not already work",
                f"{spec.person_id} works {spec.take_shift_id} on {spec.take_date}",
            )
        removed.add(taken)
        added.add(back)
    return frozenset(removed), frozenset(added)


def swapped(cells: Iterable[Row], spec: SwapSpec, taker: str) -> frozenset[Row]:
    """The schedule ``cells`` after the swap: P's (date, shift) goes to ``taker``; a trade also moves the
    taker's (take_date, take_shift) to P. ``InputError`` naming the option when the swap cannot be made:
    P does not work that shift, the taker does not work the one taken back, the taker is P, or the taker
    already works that shift."""
    rows = frozenset(cells)
    removed, added = _changes(rows, spec, taker)
    return (rows - removed) | added


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class _Change:
    """A swap in day-index cells: who it touches, their shifts after it, the slots it changes."""

    people: tuple[str, ...]
    after: dict[str, frozenset[Cell]]
    removed: frozenset[Cell]
    added: frozenset[Cell]
    slots: tuple[tuple[int, str], ...]
    removed_rows: frozenset[Row]
    added_rows: frozenset[Row]


def _change(context: SwapContext, spec: SwapSpec, taker: str) -> _Change:
    inst = context.instance
    if taker not in inst.person:
        raise _refuse(_taker_option(spec, taker), "a person of people.csv", taker)
    removed_rows, added_rows = _changes(context.cells, spec, taker)
    removed = frozenset((p, inst.day_index(d), s) for p, d, s in removed_rows)
    added = frozenset((p, inst.day_index(d), s) for p, d, s in added_rows)
    outside = [c for c in removed | added if not 0 <= c[1] < inst.days]
    if outside:
        raise _refuse("--take-date", f"a date inside block {context.block_id}", str(inst.date(outside[0][1])))
    people = (spec.person_id, taker)
    mine = context._mine
    after = {p: (mine[p] - removed) | {c for c in added if c[0] == p} for p in people}
    slots = tuple(sorted({(c[1], c[2]) for c in removed | added}))
    return _Change(people, after, removed, added, slots, removed_rows, added_rows)


Found = dict[Key, list[Violation]]
"""A rule's hard findings by key; two findings that share a key are both kept (neither hides the other)."""


def _found(violations: Iterable[Violation], key: Callable[[Violation], Key]) -> Found:
    out: Found = {}
    for v in violations:
        if v.severity == "violation":
            out.setdefault(key(v), []).append(v)
    return out


def _excess(v: Violation) -> float:
    """How far a finding is past its limit (more hours, more shifts, fewer people: further either way)."""
    return abs(v.value - v.limit)


def _swaps(before: Found, after: Found) -> list[Violation]:
    """The findings of ``after`` that are the swap's: under a key ``before`` did not have, or under one it
    had but now more of them or one further past its limit (a week already over its hours that the swap
    adds hours to, a third shift on a day that had two). What the published schedule had, unchanged or
    improved, is not the swap's."""
    out: list[Violation] = []
    for key, now in after.items():
        was = before.get(key, [])
        if not was:
            out += now
            continue
        old = {(v.value, v.limit, v.message) for v in was}
        fresh = [v for v in now if (v.value, v.limit, v.message) not in old]
        worst = max(now, key=_excess)
        if len(now) > len(was) or _excess(worst) > max(_excess(v) for v in was) + 1e-9:
            out += fresh or [worst]
    return out


def _personal(context: SwapContext, index: int, person: str, cells: frozenset[Cell]) -> Found:
    """Rule ``index``'s hard findings about ``person`` working ``cells`` (their own shifts only)."""

    def make() -> Found:
        rule = context.rules[index]
        schedule = Schedule.of(context.instance, cells)
        found = rule.rule.check(schedule, rule.params, [person], rule.selector)
        return _found((v for v in found if v.person == person), lambda v: (v.rule, v.person, v.first_day, v.last_day))

    return context._derived(("personal", index, person, cells), make)  # type: ignore[no-any-return]


def _on_slot(context: SwapContext, index: int, slot: tuple[int, str], cells: frozenset[Cell]) -> Found:
    """Rule ``index``'s hard findings on one (day, shift) slot worked by ``cells``. Coverage is checked one
    demand row at a time and its findings keyed by the row (a slot has a row per role, PGY or skill), so a
    row the published schedule already left short never excuses another row the swap breaks; a minimum
    missed and a maximum passed are told apart by the side of the limit the value is on."""

    def make() -> Found:
        rule = context.rules[index]
        people = context._people(index)
        out: Found = {}
        rows: list[tuple[int | None, Instance]]
        if rule.name == "coverage":
            rows = [(n, context._row_instance(slot, n)) for n in range(len(context._slot_instance(slot).demands))]
        else:
            rows = [(None, context._slot_instance(slot))]
        for row, inst in rows:
            found = rule.rule.check(Schedule.of(inst, cells), rule.params, people, rule.selector)
            for v in found:
                if v.severity == "violation" and v.first_day == slot[0]:
                    key = (v.rule, v.person, v.first_day, v.last_day, slot[1], row, v.value < v.limit)
                    out.setdefault(key, []).append(v)
        return out

    return context._derived(("slot", index, slot, cells), make)  # type: ignore[no-any-return]


def _whole(context: SwapContext, index: int, cells: frozenset[Cell]) -> Found:
    """Rule ``index``'s hard findings over the whole schedule ``cells``."""
    rule = context.rules[index]
    found = rule.rule.check(Schedule.of(context.instance, cells), rule.params, context._people(index), rule.selector)
    return _found(found, lambda v: (v.rule, v.person, v.first_day, v.last_day))


def _rule_added(
    context: SwapContext, index: int, change: _Change, people: tuple[str, ...] | None = None
) -> list[Violation]:
    """The findings of rule ``index`` the swap adds or makes worse (a personal rule's: of ``people`` only,
    when given)."""
    rule = context.rules[index]
    inst = context.instance
    added: list[Violation] = []
    if rule.rule.personal:
        for person in change.people if people is None else people:
            if not rule.selector.person_matches(inst, person):
                continue
            before = _personal(context, index, person, context._mine[person])
            after = _personal(context, index, person, change.after[person])
            added += _swaps(before, after)
    elif rule.name in _SLOT_RULES:
        for slot in change.slots:
            published = context._on_slot.get(slot, frozenset())
            now = (published - change.removed) | {c for c in change.added if (c[1], c[2]) == slot}
            before = _on_slot(context, index, slot, published)
            after = _on_slot(context, index, slot, now)
            added += _swaps(before, after)
    else:
        before = context._derived(("whole", index), lambda: _whole(context, index, context._day_cells))
        now = (context._day_cells - change.removed) | change.added
        added += _swaps(before, _whole(context, index, now))
    return added


def _order(context: SwapContext) -> list[list[int]]:
    """The rules as groups (one per rule name) in the order of ``PRECEDENCE``, any other by name after them."""

    def make() -> list[list[int]]:
        groups: dict[str, list[int]] = {}
        for index, rule in enumerate(context.rules):
            groups.setdefault(rule.name, []).append(index)
        rank = {name: n for n, name in enumerate(PRECEDENCE)}
        return [groups[n] for n in sorted(groups, key=lambda n: (rank.get(n, len(rank)), n))]

    return context._derived("order", make)  # type: ignore[no-any-return]


def _added(context: SwapContext, change: _Change, *, first_only: bool = False) -> list[Violation]:
    """The hard findings the swap adds; with ``first_only``, only those of the first rule (in the order of
    ``PRECEDENCE``) that has some."""
    out: list[Violation] = []
    for group in _order(context):
        for index in group:
            out += _rule_added(context, index, change)
        if out and first_only:
            break
    return out


def _history_of(context: SwapContext, later: Following, person: str) -> frozenset[HistoryShift]:
    """``person``'s shifts in the history of the later block."""
    return context._derived(  # type: ignore[no-any-return]
        ("history", later.block_id, person),
        lambda: frozenset(h for h in later.instance.history if h.person == person),
    )


def _later_found(
    context: SwapContext, later: Following, index: int, person: str | None, history: frozenset[HistoryShift]
) -> Found:
    """Rule ``index``'s hard findings on the later block's published schedule read with ``history`` before it:
    about ``person`` alone from their own shifts (a personal rule), or over the whole block (``person`` None)."""

    def make() -> Found:
        rule = context.rules[index]
        inst = copy.copy(later.instance)  # shares its slots; only the history differs
        inst.history = tuple(sorted(history, key=lambda h: (h.start, h.person, h.shift)))
        if person is None:
            people = [p for p in inst.person_ids if rule.selector.person_matches(inst, p)]
            cells: Iterable[Cell] = later.cells
        else:
            people = [person]
            cells = [c for c in later.cells if c[0] == person]
        found = rule.rule.check(Schedule.of(inst, cells), rule.params, people, rule.selector)
        mine = (v for v in found if person is None or v.person == person)
        return _found(mine, lambda v: (v.rule, v.person, v.first_day, v.last_day))

    return context._derived(("later", later.block_id, index, person, history), make)  # type: ignore[no-any-return]


def _later_added(context: SwapContext, change: _Change, *, first_only: bool = False) -> list[dict[str, Any]]:
    """The findings.csv rows the swap adds to the later published blocks, whose windows read the days it
    changes as their history (rest after a block's last shift, the weeks that straddle two blocks). Coverage
    and supervision are about a block's own days and never change there. With ``first_only``, only those of
    the first rule (``PRECEDENCE``) and block that has some."""
    out: list[dict[str, Any]] = []
    for later in context.following:
        first, last = later.reach
        gone = set(history_shifts(later.instance, [r for r in change.removed_rows if first <= r[1] < last]))
        new = history_shifts(later.instance, [r for r in change.added_rows if first <= r[1] < last])
        if not gone and not new:
            continue
        whole = frozenset(later.instance.history)
        found: list[Violation] = []
        for group in _order(context):
            for index in group:
                rule = context.rules[index]
                if rule.name in _SLOT_RULES:
                    continue
                if not rule.rule.personal:
                    after = (whole - gone) | set(new)
                    found += _swaps(
                        _later_found(context, later, index, None, whole),
                        _later_found(context, later, index, None, after),
                    )
                    continue
                for person in change.people:
                    if not rule.selector.person_matches(later.instance, person):
                        continue
                    before = _history_of(context, later, person)
                    after = (before - gone) | {h for h in new if h.person == person}
                    if after != before:
                        found += _swaps(
                            _later_found(context, later, index, person, before),
                            _later_found(context, later, index, person, after),
                        )
            if found and first_only:
                break
        out += findings_rows(later.instance, found)
        if out and first_only:
            break
    return out


def check_swap(context: SwapContext, spec: SwapSpec, taker: str) -> list[dict[str, Any]]:
    """The findings.csv rows (hard: severity ``violation``) the swap adds to the published schedule (its block's,
    and the later published blocks' whose windows reach back into the days it changes); ``[]`` means it is
    legal. ``InputError`` naming the option when it cannot be made at all (``swapped``)."""
    change = _change(context, spec, taker)
    return findings_rows(context.instance, _added(context, change)) + _later_added(context, change)


def _legal(context: SwapContext, spec: SwapSpec, taker: str) -> bool:
    """Whether the swap adds no finding, P's own rules tried first: what P may take back is the same for
    every taker who works that shift, so it is checked once."""
    change = _change(context, spec, taker)
    for group in _order(context):
        for index in group:
            if context.rules[index].rule.personal and _rule_added(context, index, change, (spec.person_id,)):
                return False
    return not _added(context, change, first_only=True) and not _later_added(context, change, first_only=True)


def explain(findings: list[dict[str, Any]]) -> str:
    """The findings in plain words, one a line: the rule, the person (by id) and the window."""
    lines = []
    for f in findings:
        who = f" for {f['person_id']}" if f.get("person_id") else ""
        start, end = f["window_start"], f["window_end"]
        window = f"on {start}" if start == end else f"from {start} to {end}"
        lines.append(f"{f['rule']}{who} {window}: {f['message']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- partners


@dataclass(frozen=True)
class Candidate:
    """Someone who could legally take the shift, with their load so far and the shifts P could take back."""

    person_id: str
    rank: int
    calls: int
    nights: int
    weekends: int
    request: str | None
    """Their request for that date and shift: ``on``, ``off`` or none."""
    trade_backs: list[tuple[dt.date, str]]
    """Their shifts (from today on) that P could legally take in a one-for-one trade."""
    giveaway: bool = True
    """Whether they could take it as a give-away; False: only in a trade, for one of ``trade_backs`` (say, the
    night they work that day, which P takes instead)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "rank": self.rank,
            "giveaway": self.giveaway,
            "calls": self.calls,
            "nights": self.nights,
            "weekends": self.weekends,
            "request": self.request,
            "trade_backs": [{"date": d.isoformat(), "shift_id": s} for d, s in self.trade_backs],
        }


@dataclass(frozen=True)
class Excluded:
    """Someone who could not take the shift, and the first rule (``PRECEDENCE``) that says why."""

    person_id: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Candidates:
    """Everyone but P: the legal takers, ranked, and the others with their reason."""

    takers: list[Candidate]
    excluded: list[Excluded]

    def as_dict(self) -> dict[str, Any]:
        return {"takers": [c.as_dict() for c in self.takers], "excluded": [e.as_dict() for e in self.excluded]}


ALREADY_ASSIGNED = "already_assigned"
"""The ``rule`` of an excluded person who already works the shift offered."""

_CELL_RULES = frozenset({"rotation_eligibility", "blocking_absence", "fixed_days_off", "acgme_pgy1_no_moonlighting"})
"""Rules about the taker holding that shift on that day at all: no trade-back can lift them."""


def _load(instance: Instance, cells: Iterable[Cell]) -> tuple[int, int, int]:
    """Calls, nights and weekend shifts among ``cells``."""
    calls = nights = weekends = 0
    for _, day, shift in cells:
        spec = instance.shift[shift]
        calls += spec.in_house_call or spec.kind in _CALL_KINDS
        nights += spec.kind == "night"
        weekends += instance.weekday(day) >= 5
    return calls, nights, weekends


def _request(instance: Instance, person: str, day: int, shift: str) -> str | None:
    kinds = {r.kind for r in instance.requests if r.person == person and r.day == day and r.shift in (None, shift)}
    return "on" if "on" in kinds else "off" if "off" in kinds else None


def candidates(
    context: SwapContext, person_id: str, date: dt.date, shift_id: str, *, today: dt.date | None = None
) -> Candidates:
    """Who could legally take P's shift, as a give-away or in a one-for-one trade, ranked: fewest calls,
    nights and weekends in the published block first (their sum, then each), then an ``on`` request for that
    shift first and an ``off`` one last, then person_id. Each taker's ``trade_backs`` are their shifts from
    ``today`` on (default: today where the program works) that P could take back in a one-for-one trade;
    ``giveaway`` says whether they could also take it outright (someone who works another shift that day may
    take it only for that one). Everyone else is excluded with the first rule that forbids the give-away (in
    the order of ``PRECEDENCE``) and that rule's first finding; someone who already works the shift with
    ``ALREADY_ASSIGNED``. ``InputError`` when P does not work that shift."""
    inst = context.instance
    offered = SwapSpec(person_id, date, shift_id)
    _changes(context.cells, offered, "")  # P must hold the shift
    day = inst.day_index(date)
    first_day = inst.day_index(today or program_today(inst.timezone))
    ranked: list[tuple[tuple[Any, ...], Candidate]] = []
    excluded: list[Excluded] = []
    for other in inst.person_ids:
        if other == person_id:
            continue
        if (other, day, shift_id) in context._day_cells:
            excluded.append(Excluded(other, ALREADY_ASSIGNED, f"{other} already works {shift_id} on {date}"))
            continue
        spec = SwapSpec(person_id, date, shift_id, with_person_id=other)
        change = _change(context, spec, other)
        found = findings_rows(inst, _added(context, change, first_only=True))
        if not found:
            found = _later_added(context, change, first_only=True)
        if found and found[0]["rule"] in _CELL_RULES:
            excluded.append(Excluded(other, found[0]["rule"], found[0]["message"]))
            continue
        backs = []
        for _, back_day, back_shift in sorted(context._mine[other], key=lambda c: (c[1], c[2])):
            if back_day < first_day or (person_id, back_day, back_shift) in context._day_cells:
                continue
            trade = SwapSpec(person_id, date, shift_id, other, inst.date(back_day), back_shift)
            if _legal(context, trade, other):
                backs.append((inst.date(back_day), back_shift))
        if found and not backs:  # neither a give-away nor any trade: the give-away's first reason
            excluded.append(Excluded(other, found[0]["rule"], found[0]["message"]))
            continue
        calls, nights, weekends = _load(inst, context._mine[other])
        request = _request(inst, other, day, shift_id)
        order = (calls + nights + weekends, calls, nights, weekends, {"on": 0, None: 1, "off": 2}[request], other)
        ranked.append((order, Candidate(other, 0, calls, nights, weekends, request, backs, giveaway=not found)))
    ranked.sort(key=lambda item: item[0])
    takers = [dataclasses.replace(c, rank=n) for n, (_, c) in enumerate(ranked, start=1)]
    return Candidates(takers, sorted(excluded, key=lambda e: e.person_id))
