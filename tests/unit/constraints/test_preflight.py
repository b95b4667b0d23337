"""Preflight screens: crafted infeasible blocks are refused with reasons a chief resident can act on.

The crafted cases are built from the tiny bundle (tests/fixtures/tiny) by editing its files in
memory, or directly as instances; test_explain.py diagnoses the same cases.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rotaflow.constraints.instance import Demand, Instance, PersonSpec, Schedule, ShiftSpec
from rotaflow.constraints.model import build_model, check_schedule
from rotaflow.constraints.preflight import PreflightFailed, PreflightReport, Reason, preflight
from rotaflow.constraints.ruleset import ConfiguredRule, RuleEntry, RuleSet, configure, load_ruleset
from rotaflow.constraints.solve import solve
from rotaflow.errors import InfeasibleError
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.instances import block_instance, rules_for

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "tests" / "fixtures" / "tiny"
SAMPLE = ROOT / "configs" / "programs" / "sample"
DEFAULT = configure(load_ruleset())

# --------------------------------------------------------------------------- crafted cases


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def edit(
    files: dict[str, bytes], *, add: dict[str, list[str]] | None = None, **swap: tuple[str, str]
) -> dict[str, bytes]:
    """Rows appended (``add``) and text replaced (``file_csv=(old, new)``), in memory."""
    out = dict(files)
    for name, rows in (add or {}).items():
        text = out[name].decode()
        out[name] = (text + ("" if text.endswith("\n") else "\n") + "".join(r + "\n" for r in rows)).encode()
    for key, (old, new) in swap.items():
        name = key.replace("_csv", ".csv")
        assert old in out[name].decode(), (name, old)
        out[name] = out[name].decode().replace(old, new).encode()
    return out


def tiny_ok() -> dict[str, bytes]:
    """The tiny bundle with night float on weekdays only: B1 passes every screen and can be scheduled.

    (As shipped, R3 alone must work a 12-hour night on all 28 days: 336 h > 320 h.)
    """
    return edit(files_of(TINY), coverage_csv=("NIGHT,daily,NF", "NIGHT,weekday,NF"))


def instance_of(files: dict[str, bytes], block: str = "B1") -> tuple[Instance, list[ConfiguredRule]]:
    bundle = parse_bundle(files)
    return block_instance(bundle, block), rules_for(bundle)


def five_of_four() -> tuple[Instance, list[ConfiguredRule]]:
    """DAY on Monday 2027-07-05 needs 5 ward residents; the ward has 4."""
    files = edit(
        tiny_ok(),
        add={
            "people.csv": ["R4,Resident Four,,resident,1,1,", "R5,Resident Five,,resident,2,1,"],
            "rotation_assignments.csv": ["R4,B1,WARD", "R4,B2,WARD", "R5,B1,WARD", "R5,B2,WARD"],
            "coverage.csv": ["DAY,2027-07-05,WARD,resident,,,5,,"],
        },
    )
    return instance_of(files)


def five_of_five_one_on_nights() -> tuple[Instance, list[ConfiguredRule]]:
    """DAY on 2027-07-05 needs 5 of the 5 residents, but R3's night-float rotation does not allow DAY."""
    files = edit(
        tiny_ok(),
        add={
            "people.csv": ["R4,Resident Four,,resident,1,1,", "R5,Resident Five,,resident,2,1,"],
            "rotation_assignments.csv": ["R4,B1,WARD", "R4,B2,WARD", "R5,B1,WARD", "R5,B2,WARD"],
            "coverage.csv": ["DAY,2027-07-05,,resident,,,5,,"],
        },
    )
    return instance_of(files)


def only_one_on_leave() -> tuple[Instance, list[ConfiguredRule]]:
    """R3 is the only night-float resident and is on vacation on Monday 2027-07-12."""
    return instance_of(edit(tiny_ok(), add={"absences.csv": ["R3,2027-07-12,2027-07-12,vacation,true"]}))


def nights_every_day() -> tuple[Instance, list[ConfiguredRule]]:
    """The tiny bundle as shipped: R3 must work NIGHT (12 h) on all 28 days, 336 h > 320 h."""
    return instance_of(files_of(TINY))


