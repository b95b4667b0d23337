"""Swap legality and partners (``rotaflow.services.swaps``) on the tiny bundle's block B1, solved once.

The published schedule of B1 is whatever CP-SAT finds, so the swaps tried are found in it, not written
down; each answer is compared with the full rule set run over the whole schedule after the swap
(``check_schedule``), which knows nothing of the shortcuts ``check_swap`` takes.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from rotaflow.configs.settings import Settings
from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.model import check_schedule
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.solve import SolveResult
from rotaflow.errors import InputError
from rotaflow.services.generate import findings_rows, load_solver_settings, publish_run, solve_block
from rotaflow.services.ingest import database_engine, ingest_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.swaps import (
    ALREADY_ASSIGNED,
    PRECEDENCE,
    Row,
    SwapContext,
    SwapSpec,
    block_of,
    candidates,
    check_swap,
    context_from,
    explain,
    following_blocks,
    swap_context,
    swapped,
)
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import block_instance, rules_for
from tests.conftest import TINY
from tests.schedules import load, make_solvable

PROGRAM = "tiny-internal-medicine-residency"
FIRST = dt.date(2027, 7, 1)
"""B1's first day: R2's history has a 24-hour call starting the day before, so R1 works the ward's DAY."""
BEFORE = dt.date(2027, 6, 1)
"""A "today" before the block: every shift of it is still to come."""
RANK = {name: n for n, name in enumerate(PRECEDENCE)}


@dataclass(frozen=True)
class Solved:
    folder: Path
    bundle: Bundle
    instance: Instance
    result: SolveResult

    @property
    def rows(self) -> frozenset[Row]:
        return frozenset((p, self.instance.date(d), s) for p, d, s in self.result.cells)


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Solved:
    """Block B1 of the (solvable) tiny bundle, solved once for the module."""
    folder = make_solvable(Path(shutil.copytree(TINY, tmp_path_factory.mktemp("swaps") / "tiny")))
    bundle = load(folder)
    instance = block_instance(bundle, "B1")
    result = solve_block(instance, rules_for(bundle), load_solver_settings(time_limit_seconds=5))
    assert result.status in {"optimal", "feasible"} and result.cells
    return Solved(folder, bundle, instance, result)


@pytest.fixture(scope="module")
def context(solved: Solved) -> SwapContext:
    return context_from(solved.bundle, "B1", 1, solved.rows, [])


# --------------------------------------------------------------------------- brute force


_RULES: dict[int, tuple[Bundle, list[ConfiguredRule]]] = {}


def _rules(bundle: Bundle) -> list[ConfiguredRule]:
    """The program's full rule set (read once per bundle)."""
    if id(bundle) not in _RULES:
        _RULES[id(bundle)] = (bundle, rules_for(bundle))
    return _RULES[id(bundle)][1]


def _hard(context: SwapContext, rows: Iterable[Row]) -> list[dict[str, Any]]:
    """The hard findings of the whole schedule ``rows`` under the program's full rule set."""
    inst = context.instance
    cells = [(p, inst.day_index(d), s) for p, d, s in rows]
    violations = check_schedule(Schedule.of(inst, cells), _rules(context.bundle))
    return [f for f in findings_rows(inst, violations) if f["severity"] == "violation"]


@pytest.fixture(scope="module")
def clean(context: SwapContext) -> SwapContext:
    """The context, its published schedule checked to meet every hard rule (so a swap's findings are all of
    the findings after it)."""
    assert _hard(context, context.cells) == []
    return context


def _giveaways(context: SwapContext) -> Iterator[tuple[SwapSpec, str]]:
    people = context.instance.person_ids
    for person, date, shift in sorted(context.cells):
        for taker in people:
            if taker != person and (taker, date, shift) not in context.cells:
                yield SwapSpec(person, date, shift, with_person_id=taker), taker


