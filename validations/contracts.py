"""Data contracts: one Pandera model per dataset that crosses a task boundary.

Each model is the single source of truth for a dataset's columns, types, ranges and
row checks. Field ``description`` is the phrase a person reads after "expected" when
a value breaks the field; a row check's description is ``"column: expected phrase"``.
The Great Expectations suites are generated from these models (``rotaflow.validations.expectations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from rotaflow.validations.vocabulary import ABSENCE_TYPES

__all__ = [
    "ABSENCE_TYPES",
    "APPLIES_ON_PATTERN",
    "ASSIGNMENT_COLUMNS",
    "AbsencesModel",
    "AssignmentsModel",
    "BlocksModel",
    "CHANGE_COLUMNS",
    "CLOCK_PATTERN",
    "ChangesModel",
    "CoverageModel",
    "DATASETS",
    "Dataset",
    "FINDING_COLUMNS",
    "FINDING_KINDS",
    "FindingsModel",
    "OUTPUTS",
    "HistoryModel",
    "LINE_BREAKING",
    "LOCAL_TIME_FORMAT",
    "LOCAL_TIME_PATTERN",
    "ONE_LINE_PATTERN",
    "ONE_LINE_TEXT",
    "PERSONAL_COLUMNS",
    "PeopleModel",
    "RequestsModel",
    "ROTATION_ASSIGNMENT_SOURCES",
    "RotationAssignmentsModel",
    "RotationCapacityModel",
    "RotationRequestsModel",
    "RotationRequirementsModel",
    "RotationsModel",
    "SHIFT_KINDS",
    "ShiftsModel",
    "leave_allowed",
]

ROLES = ["resident", "faculty"]
SHIFT_KINDS = ["day", "night", "call", "clinic", "home_call", "admin"]
ROTATION_SETTINGS = ["inpatient", "outpatient", "night_float", "elective", "leave"]
REQUEST_KINDS = ["on", "off"]
ROTATION_ASSIGNMENT_SOURCES = ["manual", "planned", "locked"]
LEAVE_ALLOWED_SETTINGS = frozenset({"outpatient", "elective", "leave"})
"""Settings whose rotations allow leave when rotations.csv leaves ``leave_allowed`` empty."""
SOURCES = ["solver", "pinned", "history", "manual"]
SEVERITIES = ["violation", "warning", "info"]
FINDING_KINDS = ["hard", "soft"]
CHANGE_KINDS = ["added", "removed"]
CHANGE_REASONS = ["generate", "repair", "swap", "manual"]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
ID_TEXT = "an id of letters, digits, '_', '-', '.' or ':' (at most 64 characters)"
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
APPLIES_ON_PATTERN = rf"^(daily|weekday|weekend|{_DAY}(;{_DAY})*|[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})$"
LINE_BREAKING = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
"""The characters that break a line of text (regex class body): C0, DEL, C1, Unicode line and paragraph separators."""
ONE_LINE_PATTERN = rf"^[^{LINE_BREAKING}]*$"
"""Text on one line: no control character (C0, DEL, C1), no Unicode line or paragraph separator."""
ONE_LINE_TEXT = "text on one line, without control characters"
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {"people.csv": ("name", "email")}
"""Bundle columns that hold personal data: never shown, and hidden wherever else they are typed."""
LOCAL_TIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}$"
"""A local wall-clock date and time without an offset, as spreadsheets read it: ``2027-07-01 07:00``."""
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M"
"""``strftime`` format of ``LOCAL_TIME_PATTERN``."""
ISO_INSTANT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([+-][0-9]{2}:[0-9]{2}|Z)$"


def _id(**kwargs: Any) -> Any:
    return pa.Field(str_matches=ID_PATTERN, description=ID_TEXT, **kwargs)  # type: ignore[arg-type]


def _name(description: str) -> Any:
    """A display name: one line of at most 200 characters."""
    return pa.Field(str_length={"max_value": 200}, str_matches=ONE_LINE_PATTERN, description=description)


def _location(what: str) -> Any:
    """An optional place for calendars' events: one line of at most 200 characters."""
    return pa.Field(
        nullable=True,
        str_length={"max_value": 200},
        str_matches=ONE_LINE_PATTERN,
        description=f"{what}: a place of at most 200 characters, on one line",
    )


class _Strict:
    strict = True
    coerce = False