EARLY = ShiftSpec("EARLY", start=dt.time(7), end=dt.time(19))
LATE = ShiftSpec("LATE", start=dt.time(13), end=dt.time(21))


def overlapping(people: tuple[str, ...] = ("R1",)) -> Instance:
    """EARLY (07-19) and LATE (13-21) on the first day, each needing one of the same people.

    (A 28-day horizon: the hours budget of shorter blocks is unsound, see below.)
    """
    everyone = frozenset(people)
    return Instance(
        name="overlap",
        start=dt.date(2027, 7, 5),
        days=28,
        people=tuple(PersonSpec(p, "resident", 2) for p in people),
        shifts=(EARLY, LATE),
        timezone="America/New_York",
        demands=(Demand(0, "EARLY", everyone, min=1), Demand(0, "LATE", everyone, min=1)),
    )


def autumn(coverage: list[str]) -> tuple[Instance, list[ConfiguredRule]]:
    """Block B3 (2027-10-21..11-17) of the tiny program; New York falls back on 2027-11-07."""
    files = edit(
        tiny_ok(),
        add={
            "blocks.csv": ["B3,2027-10-21,2027-11-17"],
            "rotation_assignments.csv": ["R1,B3,WARD", "R2,B3,WARD", "R3,B3,NF"],
            "coverage.csv": coverage,
        },
    )
    return instance_of(files, "B3")


def rules(*names: str) -> list[ConfiguredRule]:
    return configure(RuleSet(name="some", rules=[RuleEntry(rule=n) for n in names]))


def schedulable(inst: Instance, rule_set: list[ConfiguredRule]) -> list[str]:
    """Solve; return the checkers' violations of the schedule found (fails if none is found)."""
    result = solve(build_model(inst, rule_set), time_limit=20.0, workers=2, seed=0)
    assert result.status in ("optimal", "feasible"), result.status
    return [v.message for v in check_schedule(Schedule.of(inst, result.cells), rule_set) if v.severity == "violation"]


def refused(inst: Instance, rule_set: list[ConfiguredRule]) -> list[Reason]:
    with pytest.raises(PreflightFailed) as caught:
        preflight(inst, rule_set)
    return caught.value.report.errors


# --------------------------------------------------------------------------- passing blocks


def test_the_sample_program_block_passes_every_screen() -> None:
    bundle = parse_bundle(files_of(SAMPLE))
    report = preflight(block_instance(bundle, "2027-B01"), rules_for(bundle))
    assert report.ok and report.reasons == []
    assert set(report.checked) == {
        "coverage_supply",
        "simultaneous_shifts",
        "hours_budget",
        "impossible_shift",
        "supervision_capacity",
    }
    assert all(count > 0 for count in report.checked.values()), report.checked


def test_the_edited_tiny_block_passes_and_can_be_scheduled() -> None:
    inst, rule_set = instance_of(tiny_ok())
    report = preflight(inst, rule_set)
    assert report.ok and report.errors == []
    assert report.checked["coverage_supply"] > 0 and report.checked["impossible_shift"] == 4 * 28


# --------------------------------------------------------------------------- coverage supply


def test_coverage_needing_five_when_four_can_work_names_shift_date_and_only_4() -> None:
    inst, rule_set = five_of_four()
    [reason] = refused(inst, rule_set)
    assert reason.screen == "coverage_supply"
    assert (reason.shift, reason.dates, reason.people) == ("DAY", ("2027-07-05",), ("R1", "R2", "R4", "R5"))
    assert reason.message == "DAY on 2027-07-05 needs at least 5 people (coverage.csv row 5) but only 4 can work it"


def test_coverage_supply_says_who_their_rotation_keeps_away() -> None:
    inst, rule_set = five_of_five_one_on_nights()
    [reason] = refused(inst, rule_set)
    assert "only 4 can work it" in reason.message
    assert reason.message.endswith("(not allowed this shift by their rotation: R3)")


