"""The helpers model building reads instead of scanning: slots by place and by time, minutes in a window,
leave and history per person, and the constraint sets the rules shrink without changing their meaning.

Each is checked against the plain computation it replaces, on random instances with clock times across
midnight and daylight-saving changes, hand-offs, home call paid pro rata and windows cut at any instant.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from rotaflow.constraints.instance import HistoryShift, Instance, PersonSpec, ShiftSpec
from rotaflow.constraints.model import build_model
from rotaflow.constraints.registry import INT_MAX, INT_MIN, BuildContext, Variables, add_linear
from rotaflow.constraints.rules.acgme_day_off_in_seven import DAY, candidates
from rotaflow.constraints.rules.acgme_day_off_in_seven import Params as DayOffParams
from rotaflow.constraints.rules.acgme_max_continuous_duty import Params as DutyParams
from rotaflow.constraints.rules.acgme_max_continuous_duty import _chain_places, _pieces, too_long_chains
from rotaflow.constraints.rules.one_shift_at_a_time import _cliques
from tests.unit.constraints import ruletools

SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe")
STARTS = (dt.date(2027, 3, 11), dt.date(2027, 11, 4), dt.date(2027, 10, 28), dt.date(2027, 4, 1))


@st.composite
def shift_specs(draw: st.DrawFn, index: int) -> ShiftSpec:
    if draw(st.integers(0, 5)) == 0:  # a benchmark shift: a length from local midnight
        return ShiftSpec(f"M{index}", minutes=draw(st.integers(30, 1800)))
    start = dt.time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 15, 30))))
    end = dt.time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 30, 45))))
    kind = draw(st.sampled_from(("day", "night", "call", "home_call")))
    return ShiftSpec(
        f"S{index}",
        start=start,
        end=end,
        transition_minutes=draw(st.sampled_from((0, 30, 240))),
        kind=kind,
        in_house_call=kind == "call",
        counts_as_work=draw(st.sampled_from((True, True, False))),
        home_call_hours=draw(st.sampled_from((1.5, 2.0, 4.25))) if kind == "home_call" else None,
    )


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    shifts = tuple(draw(shift_specs(n)) for n in range(draw(st.integers(1, 4))))
    people = tuple(PersonSpec(f"R{n}") for n in range(draw(st.integers(1, 3))))
    days = draw(st.integers(1, 12))
    leave = {p.id: frozenset(draw(st.sets(st.integers(-30, days + 30), max_size=12))) for p in people}
    inst = Instance(
        name="helpers",
        start=draw(st.sampled_from(STARTS)),
        days=days,
        people=people,
        shifts=shifts,
        timezone=draw(st.sampled_from(ZONES)),
        leave_days=leave,
    )
    history: list[HistoryShift] = []
    for person in people:
        for day in draw(st.sets(st.integers(-4, -1), max_size=2)):
            history += ruletools.history(inst, person.id, [day], draw(st.sampled_from([s.id for s in shifts])))
    inst.history = tuple(history)
    return inst


def _instant(inst: Instance, day: int, minutes: int) -> dt.datetime:
    return inst.midnight(day) + dt.timedelta(minutes=minutes)


@SETTINGS
@given(inst=instances(), data=st.data())
def test_slots_in_a_window_are_those_a_scan_finds_with_the_same_minutes(inst: Instance, data: st.DataObject) -> None:
    slots = inst.slot_list
    for _ in range(8):
        if data.draw(st.booleans(), label="midnights"):  # a window of whole local days, as the rules cut them
            first = data.draw(st.integers(-3, inst.days + 1), label="first")
            last = data.draw(st.integers(first - 1, inst.days + 2), label="last")
            start, end = inst.midnight(first), inst.midnight(last + 1)
        else:  # any two instants
            start = _instant(inst, data.draw(st.integers(-2, inst.days), label="d"), data.draw(st.integers(0, 1439)))
            end = start + dt.timedelta(minutes=data.draw(st.integers(0, 5000), label="length"))
        scan = [i for i, s in enumerate(slots) if s.start < end and start < s.end_with_transition]
        assert inst.timeline.overlapping(start, end) == scan
        minutes = [(i, m) for i, s in enumerate(slots) if (m := s.overlap_minutes(start, end))]
        assert inst.window_minutes(start, end) == minutes


@SETTINGS
@given(inst=instances(), data=st.data())
def test_places_leave_and_history_match_the_plain_lookups(inst: Instance, data: st.DataObject) -> None:
    model = cp_model.CpModel()
    x = Variables(model, inst)
    for day in range(inst.days):
        for shift in inst.shift_ids:
            place = inst.position(day, shift)
            assert inst.slot_list[place] == inst.slot(day, shift)
            for person in inst.person_ids:
                assert x.row(person)[place] is x.is_assigned(person, day, shift)
        for person in inst.person_ids:
            assert x.on_day(person, day) == [x.is_assigned(person, day, s) for s in inst.shift_ids]
    for person in inst.person_ids:
        assert inst.history_of(person) == tuple(h for h in inst.history if h.person == person)
        for _ in range(10):
            first = data.draw(st.integers(-40, inst.days + 40), label="first")
            last = data.draw(st.integers(first - 2, first + 40), label="last")
            expected = sum(1 for d in range(first, last + 1) if d in inst.leave_days.get(person, frozenset()))
            assert inst.leave_count(person, first, last) == expected
    assert inst.leave_count("nobody", 0, 10) == 0


@SETTINGS
@given(inst=instances())
def test_one_sum_per_start_instant_forbids_exactly_the_overlapping_pairs(inst: Instance) -> None:
    cliques = _cliques(inst)
    slots = inst.slot_list
    if cliques is None:
        assert any(s.end_with_transition <= s.start for s in slots)
        return
    pairs = {
        frozenset((i, j))
        for i, j in itertools.combinations(range(len(slots)), 2)
        if slots[i].start < slots[j].end_with_transition and slots[j].start < slots[i].end_with_transition
    }
    covered = {frozenset(p) for members in cliques for p in itertools.combinations(members, 2)}
    assert covered == pairs  # every overlapping pair in some sum, and nothing else
    assert len({frozenset(c) for c in cliques}) == len(cliques)
    assert not any(set(a) < set(b) for a in cliques for b in cliques)


@SETTINGS
@given(inst=instances(), hours=st.sampled_from((8, 12, 16, 24)), extra=st.sampled_from((0, 2, 4)))
def test_duty_chains_left_out_when_hard_are_implied_by_one_kept(inst: Instance, hours: int, extra: int) -> None:
    params = DutyParams(max_scheduled_hours=hours, max_total_hours=hours + extra)
    chains = list(too_long_chains(_pieces(inst, "R0"), params))
    every = _chain_places(inst, chains, "soft")
    kept = _chain_places(inst, chains, "hard")
    assert len(every) == sum(1 for c in chains if any(p.day is not None for p in c))
    assert {tuple(p) for _, p in kept} <= {tuple(p) for _, p in every}
    rng = random.Random(len(every))
    for _ in range(200):  # a schedule breaks some chain exactly when it breaks some kept chain
        worked = {i for i in range(len(inst.slot_list)) if rng.random() < 0.4}
        assert any(set(p) <= worked for _, p in every) == any(set(p) <= worked for _, p in kept)


@SETTINGS
@given(inst=instances())
def test_free_period_cliques_kept_hold_every_clique_of_the_periods(inst: Instance) -> None:
    periods = candidates(inst, -3)
    starts = [s for s, _ in periods]
    assert all(e - s == DAY for s, e in periods) and starts == sorted(set(starts))
    lows = [next(i for i, (s, _) in enumerate(periods) if s > start - DAY) for start in starts]
    every = [set(range(lows[j], j + 1)) for j in range(len(periods))]
    assert every == [{i for i, (s, e) in enumerate(periods) if s <= start < e} for start in starts]
    kept = [every[j] for j in range(len(periods)) if j + 1 == len(periods) or lows[j + 1] > lows[j]]
    assert all(any(c <= k for k in kept) for c in every)
    assert DayOffParams().min_free_days == 4


def _context(kind: str) -> tuple[BuildContext, Instance]:
    inst = ruletools.instance(people=("R1",), shifts=(ruletools.DAY, ruletools.NIGHT), days=3)
    model = cp_model.CpModel()
    ctx = BuildContext(
        model=model,
        variables=Variables(model, inst),
        instance=inst,
        rule="test",
        kind=kind,  # type: ignore[arg-type]
        weight=3,
        selector=None,
        guards={},
        penalties=[],
    )
    return ctx, inst


def test_forbid_all_is_one_conjunction_when_hard_and_a_named_penalty_each_when_soft() -> None:
    hard, inst = _context("hard")
    row = hard.x.row("R1")
    hard.forbid_all(row[:4], ["a", "b", "c", "d"], subject="person=R1", person="R1")
    assert len(hard.model.proto.constraints) == 1 and list(hard._guards) == ["test(person=R1)"]
    assert hard._guards["test(person=R1)"].detail == {"person": "R1"}
    hard.forbid_all([], [], subject="person=R2")
    assert list(hard._guards) == ["test(person=R1)"]  # nothing to forbid: no guard either
    soft, _ = _context("soft")
    soft.forbid_all(soft.x.row("R1")[:2], ["a", "b"], subject="person=R1", scale=2)
    assert [(p.name, p.weight) for p in soft._penalties] == [("a", 6), ("b", 6)]
    assert not soft._guards


def test_sums_of_literals_that_can_never_break_add_nothing() -> None:
    ctx, _ = _context("hard")
    row = ctx.x.row("R1")
    ctx.at_most_literals(row[:3], [2, 0, 1], 3, subject="s", name="n")  # at most 3 anyway
    ctx.at_least_literals(row[:3], [-1, -1, 0], -2, subject="s", name="n")  # at least -2 anyway
    ctx.at_most_literals(row[:3], None, 3, subject="s", name="n")
    assert not ctx.model.proto.constraints and not ctx._guards
    ctx.at_most_literals(row[:3], [2, 0, 1], 2, subject="s", name="n")
    assert len(ctx.model.proto.constraints) == 1
    assert list(ctx.model.proto.constraints[0].linear.coeffs) == [2, 1]  # a zero coefficient is left out


def test_a_negation_is_made_once_per_literal() -> None:
    ctx, _ = _context("hard")
    var = ctx.x.row("R1")[0]
    first = ctx.x.negation(var)
    assert ctx.x.negation(var) is first and first.index == -var.index - 1
    assert ctx.x.negation(first).index == var.index
    works = ctx.x.works("R1", 0)
    assert ctx.x.bounds(works) == (0, 1) and ctx.x.bounds(first) == (0, 1)
    count = ctx.model.new_int_var(-2, 5, "count")
    assert ctx.x.bounds(count) == (-2, 5)


def test_the_objective_is_every_weighted_penalty() -> None:
    from rotaflow.constraints.model import penalty_objective
    from rotaflow.constraints.registry import Penalty

    ctx, _ = _context("soft")
    a, b = ctx.x.row("R1")[:2]
    assert penalty_objective([]) is None
    assert penalty_objective([Penalty("r", "n", 0, [(1, a)], 5)]) is None
    assert penalty_objective([Penalty("r", "n", 2, [], 5)]) == 10
    objective = penalty_objective([Penalty("r", "n", 2, [(1, a), (-1, b)], 1), Penalty("r", "m", 3, [(4, b)])])
    ctx.model.minimize(objective)
    proto = ctx.model.proto.objective
    assert dict(zip(proto.vars, proto.coeffs, strict=True)) == {a.index: 2, b.index: 10} and proto.offset == 2


def test_a_block_builds_the_same_guards_with_and_without_history() -> None:
    """People with history build through the general path, the others through the shared plan: a person
    whose history is outside every rule's reach gets the same constraints as one with none."""
    from tests.unit.constraints.test_agreement import DEFAULT

    inst = ruletools.instance(people=("R1", "R2"), shifts=(ruletools.DAY, ruletools.NIGHT, ruletools.CALL24), days=7)
    inst.history = ruletools.history(inst, "R2", [-60], "DAY")
    built = build_model(inst, DEFAULT, enforce=False)
    names = {g.name.replace("R2", "R1") for g in built.guards.values() if "R2" in g.name}
    assert names == {g.name for g in built.guards.values() if "R1" in g.name}