def _trades(context: SwapContext) -> Iterator[tuple[SwapSpec, str]]:
    """One-for-one trades of a shift for the same shift on a day each of the two has off."""
    days = {(p, d) for p, d, _ in context.cells}
    for spec, taker in _giveaways(context):
        if (taker, spec.date) in days:
            continue
        for owner, date, shift in sorted(context.cells):
            if owner == taker and shift == spec.shift_id and (spec.person_id, date) not in days:
                yield SwapSpec(spec.person_id, spec.date, spec.shift_id, taker, date, shift), taker


# --------------------------------------------------------------------------- legal swaps


def test_a_legal_giveaway_trade_and_taken_offer_have_no_findings(clean: SwapContext) -> None:
    giveaway = next((s, t) for s, t in _giveaways(clean) if check_swap(clean, s, t) == [])
    trade = next((s, t) for s, t in _trades(clean) if check_swap(clean, s, t) == [])
    for spec, taker in (giveaway, trade):
        assert _hard(clean, swapped(clean.cells, spec, taker)) == []
    assert giveaway[0].kind == "giveaway" and trade[0].kind == "trade"
    # the same shift offered to anyone and taken by that person
    spec, taker = giveaway
    offer = SwapSpec(spec.person_id, spec.date, spec.shift_id)
    assert offer.kind == "offer"
    assert check_swap(clean, offer, taker) == []
    assert swapped(clean.cells, offer, taker) == swapped(clean.cells, spec, taker)


def test_swapped_moves_the_shifts_of_a_trade(context: SwapContext) -> None:
    spec, taker = next(_trades(context))
    assert spec.take_date is not None and spec.take_shift_id is not None
    after = swapped(context.cells, spec, taker)
    given = (spec.person_id, spec.date, spec.shift_id)
    taken = (taker, spec.take_date, spec.take_shift_id)
    assert given not in after and taken not in after
    assert (taker, spec.date, spec.shift_id) in after
    assert (spec.person_id, spec.take_date, spec.take_shift_id) in after
    assert after - {(taker, spec.date, spec.shift_id), (spec.person_id, spec.take_date, spec.take_shift_id)} == (
        context.cells - {given, taken}
    )


# --------------------------------------------------------------------------- illegal swaps


def test_an_illegal_swap_names_its_rule_person_and_window(clean: SwapContext) -> None:
    """R2's 24-hour call of the day before the block (history.csv) runs into B1's first DAY until 11:00."""
    assert ("R1", FIRST, "DAY") in clean.cells and ("R2", FIRST, "DAY") not in clean.cells
    findings = check_swap(clean, SwapSpec("R1", FIRST, "DAY", with_person_id="R2"), "R2")
    named = {(f["rule"], f["person_id"], f["window_start"], f["window_end"]) for f in findings}
    assert ("one_shift_at_a_time", "R2", "2027-07-01", "2027-07-01") in named
    assert ("acgme_max_continuous_duty", "R2", "2027-07-01", "2027-07-01") in named
    assert all(f["severity"] == "violation" for f in findings)
    assert {f["rule"] for f in findings} == {f["rule"] for f in _hard(clean, swapped(clean.cells, *_r1_to_r2()))}


def _r1_to_r2() -> tuple[SwapSpec, str]:
    return SwapSpec("R1", FIRST, "DAY", with_person_id="R2"), "R2"


def test_a_taker_off_their_rotation_and_a_lost_faculty_cover_are_named(clean: SwapContext) -> None:
    """R3 is on night float (DAY is not theirs to work); F1 is the only faculty for a weekday's DAY."""
    ward = next((p, d, s) for p, d, s in sorted(clean.cells) if p == "R1" and ("R3", d, "NIGHT") not in clean.cells)
    findings = check_swap(clean, SwapSpec(*ward, with_person_id="R3"), "R3")
    assert ("rotation_eligibility", "R3", ward[1].isoformat()) in {
        (f["rule"], f["person_id"], f["window_start"]) for f in findings
    }
    faculty = next((p, d, s) for p, d, s in sorted(clean.cells) if p == "F1" and d.weekday() < 5)
    taker = next(p for p in ("R1", "R2", "R3") if (p, faculty[1], "DAY") not in clean.cells)
    findings = check_swap(clean, SwapSpec(*faculty, with_person_id=taker), taker)
    coverage = [f for f in findings if f["rule"] == "coverage"]
    assert coverage and coverage[0]["person_id"] == "" and coverage[0]["window_start"] == faculty[1].isoformat()
    assert "0 of the 1 people it needs" in coverage[0]["message"]


