"""Read a schedule of any origin and pin every row to real instants of the program's timezone.

A schedule needs only ``person_id``, ``date`` and ``shift_id`` (docs/formats.md, “The schedule”). ``start``,
``end``, ``hours``, ``rotation_id`` and ``source`` are derived from the bundle when absent and
checked when present: ``start``/``end`` must be the bundle's localised instants of that shift on
that date, ``hours`` within 0.01 of its work hours. Every problem comes back at once, located by
file, row (1 = first data row) and column, as :class:`~rotaflow.errors.InputError`; a value that
may be personal data is never shown.

Instants are computed here from shifts.csv, independently of the rule engine: the local clock
time on the local date, read as Python's ``zoneinfo`` does with ``fold=0`` (an ambiguous time is
its first occurrence, a time in a spring-forward gap takes the offset from before the change);
``end <= start`` means the next day; the hand-off (``transition_minutes``) follows ``end``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from rotaflow.errors import PERSONAL_DATA_HIDDEN, InputError, Problem
from rotaflow.validations.bundle import Bundle, header_problems, personal_values
from rotaflow.validations.contracts import ID_PATTERN, ISO_INSTANT_PATTERN, SOURCES, HistoryModel
from rotaflow.validations.limits import LIMITS, BundleLimits
from rotaflow.validations.sources import read_capped_file

__all__ = [
    "INPUT_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCHEDULE_COLUMNS",
    "ShiftTable",
    "empty_schedule",
    "history_frame",
    "load_schedule",
    "local_midnights",
    "read_schedule_file",
    "slot_instants",
]

INPUT_COLUMNS: list[str] = list(HistoryModel.to_schema().columns)
"""Columns a schedule file may have (assignments.csv of docs/formats.md)."""
REQUIRED_COLUMNS = ["person_id", "date", "shift_id"]
SCHEDULE_COLUMNS = [
    "person_id",
    "date",
    "shift_id",
    "start",
    "end",
    "scheduled_end",
    "hours",
    "kind",
    "in_house_call",
    "rotation_id",
    "source",
]
"""Columns of the frame :func:`load_schedule` returns, one row per assignment."""
_DERIVED_ONLY = {"scheduled_end", "kind", "in_house_call"}
"""Output columns a frame may carry back in (ignored: derived again)."""

_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_FIRST_DATE, _LAST_DATE = pd.Timestamp("1900-01-01"), pd.Timestamp("2199-12-31")
_HOURS_TOLERANCE = 0.01
_NS = 1_000_000_000
_UTC = "UTC"


# --------------------------------------------------------------------------- shifts and instants


@dataclass(frozen=True)
class ShiftTable:
    """shifts.csv as arrays, one entry per shift (position = shift code)."""

    ids: tuple[str, ...]
    start_minute: np.ndarray
    end_minute: np.ndarray
    transition_minutes: np.ndarray
    kind: np.ndarray
    in_house_call: np.ndarray
    counts_as_work: np.ndarray
    home_call_minutes: np.ndarray

    @classmethod
    def of(cls, bundle: Bundle) -> ShiftTable:
        shifts = bundle.frames["shifts"]

        def minutes(column: str) -> np.ndarray:
            parts = shifts[column].astype(str).str.split(":", expand=True).astype(int)
            return (parts[0] * 60 + parts[1]).to_numpy(dtype=np.int64)

        home = shifts["home_call_hours"].astype("Float64").fillna(0.0).to_numpy(dtype=float)
        return cls(
            ids=tuple(shifts["shift_id"].astype(str)),
            start_minute=minutes("start"),
            end_minute=minutes("end"),
            transition_minutes=shifts["transition_minutes"].astype("Int64").fillna(0).to_numpy(dtype=np.int64),
            kind=shifts["kind"].astype(str).to_numpy(dtype=object),
            in_house_call=shifts["in_house_call"].astype("boolean").fillna(False).to_numpy(dtype=bool),
            counts_as_work=shifts["counts_as_work"].astype("boolean").fillna(True).to_numpy(dtype=bool),
            home_call_minutes=np.array([round(h * 60) for h in home], dtype=np.int64),
        )

    @cached_property
    def code(self) -> dict[str, int]:
        return {shift: n for n, shift in enumerate(self.ids)}


def _epoch(zone: ZoneInfo, date: dt.date, minute: int) -> int:
    """Seconds since the epoch of a local date and clock minute (``fold=0``)."""
    local = dt.datetime.combine(date, dt.time(minute // 60, minute % 60), tzinfo=zone)
    return int(local.timestamp())


def local_midnights(timezone: str, first: dt.date, count: int) -> np.ndarray:
    """Epoch seconds of local midnight for ``count`` consecutive dates from ``first``."""
    zone = ZoneInfo(timezone)
    return np.array([_epoch(zone, first + dt.timedelta(days=n), 0) for n in range(count)], dtype=np.int64)


def slot_instants(
    timezone: str, table: ShiftTable, days: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, scheduled end, end with hand-off, work minutes) in epoch seconds for each row.

    ``days`` are local dates as days since 1970-01-01, ``codes`` shift codes of ``table``.
    Instants are computed once per distinct date and shift.
    """
    zone = ZoneInfo(timezone)
    n_shifts = len(table.ids)
    keys = days.astype(np.int64) * n_shifts + codes
    unique, inverse = np.unique(keys, return_inverse=True)
    start = np.empty(len(unique), dtype=np.int64)
    end = np.empty(len(unique), dtype=np.int64)
    epoch_day = dt.date(1970, 1, 1)
    for n, key in enumerate(unique.tolist()):
        day, code = divmod(key, n_shifts)
        date = epoch_day + dt.timedelta(days=day)
        begin, finish = int(table.start_minute[code]), int(table.end_minute[code])
        start[n] = _epoch(zone, date, begin)
        end[n] = _epoch(zone, date if finish > begin else date + dt.timedelta(days=1), finish)
    code_of = unique % n_shifts
    with_handoff = end + table.transition_minutes[code_of] * 60
    elapsed = (with_handoff - start) // 60
    work = np.where(
        ~table.counts_as_work[code_of],
        0,
        np.where(table.kind[code_of] == "home_call", table.home_call_minutes[code_of], elapsed),
    )
    return start[inverse], end[inverse], with_handoff[inverse], work[inverse].astype(np.int64)