def _holds(constraint: Any, values: list[int]) -> bool:
    """Whether one linear constraint of a model's proto holds for the variables' values (its enforcement
    literal true)."""
    linear = constraint.linear
    total = sum(c * values[v] for v, c in zip(linear.vars, linear.coeffs, strict=True))
    domain = list(linear.domain)
    return any(domain[i] <= total <= domain[i + 1] for i in range(0, len(domain), 2))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.integers(-5, 5)), min_size=1, max_size=7),
    st.integers(-8, 8),
    st.booleans(),
)
def test_linear_written_into_the_proto_means_what_the_model_adds(
    terms: list[tuple[int, bool, int]], bound: int, at_most: bool
) -> None:
    model = cp_model.CpModel()
    xs = [model.new_bool_var(f"x{i}") for i in range(4)]
    literals = [xs[i].Not() if negated else xs[i] for i, negated in ((i, n) for i, n, _ in terms)]
    coefficients = [c for _, _, c in terms]
    expression = cp_model.LinearExpr.weighted_sum(literals, coefficients)
    model.add(expression <= bound if at_most else expression >= bound)
    low, high = (INT_MIN, bound) if at_most else (bound, INT_MAX)
    add_linear(model, [v.index for v in literals], coefficients, low, high)
    reference, written = model.proto.constraints[0], model.proto.constraints[1]
    for values in itertools.product([0, 1], repeat=4):
        assert _holds(reference, list(values)) == _holds(written, list(values)), values


