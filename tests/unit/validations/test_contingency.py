"""N-1 / N-2 contingency on crafted programs (validations.contingency)."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import random
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotaflow.constraints.instance import Demand
from rotaflow.errors import InfeasibleError, InputError
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.contingency import (
    RESULT_COLUMNS,
    ContingencyContext,
    RepairJob,
    ScenarioResult,
    analyse_contingency,
    prepare_context,
    repair_scenario,
    screen_scenarios,
    solve_serially,
)
from rotaflow.validations.contingency.screens import _flow, _flow_without, _Group

START = dt.date(2027, 7, 5)  # a Monday
ROTATIONS = [
    "WARD,Ward,inpatient,DAY;NIGHT",
    "DAYS,Day team,inpatient,DAY",
    "NIGHTS,Night team,night_float,NIGHT",
    "CLIN,Clinic,outpatient,DAY;CLINIC",
    "THEATRE,Theatre,inpatient,OR",
    "VAC,Vacation,leave,",
]
SHIFTS = [
    "DAY,Day,07:00,19:00,0,day,false,true,",
    "NIGHT,Night,19:00,07:00,0,night,false,true,",
    "CLINIC,Clinic,08:00,12:00,0,clinic,false,true,",
    "OR,Theatre,07:00,15:00,0,day,false,true,",
]
# rules the crafted programs leave out unless a test names them: each test sees only what it is about
OPTIONAL = [
    "supervision_ratio",
    "acgme_weekly_hours",
    "acgme_day_off_in_seven",
    "acgme_max_continuous_duty",
    "acgme_rest_after_call",
    "acgme_call_frequency",
    "acgme_pgy1_no_moonlighting",
    "max_consecutive_nights",
    "acgme_rest_between_shifts",
    "coverage_target",
    "shift_requests",
    "fairness",
    "continuity",
]


def write_program(
    folder: Path,
    *,
    people: Iterable[str],
    coverage: Iterable[str],
    days: int = 7,
    keep: Iterable[str] = (),
    extra_rules: str = "",
    absences: Iterable[str] = (),
) -> Path:
    """A program bundle on disk: ``people`` rows are ``id,role,pgy,skills,rotation``."""
    folder.mkdir(parents=True, exist_ok=True)
    end = START + dt.timedelta(days=days - 1)
    rows = [p.split(",") for p in people]
    files = {
        "program.yaml": "name: Contingency Test\ntimezone: Pacific/Honolulu\n",
        "blocks.csv": f"block_id,start_date,end_date\nB1,{START},{end}\n",
        "shifts.csv": "shift_id,name,start,end,transition_minutes,kind,in_house_call,counts_as_work,home_call_hours\n"
        + "\n".join(SHIFTS)
        + "\n",
        "rotations.csv": "rotation_id,name,setting,eligible_shifts\n" + "\n".join(ROTATIONS) + "\n",
        "people.csv": "person_id,name,email,role,pgy,fte,skills\n"
        + "".join(f"{i},Person {i},,{role},{pgy},1,{skills}\n" for i, role, pgy, skills, _ in rows),
        "rotation_assignments.csv": "person_id,block_id,rotation_id\n"
        + "".join(f"{i},B1,{rot}\n" for i, _, _, _, rot in rows if rot),
        "coverage.csv": "shift_id,applies_on,rotation_id,role,min_pgy,skill,min,max,target\n"
        + "\n".join(coverage)
        + "\n",
        "absences.csv": "person_id,start_date,end_date,type,blocking\n" + "".join(a + "\n" for a in absences),
        "constraints.yaml": "rules:\n"
        + "".join(f"  - rule: {r}\n    enabled: false\n" for r in OPTIONAL if r not in set(keep))
        + extra_rules,
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def load(folder: Path) -> Bundle:
    return parse_bundle({p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".csv", ".yaml")})


def cells(*spec: str) -> list[tuple[str, int, str]]:
    """``"A DAY 0-2"`` → A works DAY on days 0, 1, 2 (``"A DAY 4"``: day 4 only)."""
    out = []
    for item in spec:
        person, shift, days = item.split()
        first, _, last = days.partition("-")
        out += [(person, d, shift) for d in range(int(first), int(last or first) + 1)]
    return out


def by_people(results: Iterable[ScenarioResult]) -> dict[tuple[str, ...], ScenarioResult]:
    return {r.people: r for r in results}


def row(analysis_frame: object, *people: str) -> dict[str, object]:
    frame = analysis_frame  # a DataFrame
    match = frame[frame["people"] == tuple(people)]  # type: ignore[index]
    assert len(match) == 1, people
    return match.iloc[0].to_dict()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- programs

CAP_DAY_4 = "  - rule: max_shifts_per_type\n    params: {default: {DAY: 4}}\n"


@pytest.fixture
def theatre(tmp_path: Path) -> Bundle:
    """S1 is the only surgeon: the theatre list needs one every day. R1, R2 share the ward days."""
    return load(
        write_program(
            tmp_path / "theatre",
            people=[
                "S1,resident,3,surgery,THEATRE",
                "R1,resident,2,,DAYS",
                "R2,resident,2,,DAYS",
                "V1,resident,2,,VAC",
            ],
            coverage=["OR,daily,,,,surgery,1,,", "DAY,daily,DAYS,resident,,,1,2,"],
        )
    )


THEATRE_CELLS = cells("S1 OR 0-6", "R1 DAY 0-3", "R2 DAY 4-6")


@pytest.fixture
def trio(tmp_path: Path) -> Bundle:
    """A, B, C share one day shift a day and may work at most four each: any two of them are too few."""
    return load(
        write_program(
            tmp_path / "trio",
            people=["A,resident,2,,DAYS", "B,resident,2,,DAYS", "C,resident,2,,DAYS"],
            coverage=["DAY,daily,DAYS,resident,,,1,1,"],
            extra_rules=CAP_DAY_4,
        )
    )


TRIO_CELLS = cells("A DAY 0-2", "B DAY 3-4", "C DAY 5-6")


# --------------------------------------------------------------------------- N-1


def test_the_only_person_eligible_for_a_shift_is_critical(theatre: Bundle) -> None:
    analysis = analyse_contingency(theatre, "B1", THEATRE_CELLS, order=1)
    frame = analysis.scenarios
    assert list(frame.columns) == RESULT_COLUMNS
    assert list(frame["people"]) == [("R1",), ("R2",), ("S1",), ("V1",)]
    s1 = row(frame, "S1")
    assert (s1["outcome"], s1["settled_by"]) == ("uncovered", "screen")
    assert (s1["first_uncovered_date"], s1["first_uncovered_shift"]) == (START, "OR")
    assert pd.isna(s1["repair_size"]) and pd.isna(s1["repair_minimal"])
    assert (str(frame["repair_size"].dtype), str(frame["repair_minimal"].dtype)) == ("Int64", "boolean")
    assert analysis.critical == ("S1",)
    assert analysis.jeopardy.cross_cover == 1 and analysis.jeopardy.cross_cover_shifts == ("OR",)
    # V1 holds no shift; R1's four days go to R2 (one added shift per missing day: the bound)
    v1, r1 = row(frame, "V1"), row(frame, "R1")
    assert (v1["outcome"], v1["settled_by"], v1["repair_size"], v1["repair_minimal"]) == ("covered", "trivial", 0, True)
    assert (r1["outcome"], r1["settled_by"], r1["repair_size"], r1["lower_bound"]) == ("covered", "greedy", 4, 4)
    assert r1["stand_ins"] == ("R2",) and bool(r1["repair_minimal"])
    assert analysis.jeopardy.members == ("R1",)  # one stand-in per repair; R1 and R2 tie, by id
    assert analysis.jeopardy.size == 2


def test_pairs_with_a_critical_member_are_settled_by_n1(theatre: Bundle) -> None:
    analysis = analyse_contingency(theatre, "B1", THEATRE_CELLS, order=2)
    frame = analysis.scenarios
    assert len(frame) == 4 + 6
    pairs = frame[frame["order"] == 2]
    with_s1 = pairs[pairs["people"].map(lambda p: "S1" in p)]
    assert set(with_s1["settled_by"]) == {"n-1"} and set(with_s1["outcome"]) == {"uncovered"}
    assert set(with_s1["first_uncovered_date"]) == {START} and set(with_s1["first_uncovered_shift"]) == {"OR"}
    assert analysis.pairs_with_critical == 3
    # R1 and R2 together: nobody else may work the ward day
    both = row(frame, "R1", "R2")
    assert (both["outcome"], both["settled_by"], both["first_uncovered_date"]) == ("uncovered", "screen", START)
    assert analysis.fatal_pairs == (("R1", "R2"),)
    assert row(frame, "R1", "V1")["repair_size"] == 4
    summary = analysis.summary()
    json.dumps(summary)
    assert summary["critical"] == ["S1"] and summary["fatal_pairs"] == [["R1", "R2"]]
    assert summary["n2"]["uncovered"] == 4 and summary["pairs_with_critical"] == 3
    assert summary["settled_without_solve"] == 1.0


def test_a_removal_needing_k_repairs_is_filled_at_the_lower_bound(trio: Bundle) -> None:
    context = prepare_context(trio, "B1", TRIO_CELLS)
    results = by_people(screen_scenarios(context, 1).settled)
    a = results[("A",)]
    assert (a.outcome, a.settled_by, a.repair_size, a.lower_bound, a.repair_minimal) == (
        "covered",
        "greedy",
        3,
        3,
        True,
    )
    assert a.stand_ins == ("B", "C")  # the least loaded first: B, then C, then B again


def test_a_candidate_repair_is_checked_on_the_changed_peoples_own_shifts_and_every_shift_rule(trio: Bundle) -> None:
    """The personal rules read only the changed people's shifts (``Rule.personal``); coverage reads them all."""
    from rotaflow.validations.contingency.context import _hard_violations

    context = prepare_context(trio, "B1", TRIO_CELLS)
    five = frozenset(cells("B DAY 0-4", "C DAY 5-6"))  # B stands in for A's three days: five, one over the cap
    found = _hard_violations(context, five, changed=("B",), removed=("A",))
    assert [(v.rule, v.person) for v in found] == [("max_shifts_per_type", "B")]
    everybody = _hard_violations(context, five, changed=None, removed=("A",))
    assert [(v.rule, v.person, v.message) for v in found] == [(v.rule, v.person, v.message) for v in everybody]
    assert _hard_violations(context, five, changed=("C",), removed=("A",)) == []  # B's shifts go unread then
    gap = frozenset(cells("B DAY 0-3", "C DAY 5-6"))  # day 4 uncovered: a shift rule, whoever changed
    assert [(v.rule, v.first_day) for v in _hard_violations(context, gap, changed=("B",), removed=("A",))] == [
        ("coverage", 4)
    ]