def test_the_only_eligible_resident_on_leave_is_named_as_on_leave() -> None:
    inst, rule_set = only_one_on_leave()
    [reason] = [r for r in refused(inst, rule_set) if r.screen == "coverage_supply"]
    assert (reason.screen, reason.shift, reason.dates, reason.people) == (
        "coverage_supply",
        "NIGHT",
        ("2027-07-12",),
        (),
    )
    assert reason.message == (
        "NIGHT on 2027-07-12 needs at least 1 person (coverage.csv row 2) but only 0 can work it (on leave: R3)"
    )


def test_many_refusals_are_listed_twenty_at_a_time() -> None:
    files = edit(tiny_ok(), coverage_csv=("DAY,daily,WARD,resident,,,1,2,2", "DAY,daily,WARD,resident,,,5,,"))
    inst, rule_set = instance_of(files)
    with pytest.raises(PreflightFailed) as caught:
        preflight(inst, rule_set)
    errors = caught.value.report.errors
    # not on 2027-07-04; five residents need two faculty on each weekday, and there is one
    assert [r.screen for r in errors] == ["coverage_supply"] * 27 + ["hours_budget"] * 2 + ["supervision_capacity"] * 20
    text = str(caught.value)
    assert text.startswith("the block cannot be scheduled:\n  - DAY on 2027-07-01 needs at least 5 people")
    assert text.endswith("\n  ... and 29 more")
    assert text.count("\n  - ") == 20


def test_a_refusal_is_an_infeasible_error_with_exit_code_3() -> None:
    inst, rule_set = only_one_on_leave()
    with pytest.raises(InfeasibleError) as caught:
        preflight(inst, rule_set)
    assert caught.value.exit_code == 3


def test_raise_on_error_false_returns_the_report() -> None:
    inst, rule_set = five_of_four()
    report = preflight(inst, rule_set, raise_on_error=False)
    assert isinstance(report, PreflightReport)
    assert not report.ok
    assert [r.screen for r in report.errors] == ["coverage_supply"]
    assert report.errors[0].as_dict() == {
        "screen": "coverage_supply",
        "message": "DAY on 2027-07-05 needs at least 5 people (coverage.csv row 5) but only 4 can work it",
        "people": ["R1", "R2", "R4", "R5"],
        "dates": ["2027-07-05"],
        "shift": "DAY",
        "severity": "error",
    }


def test_screens_of_rules_that_are_not_hard_do_not_run() -> None:
    inst, _ = five_of_four()
    soft_coverage = configure(RuleSet(name="soft", rules=[RuleEntry(rule="coverage", kind="soft")]))
    report = preflight(inst, soft_coverage)
    assert report.ok and report.checked == {}


# --------------------------------------------------------------------------- simultaneous shifts


def test_overlapping_shifts_needing_more_distinct_people_than_exist() -> None:
    [reason] = refused(overlapping(), DEFAULT)
    assert reason.screen == "simultaneous_shifts"
    assert reason.dates == ("2027-07-05",) and reason.people == ("R1",)
    assert reason.message == (
        "at 2027-07-05 13:00 the shifts running together need 2 different people "
        "[EARLY (1), LATE (1)] but at most 1 can be found among those eligible"
    )


def test_overlapping_shifts_pass_when_enough_people_exist() -> None:
    report = preflight(overlapping(("R1", "R2")), DEFAULT)
    assert report.ok and report.checked["simultaneous_shifts"] == 1


def test_simultaneous_shifts_are_a_matching_not_a_head_count() -> None:
    """Three shifts at 13:00 need three people and three are eligible, but EARLY and LATE both need R1."""
    mid = ShiftSpec("MID", start=dt.time(10), end=dt.time(16))
    inst = overlapping(("R1", "R2", "R3"))
    inst.shifts = (EARLY, LATE, mid)
    inst.demands = (
        Demand(0, "EARLY", frozenset({"R1"}), min=1),
        Demand(0, "LATE", frozenset({"R1"}), min=1),
        Demand(0, "MID", frozenset({"R2", "R3"}), min=1),
    )
    [reason] = refused(inst, DEFAULT)
    assert reason.screen == "simultaneous_shifts"
    assert reason.people == ("R1", "R2", "R3")
    assert reason.message == (
        "at 2027-07-05 13:00 the shifts running together need 3 different people "
        "[EARLY (1), MID (1), LATE (1)] but at most 2 can be found among those eligible"
    )


