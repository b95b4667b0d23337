"""Coverage, structure and utilisation of a schedule, recomputed from the bundle and the assignments.

Like the ACGME validator, this module is a second opinion: it reads only the bundle's frames and
a schedule frame (``rotaflow.validations.schedule.load_schedule``) and shares no code with the solver.

* **Coverage**: every coverage.csv row that applies on a date (a dated row replaces the pattern
  rows of its shift on that date) counts the assigned people who match its filters (rotation on
  that date, role, minimum PGY, skill) against ``min`` and ``max`` (hard: violations) and
  ``target`` (soft: a warning below it).
* **Structure**: shifts outside the person's rotation (``rotation_eligibility``), work on a
  blocking absence (``blocking_absence``; work during a non-blocking absence is reported as ``info``
  under ``work_during_absence``),
  overlapping shifts of one person (``one_shift_at_a_time``) and the faculty supervision ratio
  (``supervision_ratio``: faculty ≥ ⌈PGY-1 ÷ 2 + other residents ÷ 4⌉ on every shift that has a
  faculty-only coverage row that day).
* **Utilisation** per day and per block = required hours ÷ available hours. Required hours are
  Σ ``min`` × the shift's work hours over the coverage rows of the day. Available hours are, for
  every person eligible for at least one shift demanded that day and not on a blocking absence,
  ``fte`` × the weekly limit ÷ 7 (80 h ÷ 7 ≈ 11.4 h a day: the most a full-time resident may
  average). Bands as in docs/acgme.md: green < 70 %, yellow 70–80 %, orange 80–90 %, red 90–95 %,
  black > 95 %.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rotaflow.validations.bundle import Bundle
from rotaflow.validations.contracts import FINDING_COLUMNS
from rotaflow.validations.findings import finding_kind
from rotaflow.validations.schedule import ShiftTable, slot_instants
from rotaflow.validations.vocabulary import applies_on_weekday

__all__ = [
    "BANDS",
    "CoverageReport",
    "band_of",
    "person_days",
    "validate_coverage",
]

BANDS: tuple[tuple[str, float], ...] = (
    ("green", 0.70),
    ("yellow", 0.80),
    ("orange", 0.90),
    ("red", 0.95),
)
"""(band, bound) in order: green < 0.70 ≤ yellow < 0.80 ≤ orange < 0.90 ≤ red ≤ 0.95 < black (docs/acgme.md)."""


def band_of(utilisation: float) -> str:
    """The docs/acgme.md utilisation band of a ratio (0.72 → yellow; exactly 0.95 is still red)."""
    for band, upper in BANDS[:3]:
        if utilisation < upper:
            return band
    return "red" if utilisation <= BANDS[3][1] else "black"


@dataclass
class CoverageReport:
    """What ``validate_coverage`` found."""

    coverage: pd.DataFrame
    """One row per coverage requirement and date: date, shift_id, row, filters, min, max, target, assigned, status
    (short, met or over) and requirement (whom the row counts, in words: "residents on INPT")."""
    utilisation: pd.DataFrame
    """Per day: date, block_id, required_hours, available_hours, utilisation, band."""
    blocks: pd.DataFrame
    """Per block: block_id, required_hours, available_hours, utilisation, band."""
    findings: pd.DataFrame
    """findings.csv rows (docs/formats.md)."""


def _none(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _dates(first: dt.date, last: dt.date) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="D")


def shift_hours(bundle: Bundle, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Work hours of every shift type on every date: date, shift_id, hours (DST-aware)."""
    table = ShiftTable.of(bundle)
    dates = _dates(first, last)
    epoch_days = (dates - pd.Timestamp("1970-01-01")).days.to_numpy(dtype=np.int64)
    days = np.repeat(epoch_days, len(table.ids))
    codes = np.tile(np.arange(len(table.ids), dtype=np.int64), len(dates))
    work_minutes = slot_instants(bundle.program.timezone, table, days, codes)[3]
    return pd.DataFrame(
        {
            "date": np.repeat(dates, len(table.ids)),
            "shift_id": np.tile(table.ids, len(dates)),
            "hours": work_minutes / 60,
        }
    )