def test_a_pair_is_fatal_though_neither_member_is_critical(trio: Bundle) -> None:
    analysis = analyse_contingency(trio, "B1", TRIO_CELLS, order=2)
    assert analysis.critical == ()
    assert analysis.fatal_pairs == (("A", "B"), ("A", "C"), ("B", "C"))
    ab = row(analysis.scenarios, "A", "B")
    # C may work four days: the days up to the 5th cannot be covered; greedy runs out, the solver proves it
    assert (ab["outcome"], ab["settled_by"]) == ("uncovered", "solver")
    assert (ab["first_uncovered_date"], ab["first_uncovered_shift"]) == (START + dt.timedelta(days=4), "DAY")
    assert analysis.summary()["n2"]["settled_by"] == {"solver": 3}


def test_moving_someone_costs_more_than_the_bound_and_the_solver_proves_the_minimum(tmp_path: Path) -> None:
    """B is the only other day person but works the night of day 0: B moves, C takes B's night."""
    bundle = load(
        write_program(
            tmp_path / "move",
            people=["A,resident,2,,DAYS", "B,resident,2,,WARD", "C,resident,2,,NIGHTS"],
            coverage=["DAY,daily,,resident,,,1,1,", "NIGHT,daily,,resident,,,1,1,"],
            days=2,
            extra_rules="  - rule: one_shift_per_day\n",
        )
    )
    published = cells("A DAY 0-1", "B NIGHT 0", "C NIGHT 1")
    context = prepare_context(bundle, "B1", published)
    screened = screen_scenarios(context, 1)
    [job] = screened.jobs
    assert job.people == ("A",) and job.lower_bound == 2
    assert ("B", 1, "DAY") in job.hint  # greedy filled the day it could
    result = repair_scenario(context, job)
    assert (result.outcome, result.settled_by, result.repair_size, result.repair_minimal) == (
        "covered",
        "solver",
        4,
        True,
    )
    assert result.stand_ins == ("B", "C") and result.lower_bound == 2


