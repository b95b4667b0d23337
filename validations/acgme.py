"""The independent ACGME checker: every work-hour rule recomputed from the assignments alone.

This is the "second opinion" on a schedule. It shares no code with the rule engine
(``constraints/``): it reads only the assignments, the bundle (people, blocks, rotations,
absences, history) and the configured limits, and computes on timezone-aware instants with
numpy — per-person day × minute matrices with cumulative sums for the rolling windows, sorted
interval arrays for continuous duty, rest and free days. See docs/acgme.md for the rules.

Conventions, the same as the engine's checkers so the two can be compared:

* A day starts at local midnight; a shift crossing a window's edge counts pro rata by elapsed
  time. Windows are the evaluated span's days: rolling windows are every window that touches
  the span (reaching back ``window_days - 1`` days into history, and past its end, where nothing
  is scheduled yet); block windows are fixed blocks from the span's first day; free-day windows
  running past the span count the days after it as free.
* Work before the span (history.csv, a passed history, schedule rows before the span) counts in
  every window, period and gap it touches, but a weekly-hours or call window is reported only when
  it holds scheduled work of the span, a duty period only when it holds a scheduled shift, a short
  rest only before a scheduled shift. Rows after the span are not seen.
* Leave (blocking absences, a rotation whose setting is ``leave``) leaves the weekly-hours average:
  limit = 80 × non-leave days ÷ 7 per 28-day window, counting the window's leave days on both sides
  of the span (a window reaching back into an earlier block or past the span's end counts the leave
  known there, as the later or earlier block's own windows will).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from rotaflow.validations.bundle import Bundle
from rotaflow.validations.findings import with_kinds
from rotaflow.validations.schedule import (
    SCHEDULE_COLUMNS,
    empty_schedule,
    history_frame,
    load_schedule,
    local_midnights,
)

__all__ = [
    "RULE_NAMES",
    "AcgmeLimits",
    "AcgmeReport",
    "CallFrequency",
    "ContinuousDuty",
    "DayOffInSeven",
    "Pgy1NoMoonlighting",
    "RestAfterCall",
    "RestBetweenShifts",
    "RuleScope",
    "WeeklyHours",
    "limits_for",
    "validate_acgme",
]

DAY = 86_400
HOUR = 3_600
HISTORY_DAYS = 40
"""Days before the span whose work is read (the engine reads as far back)."""

RULE_NAMES = {
    "weekly_hours": "acgme_weekly_hours",
    "day_off_in_seven": "acgme_day_off_in_seven",
    "max_continuous_duty": "acgme_max_continuous_duty",
    "rest_after_call": "acgme_rest_after_call",
    "rest_between_shifts": "acgme_rest_between_shifts",
    "call_frequency": "acgme_call_frequency",
    "pgy1_no_moonlighting": "acgme_pgy1_no_moonlighting",
}
"""Field of :class:`AcgmeLimits` → rule name (docs/acgme.md)."""
_SEVERITY_ORDER = {"violation": 0, "warning": 1, "info": 2}


# --------------------------------------------------------------------------- limits


class RuleScope(BaseModel):
    """Whether a rule is checked, how hard, and for whom (``applies_to`` of the rule set)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    kind: Literal["hard", "soft"] = "hard"
    """hard: a broken "must" is a violation; soft: a warning."""
    role: Literal["resident", "faculty"] | None = "resident"
    pgy: list[int] | None = None
    person_ids: list[str] | None = None
    rotation: list[str] | None = None
    """Weekly hours and call frequency: only windows touching days on these rotations."""


class WeeklyHours(RuleScope):
    """80 hours a week averaged over 4 weeks, with early warnings below it."""

    limit_hours: float = Field(default=80.0, gt=0, le=88)
    window_days: int = Field(default=28, ge=7)
    averaging: Literal["rolling_28d", "block"] = "rolling_28d"
    leave_excluded_from_average: bool = True
    info_hours: float = Field(default=75.0, ge=0, description="a 4-week average above this is reported as info")
    warning_hours: float = Field(default=78.0, ge=0, description="a 4-week average above this is a warning")


class DayOffInSeven(RuleScope):
    """At least 4 free 24-hour periods in every 28 days (or one in every 7 days, strictly)."""

    variant: Literal["averaged", "strict_weekly"] = "averaged"
    min_free_days: int = Field(default=4, ge=0)
    window_days: int = Field(default=28, ge=7)


class ContinuousDuty(RuleScope):
    """A period of duty is at most 24 hours scheduled, 28 hours with transition."""

    max_scheduled_hours: float = Field(default=24.0, gt=0)
    max_total_hours: float = Field(default=28.0, gt=0)


class RestAfterCall(RuleScope):
    """14 hours free after a 24-hour in-house call."""

    min_rest_hours: float = Field(default=14.0, ge=0)
    min_call_hours: float = Field(default=23.0, gt=0, description="scheduled length that makes a 24-hour call")


class RestBetweenShifts(RuleScope):
    """8 hours free between work periods (a "should": always a warning)."""

    kind: Literal["hard", "soft"] = "soft"
    min_rest_hours: float = Field(default=8.0, ge=0)