def test_the_simultaneous_screen_waits_for_coverage_supply() -> None:
    inst = overlapping()
    inst.demands = (*inst.demands, Demand(0, "EARLY", frozenset({"R1"}), min=2))
    report = preflight(inst, DEFAULT, raise_on_error=False)
    assert [r.screen for r in report.errors] == ["coverage_supply"]
    assert "simultaneous_shifts" not in report.checked


# --------------------------------------------------------------------------- hours budget


def test_eighty_hours_cannot_cover_a_twelve_hour_night_every_day() -> None:
    inst, rule_set = nights_every_day()
    [reason] = refused(inst, rule_set)
    assert (reason.screen, reason.people, reason.dates, reason.shift) == ("hours_budget", ("R3",), (), None)
    assert reason.message == (
        "coverage needs 329 h of work from 1 resident(s) (R3) but the 80-hour rule allows them at most 320 h "
        "in this block"
    )


def test_the_hours_budget_also_checks_all_rows_together() -> None:
    """R1 alone covers SHORT (287 h ≤ 320 h); R1 and R2 cover LONG (358 h inside the block ≤ 640 h);
    together 645 h > 640 h (the last LONG shift runs 6 h past the block: those hours are not counted)."""
    short = ShiftSpec("SHORT", start=dt.time(7), end=dt.time(17, 15))
    long = ShiftSpec("LONG", start=dt.time(17), end=dt.time(6))
    inst = Instance(
        name="budget",
        start=dt.date(2027, 7, 1),
        days=28,
        people=(PersonSpec("R1", "resident", 2), PersonSpec("R2", "resident", 2)),
        shifts=(short, long),
        demands=tuple(Demand(d, "SHORT", frozenset({"R1"}), min=1) for d in range(28))
        + tuple(Demand(d, "LONG", frozenset({"R1", "R2"}), min=1) for d in range(28)),
    )
    report = preflight(inst, rules("coverage", "acgme_weekly_hours"), raise_on_error=False)
    assert report.checked["hours_budget"] == 3
    [reason] = report.errors
    assert reason.people == ("R1", "R2")
    assert "coverage needs 645 h of work from 2 resident(s) (R1, R2)" in reason.message
    assert "at most 640 h" in reason.message


def test_leave_lowers_the_hours_budget() -> None:
    """Weekday nights (20 × 12 h = 240 h) fit in 320 h but not in the 8 days R3 is not on leave."""
    files = edit(tiny_ok(), add={"absences.csv": ["R3,2027-07-01,2027-07-20,parental,true"]})
    inst, rule_set = instance_of(files)
    inst.blocked_days = {}  # keep leave in the average only, so coverage supply passes
    [reason] = refused(inst, rule_set)
    assert reason.screen == "hours_budget"
    assert "at most 91 h" in reason.message  # 80 h × 8 days ÷ 7


# --------------------------------------------------------------------------- impossible shifts


def test_a_required_24_hour_call_on_the_night_the_clocks_go_back_is_impossible() -> None:
    inst, rule_set = autumn(["CALL24,2027-11-06,WARD,resident,,,1,,"])
    [reason] = refused(inst, rule_set)
    assert (reason.screen, reason.shift, reason.dates, reason.severity) == (
        "impossible_shift",
        "CALL24",
        ("2027-11-06",),
        "error",
    )
    assert reason.message == (
        "shift CALL24 on 2027-11-06 lasts 25 h scheduled (29 h with transition), more than the 24 + 4 hours allowed"
    )


def test_an_impossible_shift_nobody_must_work_is_only_a_warning() -> None:
    inst, rule_set = autumn([])
    report = preflight(inst, rule_set)
    assert report.ok
    [warning] = report.reasons
    assert (warning.screen, warning.shift, warning.dates, warning.severity) == (
        "impossible_shift",
        "CALL24",
        ("2027-11-06",),
        "warning",
    )
    assert warning.message.endswith("more than the 24 + 4 hours allowed; nobody will be given it")