def test_a_person_whose_shifts_are_above_the_minimum_is_trivial(tmp_path: Path) -> None:
    bundle = load(
        write_program(
            tmp_path / "spare",
            people=["A,resident,2,,DAYS", "B,resident,2,,DAYS"],
            coverage=["DAY,daily,DAYS,resident,,,1,2,"],
            days=3,
        )
    )
    analysis = analyse_contingency(bundle, "B1", cells("A DAY 0-2", "B DAY 1"), order=1)
    b, a = row(analysis.scenarios, "B"), row(analysis.scenarios, "A")
    assert (b["settled_by"], b["repair_size"]) == ("trivial", 0)
    assert (a["settled_by"], a["repair_size"], a["stand_ins"]) == ("greedy", 2, ("B",))


# --------------------------------------------------------------------------- screens


def test_overlapping_shifts_need_different_people_the_flow_screen_finds_it(tmp_path: Path) -> None:
    bundle = load(
        write_program(
            tmp_path / "overlap",
            people=["A,resident,2,,CLIN", "B,resident,2,,CLIN"],
            coverage=["DAY,daily,CLIN,resident,,,1,1,", "CLINIC,daily,CLIN,resident,,,1,1,"],
            days=2,
        )
    )
    analysis = analyse_contingency(bundle, "B1", cells("A DAY 0-1", "B CLINIC 0-1"), order=1)
    a = row(analysis.scenarios, "A")
    # each shift alone has B; together they need two people from 08:00 on day 0
    assert (a["outcome"], a["settled_by"], a["first_uncovered_date"], a["first_uncovered_shift"]) == (
        "uncovered",
        "screen",
        START,
        "CLINIC",
    )