class CallFrequency(RuleScope):
    """At most 9 in-house calls in any 28 days."""

    max_calls: int = Field(default=9, ge=0)
    window_days: int = Field(default=28, ge=1)


class Pgy1NoMoonlighting(RuleScope):
    """A PGY-1 resident holds no moonlighting shift."""

    shifts: list[str] | None = Field(
        default=None, description="moonlighting shifts; default: admin shifts whose id says moonlight"
    )


class AcgmeLimits(BaseModel):
    """Every ACGME parameter the checker uses, with the defaults of docs/acgme.md."""

    model_config = ConfigDict(extra="forbid")

    weekly_hours: WeeklyHours = Field(default_factory=WeeklyHours)
    day_off_in_seven: DayOffInSeven = Field(default_factory=DayOffInSeven)
    max_continuous_duty: ContinuousDuty = Field(default_factory=ContinuousDuty)
    rest_after_call: RestAfterCall = Field(default_factory=RestAfterCall)
    rest_between_shifts: RestBetweenShifts = Field(default_factory=RestBetweenShifts)
    call_frequency: CallFrequency = Field(default_factory=CallFrequency)
    pgy1_no_moonlighting: Pgy1NoMoonlighting = Field(default_factory=Pgy1NoMoonlighting)

    def longest_window(self) -> int:
        strict = self.day_off_in_seven.variant == "strict_weekly"
        return max(
            self.weekly_hours.window_days,
            7 if strict else self.day_off_in_seven.window_days,
            self.call_frequency.window_days,
        )


def limits_for(bundle: Bundle) -> AcgmeLimits:
    """The limits of a bundle: program.yaml's ``acgme:`` section and the rule set with its overrides.

    A rule the rule set leaves out (or disables) is not checked; when a rule set holds several
    entries of one rule, the first is used.
    """
    from rotaflow.constraints.ruleset import configure, load_ruleset, merge_overrides  # configuration only

    configured = configure(merge_overrides(load_ruleset(), bundle.constraints))
    program = bundle.program.acgme
    values: dict[str, RuleScope] = {}
    for name, model in AcgmeLimits.model_fields.items():
        cls = model.annotation
        assert isinstance(cls, type) and issubclass(cls, RuleScope)
        entry = next((c for c in configured if c.name == RULE_NAMES[name]), None)
        if entry is None:
            values[name] = cls(enabled=False)
            continue
        params = {k: v for k, v in entry.params.model_dump().items() if v is not None and k in cls.model_fields}
        if name == "weekly_hours":
            params.setdefault("averaging", program.averaging)
            params.setdefault("leave_excluded_from_average", program.leave_excluded_from_average)
        selector = entry.selector
        values[name] = cls(
            kind=entry.kind,
            role=selector.role,
            pgy=selector.pgy,
            person_ids=selector.person_ids,
            rotation=selector.rotation,
            **params,
        )
    return AcgmeLimits.model_validate({k: v.model_dump() for k, v in values.items()})


# --------------------------------------------------------------------------- report


@dataclass
class AcgmeReport:
    """What the checker found.

    ``findings`` has the columns of findings.csv; ``weekly`` one row per person and 7-day week
    of the span (the week's own hours, the 4-week average of the window ending with it (block
    averaging: of its block) and that window's limit); ``windows`` one row per person and
    weekly-hours window evaluated.
    """

    findings: pd.DataFrame
    weekly: pd.DataFrame
    windows: pd.DataFrame
    period: tuple[dt.date, dt.date] | None
    limits: AcgmeLimits = field(repr=False)

    @property
    def violations(self) -> pd.DataFrame:
        return self.findings[self.findings["severity"] == "violation"]

    @property
    def ok(self) -> bool:
        return self.violations.empty


def _empty_findings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rule": pd.Series([], dtype=str),
            "severity": pd.Series([], dtype=str),
            "person_id": pd.Series([], dtype=str),
            "window_start": pd.Series([], dtype="datetime64[ns]"),
            "window_end": pd.Series([], dtype="datetime64[ns]"),
            "value": pd.Series([], dtype="Float64"),
            "limit": pd.Series([], dtype="Float64"),
            "unit": pd.Series([], dtype=str),
            "message": pd.Series([], dtype=str),
        }
    )


_WEEKLY_COLUMNS = {
    "person_id": str,
    "week_start": "datetime64[ns]",
    "week_end": "datetime64[ns]",
    "hours": float,
    "average_4w": float,
    "limit": float,
}
_WINDOW_COLUMNS = {
    "person_id": str,
    "window_start": "datetime64[ns]",
    "window_end": "datetime64[ns]",
    "hours": float,
    "average_per_week": float,
    "limit": float,
    "leave_days": int,
    "scheduled": bool,
}


def _empty(columns: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in columns.items()})  # type: ignore[call-overload]


# --------------------------------------------------------------------------- the data