# --------------------------------------------------------------------------- reading


def read_schedule_file(path: Path, *, limits: BundleLimits = LIMITS) -> bytes:
    """The bytes of a schedule file, read through a stream capped at ``limits.schedule_bytes``.

    A missing file or one past the cap is refused (:class:`InputError`, naming the file and the cap).
    """
    if not path.is_file():
        raise InputError([Problem(path.name or str(path), None, None, "a readable CSV file", "no such file")])
    return read_capped_file(path, limits.schedule_bytes)


def load_schedule(
    bundle: Bundle, source: bytes | pd.DataFrame, *, file: str = "assignments.csv", limits: BundleLimits = LIMITS
) -> pd.DataFrame:
    """A schedule (CSV bytes or a frame) as checked rows with their instants, hours and rotation.

    Raises :class:`InputError` listing every problem: missing or misspelt columns (added columns are
    ignored), unknown ids, bad or repeated
    rows, and given ``start``/``end``/``hours``/``rotation_id`` that disagree with the bundle.
    CSV bytes of more than ``limits.schedule_rows`` data rows are refused before any row is checked.
    """
    personal = personal_values(bundle.files)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if _past_row_limit(data, limits.schedule_rows):
            expected = f"at most {limits.schedule_rows} data rows in a schedule"
            raise InputError([Problem(file, None, None, expected, f"more than {limits.schedule_rows}")], source=file)
        raw, problems = _read_csv(file, data, personal)
    elif isinstance(source, pd.DataFrame):
        raw, problems = _from_frame(file, source)
    else:
        raise TypeError(f"a schedule is CSV bytes or a DataFrame, not {type(source).__name__}")
    if raw is None:
        raise InputError(problems, source=file, personal=personal)
    frame, found = _resolve(bundle, raw, file, default_source="manual")
    problems += found
    if problems:
        raise InputError(problems, source=file, personal=personal)
    return frame