@st.composite
def _flow_groups(draw: st.DrawFn) -> tuple[tuple[tuple[Demand, frozenset[str]], ...], int, frozenset[str]]:
    """Rows of a group (a minimum, the people free for it, a day), the date people are lost from, and who."""
    people = [f"P{n}" for n in range(draw(st.integers(1, 7)))]
    rows = tuple(
        (Demand(draw(st.integers(0, 2)), f"S{n}", frozenset(people), min=draw(st.integers(0, 3))), free)
        for n, free in enumerate(draw(st.lists(st.frozensets(st.sampled_from(people)), min_size=1, max_size=4)))
    )
    lost = draw(st.frozensets(st.sampled_from(people), min_size=1, max_size=2))
    return rows, draw(st.integers(0, 3)), lost


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_flow_groups())
def test_the_flow_after_a_loss_is_the_maximum_flow_of_what_is_left(
    case: tuple[tuple[tuple[Demand, frozenset[str]], ...], int, frozenset[str]],
) -> None:
    """The supply screen regains the units its lost people carried by augmenting paths from the group's flow:
    always OR-Tools' own maximum flow of the rows with them gone from the date on."""
    rows, from_day, lost = case
    flow, assigned = _flow(rows)
    group = _Group(dt.datetime(2027, 7, 1), 0, "S0", rows, sum(d.min for d, _ in rows), flow, assigned)
    assert set(assigned) <= frozenset().union(*(free for _, free in rows)) and len(assigned) == flow
    assert all(person in rows[n][1] for person, n in assigned.items())
    assert all(sum(1 for n in assigned.values() if n == k) <= d.min for k, (d, _) in enumerate(rows))
    left = tuple((d, free if d.day < from_day else free - lost) for d, free in rows)
    assert _flow_without(group, lost, from_day) == _flow(left)[0]