class PeopleModel(pa.DataFrameModel):
    """people.csv: a resident or a faculty member."""

    person_id: Series[str] = _id(unique=True)
    name: Series[str] = _name("a display name of at most 200 characters, on one line")
    email: Series[str] = pa.Field(
        nullable=True, str_matches=r"^[^@\s]{1,64}@[^@\s]{1,255}$", description="an email address"
    )
    role: Series[str] = pa.Field(isin=ROLES, description="resident or faculty")
    pgy: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, in_range={"min_value": 1, "max_value": 8}, description="a whole number 1-8"
    )
    fte: Series[pd.Float64Dtype] = pa.Field(
        nullable=True,
        in_range={"min_value": 0, "max_value": 1, "include_min": False},
        description="a number above 0 and at most 1",
    )
    skills: Series[str] = pa.Field(
        nullable=True,
        str_matches=r"^[A-Za-z0-9_\-]{1,64}(;[A-Za-z0-9_\-]{1,64}){0,15}$",
        description="up to 16 skill tags separated by ';'",
    )

    class Config(_Strict):
        pass

    @pa.dataframe_check(description="pgy: a PGY year 1-8 for a resident")
    def resident_has_pgy(cls, df: pd.DataFrame) -> pd.Series:
        return ~((df["role"] == "resident") & df["pgy"].isna())

    @pa.dataframe_check(description="pgy: an empty pgy for a faculty member")
    def faculty_has_no_pgy(cls, df: pd.DataFrame) -> pd.Series:
        return ~((df["role"] == "faculty") & df["pgy"].notna())


class BlocksModel(pa.DataFrameModel):
    """blocks.csv: an academic block (inclusive date range)."""

    block_id: Series[str] = _id(unique=True)
    start_date: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    end_date: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")

    class Config(_Strict):
        pass

    @pa.dataframe_check(description="end_date: a date on or after start_date")
    def end_on_or_after_start(cls, df: pd.DataFrame) -> pd.Series:
        return (df["end_date"] >= df["start_date"]) | df["end_date"].isna()


class ShiftsModel(pa.DataFrameModel):
    """shifts.csv: a shift type with its local clock times."""

    shift_id: Series[str] = _id(unique=True)
    name: Series[str] = _name("a shift name of at most 200 characters, on one line")
    start: Series[str] = pa.Field(str_matches=CLOCK_PATTERN, description="a clock time HH:MM")
    end: Series[str] = pa.Field(str_matches=CLOCK_PATTERN, description="a clock time HH:MM")
    transition_minutes: Series[pd.Int64Dtype] = pa.Field(
        nullable=True,
        in_range={"min_value": 0, "max_value": 240},
        description="a whole number of minutes 0-240",
    )
    kind: Series[str] = pa.Field(isin=SHIFT_KINDS, description="one of " + ", ".join(SHIFT_KINDS))
    in_house_call: Series[pd.BooleanDtype] = pa.Field(description="true or false")
    counts_as_work: Series[pd.BooleanDtype] = pa.Field(nullable=True, description="true or false")
    home_call_hours: Series[pd.Float64Dtype] = pa.Field(
        nullable=True,
        in_range={"min_value": 0, "max_value": 24},
        description="a number of hours 0-24",
    )
    location: Series[str] = _location("where the shift is worked")

    class Config(_Strict):
        pass

    @pa.dataframe_check(description="in_house_call: false for a home_call shift")
    def home_call_is_not_in_house(cls, df: pd.DataFrame) -> pd.Series:
        return ~((df["kind"] == "home_call") & df["in_house_call"].fillna(False).astype(bool))


class RotationsModel(pa.DataFrameModel):
    """rotations.csv: a rotation and the shift types its residents may work."""

    rotation_id: Series[str] = _id(unique=True)
    name: Series[str] = _name("a rotation name of at most 200 characters, on one line")
    setting: Series[str] = pa.Field(isin=ROTATION_SETTINGS, description="one of " + ", ".join(ROTATION_SETTINGS))
    eligible_shifts: Series[str] = pa.Field(
        nullable=True,
        str_matches=r"^[^;]+(;[^;]+)*$",
        description="shift ids separated by ';'",
    )
    min_residents: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, description="a whole number 0 or more")
    max_residents: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, description="a whole number 0 or more")
    max_consecutive_blocks: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, ge=1, description="a whole number 1 or more"
    )
    leave_allowed: Series[pd.BooleanDtype] = pa.Field(nullable=True, description="true or false")
    location: Series[str] = _location("where the rotation is")

    class Config(_Strict):
        pass

    @pa.dataframe_check(description="max_residents: a number at least min_residents")
    def max_residents_at_least_min(cls, df: pd.DataFrame) -> pd.Series:
        return (df["max_residents"] >= df["min_residents"]).fillna(True)