def test_constants_among_literals_take_the_model_s_own_path() -> None:
    ctx, _ = _context("hard")
    x = ctx.x.row("R1")
    ctx.not_all([x[0], ctx.x.negation(x[1])], subject="a", name="a")
    ctx.forbid_all([x[0], x[1]], ["a", "b"], subject="b")
    ctx.at_most([(1, x[0]), (2, 1)], 2, subject="c", name="c")
    ctx.at_least([(1, x[0]), (1, 1)], 2, subject="d", name="d")
    constraints = ctx.model.proto.constraints
    assert [constraints[0].has_bool_or(), constraints[1].has_bool_and(), constraints[2].has_linear()] == [True] * 3
    assert constraints[3].has_linear()
    assert list(constraints[0].bool_or.literals) == [-x[0].index - 1, x[1].index]
    assert list(constraints[1].bool_and.literals) == [-x[0].index - 1, -x[1].index - 1]
    assert all(list(c.enforcement_literal) for c in ctx.model.proto.constraints)


def test_a_soft_sum_of_literals_is_short_or_in_excess_by_its_penalty_variable() -> None:
    ctx, _ = _context("soft")
    x = ctx.x.row("R1")
    ctx.at_least_literals([x[0], ctx.x.negation(x[1])], None, 2, subject="a", name="short")
    ctx.at_most_literals([x[0], x[1], x[2]], [2, 1, 1], 1, subject="b", name="excess")
    short, excess = ctx.model.proto.constraints[0], ctx.model.proto.constraints[1]
    assert [p.name for p in ctx._penalties] == ["short", "excess"]
    for values in itertools.product([0, 1], repeat=3):
        assignment = [*values, *([0] * (len(ctx.model.proto.variables) - 3))]
        lack = 2 - values[0] - (1 - values[1])
        extra = 2 * values[0] + values[1] + values[2] - 1
        for penalty in range(4):
            assignment[len(assignment) - 2] = penalty
            assert _holds(short, assignment) == (penalty >= lack)
            assignment[len(assignment) - 2] = 0
            assignment[len(assignment) - 1] = penalty
            assert _holds(excess, assignment) == (penalty >= extra)
            assignment[len(assignment) - 1] = 0