def test_losing_a_supervisor_is_uncovered_when_the_residents_need_two(tmp_path: Path) -> None:
    """Five PGY-2+ residents on the day shift need ⌈5/4⌉ = 2 faculty; there are two (R6 is the spare resident)."""
    residents = [f"R{n},resident,2,,DAYS" for n in range(1, 7)]
    bundle = load(
        write_program(
            tmp_path / "supervision",
            people=[*residents, "F1,faculty,,,", "F2,faculty,,,"],
            coverage=["DAY,daily,DAYS,resident,,,5,5,", "DAY,daily,,faculty,,,1,2,"],
            days=2,
            keep=["supervision_ratio"],
        )
    )
    published = cells(*(f"R{n} DAY 0-1" for n in range(1, 6)), "F1 DAY 0-1", "F2 DAY 0-1")
    analysis = analyse_contingency(bundle, "B1", published, order=1)
    f1 = row(analysis.scenarios, "F1")
    assert (f1["outcome"], f1["settled_by"], f1["first_uncovered_shift"]) == ("uncovered", "screen", "DAY")
    assert analysis.critical == ("F1", "F2")


def test_a_third_faculty_member_stands_in_for_a_supervisor(tmp_path: Path) -> None:
    residents = [f"R{n},resident,2,,DAYS" for n in range(1, 7)]
    bundle = load(
        write_program(
            tmp_path / "supervision3",
            people=[*residents, "F1,faculty,,,", "F2,faculty,,,", "F3,faculty,,,"],
            coverage=["DAY,daily,DAYS,resident,,,5,5,", "DAY,daily,,faculty,,,1,3,"],
            days=2,
            keep=["supervision_ratio"],
        )
    )
    published = cells(*(f"R{n} DAY 0-1" for n in range(1, 6)), "F1 DAY 0-1", "F2 DAY 0-1")
    analysis = analyse_contingency(bundle, "B1", published, order=1)
    f1 = row(analysis.scenarios, "F1")
    assert (f1["outcome"], f1["settled_by"], f1["repair_size"], f1["stand_ins"]) == ("covered", "greedy", 2, ("F3",))
    r1 = row(analysis.scenarios, "R1")
    assert (r1["settled_by"], r1["repair_size"], r1["stand_ins"]) == ("greedy", 2, ("R6",))
    assert analysis.critical == ()


def test_night_float_beyond_the_80_hour_budget_fails_the_hours_screen(tmp_path: Path) -> None:
    """Two of three night-float residents every night: without one, the other two would average 84 h a week."""
    bundle = load(
        write_program(
            tmp_path / "nights",
            people=["N1,resident,2,,NIGHTS", "N2,resident,2,,NIGHTS", "N3,resident,2,,NIGHTS"],
            coverage=["NIGHT,daily,NIGHTS,resident,,,2,2,"],
            days=28,
            keep=["acgme_weekly_hours"],
        )
    )
    names = ["N1", "N2", "N3"]
    published = [(names[(d + k) % 3], d, "NIGHT") for d in range(28) for k in (0, 1)]
    context = prepare_context(bundle, "B1", published)
    n1 = by_people(screen_scenarios(context, 1).settled)[("N1",)]
    # 24 h of nights a day against 2 × 320 h in the four-week window: over on the 27th day
    assert (n1.outcome, n1.settled_by) == ("uncovered", "screen")
    assert (n1.first_uncovered_date, n1.first_uncovered_shift) == (START + dt.timedelta(days=26), "NIGHT")


# --------------------------------------------------------------------------- from a date on


def test_from_a_date_the_first_uncovered_day_is_that_date(theatre: Bundle) -> None:
    when = START + dt.timedelta(days=3)
    analysis = analyse_contingency(theatre, "B1", THEATRE_CELLS, order=1, from_date=when)
    s1 = row(analysis.scenarios, "S1")
    assert (s1["outcome"], s1["first_uncovered_date"], s1["from_date"]) == ("uncovered", when, when)
    # R1 worked days 0-3: from day 3 on only day 3 needs R2
    r1 = row(analysis.scenarios, "R1")
    assert (r1["settled_by"], r1["repair_size"], r1["stand_ins"]) == ("greedy", 1, ("R2",))
    # R2's days 4-6 are after the date: R1 takes them
    assert row(analysis.scenarios, "R2")["repair_size"] == 3