def test_a_finding_the_published_schedule_had_is_not_the_swaps(solved: Solved) -> None:
    """A published schedule with R3 working a DAY it may not work: a swap elsewhere does not inherit it."""
    day = next(d for p, d, s in sorted(solved.rows) if p == "R3" and d > FIRST + dt.timedelta(days=3))
    broken = solved.rows | {("R3", day - dt.timedelta(days=3), "DAY")}
    context = context_from(solved.bundle, "B1", 1, broken, [])
    assert any(f["rule"] == "rotation_eligibility" for f in _hard(context, broken))
    legal = next(
        (s, t) for s, t in _giveaways(context) if s.person_id != "R3" and t != "R3" and not check_swap(context, s, t)
    )
    spec, taker = legal
    before = {(f["rule"], f["person_id"], f["window_start"]) for f in _hard(context, broken)}
    after = {(f["rule"], f["person_id"], f["window_start"]) for f in _hard(context, swapped(broken, spec, taker))}
    assert after <= before
    # nor is it a finding of a swap that gives the one who has it another shift
    to_r3 = [(s, t) for s, t in _giveaways(context) if t == "R3"]
    assert to_r3
    for spec, taker in to_r3:
        assert ("rotation_eligibility", (day - dt.timedelta(days=3)).isoformat()) not in {
            (f["rule"], f["window_start"]) for f in check_swap(context, spec, taker)
        }


def test_a_short_coverage_row_does_not_excuse_another_row_of_the_slot(solved: Solved) -> None:
    """A weekday DAY published without its faculty (coverage.csv row 3 short): giving its only ward resident's
    shift to R3 (night float, not on row 1) leaves row 1 short too, and that finding is the swap's."""
    rows = solved.rows
    day, resident = next(
        (d, p)
        for p, d, s in sorted(rows)
        if s == "DAY"
        and p in {"R1", "R2"}
        and d.weekday() < 5
        and ("F1", d, "DAY") in rows
        and sum(1 for q in ("R1", "R2") if (q, d, "DAY") in rows) == 1
        and ("R3", d, "DAY") not in rows
    )
    broken = rows - {("F1", day, "DAY")}
    context = context_from(solved.bundle, "B1", 1, broken, [])
    published = [f for f in _hard(context, broken) if f["rule"] == "coverage"]
    assert [f["window_start"] for f in published] == [day.isoformat()]
    assert "(coverage.csv row 3)" in published[0]["message"]
    findings = [f for f in check_swap(context, SwapSpec(resident, day, "DAY", with_person_id="R3"), "R3")]
    coverage = [f for f in findings if f["rule"] == "coverage"]
    assert len(coverage) == 1 and coverage[0]["window_start"] == day.isoformat()
    assert "0 of the 1 people it needs (coverage.csv row 1)" in coverage[0]["message"]
    assert "coverage" in explain(findings)