def test_a_sum_written_into_the_proto_needs_a_coefficient_per_variable() -> None:
    model = cp_model.CpModel()
    x = model.new_bool_var("x")
    with pytest.raises(ValueError, match="1 variables but 2 coefficients"):
        add_linear(model, [x.index], [1, 2], 0, 1)


@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_references_build_what_the_literals_build(kind: str) -> None:
    """A rule may hand the helpers the model's references (``Variables.refs``, ``-index - 1`` for a
    negation) instead of the literals: the proto and the penalties come out the same."""

    def add(ctx: BuildContext, lits: list[Any]) -> None:
        ctx.at_most_literals(lits[:3], [60, 120, 30], 100, subject="s", name="most")
        ctx.at_least_literals([lits[0], lits[3]], None, 1, subject="s", name="least")
        ctx.not_all([lits[1], lits[4]], subject="t", name="pair")
        ctx.forbid_all(lits[2:4], ["a", "b"], subject="u")

    by_literal, _ = _context(kind)
    row = by_literal.x.row("R1")
    add(by_literal, [*row[:4], by_literal.x.negation(row[4])])
    by_ref, _ = _context(kind)
    refs = by_ref.x.refs("R1")
    assert refs == [v.index for v in by_ref.x.row("R1")] and by_ref.x.refs("R1") is refs
    add(by_ref, [*refs[:4], -refs[4] - 1])
    assert str(by_ref.model.proto) == str(by_literal.model.proto)
    assert [(p.name, p.weight) for p in by_ref._penalties] == [(p.name, p.weight) for p in by_literal._penalties]