def test_a_pair_fatal_for_the_block_survives_from_a_later_date(trio: Bundle) -> None:
    """From day 3, A and B have worked days 0-2 already; C takes 3 and 4 and reaches the cap of four."""
    analysis = analyse_contingency(trio, "B1", TRIO_CELLS, order=2, from_date="2027-07-08")
    ab = row(analysis.scenarios, "A", "B")
    assert (ab["outcome"], ab["settled_by"], ab["repair_size"], ab["stand_ins"]) == ("covered", "greedy", 2, ("C",))
    # without B and C from day 3, A has worked three days and may add one more: day 4 is lost
    bc = row(analysis.scenarios, "B", "C")
    assert (bc["outcome"], bc["first_uncovered_date"]) == ("uncovered", START + dt.timedelta(days=4))
    # without A and C, B has two days and takes C's two
    assert row(analysis.scenarios, "A", "C")["repair_size"] == 2
    assert analysis.fatal_pairs == (("B", "C"),)


def test_days_before_the_date_are_kept_as_published(trio: Bundle) -> None:
    """The past has happened: the repair model holds every cell before the date, the removed people's too."""
    from rotaflow.validations.contingency.repair import _base, _scenario_model

    context = prepare_context(trio, "B1", TRIO_CELLS, from_date=START + dt.timedelta(days=5))
    base = _base(context)
    model, offset = _scenario_model(context, base, ("C",))
    for cell, index in base.built.x.indices().items():
        domain = list(model.proto.variables[index].domain)
        if cell[1] < 5:
            assert domain == [int(cell in context.published)] * 2, cell
        elif cell[0] == "C":
            assert domain == [0, 0], cell
        elif context.instance.may_work(*cell):
            assert domain == [0, 1], cell
        else:  # outside the rotation: held at 0 in every scenario
            assert domain == [0, 0], cell
    assert offset == len(TRIO_CELLS) - 2  # C's days 5 and 6 are gone and are not counted
    job = RepairJob(("C",), 0, frozenset(c for c in context.published if c[0] != "C"))
    result = repair_scenario(context, job)
    # A has three days, B two: days 5 and 6 take two added shifts
    assert (result.outcome, result.repair_size, result.repair_minimal) == ("covered", 2, True)


@pytest.mark.parametrize("when", ["2027-07-04", "2027-07-12", "someday"])
def test_a_date_outside_the_block_is_refused(trio: Bundle, when: str) -> None:
    with pytest.raises(InputError) as caught:
        prepare_context(trio, "B1", TRIO_CELLS, from_date=when)
    assert "--from-date" in str(caught.value) and "2027-07-05 to 2027-07-11" in str(caught.value)


# --------------------------------------------------------------------------- inputs


def test_cells_may_carry_dates_and_cells_outside_the_block_are_ignored(trio: Bundle) -> None:
    dated = [(p, START + dt.timedelta(days=d), s) for p, d, s in TRIO_CELLS] + [("A", dt.date(2027, 6, 30), "DAY")]
    context = prepare_context(trio, "B1", dated)
    assert context.published == frozenset(TRIO_CELLS)


def test_unknown_people_and_shifts_in_the_schedule_are_input_errors(trio: Bundle) -> None:
    with pytest.raises(InputError) as caught:
        prepare_context(trio, "B1", [*TRIO_CELLS, ("Z", 0, "DAY"), ("A", 1, "LUNCH")])
    text = str(caught.value)
    assert "person_id" in text and "Z" in text and "shift_id" in text and "LUNCH" in text


def test_a_schedule_that_breaks_a_must_rule_is_refused(trio: Bundle) -> None:
    with pytest.raises(InfeasibleError, match="must-rule"):
        prepare_context(trio, "B1", cells("A DAY 0-6"))  # seven days, more than four


