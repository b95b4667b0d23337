"""A scenario's shared input: the block's instance, its hard rules and published schedule (the
context, built and checked once), and the hard-rule checks the screens and the greedy repair run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import rotaflow.constraints.rules  # noqa: F401  (registers every rule)
from rotaflow.constraints.instance import Cell, Demand, Instance, Schedule
from rotaflow.constraints.registry import RULES, Violation
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.errors import InfeasibleError, InputError, Problem
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.contingency.screens import _Group, _groups, _screen_rows
from rotaflow.validations.instances import block_instance, rules_for

__all__ = [
    "DEFAULT_DETERMINISTIC_TIME",
    "MIN_DETERMINISTIC_TIME",
    "ContingencyContext",
    "prepare_context",
]

DEFAULT_DETERMINISTIC_TIME = 1.5
"""CP-SAT deterministic-time budget per repair solve (and per prefix probe)."""
MIN_DETERMINISTIC_TIME = 1e-3
"""Below this CP-SAT 9.15 can abort the process (a failed check when the limit strikes before its search starts)."""

# Rules whose checker reports only on the people it is given, from their own shifts (``Rule.personal``):
# checked per person as the greedy repair adds shifts. ``coverage`` and ``supervision_ratio`` are
# computed here from the demands; any other rule is re-checked over the whole schedule.
_PERSONAL = frozenset(name for name, rule in RULES.items() if rule.personal)
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
    def shifts_of(self) -> dict[str, tuple[frozenset[Cell], int]]:
        """Each person's published shifts and their minutes of work (read once, not in every scenario)."""

        def make() -> dict[str, tuple[frozenset[Cell], int]]:
            mine: dict[str, set[Cell]] = defaultdict(set)
            for cell in self.published:
                mine[cell[0]].add(cell)
            slot = self.instance.slot
            return {p: (frozenset(c), sum(slot(d, s).work_minutes for _, d, s in c)) for p, c in mine.items()}

        return self._derived("shifts_of", make)  # type: ignore[no-any-return]

    @property
    def published_on(self) -> dict[tuple[int, str], frozenset[str]]:
        """Who works each (day, shift) in the published schedule."""
        return self._derived("published_on", lambda: Schedule.of(self.instance, self.published).by_slot)  # type: ignore[no-any-return]

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
    context: ContingencyContext,
    cells: frozenset[Cell],
    *,
    changed: Iterable[str] | None,
    removed: Sequence[str],
    on: Mapping[tuple[int, str], Iterable[str]] | None = None,
) -> list[Violation]:
    """Hard findings of a schedule, the removed people's own findings left out.

    ``changed``: the people whose shifts differ from a schedule known to be clean (their person
    rules are checked; ``None`` checks everybody). Demand rules and any rule not known to be
    personal are always checked over everybody. ``on``: who works each (day, shift) of ``cells``, when known.
    """
    inst = context.instance
    schedule = Schedule.of(inst, cells, by_slot=on)
    gone = set(removed)
    own: Schedule | None = None  # the changed people's shifts alone: what their personal rules read
    out: list[Violation] = []
    for rule in context.rules:
        checked = schedule
        if rule.name in _PERSONAL and changed is not None:
            people = [p for p in changed if p not in gone and rule.selector.person_matches(inst, p)]
            if own is None:
                keep = set(changed) - gone
                own = Schedule.of(inst, (cell for cell in cells if cell[0] in keep))
            checked = own
        else:
            people = [p for p in inst.person_ids if rule.selector.person_matches(inst, p)]
        if not people and rule.name in _PERSONAL:
            continue
        for violation in rule.rule.check(checked, rule.params, people, rule.selector):
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