def test_a_finding_the_swap_makes_worse_is_the_swaps(solved: Solved) -> None:
    """R2 published over 80 h a week (24-hour calls on the days they were off but one, F): taking R1's DAY on F
    adds hours to windows already over, and that is the swap's; giving one of R2's calls away is not."""
    rows = solved.rows
    inst = solved.instance
    days = [inst.date(d) for d in range(inst.days)]
    busy = {d for p, d, _ in rows if p == "R2"}
    free = next(d for d in days if d not in busy and ("R1", d, "DAY") in rows and d > FIRST + dt.timedelta(days=2))
    broken = rows | {("R2", d, "CALL24") for d in days if d not in busy and d != free}
    context = context_from(solved.bundle, "B1", 1, broken, [])
    before = {
        (f["window_start"], f["window_end"]): float(f["value"])
        for f in _hard(context, broken)
        if f["rule"] == "acgme_weekly_hours" and f["person_id"] == "R2"
    }
    take = SwapSpec("R1", free, "DAY", with_person_id="R2")
    worse = [
        (f["window_start"], f["window_end"], float(f["value"]))
        for f in check_swap(context, take, "R2")
        if f["rule"] == "acgme_weekly_hours" and f["person_id"] == "R2"
    ]
    grown = [(start, end, value) for start, end, value in worse if (start, end) in before]
    assert grown and all(value > before[(start, end)] for start, end, value in grown)  # already over, now more
    # one_shift_at_a_time: a day with two overlapping shifts, given a third that overlaps as well
    call = next(d for d in days if ("R2", d, "CALL24") in broken and ("R1", d, "DAY") in broken)
    doubled = broken | {("R2", call, "DAY")}
    context = context_from(solved.bundle, "B1", 1, doubled, [])
    assert "one_shift_at_a_time" in {
        f["rule"] for f in _hard(context, doubled) if f["window_start"] == call.isoformat()
    }
    night = SwapSpec("R3", call, "NIGHT", with_person_id="R2") if ("R3", call, "NIGHT") in doubled else None
    assert night is not None
    assert ("one_shift_at_a_time", "R2", call.isoformat()) in {
        (f["rule"], f["person_id"], f["window_start"]) for f in check_swap(context, night, "R2")
    }
    # a swap that only takes hours away from R2 adds nothing of R2's weekly hours
    give = SwapSpec("R2", next(d for d in days if ("R2", d, "CALL24") in broken), "CALL24", with_person_id="R3")
    assert not [
        f for f in check_swap(context, give, "R3") if f["rule"] == "acgme_weekly_hours" and f["person_id"] == "R2"
    ]


# --------------------------------------------------------------------------- refused outright


def _option(error: pytest.ExceptionInfo[InputError]) -> str | None:
    return error.value.problems[0].column


def test_swapped_refuses_what_cannot_be_swapped(context: SwapContext) -> None:
    cells = context.cells
    held = next(r for r in sorted(cells) if r[0] == "R1")
    not_held = ("R1", held[1], "NIGHT")
    assert not_held not in cells
    with pytest.raises(InputError) as refused:
        swapped(cells, SwapSpec(*not_held, with_person_id="R2"), "R2")
    assert _option(refused) == "--person/--date/--shift"
    with pytest.raises(InputError) as refused:
        swapped(cells, SwapSpec(*held, with_person_id="R1"), "R1")
    assert _option(refused) == "--with"
    with pytest.raises(InputError) as refused:
        swapped(cells, SwapSpec(*held), "R1")  # an offer taken by the one who made it
    assert _option(refused) == "--by"
    both = next((p, d, s) for p, d, s in sorted(cells) if p == "R2" and ("R1", d, s) in cells)
    with pytest.raises(InputError) as refused:
        swapped(cells, SwapSpec("R1", both[1], both[2], with_person_id="R2"), "R2")
    assert _option(refused) == "--with"
    with pytest.raises(InputError) as refused:
        swapped(cells, SwapSpec(*held, with_person_id="R3", take_date=held[1], take_shift_id="CALL24"), "R3")
    assert _option(refused) == "--take-date/--take-shift"
    with pytest.raises(InputError) as refused:
        check_swap(context, SwapSpec(*held, with_person_id="R99"), "R99")
    assert _option(refused) == "--with"