def test_an_impossible_shift_only_faculty_can_cover_is_only_a_warning() -> None:
    """The duty-hour rule binds residents; faculty are not held to it."""
    inst, rule_set = autumn(["CALL24,2027-11-06,,faculty,,,1,,"])
    report = preflight(inst, rule_set)
    assert report.ok
    assert [(r.screen, r.severity) for r in report.reasons] == [("impossible_shift", "warning")]


def test_without_the_duty_rule_a_long_shift_is_not_screened() -> None:
    inst, _ = autumn(["CALL24,2027-11-06,WARD,resident,,,1,,"])
    report = preflight(inst, rules("coverage"))
    assert report.ok and "impossible_shift" not in report.checked


# --------------------------------------------------------------------------- soundness: no refusal of a schedulable block


def fortnight() -> Instance:
    """A 14-day block; R1 must work a 12-hour day shift on every day (168 h)."""
    return Instance(
        name="fortnight",
        start=dt.date(2027, 7, 1),
        days=14,
        people=(PersonSpec("R1", "resident", 2),),
        shifts=(ShiftSpec("DAY", start=dt.time(7), end=dt.time(19)),),
        timezone="America/New_York",
        demands=tuple(Demand(d, "DAY", frozenset({"R1"}), min=1) for d in range(14)),
    )


def test_a_row_nobody_can_work_is_not_blamed_on_the_80_hour_rule() -> None:
    inst, rule_set = only_one_on_leave()
    assert [r.screen for r in refused(inst, rule_set)] == ["coverage_supply"]


def test_a_fortnight_of_day_shifts_can_be_scheduled_under_the_default_rules() -> None:
    # every 28-day window that touches the block holds at most 168 h ≤ 320 h
    assert schedulable(fortnight(), DEFAULT) == []


def test_the_hours_budget_does_not_refuse_a_schedulable_short_block() -> None:
    assert preflight(fortnight(), DEFAULT, raise_on_error=False).errors == []


def nights_but_one() -> Instance:
    """28 nights of 12 h but none on day 5: 27 × 12 = 324 h, yet the night of day 27 ends after the block."""
    night = ShiftSpec("NIGHT", start=dt.time(19), end=dt.time(7), kind="night")
    return Instance(
        name="nights",
        start=dt.date(2027, 7, 1),
        days=28,
        people=(PersonSpec("R1", "resident", 2),),
        shifts=(night,),
        timezone="America/New_York",
        demands=tuple(Demand(d, "NIGHT", frozenset({"R1"}), min=0 if d == 5 else 1) for d in range(28)),
    )


def test_nights_but_one_fit_every_window_of_the_weekly_hours_rule() -> None:
    # window 07-01..07-28 holds 26 × 12 h + 5 h of the last night = 317 h; 07-02..07-29 holds 26 × 12 h
    assert schedulable(nights_but_one(), rules("coverage", "acgme_weekly_hours")) == []


def test_the_hours_budget_counts_only_work_inside_the_block() -> None:
    report = preflight(nights_but_one(), rules("coverage", "acgme_weekly_hours"), raise_on_error=False)
    assert report.errors == []


def test_overlapping_shifts_can_share_a_person_without_the_one_shift_rule() -> None:
    assert schedulable(overlapping(), rules("coverage")) == []


def test_the_simultaneous_screen_needs_the_one_shift_rule() -> None:
    assert preflight(overlapping(), rules("coverage"), raise_on_error=False).errors == []


def ineligible_only() -> Instance:
    inst = overlapping()
    inst.allowed = {("R1", 0): frozenset({"LATE"})}
    inst.demands = (Demand(0, "EARLY", frozenset({"R1"}), min=1),)
    return inst


def test_without_rotation_eligibility_anyone_may_cover() -> None:
    assert schedulable(ineligible_only(), rules("coverage")) == []