def _block_of(blocks: pd.DataFrame, dates: pd.Series) -> pd.Series:
    """The block id of each date (None outside every block)."""
    out = pd.Series([None] * len(dates), index=dates.index, dtype=object)
    for block in blocks.reset_index().itertuples():
        inside = (dates >= block.start_date) & (dates <= block.end_date)
        out[inside] = block.block_id
    return out


def person_days(bundle: Bundle, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Every person on every date of the period: role, pgy, fte, skills, block, rotation,
    the shifts they may work, and whether a blocking or a non-blocking absence covers the date."""
    frames = bundle.frames
    people = frames["people"].reset_index()
    dates = pd.DataFrame({"date": _dates(first, last)})
    dates["block_id"] = _block_of(frames["blocks"].reset_index(), dates["date"])
    grid = people[["person_id", "role", "pgy", "fte", "skills"]].merge(dates, how="cross")
    ra = bundle.rotation_assignments().reset_index()[["person_id", "block_id", "rotation_id"]]
    grid = grid.merge(ra, on=["person_id", "block_id"], how="left")
    rotations = frames["rotations"].reset_index()
    eligible = {
        row.rotation_id: frozenset() if _none(row.eligible_shifts) else frozenset(str(row.eligible_shifts).split(";"))
        for row in rotations.itertuples()
    }
    setting = dict(zip(rotations["rotation_id"], rotations["setting"], strict=True))
    coverage = frames["coverage"]
    faculty_shifts = frozenset(coverage.loc[coverage["role"] == "faculty", "shift_id"])

    def allowed(rotation: Any, role: Any) -> frozenset[str]:
        if not _none(rotation):
            return eligible.get(rotation, frozenset())
        return faculty_shifts if role == "faculty" else frozenset()

    grid["allowed"] = [allowed(r, role) for r, role in zip(grid["rotation_id"], grid["role"], strict=True)]
    grid["setting"] = grid["rotation_id"].map(setting)
    grid["blocked"] = False
    grid["absent"] = False
    absences = frames["absences"]
    if len(absences):
        key = grid.set_index(["person_id", "date"]).index
        for row in absences.reset_index().itertuples():
            span = _dates(row.start_date.date(), row.end_date.date())
            hit = key.isin(pd.MultiIndex.from_product([[row.person_id], span]))
            blocking = True if _none(row.blocking) else bool(row.blocking)
            grid.loc[hit, "blocked" if blocking else "absent"] = True
    grid["fte"] = grid["fte"].astype("Float64").fillna(1.0).astype(float)
    return grid


def demands(bundle: Bundle, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The coverage rows that apply on each date (``row`` = coverage.csv data row, 1-based)."""
    coverage = bundle.frames["coverage"].reset_index(drop=True).copy()
    coverage["row"] = np.arange(1, len(coverage) + 1)
    dates = pd.DataFrame({"date": _dates(first, last)})
    dates["weekday"] = dates["date"].dt.day_of_week
    dated_mask = coverage["applies_on"].str.len() == 10
    dated = coverage[dated_mask].copy()
    dated["date"] = pd.to_datetime(dated["applies_on"])
    dated = dated[(dated["date"] >= pd.Timestamp(first)) & (dated["date"] <= pd.Timestamp(last))]
    pattern = coverage[~dated_mask].merge(dates, how="cross")
    pattern = pattern[
        [applies_on_weekday(p, w) for p, w in zip(pattern["applies_on"], pattern["weekday"], strict=True)]
    ]
    overridden = pd.MultiIndex.from_frame(dated[["date", "shift_id"]])
    pattern = pattern[~pd.MultiIndex.from_frame(pattern[["date", "shift_id"]]).isin(overridden)]
    out = pd.concat([pattern.drop(columns="weekday"), dated], ignore_index=True)
    return out.sort_values(["date", "shift_id", "row"]).reset_index(drop=True)


def _matches(frame: pd.DataFrame) -> pd.Series:
    """Whether the assigned person (columns *_p) meets the coverage row's filters (columns *_c)."""
    ok = frame["rotation_id_c"].isna() | (frame["rotation_id_c"] == frame["rotation_id_p"])
    ok &= frame["role_c"].isna() | (frame["role_c"] == frame["role_p"])
    pgy = frame["pgy"].astype("Float64")
    ok &= frame["min_pgy"].isna() | (pgy.fillna(-1) >= frame["min_pgy"].astype("Float64").fillna(0))
    ok &= frame["skill"].isna() | pd.Series(
        [
            not _none(skill) and not _none(tags) and skill in str(tags).split(";")
            for skill, tags in zip(frame["skill"], frame["skills"], strict=True)
        ],
        index=frame.index,
        dtype=bool,
    )
    return ok.fillna(False).astype(bool)


def _finding(
    rule: str,
    severity: str,
    person: str,
    first: pd.Timestamp,
    last: pd.Timestamp,
    value: float | None,
    limit: float | None,
    unit: str,
    message: str,
    shift: str | None = None,
) -> dict[str, Any]:
    """One findings.csv row; with ``shift``, a per-shift finding: its ``date`` (``first``) and ``shift_id``."""
    return {
        "rule": rule,
        "severity": severity,
        "person_id": person,
        "window_start": first.date().isoformat(),
        "window_end": last.date().isoformat(),
        "value": value,
        "limit": limit,
        "unit": unit,
        "message": message,
        "kind": finding_kind(rule, severity),
        "date": first.date().isoformat() if shift is not None else None,
        "shift_id": shift,
    }


def _label(date: pd.Timestamp) -> str:
    return date.date().isoformat()


def validate_coverage(
    bundle: Bundle,
    schedule: pd.DataFrame,
    *,
    period: tuple[dt.date, dt.date] | None = None,
    weekly_limit_hours: float = 80.0,
    supervision: tuple[int, int] | None = (2, 4),
) -> CoverageReport:
    """Coverage, structure and utilisation of ``schedule`` over ``period`` (default: its dates).

    ``schedule`` needs person_id, date, shift_id, start and end (``load_schedule``'s frame).
    ``supervision`` is (PGY-1 per faculty, others per faculty), or None to skip that check.
    """
    sched = schedule.copy()
    sched["date"] = pd.to_datetime(sched["date"])
    if period is None:
        if sched.empty:
            raise ValueError("an empty schedule needs an explicit period")
        period = (sched["date"].min().date(), sched["date"].max().date())
    first, last = period
    sched = sched[(sched["date"] >= pd.Timestamp(first)) & (sched["date"] <= pd.Timestamp(last))]
    days = person_days(bundle, first, last)
    findings: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ coverage
    need = demands(bundle, first, last)
    assigned = sched[["person_id", "date", "shift_id"]].merge(days, on=["person_id", "date"], how="left")
    pairs = need.merge(assigned, on=["date", "shift_id"], how="left", suffixes=("_c", "_p"))
    pairs = pairs[pairs["person_id"].notna()]
    counted = pairs[_matches(pairs)].groupby(["date", "shift_id", "row"]).size()
    need["assigned"] = (
        pd.MultiIndex.from_frame(need[["date", "shift_id", "row"]]).map(counted.to_dict()).fillna(0).astype(int)
        if len(need)
        else pd.Series(dtype=int)
    )
    status = np.where(need["assigned"] < need["min"].astype(int), "short", "met")
    over = need["max"].notna() & (need["assigned"] > need["max"].astype("Float64").fillna(np.inf))
    need["status"] = np.where(over.to_numpy(dtype=bool), "over", status)
    need["requirement"] = [_describe(row) for row in need.itertuples()]
    for row in need.itertuples():
        what = row.requirement
        said = f"{row.shift_id} on {_label(row.date)} has {row.assigned} {what}"
        where = f" (coverage.csv row {row.row})"
        checks = [
            ("short", "coverage", "violation", row.min, f"{said}; it needs at least {row.min}{where}"),
            ("over", "coverage", "violation", row.max, f"{said}; at most {row.max} are allowed{where}"),
        ]
        for kind, rule, severity, limit, message in checks:
            if row.status == kind:
                findings.append(
                    _finding(
                        rule,
                        severity,
                        "",
                        row.date,
                        row.date,
                        float(row.assigned),
                        float(limit),
                        "people",
                        message,
                        row.shift_id,
                    )
                )
        if not _none(row.target) and row.assigned < row.target and row.status != "short":
            findings.append(
                _finding(
                    "coverage_target",
                    "warning",
                    "",
                    row.date,
                    row.date,
                    float(row.assigned),
                    float(row.target),
                    "people",
                    f"{said}; its target is {row.target}",
                    row.shift_id,
                )
            )

    # ------------------------------------------------------------------ structure
    for row in assigned.itertuples():
        if isinstance(row.allowed, frozenset) and row.shift_id not in row.allowed:
            why = f"rotation {row.rotation_id}" if not _none(row.rotation_id) else "no rotation in this block"
            findings.append(
                _finding(
                    "rotation_eligibility",
                    "violation",
                    row.person_id,
                    row.date,
                    row.date,
                    None,
                    None,
                    "shifts",
                    f"{row.person_id} works {row.shift_id} on {_label(row.date)}, which {why} does not allow",
                    row.shift_id,
                )
            )
        if row.blocked is True:
            findings.append(
                _finding(
                    "blocking_absence",
                    "violation",
                    row.person_id,
                    row.date,
                    row.date,
                    None,
                    None,
                    "shifts",
                    f"{row.person_id} works {row.shift_id} on {_label(row.date)} during a blocking absence",
                    row.shift_id,
                )
            )
        elif row.absent is True:
            findings.append(
                _finding(
                    "work_during_absence",
                    "info",
                    row.person_id,
                    row.date,
                    row.date,
                    None,
                    None,
                    "shifts",
                    f"{row.person_id} works {row.shift_id} on {_label(row.date)} during a non-blocking absence",
                    row.shift_id,
                )
            )
    findings += _overlaps(sched)
    if supervision is not None:
        findings += _supervision(need, assigned, supervision)

    # ------------------------------------------------------------------ utilisation
    hours = shift_hours(bundle, first, last)
    need_hours = need.merge(hours, on=["date", "shift_id"], how="left")
    need_hours["required"] = need_hours["min"].astype(float) * need_hours["hours"].fillna(0.0)
    required = need_hours.groupby("date")["required"].sum()
    demanded = need.groupby("date")["shift_id"].agg(frozenset)
    capacity = days.copy()
    capacity["demanded"] = capacity["date"].map(demanded)
    capacity["eligible"] = [
        isinstance(d, frozenset) and bool(a & d) and not b
        for a, d, b in zip(capacity["allowed"], capacity["demanded"], capacity["blocked"], strict=True)
    ]
    capacity["hours"] = np.where(capacity["eligible"], capacity["fte"] * weekly_limit_hours / 7, 0.0)
    available = capacity.groupby("date")["hours"].sum()
    util = pd.DataFrame({"date": _dates(first, last)})
    util["block_id"] = _block_of(bundle.frames["blocks"].reset_index(), util["date"])
    util["required_hours"] = util["date"].map(required).fillna(0.0).round(2)
    util["available_hours"] = util["date"].map(available).fillna(0.0).round(2)
    util["utilisation"] = _ratio(util["required_hours"], util["available_hours"])
    util["band"] = [band_of(u) for u in util["utilisation"]]
    blocks = (
        util.dropna(subset=["block_id"])
        .groupby("block_id", sort=True)[["required_hours", "available_hours"]]
        .sum()
        .reset_index()
    )
    blocks["utilisation"] = _ratio(blocks["required_hours"], blocks["available_hours"])
    blocks["band"] = [band_of(u) for u in blocks["utilisation"]]
    for row in util.itertuples():
        if row.band in ("red", "black"):
            findings.append(
                _finding(
                    "utilisation",
                    "warning",
                    "",
                    row.date,
                    row.date,
                    round(float(row.utilisation) * 100, 1),
                    95.0 if row.band == "black" else 90.0,
                    "percent",
                    f"On {_label(row.date)} the required hours use {row.utilisation:.0%} of the available hours "
                    f"({row.band} band)",
                )
            )
    for row in blocks.itertuples():
        if row.band != "green":
            span = util[util["block_id"] == row.block_id]["date"]
            findings.append(
                _finding(
                    "utilisation",
                    "warning" if row.band in ("red", "black") else "info",
                    "",
                    span.min(),
                    span.max(),
                    round(float(row.utilisation) * 100, 1),
                    70.0,
                    "percent",
                    f"Block {row.block_id} needs {row.utilisation:.0%} of the available hours ({row.band} band)",
                )
            )
    frame = pd.DataFrame(findings, columns=FINDING_COLUMNS)
    return CoverageReport(coverage=need, utilisation=util, blocks=blocks, findings=frame)


def _ratio(required: pd.Series, available: pd.Series) -> pd.Series:
    """required ÷ available, rounded; no capacity with demand is infinitely over (shown as 10 = 1000 %)."""
    ratio = np.where(available > 0, required / available.where(available > 0, 1.0), np.where(required > 0, 10.0, 0.0))
    return pd.Series(np.round(ratio, 4), index=required.index)


def _describe(row: Any) -> str:
    """The people a coverage row counts, in words: "residents on INPT of PGY-2 or above"."""
    noun = {"resident": "residents", "faculty": "faculty"}.get("" if _none(row.role) else str(row.role), "people")
    qualifiers = []
    if not _none(row.rotation_id):
        qualifiers.append(f"on {row.rotation_id}")
    if not _none(row.min_pgy):
        qualifiers.append(f"of PGY-{int(row.min_pgy)} or above")
    if not _none(row.skill):
        qualifiers.append(f"with skill {row.skill}")
    return " ".join([noun, *qualifiers])


def _overlaps(sched: pd.DataFrame) -> list[dict[str, Any]]:
    """Two shifts of one person that overlap in real time (reported on the later-starting one)."""
    out: list[dict[str, Any]] = []
    if sched.empty or "start" not in sched or "end" not in sched:
        return out
    frame = sched.sort_values(["person_id", "start"]).reset_index(drop=True)
    running_end = frame.groupby("person_id")["end"].cummax().groupby(frame["person_id"]).shift(1)
    clash = running_end.notna() & (frame["start"] < running_end)
    for i in np.flatnonzero(clash.to_numpy(dtype=bool)):
        row = frame.iloc[i]
        overlap = (min(running_end.iloc[i], row["end"]) - row["start"]).total_seconds() / 3600
        out.append(
            _finding(
                "one_shift_at_a_time",
                "violation",
                row["person_id"],
                row["date"],
                row["date"],
                round(overlap, 2),
                0.0,
                "hours",
                f"{row['person_id']} has two shifts overlapping by {overlap:.1f} h on {_label(row['date'])}",
                str(row["shift_id"]),
            )
        )
    return out


def _supervision(need: pd.DataFrame, assigned: pd.DataFrame, ratio: tuple[int, int]) -> list[dict[str, Any]]:
    """Faculty ≥ ⌈PGY-1 ÷ a + other residents ÷ b⌉ on each shift with a faculty-only coverage row."""
    pgy1_per, others_per = ratio
    supervised = need[(need["role"] == "faculty") & (need["min"].astype(int) > 0)][["date", "shift_id"]]
    supervised = supervised.drop_duplicates()
    out: list[dict[str, Any]] = []
    if supervised.empty:
        return out
    on = assigned.merge(supervised, on=["date", "shift_id"])
    for key, group in on.groupby(["date", "shift_id"]):
        date, shift = key
        faculty = int((group["role"] == "faculty").sum())
        residents = group[group["role"] == "resident"]
        pgy1 = int((residents["pgy"] == 1).sum())
        others = len(residents) - pgy1
        needed = math.ceil(pgy1 / pgy1_per + others / others_per - 1e-9)
        if faculty < needed:
            out.append(
                _finding(
                    "supervision_ratio",
                    "violation",
                    "",
                    date,
                    date,
                    float(faculty),
                    float(needed),
                    "people",
                    f"{shift} on {_label(date)} has {faculty} faculty for {pgy1} PGY-1 and {others} other residents; "
                    f"it needs {needed}",
                    str(shift),
                )
            )
    return out