def test_block_of_names_the_block_or_the_option(context: SwapContext) -> None:
    assert block_of(context.bundle, FIRST) == "B1"
    assert block_of(context.bundle, dt.date(2027, 7, 29)) == "B2"
    with pytest.raises(InputError) as refused:
        block_of(context.bundle, dt.date(2030, 1, 1), "--take-date")
    assert _option(refused) == "--take-date"


# --------------------------------------------------------------------------- partners


def _agrees_with_brute_force(context: SwapContext, person: str, date: dt.date, shift: str) -> tuple[int, int, int]:
    """``candidates`` for the shift against the brute force (every person: execute, validate in full; every
    shift of theirs traded back likewise); how many takers, trade-backs and takers only in a trade it found."""
    found = candidates(context, person, date, shift, today=BEFORE)
    takers = {c.person_id: c for c in found.takers}
    excluded = {e.person_id: e for e in found.excluded}
    assert sorted([*takers, *excluded]) == sorted(p for p in context.instance.person_ids if p != person)
    backs_seen = trade_only = 0
    for other in context.instance.person_ids:
        if other == person:
            continue
        if (other, date, shift) in context.cells:
            assert excluded[other].rule == ALREADY_ASSIGNED
            continue
        after = _hard(context, swapped(context.cells, SwapSpec(person, date, shift, other), other))
        # someone who may not hold that shift that day at all (rotation, absence) holds it in no trade either
        barred = any(f["rule"] in ("rotation_eligibility", "blocking_absence") for f in after)
        backs = [
            (d, s)
            for p, d, s in sorted(context.cells)
            if p == other
            and not barred
            and (person, d, s) not in context.cells
            and not _hard(context, swapped(context.cells, SwapSpec(person, date, shift, other, d, s), other))
        ]
        if after and not backs:
            # the reason given is the first rule (PRECEDENCE) the full check names, with one of its findings
            assert other in excluded
            first = min({f["rule"] for f in after}, key=lambda r: (RANK.get(r, len(RANK)), r))
            reasons = {(f["rule"], f["message"]) for f in after if f["rule"] == first}
            assert (excluded[other].rule, excluded[other].message) in reasons
            continue
        # a taker outright, or only in a trade for one of their shifts
        assert other in takers and takers[other].giveaway == (not after)
        assert takers[other].trade_backs == backs
        backs_seen += len(backs)
        trade_only += bool(after)
    return len(takers), backs_seen, trade_only


def test_candidates_agree_with_brute_force(clean: SwapContext) -> None:
    """Every shift of the block's first week and of its weekends offered, every person tried."""
    week = sorted(r for r in clean.cells if r[1] < FIRST + dt.timedelta(days=7) or r[1].weekday() >= 5)
    assert len(week) > 10
    takers = sum(_agrees_with_brute_force(clean, *offered)[0] for offered in week)
    assert takers  # some legal give-aways among them (so the comparison is not all refusals)


def test_candidates_agree_with_brute_force_on_trade_backs(crowded: SwapContext) -> None:
    assert _hard(crowded, crowded.cells) == []
    takers, backs, _ = _agrees_with_brute_force(crowded, "R1", FIRST, "DAY")
    assert takers >= 4 and backs >= 1  # R4's weekday DAY can come back to R1


def test_someone_busy_that_day_takes_the_shift_in_a_trade_only(crowded: SwapContext) -> None:
    """R6 is on home call the evening of one of R1's DAYs (the two overlap): not a give-away, but R1 can take
    the home call back for it (a day R1 is off the next morning, so the home call runs into nothing)."""
    works = {(p, d) for p, d, _ in crowded.cells}
    day = next(
        d
        for p, d, s in sorted(crowded.cells)
        if p == "R1" and s == "DAY" and d > FIRST and ("R1", d + dt.timedelta(days=1)) not in works
    )
    context = context_from(crowded.bundle, "B1", 1, crowded.cells | {("R6", day, "HOME")}, [])
    assert _hard(context, context.cells) == []
    takers, _, trade_only = _agrees_with_brute_force(context, "R1", day, "DAY")
    assert takers >= 2 and trade_only >= 1
    found = {c.person_id: c for c in candidates(context, "R1", day, "DAY", today=BEFORE).takers}
    assert found["R6"].giveaway is False and (day, "HOME") in found["R6"].trade_backs
    assert found["R6"].as_dict()["giveaway"] is False