def _past_row_limit(data: bytes, limit: int) -> bool:
    """Whether CSV bytes hold more than ``limit`` non-blank data rows: counted, stopping past it, before parsing.

    Read a line at a time (any line ending): what is held is the bytes, not a copy of the text. Text
    that is not UTF-8 or not CSV is left for the reader to name.
    """
    if data.count(b"\n") + data.count(b"\r") <= limit:  # every row but the last ends a line, as the header does
        return False
    try:
        records = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
        count = -1  # the header
        for record in records:
            if "".join(record).strip():
                count += 1
                if count > limit:
                    return True
    except (UnicodeDecodeError, csv.Error):
        return False
    return False


def history_frame(bundle: Bundle) -> pd.DataFrame:
    """history.csv of the bundle in the shape of :func:`load_schedule` (``source`` = history)."""
    frame, problems = _resolve(bundle, bundle.frames["history"], "history.csv", default_source="history")
    if problems:
        raise InputError(problems, source="history.csv", personal=personal_values(bundle.files))
    frame["source"] = "history"
    return frame


def empty_schedule() -> pd.DataFrame:
    """A schedule without rows, with the output columns and their types."""
    return pd.DataFrame(
        {
            "person_id": pd.Series([], dtype=str),
            "date": pd.Series([], dtype="datetime64[ns]"),
            "shift_id": pd.Series([], dtype=str),
            "start": pd.Series([], dtype="datetime64[ns, UTC]"),
            "end": pd.Series([], dtype="datetime64[ns, UTC]"),
            "scheduled_end": pd.Series([], dtype="datetime64[ns, UTC]"),
            "hours": pd.Series([], dtype=float),
            "kind": pd.Series([], dtype=str),
            "in_house_call": pd.Series([], dtype=bool),
            "rotation_id": pd.Series([], dtype=object),
            "source": pd.Series([], dtype=str),
        }
    ).rename_axis("row")


def _read_csv(file: str, raw: bytes, personal: frozenset[str]) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [Problem(file, None, None, "UTF-8 text", f"a byte that is not UTF-8 at offset {exc.start}")]
    if "\x00" in text:
        return None, [Problem(file, None, None, "text without NUL bytes", "binary data")]
    fast = _simple_csv(text)
    if fast is not None:
        return _read_simple(file, fast, personal)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return None, [Problem(file, None, None, "well-formed CSV", _short(str(exc)))]
    if not records or all(not "".join(r).strip() for r in records):
        return None, [
            Problem(file, None, None, "a header row with the columns " + ", ".join(REQUIRED_COLUMNS), "an empty file")
        ]
    header = [cell.strip() for cell in records[0]]
    problems = _header_problems(file, header, allowed=INPUT_COLUMNS, personal=personal)
    if problems:
        return None, problems
    width = len(header)
    body = records[1:]
    lengths = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    keep = lengths == width
    for index in np.flatnonzero(~keep).tolist():
        record = body[index]
        if "".join(record).strip():  # a blank line keeps its row number but holds no data
            problems.append(Problem(file, index + 1, None, f"{width} fields as in the header", f"{len(record)} fields"))
    numbers = np.flatnonzero(keep) + 1
    kept = [body[i] for i in (numbers - 1).tolist()] if not keep.all() else body
    columns = list(zip(*kept, strict=True)) if kept else [()] * width
    frame = pd.DataFrame(
        {name: np.array(values, dtype=object) for name, values in zip(header, columns, strict=True)},
        index=pd.Index(numbers.astype(np.int64), name="row"),
    )
    blank = np.ones(len(frame), dtype=bool)
    for name in header:
        blank &= _Cells(frame).text(name).to_numpy() == ""
    return _known_columns(frame[~blank]), problems


