"""Builder and checker agree: a schedule the CP-SAT model accepts breaks no hard rule's own checker,
and a pinned cell that breaks a hard rule makes the model infeasible and is found by that rule's checker.

Random small programs are generated directly as :class:`Instance` objects: 1–4 people (one may be
faculty), 3–10 days starting near a daylight-saving change in a zone that has one (or not), 1–3
shift types with random clock times, hand-offs and kinds, random coverage demands with min/max,
blocked days, rotation eligibility, requests and a little history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotaflow.constraints.instance import (
    Cell,
    Demand,
    Instance,
    PersonSpec,
    RequestSpec,
    Schedule,
    ShiftSpec,
)
from rotaflow.constraints.model import build_model, check_schedule
from rotaflow.constraints.ruleset import ConfiguredRule, RuleEntry, RuleSet, configure, load_ruleset
from rotaflow.constraints.solve import solve
from tests.unit.constraints import ruletools

DEFAULT = configure(load_ruleset())
HARD = [r for r in DEFAULT if r.kind == "hard"]
ONE_AT_A_TIME = next(r for r in HARD if r.name == "one_shift_at_a_time")
SOFT = [r for r in DEFAULT if r.kind == "soft"]
ZONES = ("UTC", "Pacific/Honolulu", "America/New_York", "Europe/Berlin")
STARTS = (
    dt.date(2027, 7, 1),
    dt.date(2027, 11, 3),  # New York falls back on 2027-11-07
    dt.date(2027, 10, 28),  # Berlin falls back on 2027-10-31
    dt.date(2027, 3, 10),  # New York springs forward on 2027-03-14
)
KINDS = ("day", "night", "call", "clinic", "home_call", "admin")
ROTATIONS = (None, "ROT", "ELEC")
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def shift_specs(draw: st.DrawFn, index: int) -> ShiftSpec:
    kind = draw(st.sampled_from(KINDS))
    start = dt.time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 30))))
    hours = draw(st.integers(1, 24))  # 24: end == start, a full day
    end_minutes = (start.hour * 60 + start.minute + hours * 60) % (24 * 60)
    end = dt.time(end_minutes // 60, end_minutes % 60)
    moonlight = kind == "admin" and draw(st.booleans())
    return ShiftSpec(
        id=f"MOONLIGHT{index}" if moonlight else f"S{index}",
        start=start,
        end=end,
        transition_minutes=draw(st.sampled_from((0, 0, 30, 240))),
        kind=kind,
        in_house_call=kind != "home_call" and draw(st.booleans()),
        counts_as_work=draw(st.sampled_from((True, True, True, False))),
        home_call_hours=draw(st.sampled_from((None, 1.5, 4.0))) if kind == "home_call" else None,
    )


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    count = draw(st.integers(1, 4))
    with_faculty = draw(st.booleans())
    people: list[PersonSpec] = [
        PersonSpec(f"R{n}", "resident", draw(st.integers(1, 3))) for n in range(1, count + 1 - with_faculty)
    ]
    if with_faculty:
        people.append(PersonSpec("F1", "faculty", None))
    ids = [p.id for p in people]
    days = draw(st.integers(3, 10))
    shifts = tuple(draw(shift_specs(n)) for n in range(draw(st.integers(1, 3))))
    shift_ids = [s.id for s in shifts]
    rotation: dict[tuple[str, int], str | None] = {}
    for person in ids:  # a rotation, possibly changing once inside the horizon
        first, then = draw(st.sampled_from(ROTATIONS)), draw(st.sampled_from(ROTATIONS))
        switch = draw(st.integers(0, days))
        rotation.update({(person, day): first if day < switch else then for day in range(days)})
    allowed = None
    if draw(st.booleans()):
        allowed = {}
        for person in ids:
            usual = frozenset(draw(st.sets(st.sampled_from(shift_ids), min_size=1)))
            allowed.update({(person, day): usual for day in range(days)})
    blocked = {
        person: frozenset(draw(st.sets(st.integers(0, days - 1), max_size=2)))
        for person in ids
        if draw(st.integers(0, 2)) == 0
    }
    demands = []
    for day in range(days):
        for shift in shift_ids:
            if draw(st.integers(0, 2)) == 0:
                continue
            members = frozenset(draw(st.sets(st.sampled_from(ids), min_size=1)))
            low = draw(st.integers(0, min(2, len(members))))
            demands.append(
                Demand(
                    day,
                    shift,
                    members,
                    min=low,
                    max=draw(st.sampled_from((None, low, low + 1))),
                    target=draw(st.sampled_from((None, low + 1))),
                    label=f"coverage.csv row {len(demands) + 1}",
                )
            )
    requests = tuple(
        RequestSpec(
            draw(st.sampled_from(ids)),
            draw(st.integers(0, days - 1)),
            draw(st.sampled_from((None, *shift_ids))),
            draw(st.sampled_from(("on", "off"))),
            draw(st.integers(1, 5)),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    inst = Instance(
        name="random",
        start=draw(st.sampled_from(STARTS)),
        days=days,
        people=tuple(people),
        shifts=shifts,
        timezone=draw(st.sampled_from(ZONES)),
        allowed=allowed,
        rotation=rotation,
        blocked_days=blocked,
        leave_days=dict(blocked),
        demands=tuple(demands),
        requests=requests,
        meta={"acgme": {"averaging": "rolling_28d", "leave_excluded_from_average": True}},
    )
    history = []
    for _ in range(draw(st.integers(0, 2))):
        person = draw(st.sampled_from(ids))
        history += ruletools.history(inst, person, [draw(st.integers(-3, -1))], draw(st.sampled_from(shift_ids)))
    inst.history = tuple(history)
    return inst


@st.composite
def rule_sets(draw: st.DrawFn) -> list[ConfiguredRule]:
    """The default rule set, or a random part of it (hard rules keep their order)."""
    if draw(st.booleans()):
        return DEFAULT
    hard = [r for r in HARD if draw(st.booleans())]
    soft = [r for r in SOFT if draw(st.booleans())]
    return hard + soft


def _violations(inst: Instance, rules: list[ConfiguredRule], cells: frozenset[Cell]) -> list[str]:
    return [
        f"{v.rule}: {v.message}" for v in check_schedule(Schedule.of(inst, cells), rules) if v.severity == "violation"
    ]


@SETTINGS
@given(inst=instances(), rules=rule_sets())
def test_a_schedule_the_model_accepts_breaks_no_hard_rule(inst: Instance, rules: list[ConfiguredRule]) -> None:
    result = solve(build_model(inst, rules), time_limit=2.0, workers=1, seed=0)
    if result.status not in ("optimal", "feasible"):
        return
    assert _violations(inst, rules, result.cells) == []


# --------------------------------------------------------------------------- pins that break a rule


@dataclass(frozen=True)
class Breach:
    rule: str
    cells: tuple[Cell, ...]


def _binds(rules: list[ConfiguredRule], name: str, inst: Instance, person: str) -> bool:
    return any(r.name == name and r.kind == "hard" and r.selector.person_matches(inst, person) for r in rules)


def breaches(inst: Instance, rules: list[ConfiguredRule]) -> list[Breach]:
    """Every way one pin (two for an overlap) breaks a hard rule of ``rules`` by itself."""
    out = []
    for person in inst.person_ids:
        for day in range(inst.days):
            for shift in inst.shift_ids:
                cell = (person, day, shift)
                if day in inst.blocked_days.get(person, frozenset()) and _binds(
                    rules, "blocking_absence", inst, person
                ):
                    out.append(Breach("blocking_absence", (cell,)))
                if not inst.may_work(person, day, shift) and _binds(rules, "rotation_eligibility", inst, person):
                    out.append(Breach("rotation_eligibility", (cell,)))
                slot = inst.slot(day, shift)
                too_long = slot.end - slot.start > dt.timedelta(hours=24) or slot.total_minutes > 28 * 60
                if too_long and _binds(rules, "acgme_max_continuous_duty", inst, person):
                    out.append(Breach("acgme_max_continuous_duty", (cell,)))
                moonlighting = inst.shift[shift].kind == "admin" and "moonlight" in shift.lower()
                if (
                    moonlighting
                    and inst.person[person].pgy == 1
                    and _binds(rules, "acgme_pgy1_no_moonlighting", inst, person)
                ):
                    out.append(Breach("acgme_pgy1_no_moonlighting", (cell,)))
        if _binds(rules, "one_shift_at_a_time", inst, person):
            slots = sorted(inst.slots(), key=lambda s: (s.start, s.shift))
            for i, a in enumerate(slots):
                for b in slots[i + 1 :]:
                    if b.start < a.end_with_transition:
                        out.append(Breach("one_shift_at_a_time", ((person, a.day, a.shift), (person, b.day, b.shift))))
    return out


@SETTINGS
@given(inst=instances(), rules=rule_sets(), data=st.data())
def test_a_pin_that_breaks_a_hard_rule_is_infeasible_and_found_by_its_checker(
    inst: Instance, rules: list[ConfiguredRule], data: st.DataObject
) -> None:
    found = breaches(inst, rules)
    if not found:
        return
    breach = data.draw(st.sampled_from(found), label="breach")
    inst.pins = dict.fromkeys(breach.cells, True)
    result = solve(build_model(inst, rules), time_limit=2.0, workers=1, seed=0)
    assert result.status == "infeasible", (breach, result.status)
    rule = next(r for r in rules if r.name == breach.rule)
    pinned = Schedule.of(inst, breach.cells)
    assert [v for v in check_schedule(pinned, [rule]) if v.severity == "violation"], breach


# --------------------------------------------------------------------------- one rule, a whole schedule

SCALED = {
    # parameters small enough to bite in 3-10 days
    "one_shift_at_a_time": st.just({}),
    "rotation_eligibility": st.just({}),
    "blocking_absence": st.just({}),
    "coverage": st.just({}),
    "acgme_pgy1_no_moonlighting": st.just({}),
    "supervision_ratio": st.fixed_dictionaries(
        {"pgy1_per_faculty": st.integers(1, 2), "others_per_faculty": st.integers(1, 4)}
    ),
    "acgme_weekly_hours": st.fixed_dictionaries(
        {
            "limit_hours": st.sampled_from((8, 20, 40, 80)),
            "window_days": st.sampled_from((7, 10, 28)),
            "averaging": st.sampled_from((None, "block", "rolling_28d")),
            "leave_excluded_from_average": st.sampled_from((None, False, True)),
        }
    ),
    "acgme_day_off_in_seven": st.fixed_dictionaries(
        {
            "variant": st.sampled_from(("averaged", "strict_weekly")),
            "min_free_days": st.integers(0, 4),
            "window_days": st.sampled_from((7, 10, 28)),
        }
    ),
    "acgme_max_continuous_duty": st.sampled_from((8, 12, 16, 24)).flatmap(
        lambda hours: st.fixed_dictionaries(
            {"max_scheduled_hours": st.just(hours), "max_total_hours": st.sampled_from((hours, hours + 2, hours + 4))}
        )
    ),
    "acgme_rest_after_call": st.fixed_dictionaries(
        {"min_rest_hours": st.sampled_from((0, 8, 14, 30)), "min_call_hours": st.sampled_from((4, 12, 23))}
    ),
    "acgme_call_frequency": st.fixed_dictionaries({"max_calls": st.integers(0, 3), "window_days": st.integers(1, 28)}),
    "max_consecutive_nights": st.fixed_dictionaries(
        {"max_nights": st.integers(1, 3), "kinds": st.sampled_from((["night"], ["night", "call"]))}
    ),
}
SELECTORS = (None, {"role": "resident"}, {"pgy": [1]}, {"person_ids": ["R1", "F1"]}, {"rotation": ["ROT"]})
CONSERVATIVE = {
    # the model may refuse what the checker accepts, by design:
    "acgme_day_off_in_seven",  # counts free periods from midnight or a shift end only (module docstring)
    "max_consecutive_nights",  # counts night shifts per window, the checker counts nights (two a day count once)
}


@st.composite
def single_rules(draw: st.DrawFn) -> ConfiguredRule:
    name = draw(st.sampled_from(sorted(SCALED)))
    selectors = SELECTORS
    if name == "one_shift_at_a_time":  # see test_one_shift_at_a_time_checker_respects_a_rotation_selector
        selectors = tuple(s for s in SELECTORS if s is None or "rotation" not in s)
    entry = {"rule": name, "kind": "hard", "params": draw(SCALED[name])}
    selector = draw(st.sampled_from(selectors))
    if selector is not None:
        entry["applies_to"] = selector
    return configure(RuleSet(name="one", rules=[RuleEntry.model_validate(entry)]))[0]


@SETTINGS
@given(inst=instances(), data=st.data())
def test_a_whole_pinned_schedule_is_accepted_by_a_rule_exactly_when_its_checker_accepts_it(
    inst: Instance, data: st.DataObject
) -> None:
    """Every cell pinned on or off; each hard rule alone: model feasible ⇔ no violation from its checker."""
    density = data.draw(st.sampled_from((2, 4, 7)), label="density")
    chosen = frozenset(c for c in inst.cells if data.draw(st.integers(0, 9), label="cell") < density)
    inst.pins = {cell: cell in chosen for cell in inst.cells}
    for _ in range(3):
        rule = data.draw(single_rules(), label="rule")
        result = solve(build_model(inst, [rule]), time_limit=2.0, workers=1, seed=0)
        assert result.status in ("optimal", "infeasible"), result.status
        found = _violations(inst, [rule], chosen)
        if result.status == "optimal":
            assert found == [], (rule.name, rule.params, rule.selector)
        elif rule.name == "acgme_max_continuous_duty" and _violations(inst, [ONE_AT_A_TIME], chosen):
            continue  # see test_duty_checker_finds_a_long_period_that_another_shift_overlaps
        elif rule.name not in CONSERVATIVE:
            assert found, ("the model refuses a schedule its checker accepts", rule.name, rule.params, rule.selector)


def test_one_shift_at_a_time_checker_respects_a_rotation_selector() -> None:
    early = ShiftSpec("EARLY", start=dt.time(7), end=dt.time(19))
    late = ShiftSpec("LATE", start=dt.time(13), end=dt.time(21))
    inst = Instance(
        name="selector",
        start=dt.date(2027, 7, 5),
        days=2,
        people=(PersonSpec("R1", "resident", 2),),
        shifts=(early, late),
        rotation={("R1", 0): "ROT", ("R1", 1): "ELEC"},
    )
    rule = configure(
        RuleSet(
            name="one",
            rules=[RuleEntry.model_validate({"rule": "one_shift_at_a_time", "applies_to": {"rotation": ["ROT"]}})],
        )
    )
    on_rot = frozenset({("R1", 0, "EARLY"), ("R1", 0, "LATE")})
    off_rot = frozenset({("R1", 1, "EARLY"), ("R1", 1, "LATE")})
    inst.pins = {cell: cell in on_rot for cell in inst.cells}
    assert solve(build_model(inst, rule), time_limit=5.0, workers=1).status == "infeasible"
    assert _violations(inst, rule, on_rot)
    inst.pins = {cell: cell in off_rot for cell in inst.cells}
    assert solve(build_model(inst, rule), time_limit=5.0, workers=1).status == "optimal"  # the rule does not bind
    assert _violations(inst, rule, off_rot) == []  # … yet its checker reports the overlap on 2027-07-06


def test_duty_checker_finds_a_long_period_that_another_shift_overlaps() -> None:
    call = ShiftSpec("CALL24", start=dt.time(7), end=dt.time(7), kind="call", in_house_call=True)
    evening = ShiftSpec("EVE", start=dt.time(19), end=dt.time(23))
    inst = Instance(
        name="duty",
        start=dt.date(2027, 7, 5),
        days=2,
        people=(PersonSpec("R1", "resident", 2),),
        shifts=(call, evening),
    )
    duty = [r for r in HARD if r.name == "acgme_max_continuous_duty"]
    calls = frozenset({("R1", 0, "CALL24"), ("R1", 1, "CALL24")})
    assert [v.value for v in check_schedule(Schedule.of(inst, calls), duty)] == [48.0]
    with_evening = calls | {("R1", 0, "EVE")}
    inst.pins = {cell: cell in with_evening for cell in inst.cells}
    assert solve(build_model(inst, duty), time_limit=5.0, workers=1).status == "infeasible"
    assert [v.value for v in check_schedule(Schedule.of(inst, with_evening), duty)] == [48.0]  # finds nothing