def test_trade_backs_start_today(clean: SwapContext) -> None:
    spec, taker = next((s, t) for s, t in _giveaways(clean) if check_swap(clean, s, t) == [])
    found = {c.person_id: c for c in candidates(clean, spec.person_id, spec.date, spec.shift_id, today=BEFORE).takers}
    everything = found[taker].trade_backs
    later = FIRST + dt.timedelta(days=14)
    found = {c.person_id: c for c in candidates(clean, spec.person_id, spec.date, spec.shift_id, today=later).takers}
    assert found[taker].trade_backs == [(d, s) for d, s in everything if d >= later]


@pytest.fixture(scope="module")
def crowded(solved: Solved, tmp_path_factory: pytest.TempPathFactory) -> SwapContext:
    """B1 with four more ward residents: R5 asks to work R1's first DAY, R6 asks for that day off, R7 has a
    Saturday home call, R4 a weekday DAY R1 has off; all PGY-2, none working R1's first day."""
    folder = Path(shutil.copytree(solved.folder, tmp_path_factory.mktemp("crowded") / "tiny"))
    extra = ("R4", "R5", "R6", "R7")
    with (folder / "people.csv").open("a") as people:
        people.writelines(f"{p},Resident {p[1]}x,{p.lower()}@example.org,resident,2,1,\n" for p in extra)
    with (folder / "rotation_assignments.csv").open("a") as assignments:
        assignments.writelines(f"{p},{b},WARD\n" for p in extra for b in ("B1", "B2"))
    with (folder / "requests.csv").open("a") as requests:
        requests.write(f"R5,{FIRST},DAY,on,1\nR6,{FIRST},,off,1\n")
    saturday = dt.date(2027, 7, 3)
    free = next(
        d for p, d, s in sorted(solved.rows) if p == "R2" and d.weekday() < 5 and ("R1", d, s) not in solved.rows
    )
    rows = solved.rows | {("R7", saturday, "HOME"), ("R4", free, "DAY")}
    return context_from(load(folder), "B1", 1, rows, [])


def test_candidates_rank_fairness_first_then_requests_then_id(crowded: SwapContext) -> None:
    found = candidates(crowded, "R1", FIRST, "DAY", today=BEFORE)
    order = [c.person_id for c in found.takers]
    assert [p for p in order if p in {"R4", "R5", "R6", "R7"}] == ["R5", "R4", "R6", "R7"]
    assert [c.rank for c in found.takers] == list(range(1, len(order) + 1))
    by_id = {c.person_id: c for c in found.takers}
    assert (by_id["R7"].calls, by_id["R7"].nights, by_id["R7"].weekends) == (1, 0, 1)  # home call on a Saturday
    assert (by_id["R5"].request, by_id["R4"].request, by_id["R6"].request) == ("on", None, "off")
    load = [(c.calls + c.nights + c.weekends, c.calls, c.nights, c.weekends) for c in found.takers]
    assert load == sorted(load)
    assert [e.person_id for e in found.excluded] == sorted(e.person_id for e in found.excluded)
    assert found.as_dict()["takers"][0]["person_id"] == "R5"
    assert {"person_id", "rule", "message"} == set(found.as_dict()["excluded"][0])


def test_candidates_refuse_a_shift_the_person_does_not_work(context: SwapContext) -> None:
    with pytest.raises(InputError) as refused:
        candidates(context, "R1", FIRST, "NIGHT")
    assert _option(refused) == "--person/--date/--shift"


# --------------------------------------------------------------------------- explain