def _simple_csv(text: str) -> list[str] | None:
    """The lines of a CSV without quotes whose every line has the header's fields (or none), else None.

    Such a file reads the same with pandas' C parser as with the csv module, many times faster.
    """
    text = text.replace("\r\n", "\n")
    if '"' in text or "\r" in text or not text.strip():
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    commas = lines[0].count(",")
    if any(line.count(",") != commas and line != "" for line in lines):
        return None
    return lines


def _read_simple(file: str, lines: list[str], personal: frozenset[str]) -> tuple[pd.DataFrame | None, list[Problem]]:
    header = [cell.strip() for cell in lines[0].split(",")]
    problems = _header_problems(file, header, allowed=INPUT_COLUMNS, personal=personal)
    if problems:
        return None, problems
    frame = (
        pd.read_csv(
            io.StringIO("\n".join(lines[1:]) + "\n"),
            header=None,
            names=header,
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
        if len(lines) > 1
        else pd.DataFrame(columns=header, dtype=object)
    )
    frame.index = pd.Index(np.arange(1, len(frame) + 1, dtype=np.int64), name="row")
    cells = _Cells(frame)
    blank = np.ones(len(frame), dtype=bool)
    for name in header:
        blank &= cells.text(name).to_numpy() == ""
    return _known_columns(frame[~blank]), []


def _header_problems(
    file: str, header: list[str], *, allowed: Iterable[str], personal: frozenset[str] = frozenset()
) -> list[Problem]:
    """The header's problems; extra columns are allowed (docs/formats.md) and dropped by the readers."""
    problems, _ = header_problems(file, header, known=list(allowed), required=REQUIRED_COLUMNS, personal=personal)
    return problems


def _known_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the columns rotaflow reads (an added column never reaches the checks)."""
    keep = [c for c in frame.columns if c in INPUT_COLUMNS]
    return frame if len(keep) == len(frame.columns) else frame.loc[:, keep]


def _from_frame(file: str, source: pd.DataFrame) -> tuple[pd.DataFrame | None, list[Problem]]:
    header = [str(c) for c in source.columns]
    kept = [c for c in header if c not in _DERIVED_ONLY]
    problems = _header_problems(file, kept, allowed=INPUT_COLUMNS)
    if problems:
        return None, problems
    columns = [c for c in source.columns if str(c) in INPUT_COLUMNS and str(c) not in _DERIVED_ONLY]
    frame = source.loc[:, columns].copy()
    frame.columns = [str(c) for c in columns]
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return frame, []


# --------------------------------------------------------------------------- cells


def _cell_text(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


class _Cells:
    """The columns of a raw schedule, each read once: every distinct cell is parsed only once."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._factors: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def factors(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, distinct stripped texts); the last distinct text is ``""`` (an empty cell)."""
        if column not in self._factors:
            if column not in self.frame.columns:
                codes = np.zeros(len(self.frame), dtype=np.int64)
                self._factors[column] = (codes, np.array([""], dtype=object))
            else:
                codes, uniques = pd.factorize(self.frame[column].astype(object), use_na_sentinel=True)
                texts = np.array([_cell_text(u) for u in uniques] + [""], dtype=object)
                self._factors[column] = (np.where(codes < 0, len(texts) - 1, codes), texts)
        return self._factors[column]

    def text(self, column: str) -> pd.Series:
        """A column as stripped text, ``""`` for an empty or missing cell."""
        codes, texts = self.factors(column)
        return pd.Series(texts[codes], index=self.frame.index, dtype=object)

    def parsed(
        self, column: str, parse: Callable[[pd.Series], tuple[pd.Series, pd.Series]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, bad, empty) per row, ``parse`` run on the distinct texts (→ values, bad)."""
        codes, texts = self.factors(column)
        values, bad = parse(pd.Series(texts, dtype=object))
        empty = texts == ""
        return values.to_numpy()[codes], (bad.to_numpy(dtype=bool) & ~empty)[codes], empty[codes]


def _parse_dates(texts: pd.Series) -> tuple[pd.Series, pd.Series]:
    shaped = texts.str.match(_DATE_RE).astype(bool)
    stamps = pd.Series(pd.to_datetime(texts.where(shaped), format="%Y-%m-%d", errors="coerce")).astype("datetime64[ns]")
    bad = stamps.isna() | (stamps < _FIRST_DATE) | (stamps > _LAST_DATE)
    return stamps.where(~bad), bad


def _parse_instants(texts: pd.Series) -> tuple[pd.Series, pd.Series]:
    shaped = texts.str.match(ISO_INSTANT_PATTERN).astype(bool)
    stamps = pd.Series(pd.to_datetime(texts.where(shaped), format="ISO8601", utc=True, errors="coerce"))
    naive = stamps.astype("datetime64[ns, UTC]").dt.tz_convert(None).astype("datetime64[ns]")
    return naive, naive.isna()


def _parse_hours(texts: pd.Series) -> tuple[pd.Series, pd.Series]:
    numbers = pd.to_numeric(texts.where(texts != ""), errors="coerce").astype(float)
    bad = numbers.isna() | ~np.isfinite(numbers) | (numbers < 0) | (numbers > 48)
    return numbers.where(~bad), bad


def _dates(cells: _Cells) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(dates as datetime64[ns], bad cell, empty cell) for the date column."""
    frame = cells.frame
    values = frame["date"]
    if pd.api.types.is_datetime64_any_dtype(values) and getattr(values.dt, "tz", None) is None:
        stamps = values.astype("datetime64[ns]")
        empty = stamps.isna()
        bad = ~empty & ((stamps != stamps.dt.normalize()) | (stamps < _FIRST_DATE) | (stamps > _LAST_DATE))
        return stamps.where(~bad), bad, empty
    parsed, bad, empty = cells.parsed("date", _parse_dates)
    index = frame.index
    return (
        pd.Series(parsed, index=index, dtype="datetime64[ns]"),
        pd.Series(bad, index=index),
        pd.Series(empty, index=index),
    )


def _instants(cells: _Cells, column: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(instants in UTC, bad cell, empty cell) for a start or end column."""
    frame = cells.frame
    index = frame.index
    values = frame[column] if column in frame.columns else None
    if values is not None and pd.api.types.is_datetime64_any_dtype(values):
        empty = values.isna()
        if getattr(values.dt, "tz", None) is None:  # no offset: not an instant
            return pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]"), ~empty, empty
        return values.dt.tz_convert(_UTC).astype("datetime64[ns, UTC]"), empty & False, empty
    parsed, bad, empty = cells.parsed(column, _parse_instants)
    stamps = pd.Series(parsed, index=index, dtype="datetime64[ns]").dt.tz_localize(_UTC)
    return stamps, pd.Series(bad, index=index), pd.Series(empty, index=index)


def _hours(cells: _Cells) -> tuple[pd.Series, pd.Series, pd.Series]:
    frame = cells.frame
    values = frame["hours"] if "hours" in frame.columns else None
    if values is not None and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("Float64").astype(float)
        empty = values.isna()
        bad = ~empty & (~np.isfinite(numbers) | (numbers < 0) | (numbers > 48))
        return numbers.where(~bad), bad, empty
    parsed, bad, empty = cells.parsed("hours", _parse_hours)
    index = frame.index
    return pd.Series(parsed, index=index, dtype=float), pd.Series(bad, index=index), pd.Series(empty, index=index)


# --------------------------------------------------------------------------- resolving


@dataclass
class _Located:
    file: str
    frame: pd.DataFrame
    problems: list[Problem]

    def flag(self, mask: pd.Series, column: str, expected: str, got: pd.Series | str) -> None:
        rows = mask[mask.fillna(False).astype(bool)].index
        for row in rows:
            shown = got if isinstance(got, str) else _shown(got.at[row])
            self.problems.append(Problem(self.file, int(row), column, expected, shown))


def _resolve(
    bundle: Bundle, raw: pd.DataFrame, file: str, *, default_source: str
) -> tuple[pd.DataFrame, list[Problem]]:
    """Check the cells of a raw schedule frame and derive the output columns."""
    out = _Located(file, raw, [])
    if raw.empty:
        return empty_schedule(), []
    table = ShiftTable.of(bundle)
    people = pd.Index(bundle.frames["people"]["person_id"].astype(str))
    cells = _Cells(raw)
    person = cells.text("person_id")
    shift = cells.text("shift_id")
    for column, values, known, listed in (
        ("person_id", person, people, "people.csv"),
        ("shift_id", shift, pd.Index(table.ids), "shifts.csv"),
    ):
        out.flag(values == "", column, f"an id listed in {listed}", "an empty cell")
        out.flag((values != "") & ~values.isin(known), column, f"an id listed in {listed}", values)
    dates, bad_date, empty_date = _dates(cells)
    out.flag(empty_date, "date", "a date (YYYY-MM-DD)", "an empty cell")
    out.flag(bad_date, "date", "a date (YYYY-MM-DD) from 1900-01-01 to 2199-12-31", cells.text("date"))

    valid = person.isin(people) & shift.isin(pd.Index(table.ids)) & dates.notna()
    keys = pd.DataFrame({"p": person, "d": dates, "s": shift})[valid]
    repeated = keys.duplicated(keep="first")
    if repeated.any():
        first_row = keys.assign(r=keys.index).groupby(["p", "d", "s"])["r"].transform("min")
        first_of = pd.Series(first_row.to_numpy(), index=keys.index)
        for row in repeated[repeated].index:
            out.problems.append(
                Problem(
                    file,
                    int(row),
                    None,
                    "a unique combination of person_id, date, shift_id",
                    f"a repeated row (as row {int(first_of.at[row])})",
                )
            )
    valid &= ~repeated.reindex(raw.index, fill_value=False)

    rows = raw.index[valid]
    codes = shift[valid].map(table.code).to_numpy(dtype=np.int64)
    day_numbers = (dates[valid].to_numpy(dtype="datetime64[D]").astype(np.int64)).astype(np.int64)
    start_s, end_s, handoff_s, work = slot_instants(bundle.program.timezone, table, day_numbers, codes)
    start = pd.Series(pd.to_datetime(start_s * _NS, utc=True), index=rows).astype("datetime64[ns, UTC]")
    scheduled_end = pd.Series(pd.to_datetime(end_s * _NS, utc=True), index=rows).astype("datetime64[ns, UTC]")
    end = pd.Series(pd.to_datetime(handoff_s * _NS, utc=True), index=rows).astype("datetime64[ns, UTC]")
    hours = pd.Series(work / 60.0, index=rows)

    zone = ZoneInfo(bundle.program.timezone)
    for column, derived in (("start", start), ("end", end)):
        given, bad, empty = _instants(cells, column)
        out.flag(bad, column, "an ISO 8601 time with offset", cells.text(column))
        differs = pd.Series(False, index=raw.index)
        check = valid & ~bad & ~empty
        differs[check] = given[check] != derived.reindex(raw.index)[check]
        for row in differs[differs].index:
            instant = derived.at[row].to_pydatetime().astimezone(zone).isoformat()
            label = "localised start" if column == "start" else "localised end with hand-off"
            out.problems.append(
                Problem(
                    file,
                    int(row),
                    column,
                    f"{instant} (the {label} of shift {shift.at[row]} on {dates.at[row].date()})",
                    _shown(cells.text(column).at[row]),
                )
            )

    given_hours, bad_hours, empty_hours = _hours(cells)
    out.flag(bad_hours, "hours", "a number of hours 0-48", cells.text("hours"))
    check = valid & ~bad_hours & ~empty_hours
    gap = (given_hours[check] - hours.reindex(raw.index)[check]).abs()
    for row in gap[gap > _HOURS_TOLERANCE + 1e-9].index:
        out.problems.append(
            Problem(
                file,
                int(row),
                "hours",
                f"{hours.at[row]:.2f} (the work hours of shift {shift.at[row]}, within {_HOURS_TOLERANCE})",
                _shown(cells.text("hours").at[row]),
            )
        )

    rotation = _rotation_on(bundle, person[valid], dates[valid])
    given_rotation = cells.text("rotation_id")
    known_rotations = pd.Index(bundle.frames["rotations"]["rotation_id"].astype(str))
    unknown_rotation = (given_rotation != "") & ~given_rotation.isin(known_rotations)
    out.flag(unknown_rotation, "rotation_id", "an id listed in rotations.csv", given_rotation)
    compare = valid & (given_rotation != "") & ~unknown_rotation
    expected_rotation = rotation.reindex(raw.index)
    wrong = compare & expected_rotation.notna() & (given_rotation != expected_rotation.fillna(""))
    for row in wrong[wrong].index:
        out.problems.append(
            Problem(
                file,
                int(row),
                "rotation_id",
                f"{expected_rotation.at[row]} (the rotation of {person.at[row]} in rotation_assignments.csv "
                f"on {dates.at[row].date()})",
                _shown(given_rotation.at[row]),
            )
        )

    given_source = cells.text("source")
    out.flag(
        (given_source != "") & ~given_source.isin(SOURCES),
        "source",
        "one of " + ", ".join(SOURCES),
        given_source,
    )

    chosen_rotation = given_rotation[valid].where(given_rotation[valid] != "", rotation.fillna(""))
    frame = pd.DataFrame(
        {
            "person_id": person[valid].astype(str),
            "date": dates[valid].astype("datetime64[ns]"),
            "shift_id": shift[valid].astype(str),
            "start": start,
            "end": end,
            "scheduled_end": scheduled_end,
            "hours": hours.astype(float),
            "kind": pd.Series(table.kind[codes], index=rows).astype(str),
            "in_house_call": pd.Series(table.in_house_call[codes], index=rows).astype(bool),
            "rotation_id": chosen_rotation.where(chosen_rotation != "", None).astype(object),
            "source": given_source[valid].where(given_source[valid] != "", default_source).astype(str),
        },
        index=rows,
    )
    frame.index.name = "row"
    return frame, out.problems


def _rotation_on(bundle: Bundle, person: pd.Series, dates: pd.Series) -> pd.Series:
    """The rotation of each (person, date) from rotation_assignments.csv, NA when none."""
    blocks = bundle.frames["blocks"].dropna(subset=["start_date", "end_date"]).sort_values("start_date")
    out = pd.Series(pd.NA, index=person.index, dtype=object)
    if blocks.empty or person.empty:
        return out
    starts = blocks["start_date"].to_numpy(dtype="datetime64[ns]")
    ends = blocks["end_date"].to_numpy(dtype="datetime64[ns]")
    position = np.searchsorted(starts, dates.to_numpy(dtype="datetime64[ns]"), side="right") - 1
    inside = (position >= 0) & (dates.to_numpy(dtype="datetime64[ns]") <= ends[np.clip(position, 0, None)])
    block_ids = np.where(inside, blocks["block_id"].to_numpy(dtype=object)[np.clip(position, 0, None)], None)
    assignments = bundle.rotation_assignments()
    lookup = dict(
        zip(
            zip(assignments["person_id"].astype(str), assignments["block_id"].astype(str), strict=True),
            assignments["rotation_id"].astype(str),
            strict=True,
        )
    )
    values = [lookup.get((p, b)) if b is not None else None for p, b in zip(person.tolist(), block_ids, strict=True)]
    return pd.Series(values, index=person.index, dtype=object)


# --------------------------------------------------------------------------- showing values


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("\n", " ")
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _shown(value: object) -> str:
    """A bad cell as it may be printed: hidden when it looks like an email or a name of anyone.

    The bundle's own names and emails are hidden by :class:`InputError` (``personal``, the rule of
    :func:`rotaflow.errors.hide_personal`); this also hides what may be personal data of people the
    bundle does not list.
    """
    text = str(value)
    if "@" in text:
        return PERSONAL_DATA_HIDDEN
    if " " in text.strip() and not re.match(ID_PATTERN, text.strip()) and re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", text):
        return PERSONAL_DATA_HIDDEN  # two words: may well be someone's name
    return _short(text)