def test_references_and_literals_are_not_mixed_in_one_sum() -> None:
    ctx, _ = _context("hard")
    row, refs = ctx.x.row("R1"), ctx.x.refs("R1")
    with pytest.raises(TypeError, match="mixed"):
        ctx.at_most_literals([refs[0], row[1]], None, 1, subject="s", name="n")
    with pytest.raises(TypeError, match="Boolean literals or their references"):
        ctx.not_all([row[0], 1.5], subject="s", name="n")  # type: ignore[list-item]


def test_a_copy_given_another_history_reads_its_own() -> None:
    inst = Instance(name="t", start=dt.date(2027, 7, 1), days=7, people=(PersonSpec(id="R1"),), shifts=(ruletools.DAY,))
    start = inst.midnight(0) - dt.timedelta(hours=17)
    inst.history = (HistoryShift("R1", start, start + dt.timedelta(hours=12), 720, kind="day"),)
    assert len(inst.history_of("R1")) == 1
    other = copy.copy(inst)  # as the swap checks read a later block with another history
    other.history = ()
    assert other.history_of("R1") == ()
    assert len(inst.history_of("R1")) == 1


def _clause_holds(constraint: Any, values: list[int]) -> bool:
    """Whether one clause of a model's proto holds (``-i - 1``: variable ``i`` false)."""
    return any((values[r] if r >= 0 else 1 - values[-r - 1]) for r in constraint.bool_or.literals)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=0, max_size=6), st.sampled_from(("hard", "soft")))
