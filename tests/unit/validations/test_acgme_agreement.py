"""The independent ACGME checker and the rule engine's checkers find the same violations.

Random small programs are written as bundles (1-3 residents and maybe a faculty member, 1-3
shift types with random clock times, hand-offs and kinds, blocks starting near a daylight-saving
change, leave rotations in the block and in the blocks before and after it, absences on both sides
of the block, history before the block, and random overrides of the rule set). A random schedule
of the second block is checked by both: the engine on the instance ``rotaflow.validations.instances.block_instance``
builds, the validator from the assignments alone. For every ACGME rule the set of (rule, person,
window) of violation-severity findings is the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotaflow.services.generate import check, findings_rows
from rotaflow.validations.acgme import RULE_NAMES, validate_acgme
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.instances import block_instance, rules_for
from rotaflow.validations.schedule import load_schedule

ACGME = set(RULE_NAMES.values())
ZONES = ("UTC", "Pacific/Honolulu", "America/New_York", "Europe/Berlin")
STARTS = (
    dt.date(2027, 7, 1),
    dt.date(2027, 11, 3),  # New York falls back on 2027-11-07
    dt.date(2027, 10, 28),  # Berlin falls back on 2027-10-31
    dt.date(2027, 3, 10),  # New York springs forward on 2027-03-14
    dt.date(2027, 3, 25),  # Berlin springs forward on 2027-03-28
)
KINDS = ("day", "night", "call", "clinic", "home_call", "admin")
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _csv(header: str, rows: list[list[Any]]) -> bytes:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return (header + "\n" + "".join(",".join(cell(v) for v in row) + "\n" for row in rows)).encode()


@st.composite
def shift_rows(draw: st.DrawFn, index: int) -> list[Any]:
    kind = draw(st.sampled_from(KINDS))
    start = draw(st.integers(0, 47)) * 30
    hours = draw(st.integers(1, 24))
    end = (start + hours * 60) % (24 * 60)
    moonlight = kind == "admin" and draw(st.booleans())
    return [
        f"MOONLIGHT{index}" if moonlight else f"S{index}",
        f"Shift {index}",
        f"{start // 60:02d}:{start % 60:02d}",
        f"{end // 60:02d}:{end % 60:02d}",
        draw(st.sampled_from((0, 0, 30, 240))),
        kind,
        kind != "home_call" and draw(st.booleans()),
        draw(st.sampled_from((True, True, True, False, None))),
        draw(st.sampled_from((None, 1.5, 4.0))) if kind == "home_call" else None,
    ]


@st.composite
def overrides(draw: st.DrawFn) -> dict[str, Any]:
    """constraints.yaml: tighter limits so small programs break them, other variants and scopes."""
    rules: list[dict[str, Any]] = []

    def maybe(rule: str, **choices: tuple[Any, ...]) -> None:
        params = {k: draw(st.sampled_from(v)) for k, v in choices.items()}
        params = {k: v for k, v in params.items() if v is not None}
        entry: dict[str, Any] = {"rule": rule, "params": params}
        scope = draw(st.sampled_from((None, None, "pgy", "rotation", "everyone")))
        if scope == "pgy":
            entry["applies_to"] = {"role": "resident", "pgy": [1, 2]}
        elif scope == "rotation":
            entry["applies_to"] = {"role": "resident", "rotation": ["ROT"]}
        elif scope == "everyone":
            entry["applies_to"] = {}
        if rule != "acgme_pgy1_no_moonlighting" and draw(st.integers(0, 9)) == 0:
            entry["kind"] = "soft"
        if draw(st.integers(0, 14)) == 0:
            entry["enabled"] = False
        rules.append(entry)

    maybe(
        "acgme_weekly_hours",
        limit_hours=(80, 40, 20),
        window_days=(28, 7, 14),
        averaging=(None, "block", "rolling_28d"),
        leave_excluded_from_average=(None, False, True),
    )
    maybe(
        "acgme_day_off_in_seven",
        variant=("averaged", "strict_weekly"),
        min_free_days=(4, 6, 1),
        window_days=(28, 14, 7),
    )
    maybe("acgme_max_continuous_duty", max_scheduled_hours=(24, 12), max_total_hours=(28, 14))
    maybe("acgme_rest_after_call", min_rest_hours=(14, 20), min_call_hours=(23, 8))
    maybe("acgme_call_frequency", max_calls=(9, 2, 1), window_days=(28, 7))
    maybe("acgme_pgy1_no_moonlighting", shifts=(None, ["S0"]))
    return {"rules": rules}


@st.composite
def programs(draw: st.DrawFn) -> tuple[dict[str, bytes], dt.date, dt.date, list[tuple[str, str, str]]]:
    """The files of a drawn program (parsed in the test body, outside the strategy: parsing is
    slow, and any thread touching ``random`` meanwhile would trip Hypothesis' strategy check)."""
    zone = draw(st.sampled_from(ZONES))
    start = draw(st.sampled_from(STARTS)) + dt.timedelta(days=draw(st.integers(-3, 3)))
    days = draw(st.integers(7, 35))
    end = start + dt.timedelta(days=days - 1)
    b0 = start - dt.timedelta(days=28)
    residents = [f"R{n}" for n in range(1, draw(st.integers(1, 3)) + 1)]
    faculty = ["F1"] if draw(st.booleans()) else []
    people = [[r, f"Resident {r}", "", "resident", draw(st.integers(1, 3)), 1, ""] for r in residents]
    people += [[f, "Faculty One", "", "faculty", None, 1, ""] for f in faculty]
    shifts = [draw(shift_rows(n)) for n in range(draw(st.integers(1, 3)))]
    shift_ids = [s[0] for s in shifts]
    b2 = end + dt.timedelta(days=1)
    ra = [[r, "B0", draw(st.sampled_from(("ROT", "ROT", "VAC")))] for r in residents]
    ra += [[r, "B1", draw(st.sampled_from(("ROT", "ROT", "ELEC", "VAC")))] for r in residents]
    ra += [[r, "B2", draw(st.sampled_from(("ROT", "ROT", "VAC")))] for r in residents]
    absences = []
    for person in residents + faculty:
        for _ in range(draw(st.integers(0, 2))):
            first = b0 + dt.timedelta(days=draw(st.integers(0, 28 + days + 27)))
            last = first + dt.timedelta(days=draw(st.integers(0, 9)))
            kind = draw(st.sampled_from(("vacation", "sick", "conference")))
            absences.append([person, first, last, kind, draw(st.sampled_from((True, False, None)))])
    absences = list({(a[0], a[1], a[2], a[3]): a for a in absences}.values())
    everyone = residents + faculty
    history = sorted(
        draw(
            st.sets(
                st.tuples(
                    st.sampled_from(everyone),
                    st.integers(-35, -1).map(lambda n: start + dt.timedelta(days=n)),
                    st.sampled_from(shift_ids),
                ),
                max_size=25,
            )
        )
    )
    density = draw(st.sampled_from((0.2, 0.5, 0.8)))
    cells = sorted(
        (p, (start + dt.timedelta(days=d)).isoformat(), s)
        for p in everyone
        for d in range(days)
        for s in shift_ids
        if draw(st.floats(0, 1)) < density
    )
    files = {
        "program.yaml": yaml.safe_dump(
            {
                "name": "Agreement Program",
                "timezone": zone,
                "acgme": {
                    "averaging": draw(st.sampled_from(("rolling_28d", "block"))),
                    "leave_excluded_from_average": draw(st.booleans()),
                },
            }
        ).encode(),
        "people.csv": _csv("person_id,name,email,role,pgy,fte,skills", people),
        "blocks.csv": _csv(
            "block_id,start_date,end_date",
            [["B0", b0, start - dt.timedelta(days=1)], ["B1", start, end], ["B2", b2, b2 + dt.timedelta(days=27)]],
        ),
        "shifts.csv": _csv(
            "shift_id,name,start,end,transition_minutes,kind,in_house_call,counts_as_work,home_call_hours", shifts
        ),
        "rotations.csv": _csv(
            "rotation_id,name,setting,eligible_shifts",
            [
                ["ROT", "Ward", "inpatient", ";".join(shift_ids)],
                ["ELEC", "Elective", "elective", ";".join(shift_ids)],
                ["VAC", "Vacation", "leave", None],
            ],
        ),
        "rotation_assignments.csv": _csv("person_id,block_id,rotation_id", ra),
        "coverage.csv": _csv(
            "shift_id,applies_on,rotation_id,role,min_pgy,skill,min,max,target",
            [[shift_ids[0], "daily"] + [None] * 4 + [0, None, None]],
        ),
        "absences.csv": _csv("person_id,start_date,end_date,type,blocking", absences),
        "history.csv": _csv("person_id,date,shift_id", [list(h) for h in history]),
        "constraints.yaml": yaml.safe_dump(draw(overrides())).encode(),
    }
    return files, start, end, cells


def engine_violations(bundle: Bundle, cells: list[tuple[str, str, str]], start: dt.date) -> set[tuple[str, ...]]:
    instance = block_instance(bundle, "B1")
    rules = [r for r in rules_for(bundle) if r.name in ACGME]
    found = check(instance, rules, [(p, (dt.date.fromisoformat(d) - start).days, s) for p, d, s in cells])
    return {
        (row["rule"], row["person_id"], row["window_start"], row["window_end"])
        for row in findings_rows(instance, found)
        if row["severity"] == "violation"
    }


def validator_violations(
    bundle: Bundle, cells: list[tuple[str, str, str]], period: tuple[dt.date, dt.date]
) -> set[tuple[str, ...]]:
    frame = pd.DataFrame(cells, columns=["person_id", "date", "shift_id"])
    report = validate_acgme(bundle, load_schedule(bundle, frame), period=period)
    violations = report.findings[report.findings["severity"] == "violation"]
    return {
        (row.rule, row.person_id, row.window_start.date().isoformat(), row.window_end.date().isoformat())
        for row in violations.itertuples()
    }


@SETTINGS
@given(programs())
def test_the_validator_and_the_engine_find_the_same_violations(program: Any) -> None:
    files, start, end, cells = program
    bundle = parse_bundle(files)
    engine = engine_violations(bundle, cells, start)
    mine = validator_violations(bundle, cells, (start, end))
    assert mine == engine, {"only engine": sorted(engine - mine), "only validator": sorted(mine - engine)}