def leave_allowed(rotations: pd.DataFrame) -> dict[str, bool]:
    """Whether each rotation of rotations.csv allows leave: its ``leave_allowed``, or the default of its setting.

    The default (true for outpatient, elective and leave; false for inpatient and night_float) is not
    written into the frame, so a bundle's content stays what its files say.
    """
    out: dict[str, bool] = {}
    for rotation_id, setting, given in zip(
        rotations["rotation_id"], rotations["setting"], rotations["leave_allowed"], strict=True
    ):
        if pd.isna(rotation_id):
            continue
        out[str(rotation_id)] = bool(given) if not pd.isna(given) else setting in LEAVE_ALLOWED_SETTINGS
    return out


class RotationAssignmentsModel(pa.DataFrameModel):
    """rotation_assignments.csv: who is on which rotation in which block."""

    person_id: Series[str] = _id()
    block_id: Series[str] = _id()
    rotation_id: Series[str] = _id()
    locked: Series[pd.BooleanDtype] = pa.Field(nullable=True, description="true or false")
    source: Series[str] = pa.Field(
        nullable=True,
        isin=ROTATION_ASSIGNMENT_SOURCES,
        description="one of " + ", ".join(ROTATION_ASSIGNMENT_SOURCES),
    )

    class Config(_Strict):
        unique = ["person_id", "block_id"]


class RotationRequirementsModel(pa.DataFrameModel):
    """rotation_requirements.csv: how many blocks of a rotation each resident of a PGY does in the year."""

    pgy: Series[pd.Int64Dtype] = pa.Field(in_range={"min_value": 1, "max_value": 8}, description="a whole number 1-8")
    rotation_id: Series[str] = _id()
    min_blocks: Series[pd.Int64Dtype] = pa.Field(ge=0, description="a whole number 0 or more")
    max_blocks: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, description="a whole number 0 or more")

    class Config(_Strict):
        unique = ["pgy", "rotation_id"]

    @pa.dataframe_check(description="max_blocks: a number at least min_blocks")
    def max_at_least_min(cls, df: pd.DataFrame) -> pd.Series:
        return (df["max_blocks"] >= df["min_blocks"]).fillna(True)


class RotationCapacityModel(pa.DataFrameModel):
    """rotation_capacity.csv: how many residents a rotation takes in one block (overrides rotations.csv)."""

    block_id: Series[str] = _id()
    rotation_id: Series[str] = _id()
    min_residents: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, description="a whole number 0 or more")
    max_residents: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, description="a whole number 0 or more")

    class Config(_Strict):
        unique = ["block_id", "rotation_id"]

    @pa.dataframe_check(description="max_residents: a number at least min_residents")
    def max_residents_at_least_min(cls, df: pd.DataFrame) -> pd.Series:
        return (df["max_residents"] >= df["min_residents"]).fillna(True)


class RotationRequestsModel(pa.DataFrameModel):
    """rotation_requests.csv: a resident's wish to be on (on) or off (off) a rotation in a block."""

    person_id: Series[str] = _id()
    block_id: Series[str] = _id()
    rotation_id: Series[str] = _id()
    kind: Series[str] = pa.Field(isin=REQUEST_KINDS, description="on or off")
    weight: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, description="a whole number 1 or more")

    class Config(_Strict):
        unique = ["person_id", "block_id", "rotation_id"]


class CoverageModel(pa.DataFrameModel):
    """coverage.csv: how many people a shift needs on a day."""

    shift_id: Series[str] = _id()
    applies_on: Series[str] = pa.Field(
        str_matches=APPLIES_ON_PATTERN,
        description="daily, weekday, weekend, a ';' list of mon..sun, or a date YYYY-MM-DD",
    )
    rotation_id: Series[str] = _id(nullable=True)
    role: Series[str] = pa.Field(nullable=True, isin=ROLES, description="resident, faculty or empty")
    min_pgy: Series[pd.Int64Dtype] = pa.Field(
        nullable=True, in_range={"min_value": 1, "max_value": 8}, description="a whole number 1-8"
    )
    skill: Series[str] = pa.Field(nullable=True, str_matches=r"^[A-Za-z0-9_\-]+$", description="one skill tag")
    min: Series[pd.Int64Dtype] = pa.Field(ge=0, description="a whole number 0 or more")
    max: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, description="a whole number 0 or more")
    target: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0, description="a whole number 0 or more")

    class Config(_Strict):
        unique = ["shift_id", "applies_on", "rotation_id", "role", "min_pgy", "skill"]

    @pa.dataframe_check(description="max: a number at least min")
    def max_at_least_min(cls, df: pd.DataFrame) -> pd.Series:
        return df["max"].isna() | (df["max"] >= df["min"]).fillna(True)

    @pa.dataframe_check(description="target: a number between min and max")
    def target_between_min_and_max(cls, df: pd.DataFrame) -> pd.Series:
        low = df["target"].isna() | (df["target"] >= df["min"]).fillna(True)
        high = df["target"].isna() | df["max"].isna() | (df["target"] <= df["max"]).fillna(True)
        return low & high