def test_order_and_time_limits_are_checked(trio: Bundle) -> None:
    with pytest.raises(ValueError, match="order"):
        analyse_contingency(trio, "B1", TRIO_CELLS, order=3)
    context = prepare_context(trio, "B1", TRIO_CELLS)
    with pytest.raises(ValueError, match="order"):
        screen_scenarios(context, 0)
    for limit in (0, 1e-9, float("inf")):
        with pytest.raises(ValueError, match="deterministic_time"):
            prepare_context(trio, "B1", TRIO_CELLS, deterministic_time=limit)


# --------------------------------------------------------------------------- the solver


def test_the_context_travels_without_its_per_process_cache(trio: Bundle) -> None:
    context = prepare_context(trio, "B1", TRIO_CELLS)
    screen_scenarios(context, 1)
    assert context._cache
    copy = pickle.loads(pickle.dumps(context))
    assert isinstance(copy, ContingencyContext) and copy._cache == {} and copy.key == context.key
    assert copy.published == context.published


def test_repairs_are_deterministic_and_any_mapper_gives_the_same_frame(trio: Bundle) -> None:
    calls: list[int] = []

    def mapper(context: ContingencyContext, jobs: list[RepairJob]) -> list[ScenarioResult]:
        calls.append(len(jobs))
        return [repair_scenario(pickle.loads(pickle.dumps(context)), job) for job in reversed(jobs)][::-1]

    one = analyse_contingency(trio, "B1", TRIO_CELLS, order=2, solve=mapper)
    two = analyse_contingency(trio, "B1", TRIO_CELLS, order=2, solve=solve_serially)
    assert calls == [0, 3]
    assert one.scenarios.drop(columns="seconds").equals(two.scenarios.drop(columns="seconds"))


def test_a_solve_without_an_answer_in_the_limit_is_unknown(trio: Bundle, monkeypatch: pytest.MonkeyPatch) -> None:
    import rotaflow.validations.contingency.repair as service

    real = service._solver

    def presolve_only(context: ContingencyContext) -> object:
        solver = real(context)
        solver.parameters.stop_after_presolve = True  # the limit ends the search before any schedule
        return solver

    monkeypatch.setattr(service, "_solver", presolve_only)
    context = prepare_context(trio, "B1", TRIO_CELLS)
    result = repair_scenario(context, RepairJob(("A",), 3, frozenset()))
    assert (result.outcome, result.settled_by, result.repair_size, result.repair_minimal) == (
        "unknown",
        "solver",
        None,
        None,
    )


def _random_program(folder: Path, seed: int) -> tuple[Bundle, list[tuple[str, int, str]]]:
    """Five ward residents, day and night cover, a cap per shift type; published by the solver."""
    from rotaflow.services.generate import load_solver_settings, solve_block
    from rotaflow.validations.instances import block_instance, rules_for

    rng = random.Random(seed)
    day_cap, night_cap = rng.randint(2, 4), rng.randint(2, 4)
    bundle = load(
        write_program(
            folder,
            people=[f"P{n},resident,2,,WARD" for n in range(1, 6)],
            coverage=[f"DAY,daily,WARD,resident,,,{rng.randint(1, 2)},3,", "NIGHT,daily,WARD,resident,,,1,2,"],
            days=5,
            extra_rules="  - rule: one_shift_per_day\n"
            f"  - rule: max_shifts_per_type\n    params: {{default: {{DAY: {day_cap}, NIGHT: {night_cap}}}}}\n",
        )
    )
    instance = block_instance(bundle, "B1")
    settings = load_solver_settings(time_limit_seconds=10, workers=1, seed=seed)
    result = solve_block(instance, rules_for(bundle), settings)
    return bundle, sorted(result.cells)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_greedy_repairs_are_as_small_as_the_solvers_optimum(tmp_path: Path, seed: int) -> None:
    """Where greedy settles a scenario, CP-SAT without the bound finds no smaller repair; elsewhere
    every repair respects the lower bound."""
    bundle, published = _random_program(tmp_path / f"random-{seed}", seed)
    if not published:
        return  # this draw has no schedule at all
    context = prepare_context(bundle, "B1", published)
    screened = screen_scenarios(context, 1)
    for result in screened.settled:
        if result.settled_by not in ("greedy", "trivial"):
            continue
        gone = set(result.people)
        free = RepairJob(result.people, 0, frozenset(c for c in context.published if c[0] not in gone))
        exact = repair_scenario(context, free)
        assert exact.outcome == "covered" and exact.repair_minimal
        assert exact.repair_size == result.repair_size, (seed, result)
    for job in screened.jobs:
        solved = repair_scenario(context, job)
        if solved.outcome == "covered":
            assert solved.repair_size is not None and solved.repair_size >= job.lower_bound


