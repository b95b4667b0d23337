"""Burnout risk: an advisory score per resident, from the schedule alone.

ADVISORY ONLY. This is a transparent heuristic to help a program director notice a heavy
schedule early; it is not a validated clinical instrument and says nothing about a person's
health. It reads only the assignments (and the requests, to count denied ones).

Score = Σ weight × component, each component scaled to 0–1 and clipped; weights sum to 100:

| component | weight | 0 at | 1 at |
|---|---|---|---|
| ``load``: mean hours per week over the period | 25 | 40 h | the weekly limit (80 h) |
| ``trend``: least-squares slope of the weekly totals | 10 | 0 h/week | +10 h/week per week |
| ``consecutive``: longest run of calendar days with work | 15 | 5 days | 12 days |
| ``nights``: share of worked shifts that are nights | 15 | 0 | 50 % |
| ``weekends``: share of weekend days worked | 10 | 0 | 50 % |
| ``calls``: in-house calls per 28 days | 10 | 0 | 9 (the ACGME cap) |
| ``short_rests``: gaps under 10 h between work periods, per 28 days | 10 | 0 | 4 |
| ``denied``: share of request weight not honoured | 5 | 0 | 100 % |

Bands: ``low`` < 25 ≤ ``moderate`` < 50 ≤ ``high`` < 75 ≤ ``very_high``.
A night shift is one of kind ``night``, or one that starts at 18:00 or later local time and
ends the next day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BURNOUT_BANDS", "WEIGHTS", "burnout_scores"]

WEIGHTS: dict[str, float] = {
    "load": 25,
    "trend": 10,
    "consecutive": 15,
    "nights": 15,
    "weekends": 10,
    "calls": 10,
    "short_rests": 10,
    "denied": 5,
}
BURNOUT_BANDS: tuple[tuple[str, float], ...] = (("low", 25), ("moderate", 50), ("high", 75), ("very_high", np.inf))
ADVISORY = "advisory: a schedule heuristic, not a validated clinical instrument"


@dataclass(frozen=True)
class _Scale:
    zero: float
    one: float

    def __call__(self, values: pd.Series) -> pd.Series:
        return ((values - self.zero) / (self.one - self.zero)).clip(0.0, 1.0)


def _band(score: float) -> str:
    for band, upper in BURNOUT_BANDS:
        if score < upper:
            return band
    return "very_high"  # pragma: no cover - the last bound is infinite


def burnout_scores(
    schedule: pd.DataFrame,
    residents: list[str],
    period: tuple[dt.date, dt.date],
    *,
    timezone: str,
    requests: pd.DataFrame | None = None,
    weekly_limit_hours: float = 80.0,
) -> pd.DataFrame:
    """One row per resident: the raw measures, each component (0–1), ``score`` (0–100) and ``band``.

    ``schedule`` has person_id, date, shift_id, start, end (UTC instants), hours, kind and
    in_house_call (``rotaflow.validations.schedule.load_schedule``'s frame).
    """
    first, last = (pd.Timestamp(d) for d in period)
    days = (last - first).days + 1
    sched = schedule.copy()
    sched["date"] = pd.to_datetime(sched["date"])
    sched = sched[sched["person_id"].isin(residents) & (sched["date"] >= first) & (sched["date"] <= last)]
    out = pd.DataFrame(index=pd.Index(sorted(residents), name="person_id"))

    # load and trend: weekly totals from the period start
    week = ((sched["date"] - first).dt.days // 7).astype(int)
    weeks = max(1, -(-days // 7))
    totals = sched.assign(week=week).pivot_table(index="person_id", columns="week", values="hours", aggfunc="sum")
    totals = totals.reindex(index=out.index, columns=range(weeks), fill_value=0.0).fillna(0.0)
    full_weeks = days / 7
    out["mean_weekly_hours"] = (totals.sum(axis=1) / full_weeks).round(2)
    if weeks >= 2:
        x = np.arange(weeks, dtype=float)
        x -= x.mean()
        out["weekly_trend"] = (totals.to_numpy() @ x / (x @ x)).round(2)
    else:
        out["weekly_trend"] = 0.0

    # longest run of consecutive working days
    worked = sched.drop_duplicates(["person_id", "date"]).sort_values(["person_id", "date"])
    gap = worked.groupby("person_id")["date"].diff().dt.days.ne(1)
    run_id = gap.cumsum()
    runs = worked.groupby(["person_id", run_id]).size().groupby(level=0).max()
    out["longest_run_days"] = runs.reindex(out.index).fillna(0).astype(int)

    # nights, weekends, calls
    local_start = sched["start"].dt.tz_convert(timezone)
    local_end = sched["end"].dt.tz_convert(timezone)
    night = (sched["kind"] == "night") | (
        (local_start.dt.hour >= 18) & (local_end.dt.normalize() > local_start.dt.normalize())
    )
    counts = sched.assign(night=night, call=sched["in_house_call"].astype(bool)).groupby("person_id")
    shifts = counts.size().reindex(out.index).fillna(0)
    out["night_share"] = (counts["night"].sum().reindex(out.index).fillna(0) / shifts.where(shifts > 0, 1)).round(3)
    weekend_days = int(sum(1 for d in pd.date_range(first, last) if d.weekday() >= 5)) or 1
    weekend_worked = worked[worked["date"].dt.day_of_week >= 5].groupby("person_id").size()
    out["weekend_share"] = (weekend_worked.reindex(out.index).fillna(0) / weekend_days).round(3)
    calls = counts["call"].sum().reindex(out.index).fillna(0)
    out["calls_per_28_days"] = (calls * 28 / days).round(2)

    # short rests between work periods (back-to-back shifts join one period)
    ordered = sched.sort_values(["person_id", "start"])
    previous_end = ordered.groupby("person_id")["end"].cummax().groupby(ordered["person_id"]).shift(1)
    rest_hours = (ordered["start"] - previous_end).dt.total_seconds() / 3600
    short = ordered.assign(short=(rest_hours > 0) & (rest_hours < 10)).groupby("person_id")["short"].sum()
    out["short_rests_per_28_days"] = (short.reindex(out.index).fillna(0) * 28 / days).round(2)

    out["denied_request_share"] = _denied(sched, requests, out.index, first, last)

    components = pd.DataFrame(index=out.index)
    components["load"] = _Scale(40.0, weekly_limit_hours)(out["mean_weekly_hours"])
    components["trend"] = _Scale(0.0, 10.0)(out["weekly_trend"])
    components["consecutive"] = _Scale(5.0, 12.0)(out["longest_run_days"].astype(float))
    components["nights"] = _Scale(0.0, 0.5)(out["night_share"])
    components["weekends"] = _Scale(0.0, 0.5)(out["weekend_share"])
    components["calls"] = _Scale(0.0, 9.0)(out["calls_per_28_days"])
    components["short_rests"] = _Scale(0.0, 4.0)(out["short_rests_per_28_days"])
    components["denied"] = _Scale(0.0, 1.0)(out["denied_request_share"])
    score = sum(components[name] * weight for name, weight in WEIGHTS.items())
    for name in WEIGHTS:
        out[f"c_{name}"] = components[name].round(3)
    out["score"] = pd.Series(score, index=out.index).round(1)
    out["band"] = [_band(s) for s in out["score"]]
    return out.reset_index()


def _denied(
    sched: pd.DataFrame, requests: pd.DataFrame | None, people: pd.Index, first: pd.Timestamp, last: pd.Timestamp
) -> pd.Series:
    """Share of each person's request weight not honoured in the period (0 without requests)."""
    if requests is None or requests.empty:
        return pd.Series(0.0, index=people)
    req = requests.copy()
    req["date"] = pd.to_datetime(req["date"])
    req = req[req["person_id"].isin(people) & (req["date"] >= first) & (req["date"] <= last)]
    if req.empty:
        return pd.Series(0.0, index=people)
    req["weight"] = pd.to_numeric(req["weight"], errors="coerce").fillna(1.0)
    day_work = set(zip(sched["person_id"], sched["date"], strict=True))
    shift_work = set(zip(sched["person_id"], sched["date"], sched["shift_id"], strict=True))
    honoured = []
    for row in req.itertuples():
        whole_day = row.shift_id is None or (not isinstance(row.shift_id, str) and pd.isna(row.shift_id))
        works = (
            (row.person_id, row.date) in day_work
            if whole_day
            else (row.person_id, row.date, row.shift_id) in shift_work
        )
        honoured.append(works if row.kind == "on" else not works)
    req["denied"] = ~np.array(honoured, dtype=bool)
    denied = req[req["denied"]].groupby("person_id")["weight"].sum()
    total = req.groupby("person_id")["weight"].sum()
    return (denied.reindex(people).fillna(0) / total.reindex(people).fillna(1).where(lambda s: s > 0, 1)).round(3)