def test_explain_says_rule_person_and_window_without_names(clean: SwapContext) -> None:
    spec, taker = _r1_to_r2()
    findings = check_swap(clean, spec, taker)
    text = explain(findings)
    assert len(text.splitlines()) == len(findings)
    assert "one_shift_at_a_time for R2 on 2027-07-01" in text
    people = (clean.bundle.files["people.csv"]).decode()
    for line in people.splitlines()[1:]:
        _, name, email, *_ = line.split(",")
        assert name not in text and (not email or email not in text)
    assert explain([]) == ""


# --------------------------------------------------------------------------- from the database


@pytest.fixture
def published(tiny_dir: Path, settings: Settings, solved: Solved) -> Iterator[tuple[Engine, Bundle]]:
    """The solvable tiny bundle ingested into the settings' database, B1 published once (version 1)."""
    folder = make_solvable(tiny_dir)
    engine = database_engine(settings)
    outcome = ingest_bundle(str(folder), settings=settings, engine=engine, expectations=False)
    run_id = str(uuid.uuid4())
    summary = GenerateResult.start(
        run_id=run_id,
        program=PROGRAM,
        program_version=outcome.result.version,
        block_id="B1",
        rules=[],
        time_limit_seconds=5,
    ).solved(solved.result)
    done = publish_run(
        engine,
        program_key=PROGRAM,
        version=outcome.result.version,
        instance=solved.instance,
        result=solved.result,
        summary=summary,
        started_at=dt.datetime.now(dt.UTC),
        reason="generate",
        based_on=None,
        actor="rotaflow generate",
    )
    assert done.block_version == 1
    yield engine, load(folder)
    engine.dispose()


def test_swap_context_reads_the_published_version(published: tuple[Engine, Bundle], solved: Solved) -> None:
    engine, bundle = published
    context = swap_context(engine, bundle, "B1")
    assert (context.block_id, context.version, context.cells) == ("B1", 1, solved.rows)
    assert all(r.kind == "hard" for r in context.rules) and context.rules
    spec, taker = _r1_to_r2()
    assert {f["rule"] for f in check_swap(context, spec, taker)} >= {"one_shift_at_a_time"}
    with pytest.raises(InputError) as refused:
        swap_context(engine, bundle, "B2")
    assert "no published version" in str(refused.value)


# --------------------------------------------------------------------------- the block after


@dataclass(frozen=True)
class Next:
    """B1 with B2 published after it: B2 solved with B1's published schedule as its history."""

    context: SwapContext
    """B1's context, B2 among its following blocks."""
    alone: SwapContext
    """B1's context without B2 (as if B2 were not published)."""
    rows: frozenset[Row]
    """B2's published schedule."""


@pytest.fixture(scope="module")
def with_next(solved: Solved, tmp_path_factory: pytest.TempPathFactory) -> Next:
    """R4 to R7 join the ward in both blocks (nothing of theirs in B1); B2 is solved with R5 working DAY on its
    first 24 days (4 days off in its 28), B1's schedule as its history."""
    folder = Path(shutil.copytree(solved.folder, tmp_path_factory.mktemp("next") / "tiny"))
    extra = ("R4", "R5", "R6", "R7")
    with (folder / "people.csv").open("a") as people:
        people.writelines(f"{p},Resident {p[1]}x,{p.lower()}@example.org,resident,2,1,\n" for p in extra)
    with (folder / "rotation_assignments.csv").open("a") as assignments:
        assignments.writelines(f"{p},{b},WARD\n" for p in extra for b in ("B1", "B2"))
    bundle = load(folder)
    pins = {("R5", B2_FIRST + dt.timedelta(days=k), "DAY"): True for k in range(24)}
    b2 = block_instance(bundle, "B2", history=solved.rows, pins=pins)
    result = solve_block(b2, rules_for(bundle), load_solver_settings(time_limit_seconds=10))
    assert result.status in {"optimal", "feasible"} and result.cells
    rows = frozenset((p, b2.date(d), s) for p, d, s in result.cells)
    context = context_from(bundle, "B1", 1, solved.rows, [], [("B2", 3, rows, solved.rows)])
    return Next(context, context_from(bundle, "B1", 1, solved.rows, []), rows)