def test_the_coverage_supply_screen_needs_the_eligibility_rule() -> None:
    assert preflight(ineligible_only(), rules("coverage"), raise_on_error=False).errors == []


# --------------------------------------------------------------------------- supervision capacity

SUPERVISED = ("coverage", "supervision_ratio", "rotation_eligibility", "one_shift_at_a_time")


def four_on_the_ward(*, faculty: int = 1, faculty_max: str = "") -> tuple[Instance, list[ConfiguredRule]]:
    """DAY on weekdays needs 4 of the ward's R1, R6 (PGY-1), R2, R4 and R5 under ``faculty`` faculty.

    (R2's call from history keeps R2 off DAY on 2027-07-01, hence five on the ward.)
    """
    extra = [f"F{n},Faculty {n},,faculty,,1," for n in range(2, faculty + 1)]
    files = edit(
        tiny_ok(),
        add={
            "people.csv": [
                "R4,Resident Four,,resident,2,1,",
                "R5,Resident Five,,resident,3,1,",
                "R6,Resident Six,,resident,1,1,",
                *extra,
            ],
            "rotation_assignments.csv": ["R4,B1,WARD", "R4,B2,WARD", "R5,B1,WARD", "R5,B2,WARD", "R6,B1,WARD"],
            "coverage.csv": ["DAY,weekday,WARD,resident,,,4,,"],
        },
        # the ward's daily row without its maximum of 2, so that coverage alone can be met
        coverage_csv=(
            "DAY,daily,WARD,resident,,,1,2,2\nNIGHT,weekday,NF,resident,,,1,1,\nDAY,weekday,,faculty,,,1,,",
            f"DAY,daily,WARD,resident,,,1,,\nNIGHT,weekday,NF,resident,,,1,1,\nDAY,weekday,,faculty,,,1,{faculty_max},",
        ),
    )
    return instance_of(files)


def test_four_residents_one_a_pgy1_need_two_faculty_when_only_one_exists() -> None:
    inst, rule_set = four_on_the_ward()
    reasons = refused(inst, rule_set)
    assert [r.screen for r in reasons] == ["supervision_capacity"] * 20  # every weekday
    reason = reasons[2]
    assert (reason.shift, reason.dates, reason.people) == ("DAY", ("2027-07-05",), ())
    assert reason.message == (
        "DAY on 2027-07-05 needs at least 4 resident(s) (coverage.csv row 5), who need 2 faculty under the "
        "supervision ratio (PGY-1 1:2, others 1:4), but at most 1 faculty can be on it"
    )
    # the screen is sound: the solver agrees no schedule exists
    result = solve(build_model(inst, rules(*SUPERVISED)), time_limit=20.0, workers=2, seed=0)
    assert result.status == "infeasible"


def test_four_residents_under_two_faculty_pass_and_can_be_scheduled() -> None:
    inst, rule_set = four_on_the_ward(faculty=2)
    report = preflight(inst, rule_set)
    assert report.ok and report.checked["supervision_capacity"] == 20  # the block's weekdays
    assert schedulable(inst, rules(*SUPERVISED)) == []


def test_a_faculty_row_maximum_caps_the_faculty_on_the_shift() -> None:
    inst, rule_set = four_on_the_ward(faculty=2, faculty_max="1")
    reasons = refused(inst, rule_set)
    assert len(reasons) == 20
    assert all(r.message.endswith("but at most 1 faculty can be on it") for r in reasons)


def test_faculty_on_leave_do_not_supervise() -> None:
    inst, rule_set = four_on_the_ward(faculty=2)
    inst.blocked_days = {**inst.blocked_days, "F2": frozenset({inst.day_index(dt.date(2027, 7, 5))})}
    [reason] = refused(inst, rule_set)
    assert reason.screen == "supervision_capacity" and reason.dates == ("2027-07-05",)


def test_the_supervision_screen_needs_the_supervision_rule() -> None:
    inst, _ = four_on_the_ward()
    report = preflight(inst, rules("coverage", "rotation_eligibility"), raise_on_error=False)
    assert report.ok and "supervision_capacity" not in report.checked