class AbsencesModel(pa.DataFrameModel):
    """absences.csv: leave, sick days, conferences, deployments (dates inclusive)."""

    person_id: Series[str] = _id()
    start_date: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    end_date: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    type: Series[str] = pa.Field(isin=ABSENCE_TYPES, description="one of " + ", ".join(ABSENCE_TYPES))
    blocking: Series[pd.BooleanDtype] = pa.Field(nullable=True, description="true or false")

    class Config(_Strict):
        unique = ["person_id", "start_date", "end_date", "type"]

    @pa.dataframe_check(description="end_date: a date on or after start_date")
    def end_on_or_after_start(cls, df: pd.DataFrame) -> pd.Series:
        return (df["end_date"] >= df["start_date"]) | df["end_date"].isna()


class RequestsModel(pa.DataFrameModel):
    """requests.csv: a wish to work (on) or avoid (off) a shift or a whole day."""

    person_id: Series[str] = _id()
    date: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    shift_id: Series[str] = _id(nullable=True)
    kind: Series[str] = pa.Field(isin=REQUEST_KINDS, description="on or off")
    weight: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, description="a whole number 1 or more")

    class Config(_Strict):
        unique = ["person_id", "date", "shift_id"]


class HistoryModel(pa.DataFrameModel):
    """history.csv: shifts already worked before the block (assignments' columns)."""

    person_id: Series[str] = _id()
    date: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    shift_id: Series[str] = _id()
    start: Series[str] = pa.Field(
        nullable=True, str_matches=ISO_INSTANT_PATTERN, description="an ISO 8601 time with offset"
    )
    end: Series[str] = pa.Field(
        nullable=True, str_matches=ISO_INSTANT_PATTERN, description="an ISO 8601 time with offset"
    )
    hours: Series[pd.Float64Dtype] = pa.Field(
        nullable=True, in_range={"min_value": 0, "max_value": 48}, description="hours 0-48"
    )
    rotation_id: Series[str] = _id(nullable=True)
    source: Series[str] = pa.Field(nullable=True, isin=SOURCES, description="one of " + ", ".join(SOURCES))

    class Config(_Strict):
        unique = ["person_id", "date", "shift_id"]


class AssignmentsModel(pa.DataFrameModel):
    """assignments.csv: one worked or scheduled shift of one person.

    ``start_local`` / ``end_local`` are the same instants as ``start`` / ``end`` in the program's wall
    time without an offset (``2027-07-01 07:00``), a form spreadsheets read as a date and time; they are
    empty only in a file written before rotaflow wrote them.
    """

    person_id: Series[str] = _id()
    date: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    shift_id: Series[str] = _id()
    start: Series[str] = pa.Field(str_matches=ISO_INSTANT_PATTERN, description="an ISO 8601 time with offset")
    end: Series[str] = pa.Field(str_matches=ISO_INSTANT_PATTERN, description="an ISO 8601 time with offset")
    hours: Series[pd.Float64Dtype] = pa.Field(in_range={"min_value": 0, "max_value": 48}, description="hours 0-48")
    rotation_id: Series[str] = _id(nullable=True)
    source: Series[str] = pa.Field(isin=SOURCES, description="one of " + ", ".join(SOURCES))
    start_local: Series[str] = pa.Field(
        nullable=True, str_matches=LOCAL_TIME_PATTERN, description="a local date and time (YYYY-MM-DD HH:MM)"
    )
    end_local: Series[str] = pa.Field(
        nullable=True, str_matches=LOCAL_TIME_PATTERN, description="a local date and time (YYYY-MM-DD HH:MM)"
    )

    class Config(_Strict):
        unique = ["person_id", "date", "shift_id"]