@dataclass
class _Data:
    """The span, the people and every row that matters, as arrays on one day axis.

    Day index 0 of the axis is ``origin``; the span is days ``f``..``l``; instants are seconds
    from the axis's first local midnight.
    """

    bundle: Bundle
    people: np.ndarray
    role: np.ndarray
    pgy: np.ndarray
    origin: np.datetime64
    f: int
    l: int  # noqa: E741
    n: int
    mid: np.ndarray
    person: np.ndarray
    day: np.ndarray
    start: np.ndarray
    sched_end: np.ndarray
    end: np.ndarray
    work: np.ndarray
    call: np.ndarray
    scheduled: np.ndarray
    shift: np.ndarray

    @property
    def size(self) -> int:
        return len(self.people)

    def dates(self, index: np.ndarray) -> np.ndarray:
        return self.origin + np.asarray(index, dtype=np.int64).astype("timedelta64[D]")

    def labels(self, index: np.ndarray) -> list[str]:
        return list(np.datetime_as_string(self.dates(index), unit="D"))

    def day_matrix(self, values: np.ndarray, days: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """people × days sums of ``values`` on ``days`` (rows outside the axis are left out)."""
        keep = (days >= 0) & (days < self.n)
        if mask is not None:
            keep &= mask
        flat = self.person[keep] * self.n + days[keep]
        return np.bincount(flat, weights=values[keep], minlength=self.size * self.n).reshape(self.size, self.n)

    def selected(self, scope: RuleScope) -> np.ndarray:
        out = np.ones(self.size, dtype=bool)
        if scope.role is not None:
            out &= self.role == scope.role
        if scope.pgy is not None:
            out &= np.isin(self.pgy, np.array(scope.pgy, dtype=float))
        if scope.person_ids is not None:
            out &= np.isin(self.people, np.array(scope.person_ids, dtype=object))
        return out

    def spans(self, frame: pd.DataFrame, first: str, last: str, *, upto: int | None = None) -> np.ndarray:
        """people × days: True on the days of the (person_id, first, last) date ranges given."""
        marks = np.zeros((self.size, self.n + 1), dtype=np.int64)
        if not frame.empty:
            code = pd.Index(self.people).get_indexer(frame["person_id"].astype(str))
            lo = (frame[first].to_numpy(dtype="datetime64[D]") - self.origin).astype(np.int64)
            hi = (frame[last].to_numpy(dtype="datetime64[D]") - self.origin).astype(np.int64)
            hi = np.minimum(hi, self.n - 1 if upto is None else upto)
            lo = np.maximum(lo, 0)
            keep = (code >= 0) & (hi >= lo)
            np.add.at(marks, (code[keep], lo[keep]), 1)
            np.add.at(marks, (code[keep], hi[keep] + 1), -1)
        return np.cumsum(marks, axis=1)[:, : self.n] > 0

    def rotation_days(self, rotations: Iterable[str]) -> np.ndarray:
        """people × days: on one of ``rotations`` (only days of the span)."""
        frames = self.bundle.frames
        ra = self.bundle.rotation_assignments()
        ra = ra[ra["rotation_id"].isin(list(rotations))].merge(frames["blocks"], on="block_id")
        marks = self.spans(ra, "start_date", "end_date", upto=self.l)
        marks[:, : self.f] = False
        return marks

    def leave_days(self) -> np.ndarray:
        """people × days of leave, before, inside and after the span: blocking absences and leave rotations."""
        frames = self.bundle.frames
        absences = frames["absences"]
        blocking = absences[absences["blocking"].astype("boolean").fillna(True).astype(bool)]
        rotations = frames["rotations"]
        leave = rotations.loc[rotations["setting"] == "leave", "rotation_id"]
        ra = self.bundle.rotation_assignments()
        on_leave = ra[ra["rotation_id"].isin(leave)].merge(frames["blocks"], on="block_id")
        return self.spans(blocking, "start_date", "end_date") | self.spans(on_leave, "start_date", "end_date")


def _seconds(series: pd.Series) -> np.ndarray:
    return (series.astype("datetime64[ns, UTC]").astype("int64") // 1_000_000_000).to_numpy(dtype=np.int64)


def _prepare(
    bundle: Bundle, schedule: pd.DataFrame, history: pd.DataFrame, first: dt.date, last: dt.date, back: int, ahead: int
) -> _Data:
    dates = schedule["date"]
    in_span = (dates >= pd.Timestamp(first)) & (dates <= pd.Timestamp(last))
    earliest = pd.Timestamp(first - dt.timedelta(days=back))
    before = pd.concat([schedule[dates < pd.Timestamp(first)], history[history["date"] < pd.Timestamp(first)]])
    before = before[before["date"] >= earliest]
    rows = pd.concat(
        [schedule[in_span].assign(_scheduled=True), before.assign(_scheduled=False)], ignore_index=True
    ).drop_duplicates(["person_id", "date", "shift_id"], keep="first")
    people = bundle.frames["people"]
    ids = people["person_id"].astype(str).to_numpy(dtype=object)
    code = pd.Index(ids).get_indexer(rows["person_id"].astype(str))
    rows = rows[code >= 0]
    code = code[code >= 0]

    origin = np.datetime64(earliest.date(), "D")
    f = back
    l = f + (last - first).days  # noqa: E741
    n = l + 1 + ahead + 4
    mid = local_midnights(bundle.program.timezone, earliest.date(), n + 1)
    base = int(mid[0])
    return _Data(
        bundle=bundle,
        people=ids,
        role=people["role"].astype(str).to_numpy(dtype=object),
        pgy=people["pgy"].astype("Float64").astype(float).to_numpy(),
        origin=origin,
        f=f,
        l=l,
        n=n,
        mid=mid - base,
        person=code.astype(np.int64),
        day=(rows["date"].to_numpy(dtype="datetime64[D]") - origin).astype(np.int64),
        start=_seconds(rows["start"]) - base,
        sched_end=_seconds(rows["scheduled_end"]) - base,
        end=_seconds(rows["end"]) - base,
        work=np.rint(rows["hours"].to_numpy(dtype=float) * 60.0),
        call=rows["in_house_call"].to_numpy(dtype=bool),
        scheduled=rows["_scheduled"].to_numpy(dtype=bool),
        shift=rows["shift_id"].astype(str).to_numpy(dtype=object),
    )


# --------------------------------------------------------------------------- helpers


def _segmented_cummax(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` restarting at every new group (``groups`` non-decreasing)."""
    if len(values) == 0:
        return values.copy()
    low = int(values.min())
    span = int(values.max()) - low + 1
    shifted = (values - low) + groups.astype(np.int64) * span
    return np.maximum.accumulate(shifted) - groups.astype(np.int64) * span + low


def _cumulative(matrix: np.ndarray) -> np.ndarray:
    out = np.zeros((matrix.shape[0], matrix.shape[1] + 1), dtype=float)
    np.cumsum(matrix, axis=1, out=out[:, 1:])
    return out


def _window_sums(cumulative: np.ndarray, starts: np.ndarray, length: int | np.ndarray) -> np.ndarray:
    return cumulative[:, starts + length] - cumulative[:, starts]


def _findings(
    data: _Data,
    rule: str,
    severity: np.ndarray | str,
    person: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    value: np.ndarray,
    limit: np.ndarray | float,
    unit: str,
    messages: list[str],
) -> pd.DataFrame:
    count = len(person)
    return pd.DataFrame(
        {
            "rule": np.full(count, rule, dtype=object),
            "severity": np.broadcast_to(np.asarray(severity, dtype=object), (count,)),
            "person_id": data.people[person],
            "window_start": data.dates(first).astype("datetime64[ns]"),
            "window_end": data.dates(last).astype("datetime64[ns]"),
            "value": pd.array(_round(np.asarray(value, dtype=float)), dtype="Float64"),
            "limit": pd.array(_round(np.broadcast_to(np.asarray(limit, dtype=float), (count,))), dtype="Float64"),
            "unit": np.full(count, unit, dtype=object),
            "message": np.array(messages, dtype=object),
        }
    )


def _round(values: np.ndarray) -> list[float]:
    """Two decimals as Python rounds them (numpy's scaling rounds 11.425 down)."""
    return [round(float(v), 2) for v in values]


def _must(scope: RuleScope) -> str:
    return "violation" if scope.kind == "hard" else "warning"


# --------------------------------------------------------------------------- acgme_weekly_hours


def _weekly_hours(data: _Data, rules: WeeklyHours) -> tuple[list[pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    length = rules.window_days
    weeks = length / 7
    chosen = data.selected(rules)
    work = _cumulative(_work_matrix(data))
    mine = _cumulative(_work_matrix(data, data.scheduled))
    leave = _cumulative(data.leave_days().astype(float))
    touching = _cumulative(data.rotation_days(rules.rotation).astype(float)) if rules.rotation is not None else None

    if rules.averaging == "block":
        starts = np.arange(data.f, data.l + 1, length)
    else:
        starts = np.arange(data.f - length + 1, data.l + 1)
    minutes = _window_sums(work, starts, length)
    scheduled = _window_sums(mine, starts, length) > 0
    leave_days = _window_sums(leave, starts, length) if rules.leave_excluded_from_average else 0 * minutes
    days = length - leave_days
    limit = np.floor(rules.limit_hours * 60 * days / 7)
    warn = np.floor(rules.warning_hours * 60 * days / 7)
    info = np.floor(rules.info_hours * 60 * days / 7)
    reported = chosen[:, None] & scheduled
    if touching is not None:
        reported &= _window_sums(touching, starts, length) > 0

    out = []
    level = np.where(minutes > limit, 0, np.where(minutes > warn, 1, np.where(minutes > info, 2, 3)))
    who, which = np.nonzero(reported & (level < 3))
    if len(who):
        lv = level[who, which]
        held = np.choose(lv, [limit[who, which], warn[who, which], info[who, which]])
        severity = np.array([_must(rules), "warning", "info"], dtype=object)[lv]
        average = minutes[who, which] / 60 / weeks
        bound = held / 60 / weeks
        full = limit[who, which] / 60 / weeks
        first, last = starts[which], starts[which] + length - 1
        labels_first, labels_last = data.labels(first), data.labels(last)
        messages = [
            f"{data.people[p]} averages {a:.1f} h a week from {s} to {e}, over the limit of {b:.1f} h"
            if v == 0
            else f"{data.people[p]} averages {a:.1f} h a week from {s} to {e}, above the early-warning level of "
            f"{b:.1f} h (limit {c:.1f} h)"
            for p, a, s, e, b, c, v in zip(who, average, labels_first, labels_last, bound, full, lv, strict=True)
        ]
        out.append(
            _findings(
                data, RULE_NAMES["weekly_hours"], severity, who, first, last, average, bound, "hours_per_week", messages
            )
        )

    # each 7-day week's own total: an average can hide a 100-hour week
    week_starts = np.arange(data.f, data.l + 1, 7)
    week_ends = np.minimum(week_starts + 6, data.l)
    week_minutes = work[:, week_ends + 1] - work[:, week_starts]
    week_mine = (mine[:, week_ends + 1] - mine[:, week_starts]) > 0
    heavy = chosen[:, None] & week_mine & (week_minutes > rules.limit_hours * 60)
    if touching is not None:
        heavy &= (touching[:, week_ends + 1] - touching[:, week_starts]) > 0
    who, which = np.nonzero(heavy)
    if len(who):
        hours = week_minutes[who, which] / 60
        first, last = week_starts[which], week_ends[which]
        messages = [
            f"{data.people[p]} works {h:.1f} h in the week from {s} to {e}, more than {rules.limit_hours:.1f} h "
            "in a single week"
            for p, h, s, e in zip(who, hours, data.labels(first), data.labels(last), strict=True)
        ]
        out.append(
            _findings(
                data, RULE_NAMES["weekly_hours"], "info", who, first, last, hours, rules.limit_hours, "hours", messages
            )
        )

    # the plot's table: each week, and the 4-week average it closes (block: of its block)
    if rules.averaging == "block":
        window_of_week = data.f + ((week_starts - data.f) // length) * length
    else:
        window_of_week = week_ends - length + 1
    week_window_minutes = _window_sums(work, window_of_week, length)
    week_leave = _window_sums(leave, window_of_week, length) if rules.leave_excluded_from_average else 0
    week_limit = np.floor(rules.limit_hours * 60 * (length - week_leave) / 7) / 60 / weeks
    people = np.flatnonzero(chosen)
    count = len(week_starts)
    weekly = pd.DataFrame(
        {
            "person_id": np.repeat(data.people[people], count),
            "week_start": np.tile(data.dates(week_starts), len(people)).astype("datetime64[ns]"),
            "week_end": np.tile(data.dates(week_ends), len(people)).astype("datetime64[ns]"),
            "hours": (week_minutes[people] / 60).ravel(),
            "average_4w": (week_window_minutes[people] / 60 / weeks).ravel(),
            "limit": np.broadcast_to(week_limit, (data.size, count))[people].ravel(),
        }
    )
    count = len(starts)
    windows = pd.DataFrame(
        {
            "person_id": np.repeat(data.people[people], count),
            "window_start": np.tile(data.dates(starts), len(people)).astype("datetime64[ns]"),
            "window_end": np.tile(data.dates(starts + length - 1), len(people)).astype("datetime64[ns]"),
            "hours": (minutes[people] / 60).ravel(),
            "average_per_week": (minutes[people] / 60 / weeks).ravel(),
            "limit": (limit[people] / 60 / weeks).ravel(),
            "leave_days": np.broadcast_to(leave_days, minutes.shape)[people].ravel().astype(int),
            "scheduled": scheduled[people].ravel(),
        }
    )
    return out, weekly, windows


def _work_matrix(data: _Data, mask: np.ndarray | None = None) -> np.ndarray:
    """people × days of work minutes: each shift split over the local days it touches.

    A shift's share of a day is its work minutes × the elapsed time it spends in that day ÷ its
    elapsed time, rounded to whole minutes (as the engine rounds a shift's share of a window).
    """
    keep = data.work > 0 if mask is None else (data.work > 0) & mask
    span = np.maximum(data.end - data.start, 1).astype(float)
    out = np.zeros((data.size, data.n), dtype=float)
    for offset in (0, 1, 2):  # a shift lasts at most 28 h (+1 h at a DST change): three local days
        lo = np.maximum(data.start, data.mid[np.minimum(data.day + offset, data.n)])
        hi = np.minimum(data.end, data.mid[np.minimum(data.day + offset + 1, data.n)])
        share = np.rint(data.work * (np.clip(hi - lo, 0, None) / span))
        out += data.day_matrix(share, data.day + offset, keep)
    return out


# --------------------------------------------------------------------------- acgme_call_frequency


def _call_frequency(data: _Data, rules: CallFrequency) -> list[pd.DataFrame]:
    length = rules.window_days
    chosen = data.selected(rules)
    ones = data.call.astype(float)
    calls = _cumulative(data.day_matrix(ones, data.day, data.call))
    mine = _cumulative(data.day_matrix(ones, data.day, data.call & data.scheduled))
    starts = np.arange(data.f - length + 1, data.l + 1)
    count = _window_sums(calls, starts, length)
    reported = chosen[:, None] & (_window_sums(mine, starts, length) > 0) & (count > rules.max_calls)
    if rules.rotation is not None:
        reported &= _window_sums(_cumulative(data.rotation_days(rules.rotation).astype(float)), starts, length) > 0
    who, which = np.nonzero(reported)
    if not len(who):
        return []
    first, last = starts[which], starts[which] + length - 1
    value = count[who, which]
    messages = [
        f"{data.people[p]} has {int(c)} in-house calls from {s} to {e}, more than {rules.max_calls}"
        for p, c, s, e in zip(who, value, data.labels(first), data.labels(last), strict=True)
    ]
    return [
        _findings(
            data,
            RULE_NAMES["call_frequency"],
            _must(rules),
            who,
            first,
            last,
            value,
            rules.max_calls,
            "calls",
            messages,
        )
    ]


# --------------------------------------------------------------------------- acgme_day_off_in_seven


def _free_days(data: _Data, window_start: np.ndarray, window_end: np.ndarray) -> np.ndarray:
    """people × windows: Σ ⌊gap ÷ 24 h⌋ over the free gaps inside each window ([start, end) instants)."""
    order = np.lexsort((data.start, data.person))
    person, start, end = data.person[order], data.start[order], data.end[order]
    low, high = int(data.mid[0]) - 2 * DAY, int(data.mid[-1]) + 2 * DAY
    width = high - low + 1
    firsts = np.r_[True, person[1:] != person[:-1]] if len(person) else np.zeros(0, dtype=bool)
    lasts = np.r_[person[1:] != person[:-1], True] if len(person) else np.zeros(0, dtype=bool)
    reach = _segmented_cummax(end, person)
    before = np.r_[low, reach[:-1]] if len(person) else reach
    opens = ~firsts & (start > before)
    busy = np.zeros(data.size, dtype=bool)
    busy[person] = True
    idle = np.flatnonzero(~busy)
    gap_person = np.concatenate([person[opens], person[firsts], person[lasts], idle])
    gap_start = np.concatenate([before[opens], np.full(firsts.sum(), low), reach[lasts], np.full(len(idle), low)])
    gap_end = np.concatenate([start[opens], start[firsts], np.full(lasts.sum(), high), np.full(len(idle), high)])
    ranked = np.lexsort((gap_start, gap_person))
    offset = gap_person[ranked].astype(np.int64) * width - low
    a, b = gap_start[ranked] + offset, gap_end[ranked] + offset
    whole = np.r_[0, np.cumsum((b - a) // DAY)]

    rows = np.arange(data.size, dtype=np.int64)[:, None] * width - low
    k0 = (rows + window_start[None, :]).ravel()
    k1 = (rows + window_end[None, :]).ravel()
    i = np.searchsorted(a, k0, side="left")
    j = np.searchsorted(b, k1, side="right")
    count = np.where(j > i, whole[j] - whole[np.minimum(i, j)], 0)
    head = i - 1
    starts_before = b[head] > k0
    ends_after = a[j] < k1
    same = starts_before & ends_after & (head == j)
    count += np.where(same, (k1 - k0) // DAY, 0)
    count += np.where(starts_before & ~same, (np.minimum(b[head], k1) - k0) // DAY, 0)
    count += np.where(ends_after & ~same, (k1 - np.maximum(a[j], k0)) // DAY, 0)
    return count.reshape(data.size, len(window_start))


def _day_off(data: _Data, rules: DayOffInSeven) -> list[pd.DataFrame]:
    strict = rules.variant == "strict_weekly"
    length = 7 if strict else rules.window_days
    need = 1 if strict else rules.min_free_days
    # every window touching the span; one running past its last day counts the days after as free
    # (rows after the span are not seen), so it is reported only when no later schedule can mend it
    starts = np.arange(data.f - length + 1, data.l + 1)
    count = _free_days(data, data.mid[starts], data.mid[starts + length])
    who, which = np.nonzero(data.selected(rules)[:, None] & (count < need))
    if not len(who):
        return []
    first, last = starts[which], starts[which] + length - 1
    value = count[who, which]
    messages = [
        f"{data.people[p]} has {int(c)} free 24-hour periods from {s} to {e}; at least {need} are required"
        for p, c, s, e in zip(who, value, data.labels(first), data.labels(last), strict=True)
    ]
    return [
        _findings(
            data, RULE_NAMES["day_off_in_seven"], _must(rules), who, first, last, value, need, "days_off", messages
        )
    ]


# --------------------------------------------------------------------------- duty periods


@dataclass
class _Periods:
    """Continuous duty: rows sorted by person and start, joined when one starts before the last has ended."""

    order: np.ndarray
    heads: np.ndarray
    person: np.ndarray
    start: np.ndarray
    end: np.ndarray
    scheduled_seconds: np.ndarray
    has_scheduled: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray
    of_row: np.ndarray
    """The period of each row of ``order``."""


def _periods(data: _Data) -> _Periods:
    order = np.lexsort((data.start, data.person))
    person, start, end = data.person[order], data.start[order], data.end[order]
    sched_end, scheduled, day = data.sched_end[order], data.scheduled[order], data.day[order]
    if not len(order):
        empty = np.zeros(0, dtype=np.int64)
        return _Periods(order, empty, empty, empty, empty, empty, empty.astype(bool), empty, empty, empty)
    firsts = np.r_[True, person[1:] != person[:-1]]
    reach = _segmented_cummax(end, person)
    before = np.r_[0, reach[:-1]]
    opens = firsts | (start > before)
    period = np.cumsum(opens) - 1
    covered = _segmented_cummax(sched_end, period)
    covered_before = np.r_[0, covered[:-1]]
    own = np.where(opens, sched_end - start, np.clip(sched_end - np.maximum(start, covered_before), 0, None))
    heads = np.flatnonzero(opens)
    never = np.iinfo(np.int64).max
    return _Periods(
        order=order,
        heads=heads,
        person=person[heads],
        start=start[heads],
        end=np.maximum.reduceat(end, heads),
        scheduled_seconds=np.bincount(period, weights=np.clip(own, 0, None)).astype(np.int64),
        has_scheduled=np.bincount(period, weights=scheduled).astype(bool) if len(period) else np.zeros(0, bool),
        first_day=np.minimum.reduceat(np.where(scheduled, day, never), heads),
        last_day=np.maximum.reduceat(np.where(scheduled, day, -1), heads),
        of_row=period,
    )


def _continuous_duty(data: _Data, periods: _Periods, rules: ContinuousDuty) -> list[pd.DataFrame]:
    total = periods.end - periods.start
    scheduled = periods.scheduled_seconds
    too_long = (scheduled > rules.max_scheduled_hours * HOUR) | (total > rules.max_total_hours * HOUR)
    hit = np.flatnonzero(too_long & periods.has_scheduled & data.selected(rules)[periods.person])
    if not len(hit):
        return []
    over_scheduled = scheduled[hit] > rules.max_scheduled_hours * HOUR
    value = np.where(over_scheduled, scheduled[hit], total[hit]) / HOUR
    limit = np.where(over_scheduled, rules.max_scheduled_hours, rules.max_total_hours)
    who, first, last = periods.person[hit], periods.first_day[hit], periods.last_day[hit]
    messages = [
        f"{data.people[p]} is on duty {s / HOUR:.1f} h scheduled ({t / HOUR:.1f} h with transition) from {a} to {b}, "
        f"over the limit of {m:.1f} h"
        for p, s, t, a, b, m in zip(
            who, scheduled[hit], total[hit], data.labels(first), data.labels(last), limit, strict=True
        )
    ]
    return [
        _findings(
            data, RULE_NAMES["max_continuous_duty"], _must(rules), who, first, last, value, limit, "hours", messages
        )
    ]


def _rest_between(data: _Data, periods: _Periods, rules: RestBetweenShifts) -> list[pd.DataFrame]:
    if len(periods.heads) < 2:
        return []
    same = periods.person[1:] == periods.person[:-1]
    gap = periods.start[1:] - periods.end[:-1]
    head_rows = periods.order[periods.heads[1:]]
    short = same & (gap < rules.min_rest_hours * HOUR) & data.scheduled[head_rows]
    short &= data.selected(rules)[periods.person[1:]]
    hit = np.flatnonzero(short)
    if not len(hit):
        return []
    rows = head_rows[hit]
    who, day, hours = data.person[rows], data.day[rows], gap[hit] / HOUR
    messages = [
        f"{data.people[p]} has only {h:.1f} h free before {s} on {d}; at least {rules.min_rest_hours:.1f} h "
        "should separate two work periods"
        for p, h, s, d in zip(who, hours, data.shift[rows], data.labels(day), strict=True)
    ]
    return [
        _findings(
            data,
            RULE_NAMES["rest_between_shifts"],
            "warning",
            who,
            day,
            day,
            hours,
            rules.min_rest_hours,
            "hours",
            messages,
        )
    ]


# --------------------------------------------------------------------------- acgme_rest_after_call


def _rest_after_call(data: _Data, periods: _Periods, rules: RestAfterCall) -> list[pd.DataFrame]:
    """Rest is owed from the end of the whole duty period that holds a 24-hour call (calls chained on included)."""
    if not len(periods.heads):
        return []
    order, period = periods.order, periods.of_row
    long_call = data.call & (data.sched_end - data.start >= rules.min_call_hours * HOUR)
    holds_call = np.bincount(period, weights=long_call[order], minlength=len(periods.heads)) > 0
    # an end so long ago that no rest counted from it is short
    never = int(periods.start.min()) - int(np.ceil(rules.min_rest_hours * HOUR)) - 1
    latest = _segmented_cummax(np.where(holds_call, periods.end, never), periods.person)
    before = np.r_[never, latest[:-1]]
    before[np.r_[True, periods.person[1:] != periods.person[:-1]]] = never
    ended = before[period]  # the end of the last call period before each row's own period
    gap = data.start[order] - ended
    short = (gap < rules.min_rest_hours * HOUR) & data.scheduled[order] & data.selected(rules)[data.person[order]]
    rows, gap = order[short], gap[short]
    if not len(rows):
        return []
    who, day, hours = data.person[rows], data.day[rows], gap / HOUR
    messages = [
        f"{data.people[p]} starts {s} on {d} {h:.1f} h after a 24-hour call; at least {rules.min_rest_hours:.1f} h "
        "of rest are required"
        for p, s, d, h in zip(who, data.shift[rows], data.labels(day), hours, strict=True)
    ]
    return [
        _findings(
            data,
            RULE_NAMES["rest_after_call"],
            _must(rules),
            who,
            day,
            day,
            hours,
            rules.min_rest_hours,
            "hours",
            messages,
        )
    ]


# --------------------------------------------------------------------------- acgme_pgy1_no_moonlighting


def _moonlighting(data: _Data, rules: Pgy1NoMoonlighting) -> list[pd.DataFrame]:
    shifts = data.bundle.frames["shifts"]
    if rules.shifts is not None:
        moonlight = set(rules.shifts)
    else:
        admin = shifts[shifts["kind"] == "admin"]["shift_id"].astype(str)
        moonlight = {s for s in admin if "moonlight" in s.lower()}
    chosen = data.selected(rules) & (data.pgy == 1)
    rows = np.flatnonzero(data.scheduled & np.isin(data.shift, list(moonlight)) & chosen[data.person])
    if not len(rows):
        return []
    who, day = data.person[rows], data.day[rows]
    messages = [
        f"PGY-1 resident {data.people[p]} holds the moonlighting shift {s} on {d}; the limit for PGY-1 is 0"
        for p, s, d in zip(who, data.shift[rows], data.labels(day), strict=True)
    ]
    return [
        _findings(
            data,
            RULE_NAMES["pgy1_no_moonlighting"],
            _must(rules),
            who,
            day,
            day,
            np.ones(len(rows)),
            0.0,
            "shifts",
            messages,
        )
    ]


# --------------------------------------------------------------------------- the checker


def validate_acgme(
    bundle: Bundle,
    schedule: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    period: tuple[dt.date, dt.date] | None = None,
    limits: AcgmeLimits | None = None,
) -> AcgmeReport:
    """Check every ACGME rule of ``limits`` (default: the bundle's) over ``period`` of a schedule.

    ``schedule`` is a frame from :func:`~rotaflow.validations.schedule.load_schedule` (a frame with only
    person_id, date and shift_id is loaded first); ``history`` adds worked shifts to the bundle's
    history.csv; ``period`` (first, last date) defaults to the schedule's first to last date.
    """
    limits = limits if limits is not None else limits_for(bundle)
    schedule = _loaded(bundle, schedule)
    past = history_frame(bundle)
    if history is not None:
        past = pd.concat([_loaded(bundle, history, file="history"), past], ignore_index=True)
    if period is None:
        if schedule.empty:
            return AcgmeReport(
                with_kinds(_empty_findings()), _empty(_WEEKLY_COLUMNS), _empty(_WINDOW_COLUMNS), None, limits
            )
        period = (schedule["date"].min().date(), schedule["date"].max().date())
    first, last = (pd.Timestamp(d).date() for d in period)
    if last < first:
        raise ValueError(f"period ends ({last}) before it starts ({first})")
    back = max(HISTORY_DAYS, limits.longest_window())
    data = _prepare(bundle, schedule, past, first, last, back, limits.longest_window())

    parts: list[pd.DataFrame] = []
    weekly, windows = _empty(_WEEKLY_COLUMNS), _empty(_WINDOW_COLUMNS)
    if limits.weekly_hours.enabled:
        found, weekly, windows = _weekly_hours(data, limits.weekly_hours)
        parts += found
    if limits.day_off_in_seven.enabled:
        parts += _day_off(data, limits.day_off_in_seven)
    periods = _periods(data)
    if limits.max_continuous_duty.enabled:
        parts += _continuous_duty(data, periods, limits.max_continuous_duty)
    if limits.rest_after_call.enabled:
        parts += _rest_after_call(data, periods, limits.rest_after_call)
    if limits.rest_between_shifts.enabled:
        parts += _rest_between(data, periods, limits.rest_between_shifts)
    if limits.call_frequency.enabled:
        parts += _call_frequency(data, limits.call_frequency)
    if limits.pgy1_no_moonlighting.enabled:
        parts += _moonlighting(data, limits.pgy1_no_moonlighting)

    findings = pd.concat([_empty_findings(), *parts], ignore_index=True) if parts else _empty_findings()
    if not findings.empty:
        findings = findings.assign(_order=findings["severity"].map(_SEVERITY_ORDER))
        findings = findings.sort_values(["_order", "rule", "person_id", "window_start", "window_end"], kind="stable")
        findings = findings.drop(columns="_order").reset_index(drop=True)
    findings = findings.astype({"rule": str, "severity": str, "person_id": str, "unit": str, "message": str})
    return AcgmeReport(with_kinds(findings), weekly, windows, (first, last), limits)  # every ACGME rule is hard


def _loaded(bundle: Bundle, frame: pd.DataFrame, *, file: str = "assignments.csv") -> pd.DataFrame:
    """A load_schedule frame as it is, any other frame through load_schedule."""
    if set(SCHEDULE_COLUMNS) <= set(frame.columns):
        return frame
    if frame.empty and not len(frame.columns):
        return empty_schedule()
    return load_schedule(bundle, frame, file=file if file.endswith(".csv") else f"{file}.csv")