def test_interns_count_double_for_supervision(tmp_path: Path) -> None:
    """Three PGY-1s need ⌈3/2⌉ = 2 faculty: without F1, the spare F3 stands in on both days."""
    bundle = load(
        write_program(
            tmp_path / "interns",
            people=[
                *(f"R{n},resident,1,,DAYS" for n in range(1, 4)),
                "F1,faculty,,,",
                "F2,faculty,,,",
                "F3,faculty,,,",
            ],
            coverage=["DAY,daily,DAYS,resident,,,3,3,", "DAY,daily,,faculty,,,1,3,"],
            days=2,
            keep=["supervision_ratio"],
        )
    )
    published = cells("R1 DAY 0-1", "R2 DAY 0-1", "R3 DAY 0-1", "F1 DAY 0-1", "F2 DAY 0-1")
    analysis = analyse_contingency(bundle, "B1", published, order=2)
    f1 = row(analysis.scenarios, "F1")
    assert (f1["settled_by"], f1["repair_size"], f1["lower_bound"], f1["stand_ins"]) == ("greedy", 2, 2, ("F3",))
    # two of the three faculty gone: one is left for interns who need two
    assert row(analysis.scenarios, "F1", "F2")["settled_by"] == "screen"
    assert analysis.fatal_pairs == (("F1", "F2"), ("F1", "F3"), ("F2", "F3"))


def test_compaction_keeps_the_solutions_and_drops_what_the_fixed_cells_make_always_true() -> None:
    from ortools.sat.python import cp_model

    from rotaflow.validations.contingency.repair import _compact

    model = cp_model.CpModel()
    a, b, c = (model.new_bool_var(name) for name in "abc")
    model.add_bool_and([a.Not()]).only_enforce_if(b)  # dropped: a is 0, so "not a" holds
    model.add_bool_and([c]).only_enforce_if(b)
    model.add_bool_or([a.Not(), c])  # dropped
    model.add_bool_or([a, c])
    model.add_at_most_one([a, b])  # dropped: only b is left
    model.add_at_most_one([b, c])
    model.add(a + b <= 1)  # dropped: at most 1 whatever b is
    model.add(b + c <= 1).only_enforce_if(a)  # dropped: enforced by a literal that is false
    model.add(b + c >= 1)
    model.add(b - c - 3 * a >= -1)  # dropped: a negative coefficient takes the variable's upper bound
    model.add(c - b >= 0)
    model.add_exactly_one([a, b, c])  # other kinds are kept as they are
    model.minimize(b + 2 * c)
    compact = _compact(model, {a.index})
    assert len(compact.proto.constraints) == 6
    assert list(compact.proto.variables[a.index].domain) == [0, 0]
    model.add(a == 0)
    answers = []
    for each in (model, compact):
        solver = cp_model.CpSolver()
        assert solver.solve(each) == cp_model.OPTIMAL
        answers.append(solver.objective_value)
    assert answers[0] == answers[1] == 2


def test_a_repair_solve_is_deterministic_and_uses_the_fuller_linear_relaxation(trio: Bundle) -> None:
    """One worker, the context's seed and deterministic limit (the same scenario frame on every runner),
    and linearization level 2: it proves the fewest changes where the default level runs out of time."""
    from rotaflow.validations.contingency.repair import _solver

    context = prepare_context(trio, "B1", TRIO_CELLS)
    parameters = _solver(context).parameters
    assert (parameters.num_workers, parameters.random_seed) == (1, context.seed)
    assert parameters.max_deterministic_time == context.deterministic_time
    assert (parameters.linearization_level, parameters.repair_hint) == (2, False)  # the hint guides, unrepaired
    assert parameters.max_presolve_iterations == 1  # one presolve pass leaves the search its budget