class FindingsModel(pa.DataFrameModel):
    """findings.csv: one validation finding.

    ``kind`` is the kind of the rule the finding is about (``hard`` or ``soft``, ``finding_kind``); ``date``
    and ``shift_id`` name the shift of a per-shift finding and are empty for a finding over a window. The
    three are empty only in a file written before rotaflow wrote them.
    """

    rule: Series[str] = pa.Field(str_matches=r"^[a-z][a-z0-9_]*$", description="a rule name")
    severity: Series[str] = pa.Field(isin=SEVERITIES, description="violation, warning or info")
    person_id: Series[str] = _id(nullable=True)
    window_start: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    window_end: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    value: Series[pd.Float64Dtype] = pa.Field(nullable=True, description="a number")
    limit: Series[pd.Float64Dtype] = pa.Field(nullable=True, description="a number")
    unit: Series[str] = pa.Field(nullable=True, description="a unit")
    message: Series[str] = pa.Field(description="a sentence")
    kind: Series[str] = pa.Field(nullable=True, isin=FINDING_KINDS, description="hard or soft")
    date: Series[pd.Timestamp] = pa.Field(nullable=True, description="a date (YYYY-MM-DD)")
    shift_id: Series[str] = _id(nullable=True)

    class Config(_Strict):
        pass

    @pa.dataframe_check(description="window_end: a date on or after window_start")
    def end_on_or_after_start(cls, df: pd.DataFrame) -> pd.Series:
        return (df["window_end"] >= df["window_start"]) | df["window_end"].isna()


class ChangesModel(pa.DataFrameModel):
    """changes.csv: one assignment gained or lost between two versions of a block's published schedule."""

    change: Series[str] = pa.Field(isin=CHANGE_KINDS, description="added or removed")
    person_id: Series[str] = _id()
    date: Series[pd.Timestamp] = pa.Field(description="a date (YYYY-MM-DD)")
    shift_id: Series[str] = _id()
    from_version: Series[pd.Int64Dtype] = pa.Field(ge=0, description="a whole number 0 or more")
    to_version: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=1, description="a whole number 1 or more")
    reason: Series[str] = pa.Field(isin=CHANGE_REASONS, description="one of " + ", ".join(CHANGE_REASONS))
    reference: Series[str] = pa.Field(
        nullable=True,
        str_length={"max_value": 200},
        str_matches=ONE_LINE_PATTERN,
        description="a swap id or an absence, on one line",
    )

    class Config(_Strict):
        unique = ["change", "person_id", "date", "shift_id"]

    @pa.dataframe_check(description="to_version: a version after from_version")
    def to_after_from(cls, df: pd.DataFrame) -> pd.Series:
        return df["to_version"].isna() | (df["to_version"] > df["from_version"]).fillna(True)


ASSIGNMENT_COLUMNS: list[str] = list(AssignmentsModel.to_schema().columns)
"""assignments.csv's columns, in file order."""
FINDING_COLUMNS: list[str] = list(FindingsModel.to_schema().columns)
"""findings.csv's columns, in file order (every findings frame has exactly these)."""
CHANGE_COLUMNS: list[str] = list(ChangesModel.to_schema().columns)
"""changes.csv's columns, in file order."""


@dataclass(frozen=True)
class Dataset:
    """A bundle dataset: its file, its contract and whether the bundle must hold it."""

    name: str
    file: str
    model: type[pa.DataFrameModel]
    required: bool
    min_rows: int = 0

    @property
    def columns(self) -> list[str]:
        return list(self.model.to_schema().columns)

    @property
    def required_columns(self) -> list[str]:
        return [n for n, c in self.model.to_schema().columns.items() if not c.nullable]


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("people", "people.csv", PeopleModel, True, 1),
        Dataset("blocks", "blocks.csv", BlocksModel, True, 1),
        Dataset("shifts", "shifts.csv", ShiftsModel, True, 1),
        Dataset("rotations", "rotations.csv", RotationsModel, True, 1),
        Dataset("rotation_assignments", "rotation_assignments.csv", RotationAssignmentsModel, False),
        Dataset("coverage", "coverage.csv", CoverageModel, True, 1),
        Dataset("absences", "absences.csv", AbsencesModel, False),
        Dataset("requests", "requests.csv", RequestsModel, False),
        Dataset("history", "history.csv", HistoryModel, False),
        Dataset("rotation_requirements", "rotation_requirements.csv", RotationRequirementsModel, False),
        Dataset("rotation_capacity", "rotation_capacity.csv", RotationCapacityModel, False),
        Dataset("rotation_requests", "rotation_requests.csv", RotationRequestsModel, False),
    )
}
"""Bundle datasets in load order (``assignments`` and ``findings`` are outputs)."""

OUTPUTS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("assignments", "assignments.csv", AssignmentsModel, False),
        Dataset("findings", "findings.csv", FindingsModel, False),
        Dataset("changes", "changes.csv", ChangesModel, False),
    )
}
"""What a run hands back (docs/formats.md, “The schedule”), held to the same kind of contract."""