B2_FIRST = dt.date(2027, 7, 29)


def _b2_hard(bundle: Bundle, b2: Iterable[Row], b1: Iterable[Row]) -> list[dict[str, Any]]:
    """The hard findings of B2's schedule ``b2`` read with ``b1`` as the shifts before it (full rule set)."""
    inst = block_instance(bundle, "B2", history=b1)
    cells = [(p, inst.day_index(d), s) for p, d, s in b2]
    violations = check_schedule(Schedule.of(inst, cells), _rules(bundle))
    return [f for f in findings_rows(inst, violations) if f["severity"] == "violation"]


def _key(findings: Iterable[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {(f["rule"], f["person_id"], f["window_start"], f["window_end"]) for f in findings}


def test_following_blocks_are_those_whose_history_reaches_back(solved: Solved) -> None:
    assert following_blocks(solved.bundle, "B1") == ["B2"]
    assert following_blocks(solved.bundle, "B2") == []
    assert following_blocks(solved.bundle, "B9") == []


def test_a_swap_is_checked_on_the_next_published_block_as_brute_force_says(with_next: Next) -> None:
    """Every give-away and trade of B1's last five days, checked against the full rule set over B1 after the swap
    and over B2 read with B1-after as its history: legal exactly when both are clean, and B2's findings named
    with their rule, person and window. Some swaps legal within B1 break a rule only B2 sees: R5 taking a
    shift at B1's end leaves 3 days off in B2's 28-day windows that reach back to it."""
    context, bundle = with_next.context, with_next.context.bundle
    assert _hard(context, context.cells) == [] and _b2_hard(bundle, with_next.rows, context.cells) == []
    last = FIRST + dt.timedelta(days=27)
    swaps = [
        (s, t)
        for s, t in [*_giveaways(context), *_trades(context)]
        if s.date > last - dt.timedelta(days=5) and (s.take_date is None or s.take_date > last - dt.timedelta(days=5))
    ]
    assert len(swaps) > 20
    only_b2 = 0
    for spec, taker in swaps:
        after = swapped(context.cells, spec, taker)
        own = _hard(context, after)
        later = _b2_hard(bundle, with_next.rows, after)
        found = check_swap(context, spec, taker)
        assert (found == []) == (own == [] and later == []), (spec, taker)
        if not own:
            assert _key(found) == _key(later), (spec, taker)
            assert all(f["window_end"] >= B2_FIRST.isoformat() for f in later)
        if later and not own:
            only_b2 += 1
            assert check_swap(with_next.alone, spec, taker) == []  # without B2 it would have passed
    assert only_b2 >= 1


def test_candidates_exclude_a_taker_for_the_next_blocks_rule(with_next: Next) -> None:
    """A taker whom only B2's rules exclude is excluded with that rule and its message."""
    context, bundle = with_next.context, with_next.context.bundle
    last = B2_FIRST - dt.timedelta(days=1)
    taker = "R5"
    resident = ("R1", "R2")
    spec = next(
        s
        for s, t in _giveaways(context)
        if t == taker and s.date == last and s.person_id in resident and s.shift_id == "DAY"
    )
    after = swapped(context.cells, spec, taker)
    later = _b2_hard(bundle, with_next.rows, after)
    assert later and not _hard(context, after)
    found = candidates(context, spec.person_id, spec.date, spec.shift_id, today=BEFORE)
    excluded = {e.person_id: e for e in found.excluded}
    assert taker in excluded and taker not in {c.person_id for c in found.takers}
    assert (excluded[taker].rule, excluded[taker].message) in {(f["rule"], f["message"]) for f in later}
    alone = candidates(with_next.alone, spec.person_id, spec.date, spec.shift_id, today=BEFORE)
    assert taker in {c.person_id for c in alone.takers}