def test_some_true_holds_exactly_when_a_literal_is_true_and_soft_pays_one_otherwise(
    literals: list[tuple[int, bool]], kind: str
) -> None:
    """The clause ``some_true`` writes (repeats and both signs of one variable included) holds exactly when
    the sum ``at_least_literals(…, None, 1)`` holds; soft, its Boolean excess may be 0 exactly then."""
    ctx, _ = _context(kind)
    refs = ctx.x.refs("R1")
    ctx.some_true([-refs[i] - 1 if negated else refs[i] for i, negated in literals], subject="s", name="n", person="R1")
    [constraint] = ctx.model.proto.constraints
    assert constraint.has_bool_or() and bool(constraint.enforcement_literal) == (kind == "hard")
    for values in itertools.product([0, 1], repeat=4):
        holds = any((1 - values[i]) if negated else values[i] for i, negated in literals)
        assignment = [*values, *([0] * (len(ctx.model.proto.variables) - 4))]
        if kind == "hard":
            assert _clause_holds(constraint, assignment) == holds
            continue
        [penalty] = ctx._penalties
        [(_, excess)] = penalty.terms
        for paid in (0, 1):
            assignment[excess.index] = paid
            assert _clause_holds(constraint, assignment) == (paid >= (not holds))


def test_some_true_is_a_guarded_clause_when_hard_and_a_penalty_of_one_when_soft() -> None:
    hard, _ = _context("hard")
    refs = hard.x.refs("R1")
    hard.some_true([refs[0], -refs[1] - 1], subject="person=R1", name="gap", person="R1")
    [constraint] = hard.model.proto.constraints
    assert list(constraint.bool_or.literals) == [refs[0], -refs[1] - 1]
    assert list(constraint.enforcement_literal) == [hard._guards["test(person=R1)"].literal.index]
    soft, _ = _context("soft")
    refs = soft.x.refs("R1")
    soft.some_true([refs[0], -refs[1] - 1], subject="person=R1", name="gap", scale=4)
    [constraint] = soft.model.proto.constraints
    [penalty] = soft._penalties
    [(_, excess)] = penalty.terms
    assert (penalty.name, penalty.weight) == ("gap", 12) and not soft._guards
    assert list(constraint.bool_or.literals) == [refs[0], -refs[1] - 1, excess.index]
    assert not constraint.enforcement_literal


@pytest.mark.parametrize("days", [1, 5, 28, 40])
def test_edge_windows_point_to_a_neighbour_that_holds_them_and_every_chain_ends(days: int) -> None:
    from rotaflow.constraints.rules._common import implying_neighbours, kept_windows

    windows = [(first, first + 27) for first in range(-27, days)]
    spans = [range(max(first, 0), min(last, days - 1) + 1) for first, last in windows]
    implying = implying_neighbours(windows, [dict.fromkeys(span, 1) for span in spans], days)
    for j, other in enumerate(implying):
        first, last = windows[j]
        if other is None:
            assert first == 0 or (first > 0 and last < days)  # the first day's window, or one inside
            continue
        assert set(spans[j]) <= set(spans[other]) and abs(windows[other][0] - first) == 1
        seen = {j}
        while implying[other] is not None:  # no cycle: the chain ends at a window that points nowhere
            assert other not in seen
            seen.add(other)
            other = implying[other]  # type: ignore[assignment]
    same = kept_windows(implying, [9] * len(windows))
    assert [windows[j][0] for j, kept in enumerate(same) if kept] == list(range(max(days - 27, 1)))
    # a bound that falls towards the horizon (work done before it) keeps every window whose bound is lower
    falling = [100 + min(first, 0) for first, _ in windows]
    assert kept_windows(implying, falling)[:27] == [True] * 27
    # a term the neighbour holds with a smaller coefficient (a shift cut by its edge) points nowhere
    terms = [dict.fromkeys(span, 1) for span in spans]
    terms[0] = {0: 2}
    assert implying_neighbours(windows, terms, days)[0] is None
