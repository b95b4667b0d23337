"""A realistic, deterministic example run (ids only) for previews, benchmarks and tests.

    python -m rotaflow.validations.report [OUT.html [RESIDENTS DAYS]]

writes its report (see ``__main__``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from rotaflow.validations.report.common import FINDING_COLUMNS, ReportData, utilisation_band

EXAMPLE_SHIFTS = (  # shift_id, hours, min, max, target (filled in this order)
    ("CALL24", 24.0, 1, 1, None),
    ("NIGHT", 12.0, 2, 2, None),
    ("DAY", 12.0, 2, 4, 3),
    ("CLINIC", 9.0, 1, 3, 2),
)
EXAMPLE_ROTATIONS = ("INPT", "ICU", "CLINIC", "NF")
EXAMPLE_RULES = [
    ("acgme_weekly_hours", "80 hours per week, averaged over 4 weeks"),
    ("acgme_day_off_in_seven", "at least 4 free 24-hour periods in every 28 days"),
    ("acgme_max_continuous_duty", "at most 24 hours scheduled plus 4 hours transition"),
    ("acgme_rest_between_shifts", "8 hours between work periods (should)"),
    ("coverage_min", "every shift has its minimum head-count"),
]


def example_data(residents: int = 12, days: int = 28, seed: int = 0, start: str = "2027-07-01") -> ReportData:
    """A realistic, deterministic run (ids only) for previews, benchmarks and tests; it has a few problems."""
    import numpy as np

    rng = np.random.default_rng(seed)
    first = dt.date.fromisoformat(start)
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    people = [f"R{i + 1:03d}" for i in range(residents)]
    pgy = {p: 1 + i % 3 for i, p in enumerate(people)}
    rows: list[tuple[str, str, str, float]] = []
    coverage: list[dict[str, Any]] = []
    after_night: set[str] = set()
    scale = max(1, residents // 12)
    for day in dates:
        order = [people[i] for i in rng.permutation(residents)]
        free = [p for p in order if p not in after_night and rng.random() > 0.06]  # leave, days off
        after_night = set()
        for shift, hours, base_low, base_high, base_target in EXAMPLE_SHIFTS:
            low, high = base_low * scale, base_high * scale  # demand grows with the program
            target = None if base_target is None else base_target * scale
            want = min(high, low + int(rng.integers(0, scale + 1) if rng.random() < 0.6 else 0))
            if rng.random() < 0.03:
                want = low - 1  # a short cell now and then
            chosen, free = free[:want], free[want:]
            rows += [(p, day.isoformat(), shift, hours) for p in chosen]
            if shift in ("NIGHT", "CALL24"):
                after_night |= set(chosen)
            coverage.append(
                {
                    "date": day.isoformat(),
                    "shift_id": shift,
                    "min": low,
                    "max": high,
                    "target": target,
                    "assigned": len(chosen),
                    "met": low <= len(chosen) <= high,
                }
            )
    assignments = pd.DataFrame(rows, columns=["person_id", "date", "shift_id", "hours"])
    assignments["role"] = "resident"
    assignments["pgy"] = assignments["person_id"].map(pgy)
    rotation = {p: EXAMPLE_ROTATIONS[(i // 2) % len(EXAMPLE_ROTATIONS)] for i, p in enumerate(people)}
    assignments["rotation_id"] = assignments["person_id"].map(rotation)
    cover = pd.DataFrame(coverage).astype({"max": "Int64", "target": "Int64"})

    day_index = {d.isoformat(): i for i, d in enumerate(dates)}
    assignments["_week"] = assignments["date"].map(day_index) // 7
    totals = assignments.groupby(["person_id", "_week"])["hours"].sum()
    weeks = range((days + 6) // 7)
    weekly_rows: list[dict[str, Any]] = []
    for person in people:
        series = [
            float(totals.get((person, w), 0.0)) * (1.6 if person == people[0] and w in (1, 2) else 1.0) for w in weeks
        ]
        for w in weeks:
            window = ([52.0] * 3 + series)[w : w + 4]  # the weeks before the block (history) averaged 52 h
            weekly_rows.append(
                {
                    "person_id": person,
                    "week_start": (first + dt.timedelta(days=7 * w)).isoformat(),
                    "hours": round(series[w], 1),
                    "average_4w": round(sum(window) / 4, 1),
                    "limit": 80.0,
                }
            )
    weekly = pd.DataFrame(weekly_rows)
    assignments = assignments.drop(columns="_week")

    per_day = assignments.groupby("date")["hours"].sum()
    capacity = residents * 11.0
    util_rows = []
    for i, day in enumerate(dates):
        required = float(per_day.get(day.isoformat(), 0.0)) * (0.8 + 0.5 * math.sin(i / 4) ** 2)
        value = required / capacity
        util_rows.append(
            {
                "date": day.isoformat(),
                "required_hours": round(required, 1),
                "available_hours": capacity,
                "utilisation": round(value, 4),
                "band": utilisation_band(value),
            }
        )
    utilisation = pd.DataFrame(util_rows)

    scenarios: list[dict[str, Any]] = []
    weak = set(people[:: max(1, residents // 3)])  # people whose loss hurts
    for i, a in enumerate(people):
        for b in people[i:]:
            lost = (a,) if a == b else (a, b)
            uncovered = a == people[0] if a == b else (a in weak and b in weak)
            scenarios.append(
                {
                    "people": lost,
                    "outcome": "uncovered" if uncovered else "covered",
                    "repair_size": None if uncovered else int(rng.integers(0, 12)),
                    "first_uncovered_date": dates[min(3, days - 1)].isoformat() if uncovered else None,
                    "first_uncovered_shift": "NIGHT" if uncovered else None,
                }
            )
    contingency = pd.DataFrame(scenarios)

    nights = assignments[assignments["shift_id"].isin(["NIGHT", "CALL24"])].groupby("person_id").size()
    hours_avg = weekly.groupby("person_id")["hours"].mean()
    burnout_rows = []
    for person in people:
        hours_part = min(50.0, max(0.0, (float(hours_avg.get(person, 0.0)) - 40.0) * 1.2))
        night_part = min(30.0, float(nights.get(person, 0)) * 30.0 / max(1, days / 3))
        rest_part = float(rng.integers(0, 21))
        score = round(min(100.0, hours_part + night_part + rest_part), 1)
        band = "low" if score < 40 else "moderate" if score < 60 else "high" if score < 80 else "very_high"
        burnout_rows.append(
            {
                "person_id": person,
                "score": score,
                "band": band,
                "hours_component": round(hours_part, 1),
                "nights_component": round(night_part, 1),
                "short_rest_component": rest_part,
            }
        )
    burnout = pd.DataFrame(burnout_rows)

    findings_rows: list[dict[str, Any]] = []
    for row in coverage:
        if row["assigned"] < row["min"]:
            findings_rows.append(
                {
                    "rule": "coverage_min",
                    "severity": "violation",
                    "person_id": "",
                    "window_start": row["date"],
                    "window_end": row["date"],
                    "value": float(row["assigned"]),
                    "limit": float(row["min"]),
                    "unit": "people",
                    "message": f"{row['shift_id']} on {row['date']} has {row['assigned']} of {row['min']} people.",
                }
            )
    for row in weekly_rows:
        end = (dt.date.fromisoformat(row["week_start"]) + dt.timedelta(days=6)).isoformat()
        if row["average_4w"] is not None and row["average_4w"] > row["limit"]:
            findings_rows.append(
                {
                    "rule": "acgme_weekly_hours",
                    "severity": "violation",
                    "person_id": row["person_id"],
                    "window_start": row["week_start"],
                    "window_end": end,
                    "value": row["average_4w"],
                    "limit": row["limit"],
                    "unit": "hours_per_week",
                    "message": f"The 4-week average is {row['average_4w']} hours per week, above {row['limit']:.0f}.",
                }
            )
        elif row["hours"] > row["limit"]:
            findings_rows.append(
                {
                    "rule": "acgme_weekly_hours",
                    "severity": "info",
                    "person_id": row["person_id"],
                    "window_start": row["week_start"],
                    "window_end": end,
                    "value": row["hours"],
                    "limit": row["limit"],
                    "unit": "hours",
                    "message": f"This week alone has {row['hours']} hours; the 4-week average is within the limit.",
                }
            )
    for person in people[1:3]:
        findings_rows.append(
            {
                "rule": "acgme_rest_between_shifts",
                "severity": "warning",
                "person_id": person,
                "window_start": dates[min(5, days - 1)].isoformat(),
                "window_end": dates[min(6, days - 1)].isoformat(),
                "value": 7.0,
                "limit": 8.0,
                "unit": "hours",
                "message": "Only 7 hours between two work periods; 8 are expected.",
            }
        )
    findings = pd.DataFrame(findings_rows, columns=list(FINDING_COLUMNS))
    violations = int((findings["severity"] == "violation").sum())
    summary = {
        "run_id": f"example-{seed}",
        "program": "Example Internal Medicine Residency",
        "block_id": "2027-B01",
        "status": "feasible",
        "objective": 412.0,
        "best_bound": 398.5,
        "solve_seconds": 41.7,
        "penalties": {"coverage_target": 240, "fairness_nights": 172},
        "hard_violations": violations,
        "warnings": int((findings["severity"] == "warning").sum()),
        "timezone": "America/New_York",
        "period_start": dates[0].isoformat(),
        "period_end": dates[-1].isoformat(),
    }
    return ReportData(
        summary=summary,
        findings=findings,
        assignments=assignments,
        coverage=cover,
        weekly_hours=weekly,
        utilisation=utilisation,
        contingency=contingency,
        burnout=burnout,
        rules=list(EXAMPLE_RULES),
        links={"findings.csv": "findings.csv", "assignments.csv": "assignments.csv", "Data Docs": "gx/index.html"},
    )
