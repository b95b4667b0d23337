"""Read a program bundle and hold it to its contract.

``parse_bundle`` turns the raw files of a bundle into typed frames, checking each file
against its Pandera model (lazily, so every problem comes back at once) and then the
references between files. Any problem raises :class:`~rotaflow.errors.InputError`
whose problems name file, row (1 = first data row), column and what was expected.
Nothing here writes anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import io
import json
import math
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import pandas as pd
import pandera.pandas as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rotaflow.errors import PERSONAL_DATA_HIDDEN, InputError, Problem
from rotaflow.validations.contracts import DATASETS, ONE_LINE_PATTERN, ONE_LINE_TEXT, PERSONAL_COLUMNS, Dataset
from rotaflow.validations.limits import LIMITS, BundleLimits
from rotaflow.validations.safe_yaml import YamlLimitError, load_yaml

__all__ = [
    "BUNDLE_FILES",
    "AcgmeSettings",
    "Bundle",
    "ProgramConfig",
    "header_problems",
    "parse_bundle",
    "parse_csv",
    "personal_values",
]

PROGRAM_FILE = "program.yaml"
CONSTRAINTS_FILE = "constraints.yaml"
BUNDLE_FILES = frozenset({PROGRAM_FILE, CONSTRAINTS_FILE} | {d.file for d in DATASETS.values()})
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_FLOAT_RE = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$")
_MAX_CELL = 2000
_MAX_ABSENCE_DAYS = 365
_HOST_ZONES = frozenset({"localtime", "Factory"})
_LIST_COLUMNS = {("people.csv", "skills"), ("rotations.csv", "eligible_shifts"), ("coverage.csv", "applies_on")}
_DATASETS_ADDED = ("rotation_requirements", "rotation_capacity", "rotation_requests")
"""Datasets of year planning, added to the contract after bundles were first hashed."""
_HASHED_WHEN_GIVEN: dict[str, tuple[str, ...]] = {
    **{name: () for name in _DATASETS_ADDED},
    "rotations": ("min_residents", "max_residents", "max_consecutive_blocks", "leave_allowed", "location"),
    "shifts": ("location",),
    "rotation_assignments": ("locked", "source"),
}
"""Datasets and columns that count in ``Bundle.content_hash`` only when the bundle gives them."""
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ONE_LINE = re.compile(ONE_LINE_PATTERN)
_NOT_ONE_LINE = "a line break or other control character (the value is not shown)"


class AcgmeSettings(BaseModel):
    """The optional ``acgme:`` section of program.yaml."""

    model_config = ConfigDict(extra="forbid")

    averaging: Literal["rolling_28d", "block"] = "rolling_28d"
    leave_excluded_from_average: bool = True


class SwapSettings(BaseModel):
    """The optional ``swaps:`` section of program.yaml: who approves a shift swap, how long an undo stays possible."""

    model_config = ConfigDict(extra="forbid")

    approval: Literal["coordinator", "none"] = "coordinator"
    undo_hours: float = Field(default=24.0, ge=0, le=24 * 366)


class ProgramConfig(BaseModel):
    """program.yaml: program settings."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9\-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    timezone: str
    acgme: AcgmeSettings = Field(default_factory=AcgmeSettings)
    swaps: SwapSettings = Field(default_factory=SwapSettings)
    holidays: list[dt.date] = Field(default_factory=list, max_length=400)
    """Public holidays of the program's calendar: the fairness rule and `report year` count the shifts on them."""

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not _ONE_LINE.match(value):
            raise ValueError(ONE_LINE_TEXT)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones() or value in _HOST_ZONES or value.startswith(("posix/", "right/")):
            raise ValueError("an IANA timezone name such as Pacific/Honolulu")
        return value

    @property
    def key(self) -> str:
        """Stable identity of the program across versions of its bundle.

        ``id`` when program.yaml gives one (set it to rename a program without starting a
        new one); otherwise a slug of the name, with a hash when the name has no ASCII letters.
        """
        if self.id:
            return self.id
        ascii_name = unicodedata.normalize("NFKD", self.name).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:50].strip("-")
        if len(slug) < 3:
            digest = hashlib.sha256(self.name.encode()).hexdigest()[:10]
            slug = f"{slug or 'program'}-{digest}"
        return slug


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@dataclass
class Bundle:
    """A program bundle that passed its contract: typed frames, one per dataset."""

    program: ProgramConfig
    frames: dict[str, pd.DataFrame]
    constraints: dict[str, Any] | None = None
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    """What was accepted but not read: extra files and columns (docs/formats.md allows them)."""
    plan: pd.DataFrame | None = field(default=None, repr=False)
    """The program's published year plan (rotation_assignments.csv's columns), from the database: a resident
    without a row for a block in the bundle's rotation_assignments.csv takes that block's rotation from it. Not
    part of the bundle's content (``content_hash``)."""

    def unassigned(self) -> set[tuple[str, str]]:
        """The (resident, block) pairs of people.csv × blocks.csv without a row in rotation_assignments.csv."""
        rows, people = self.frames["rotation_assignments"], self.frames["people"]
        residents = people.loc[people["role"] == "resident", "person_id"]
        given = set(zip(rows["person_id"], rows["block_id"], strict=True))
        return {(str(p), str(b)) for p in residents for b in self.frames["blocks"]["block_id"] if (p, b) not in given}

    def rotation_assignments(self) -> pd.DataFrame:
        """rotation_assignments.csv as the schedule reads it: the bundle's rows, and for each resident and block
        it has no row for, the published year plan's row (a partial file, say the locked rows only, completed by
        the plan)."""
        rows = self.frames["rotation_assignments"]
        if self.plan is None or self.plan.empty:
            return rows
        missing = self.unassigned()
        keys = list(zip(self.plan["person_id"].astype(str), self.plan["block_id"].astype(str), strict=True))
        planned = self.plan[[key in missing for key in keys]]
        if planned.empty:
            return rows
        planned = planned.reindex(columns=rows.columns).astype(rows.dtypes.to_dict())
        return pd.concat([rows, planned], ignore_index=True)

    @property
    def content_hash(self) -> str:
        """Hash of the bundle's meaning: equal for byte-different but equal content.

        What the contract gained later (``_HASHED_WHEN_GIVEN``) counts only when a bundle gives it: an
        empty file or column means what its absence means, and a bundle that does not use them keeps
        the hash it was ingested with.
        """
        digest = hashlib.sha256()
        # holidays count only when given: a program.yaml without them keeps the hash it was ingested with
        absent = {"holidays"} if not self.program.holidays else None
        digest.update(self.program.model_dump_json(exclude=absent).encode())
        digest.update(json.dumps(self.constraints or {}, sort_keys=True).encode())
        for name in sorted(self.frames):
            frame = self.frames[name]
            if name in _HASHED_WHEN_GIVEN:
                if name in _DATASETS_ADDED and frame.empty:
                    continue
                unused = [c for c in _HASHED_WHEN_GIVEN[name] if c in frame.columns and frame[c].isna().all()]
                frame = frame.drop(columns=unused)
            digest.update(name.encode())
            digest.update(frame.to_csv(index=False, date_format="%Y-%m-%d").encode())
        return digest.hexdigest()


# --------------------------------------------------------------------------- files


def _decode(file: str, raw: bytes) -> tuple[str | None, list[Problem]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [Problem(file, None, None, "UTF-8 text", f"a byte that is not UTF-8 at offset {exc.start}")]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n")
        return None, [Problem(file, max(line, 0) or None, None, "text without NUL bytes", "binary data")]
    return text, []


def parse_csv(
    dataset: Dataset, raw: bytes, *, limits: BundleLimits = LIMITS, rows_left: int | None = None
) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Parse one CSV file into a typed frame indexed by row number (1 = first data row).

    ``rows_left``: what remains of the bundle's row limit (``limits.bundle_rows``) for this file.
    """
    file = dataset.file
    if len(raw) > limits.file_bytes:
        return None, [Problem(file, None, None, f"at most {limits.file_bytes} bytes", str(len(raw)))]
    text, problems = _decode(file, raw)
    if text is None:
        return None, problems
    expected_cols = dataset.columns
    row_limit = limits.rows_for(file)
    records: list[list[str]] = []  # the header, then the non-blank rows
    numbers: list[int] = []  # their row numbers (a blank line keeps its number but holds no data)
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text, newline=""))):
            if records and not "".join(record).strip():
                continue
            if len(records) > row_limit:  # counted while read: never more than the limit in memory
                return None, [Problem(file, None, None, f"at most {row_limit} data rows", f"more than {row_limit}")]
            if rows_left is not None and len(records) > rows_left:
                expected = f"at most {limits.bundle_rows} data rows in all CSV files together"
                return None, [Problem(file, None, None, expected, "more with this file's")]
            records.append(record)
            numbers.append(number)
    except csv.Error as exc:
        return None, [Problem(file, None, None, "well-formed CSV", _short(str(exc)))]
    if not records or (len(records) == 1 and not "".join(records[0]).strip()):
        return None, [
            Problem(
                file,
                None,
                None,
                "a header row with the columns " + ", ".join(dataset.required_columns),
                "an empty file",
            )
        ]
    header = [h.strip() for h in records[0]]
    problems, ignored = header_problems(file, header, known=expected_cols, required=dataset.required_columns)
    if problems:
        return None, problems

    rows: dict[int, list[str]] = {}
    for number, record in zip(numbers[1:], records[1:], strict=True):
        if len(record) != len(header):
            problems.append(
                Problem(file, number, None, f"{len(header)} fields as in the header", f"{len(record)} fields")
            )
            continue
        rows[number] = [cell.strip() for cell in record]
    if len(rows) < dataset.min_rows:
        problems.append(Problem(file, None, None, f"at least {dataset.min_rows} data row(s)", "none"))
    raw_frame = pd.DataFrame.from_dict(rows, orient="index", columns=header, dtype=object)
    frame, parse_problems = _typed(dataset, raw_frame)  # reads the known columns only
    frame.attrs["ignored_columns"] = ignored
    frame.attrs["rows_read"] = len(records) - 1
    return frame, problems + parse_problems


def header_problems(
    file: str,
    header: Sequence[str],
    *,
    known: Sequence[str],
    required: Iterable[str],
    personal: frozenset[str] = frozenset(),
) -> tuple[list[Problem], list[str]]:
    """Problems of a CSV header, and the extra columns it may carry (docs/formats.md allows added columns).

    An extra column is ignored, unless its name looks like a misspelling of a known column the file
    lacks (``pgy_level`` for ``pgy``… no; ``transtion_minutes`` for ``transition_minutes``: yes) —
    silently dropping a column the program meant to give is worse than refusing. A header cell that
    is not a column name is never shown (it may be data: a file without its header row).
    """
    problems: list[Problem] = []
    ignored: list[str] = []
    seen: set[str] = set()
    present = set(header)
    absent = [name for name in known if name not in present]
    odd: list[str] = []
    for position, name in enumerate(header, start=1):
        readable = _IDENTIFIER.match(name) is not None and name.casefold() not in personal
        label = (
            name if readable else f"#{position} (a header cell that is not a column name; is the header row missing?)"
        )
        if name == "":
            problems.append(Problem(file, None, None, "a name for every header column", "an empty header cell"))
        elif name in seen:
            problems.append(Problem(file, None, label, "each column once", "a repeated column"))
        elif name not in known:
            near = difflib.get_close_matches(name.casefold(), absent, n=1, cutoff=0.8) if readable else []
            if near:
                problems.append(
                    Problem(
                        file,
                        None,
                        label,
                        f"the column {near[0]} (extra columns are allowed, but this looks like a misspelling of it)",
                        "an unknown column",
                    )
                )
            elif readable:
                ignored.append(name)
            else:
                odd.append(label)
        seen.add(name)
    missing = [name for name in required if name not in seen]
    for name in missing:
        problems.append(Problem(file, None, name, f"a column named {name}", "no such column"))
    if missing and odd:  # most likely the header row is missing: say so, by position only
        problems.append(Problem(file, None, odd[0], "a header row of column names", "an unknown column"))
    elif odd:
        ignored += [label.split(" ", 1)[0] for label in odd]
    return problems, ignored


def _label(name: str, position: int) -> str:
    """A header cell as it may be printed: a column name as it is, anything else by position.

    A cell that is not a column name may be data (a file without its header row starts
    with a person's name and email), so it is never shown.
    """
    if _IDENTIFIER.match(name):
        return name
    return f"#{position} (a header cell that is not a column name; is the header row missing?)"


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("\n", " ")
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _typed(dataset: Dataset, raw: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Convert string cells to the model's types; unparseable cells become problems and NA."""
    schema = dataset.model.to_schema()
    problems: list[Problem] = []
    columns: dict[str, pd.Series] = {}
    for name, column in schema.columns.items():
        cells = raw[name] if name in raw.columns else pd.Series([""] * len(raw), index=raw.index, dtype=object)
        dtype = str(column.dtype)
        parser, expected = _PARSERS.get(dtype, (_parse_str, None))
        values: list[Any] = []
        for row, cell in cells.items():
            if cell is None or cell == "":
                values.append(pd.NA)
                continue
            if len(cell) > _MAX_CELL:
                problems.append(
                    Problem(dataset.file, int(row), name, f"at most {_MAX_CELL} characters", f"{len(cell)} characters")
                )
                values.append(pd.NA)
                continue
            if parser is _parse_str and not _ONE_LINE.match(cell):  # never shown: it may be a name
                problems.append(Problem(dataset.file, int(row), name, ONE_LINE_TEXT, _NOT_ONE_LINE))
                values.append(pd.NA)
                continue
            if (dataset.file, name) in _LIST_COLUMNS:
                cell = ";".join(part.strip() for part in cell.split(";"))
            try:
                values.append(parser(cell))
            except _OutOfRange as exc:
                problems.append(Problem(dataset.file, int(row), name, exc.expected, _got(dataset, name, cell)))
                values.append(pd.NA)
            except ValueError:
                problems.append(
                    Problem(
                        dataset.file,
                        int(row),
                        name,
                        expected or column.description or "a value",
                        _got(dataset, name, cell),
                    )
                )
                values.append(pd.NA)
        columns[name] = _series(values, dtype, raw.index)
    frame = pd.DataFrame(columns, index=raw.index)
    frame.index.name = "row"
    return frame, problems


def _series(values: list[Any], dtype: str, index: pd.Index) -> pd.Series:
    if dtype.startswith("datetime64"):
        stamps = [pd.NaT if v is pd.NA else pd.Timestamp(v) for v in values]
        return pd.Series(stamps, index=index, dtype="datetime64[ns]")
    if dtype in ("Int64", "Float64", "boolean"):
        return pd.Series(pd.array(values, dtype=dtype), index=index)
    return pd.Series(values, index=index, dtype="str")


def _parse_str(cell: str) -> str:
    return cell


class _OutOfRange(ValueError):
    """A well-formed value outside what rotaflow accepts; carries its own expectation."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


_FIRST_DATE, _LAST_DATE = dt.date(1900, 1, 1), dt.date(2199, 12, 31)


def _parse_date(cell: str) -> dt.date:
    if not _DATE_RE.match(cell):
        raise ValueError(cell)
    value = dt.date.fromisoformat(cell)
    if not _FIRST_DATE <= value <= _LAST_DATE:
        raise _OutOfRange(f"a date from {_FIRST_DATE} to {_LAST_DATE}")
    return value


def _parse_int(cell: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", cell):
        raise ValueError(cell)
    return int(cell)


def _parse_float(cell: str) -> float:
    if not _FLOAT_RE.match(cell):
        raise ValueError(cell)
    value = float(cell)
    if not math.isfinite(value):
        raise ValueError(cell)
    return value


def _parse_bool(cell: str) -> bool:
    lowered = cell.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(cell)


_PARSERS = {
    "datetime64[ns]": (_parse_date, "a date (YYYY-MM-DD)"),
    "Int64": (_parse_int, "a whole number"),
    "Float64": (_parse_float, "a number"),
    "boolean": (_parse_bool, "true or false (also 1/0, yes/no)"),
}


def contract_problems(dataset: Dataset, frame: pd.DataFrame, skip: set[tuple[int, str]]) -> list[Problem]:
    """Validate a typed frame against its Pandera model, lazily; map failures to problems."""
    try:
        dataset.model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return _failures_to_problems(dataset, exc.failure_cases, frame, skip)
    return []


def _failures_to_problems(
    dataset: Dataset, failures: pd.DataFrame, frame: pd.DataFrame, skip: set[tuple[int, str]]
) -> list[Problem]:
    schema = dataset.model.to_schema()
    frame_checks = {c.name: c.description or "" for c in schema.checks}
    problems: list[Problem] = []
    seen_rows: set[tuple[str, int]] = set()
    for case in failures.itertuples(index=False):
        check = str(case.check)
        column = None if pd.isna(case.column) else str(case.column)
        row = None if pd.isna(case.index) else int(case.index)
        got = None if pd.isna(case.failure_case) else _got(dataset, column, case.failure_case)
        if check in frame_checks or check == "multiple_fields_uniqueness":
            if row is None or (check, row) in seen_rows:
                continue
            seen_rows.add((check, row))
            if check == "multiple_fields_uniqueness":
                keys = ", ".join(schema.unique or [])
                problems.append(Problem(dataset.file, row, None, f"a unique combination of {keys}", "a repeated row"))
                continue
            target, _, expected = frame_checks[check].partition(": ")
            if (row, target) in skip:
                continue
            value = frame.at[row, target] if target in frame.columns else None
            shown = "an empty cell" if value is None or pd.isna(value) else _got(dataset, target, value)
            problems.append(Problem(dataset.file, row, target, expected, shown))
        elif row is not None and column is not None and (row, column) in skip:
            continue
        elif check == "field_uniqueness":
            problems.append(Problem(dataset.file, row, column, "a unique value", got))
        elif check == "not_nullable":
            desc = schema.columns[column].description if column in schema.columns else None
            problems.append(Problem(dataset.file, row, column, desc or "a value", "an empty cell"))
        elif column in schema.columns:
            problems.append(Problem(dataset.file, row, column, schema.columns[column].description or check, got))
        else:  # a schema-level failure with no column of ours: still located at the file
            problems.append(Problem(dataset.file, row, column, check, got))
    return problems


_PERSONAL = {(file, column) for file, columns in PERSONAL_COLUMNS.items() for column in columns}


def _got(dataset: Dataset, column: str | None, value: object) -> str:
    """Show a bad value, except personal data, which never leaves the bundle.

    A name or email typed in another column is hidden by :class:`InputError` (``personal``).
    """
    if (dataset.file, column) in _PERSONAL or "@" in str(value):
        return PERSONAL_DATA_HIDDEN
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    return _short(str(value))


# --------------------------------------------------------------------------- program.yaml


def _parse_yaml(file: str, raw: bytes, limits: BundleLimits = LIMITS) -> tuple[Any, list[Problem]]:
    if len(raw) > limits.yaml_bytes:
        return None, [Problem(file, None, None, f"at most {limits.yaml_bytes} bytes of YAML", str(len(raw)))]
    text, problems = _decode(file, raw)
    if text is None:
        return None, problems
    try:
        return load_yaml(file, text, limits=limits), []
    except YamlLimitError as exc:  # an alias bomb, stopped while composing
        return None, [exc.problem]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return None, [Problem(file, line, None, "valid YAML", _short(str(getattr(exc, "problem", exc))))]
    except RecursionError:
        return None, [Problem(file, None, None, "valid YAML", "nesting too deep to read")]
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # the YAML parsed, but a value (a date like 2027-02-30, a tagged scalar) could not be built
        return None, [Problem(file, None, None, "valid YAML values", _short(str(exc)))]


_SECTIONS: dict[str, type[BaseModel]] = {"acgme": AcgmeSettings, "swaps": SwapSettings}
"""program.yaml's sections, by key: an unknown key inside one is told the section's own keys."""


def parse_program(raw: bytes, limits: BundleLimits = LIMITS) -> tuple[ProgramConfig | None, list[Problem]]:
    data, problems = _parse_yaml(PROGRAM_FILE, raw, limits)
    if problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [Problem(PROGRAM_FILE, None, None, "a mapping with name and timezone", type(data).__name__)]
    try:
        return ProgramConfig.model_validate(data), []
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            column = ".".join(str(p) for p in err["loc"]) or None
            if err["type"] == "missing":
                expected, got = "a value", "nothing"
            elif err["type"] == "extra_forbidden":
                section = _SECTIONS.get(str(err["loc"][0]) if len(err["loc"]) > 1 else "", ProgramConfig)
                expected, got = "only the keys " + ", ".join(section.model_fields), "an unknown key"
            else:
                expected = err["msg"].removeprefix("Value error, ")
                given = str(err.get("input"))
                got = _short(given) if _ONE_LINE.match(given) else _NOT_ONE_LINE
            out.append(Problem(PROGRAM_FILE, None, column, expected, got))
        return None, out


def parse_constraints(raw: bytes, limits: BundleLimits = LIMITS) -> tuple[dict[str, Any] | None, list[Problem]]:
    data, problems = _parse_yaml(CONSTRAINTS_FILE, raw, limits)
    if problems:
        return None, problems
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return None, [Problem(CONSTRAINTS_FILE, None, None, "a mapping of rule settings", type(data).__name__)]
    try:
        # plain JSON values only: the overrides are stored with the program version
        data = json.loads(json.dumps(data, allow_nan=False, sort_keys=True, default=_not_json))
    except (TypeError, ValueError) as exc:
        return None, [
            Problem(
                CONSTRAINTS_FILE,
                None,
                None,
                "plain values (text, numbers, true/false, lists, mappings)",
                _short(str(exc)),
            )
        ]
    from rotaflow.constraints.ruleset import RuleSetError, configure, load_ruleset, merge_overrides

    try:
        configure(merge_overrides(load_ruleset(), data, source=CONSTRAINTS_FILE))
    except RuleSetError as exc:
        return None, [
            Problem(CONSTRAINTS_FILE, None, None, "rule settings the rule engine accepts", _short(p, 200))
            for p in exc.problems
        ]
    return data, []


def _not_json(value: object) -> object:
    raise TypeError(f"{type(value).__name__} value {str(value)[:40]!r} is not plain data")


# --------------------------------------------------------------------------- the bundle


def parse_bundle(files: Mapping[str, bytes], *, source: str = "", limits: BundleLimits = LIMITS) -> Bundle:
    """Check a bundle's files against every contract; return it typed or raise InputError."""
    problems: list[Problem] = []
    notes: list[str] = []
    absent = sorted(BUNDLE_FILES - set(files))
    for name in sorted(files):
        if name in BUNDLE_FILES:
            continue
        near = difflib.get_close_matches(name.casefold(), absent, n=1, cutoff=0.8)
        if near:
            problems.append(
                Problem(
                    name,
                    None,
                    None,
                    f"the bundle file {near[0]} (extra files are allowed, but this looks like a misspelling of it)",
                    "an unknown file",
                )
            )
        else:
            notes.append(f"{name}: not a bundle file of docs/formats.md; kept, not read")
    program: ProgramConfig | None = None
    if PROGRAM_FILE in files:
        program, found = parse_program(files[PROGRAM_FILE], limits)
        problems += found
    else:
        problems.append(Problem(PROGRAM_FILE, None, None, "the file to be present", "no such file"))
    constraints = None
    if CONSTRAINTS_FILE in files:
        constraints, found = parse_constraints(files[CONSTRAINTS_FILE], limits)
        problems += found

    frames: dict[str, pd.DataFrame] = {}
    clean: set[str] = set()
    bad_rows: dict[str, set[int]] = {}
    rows_left = limits.bundle_rows
    for dataset in DATASETS.values():
        if dataset.file not in files:
            if dataset.required:
                problems.append(Problem(dataset.file, None, None, "the file to be present", "no such file"))
            else:
                frames[dataset.name] = _empty(dataset)
                clean.add(dataset.name)
            continue
        frame, found = parse_csv(dataset, files[dataset.file], limits=limits, rows_left=rows_left)
        if frame is not None:
            rows_left -= frame.attrs["rows_read"]
            notes += [
                f"{dataset.file}: column {c} is not read by rotaflow; ignored" for c in frame.attrs["ignored_columns"]
            ]
            skip = {(p.row, p.column) for p in found if p.row is not None and p.column}
            found += contract_problems(dataset, frame, skip)  # type: ignore[arg-type]
            frames[dataset.name] = frame
        problems += found
        if not found:
            clean.add(dataset.name)
        bad_rows[dataset.name] = {p.row for p in found if p.row is not None}

    problems += cross_file_problems(frames, clean=clean, bad_rows=bad_rows)
    if problems:
        raise InputError(problems, source=source, personal=personal_values(files))
    assert program is not None
    return Bundle(program=program, frames=frames, constraints=constraints, files=dict(files), notes=notes)


def personal_values(files: Mapping[str, bytes]) -> frozenset[str]:
    """Every name and email of a bundle (PERSONAL_COLUMNS), trimmed and case-folded.

    Read from the raw files, so the values are known even when the file broke its contract:
    ``InputError(personal=…)`` then hides them in whatever column they were typed, by the one
    rule of :func:`rotaflow.errors.hide_personal` (bundles and schedules alike).
    """
    found: set[str] = set()
    for file, columns in PERSONAL_COLUMNS.items():
        if file not in files:
            continue
        text = files[file].decode("utf-8-sig", errors="replace").replace("\x00", "")
        try:
            records = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error:
            continue
        if not records:
            continue
        header = [cell.strip().casefold() for cell in records[0]]
        positions = [i for i, cell in enumerate(header) if cell in columns]
        for record in records[1:]:
            found.update(record[i].strip().casefold() for i in positions if i < len(record))
    found.discard("")
    return frozenset(found)


def _empty(dataset: Dataset) -> pd.DataFrame:
    frame, _ = _typed(dataset, pd.DataFrame(columns=dataset.columns, dtype=object))
    return frame


# --------------------------------------------------------------------------- cross-file checks


def cross_file_problems(
    frames: Mapping[str, pd.DataFrame],
    *,
    clean: set[str] | None = None,
    bad_rows: Mapping[str, set[int]] | None = None,
) -> list[Problem]:
    """References between files: unknown ids, overlaps, absences outside blocks, missing rotations.

    A check runs only against files that passed their own contract (``clean``), and skips
    rows that already have a problem, so one mistake is reported once, where it is.
    """
    clean = set(frames) if clean is None else clean
    bad_rows = bad_rows or {}
    good = {name: frame.loc[~frame.index.isin(list(bad_rows.get(name, set())))] for name, frame in frames.items()}
    problems: list[Problem] = []
    ids = {
        name: set(frames[name][column].dropna()) if name in clean else None
        for name, column in (
            ("people", "person_id"),
            ("blocks", "block_id"),
            ("shifts", "shift_id"),
            ("rotations", "rotation_id"),
        )
    }
    refs = [
        ("rotation_assignments", "person_id", "people", "people.csv"),
        ("rotation_assignments", "block_id", "blocks", "blocks.csv"),
        ("rotation_assignments", "rotation_id", "rotations", "rotations.csv"),
        ("coverage", "shift_id", "shifts", "shifts.csv"),
        ("coverage", "rotation_id", "rotations", "rotations.csv"),
        ("absences", "person_id", "people", "people.csv"),
        ("requests", "person_id", "people", "people.csv"),
        ("requests", "shift_id", "shifts", "shifts.csv"),
        ("history", "person_id", "people", "people.csv"),
        ("history", "shift_id", "shifts", "shifts.csv"),
        ("history", "rotation_id", "rotations", "rotations.csv"),
        ("rotation_requirements", "rotation_id", "rotations", "rotations.csv"),
        ("rotation_capacity", "block_id", "blocks", "blocks.csv"),
        ("rotation_capacity", "rotation_id", "rotations", "rotations.csv"),
        ("rotation_requests", "person_id", "people", "people.csv"),
        ("rotation_requests", "block_id", "blocks", "blocks.csv"),
        ("rotation_requests", "rotation_id", "rotations", "rotations.csv"),
    ]
    for name, column, target, target_file in refs:
        known = ids[target]
        if name not in good or known is None:
            continue
        file = DATASETS[name].file
        for row, value in good[name][column].dropna().items():
            if value not in known:
                problems.append(Problem(file, int(row), column, f"an id listed in {target_file}", _short(value)))

    if "rotations" in good and ids["shifts"] is not None:
        for row, cell in good["rotations"]["eligible_shifts"].dropna().items():
            for shift in str(cell).split(";"):
                if shift.strip() not in ids["shifts"]:
                    problems.append(
                        Problem(
                            "rotations.csv",
                            int(row),
                            "eligible_shifts",
                            "shift ids listed in shifts.csv",
                            _short(shift),
                        )
                    )
    people_ids = ids["people"]
    if "rotation_requests" in good and people_ids is not None:
        people = frames["people"]
        residents = set(people.loc[people["role"] == "resident", "person_id"].dropna())
        for row, value in good["rotation_requests"]["person_id"].dropna().items():
            if value in people_ids and value not in residents:  # an unknown id is reported above
                problems.append(
                    Problem("rotation_requests.csv", int(row), "person_id", "a resident of people.csv", _short(value))
                )
    problems += _block_problems(good)
    if "blocks" in clean:
        problems += _absence_problems(good)
    # rotation_assignments.csv may leave blocks (or residents) out: the year plan fills them in, and a
    # block's instance (validations/instances.py) refuses a block whose residents have no rotation.
    problems += _date_problems(good)
    return problems


def _ids(frames: Mapping[str, pd.DataFrame], name: str, column: str) -> set[str] | None:
    if name not in frames:
        return None
    return set(frames[name][column].dropna())


def _block_problems(frames: Mapping[str, pd.DataFrame]) -> list[Problem]:
    if "blocks" not in frames:
        return []
    blocks = frames["blocks"].dropna(subset=["start_date", "end_date"]).sort_values(["start_date", "end_date"])
    problems = []
    previous: tuple[str, pd.Timestamp] | None = None
    for row, block in blocks.iterrows():
        if previous is not None and block["start_date"] <= previous[1]:
            problems.append(
                Problem(
                    "blocks.csv",
                    int(row),  # type: ignore[arg-type]
                    "start_date",
                    f"a date after block {previous[0]} ends on {previous[1].date()} (blocks must not overlap)",
                    str(block["start_date"].date()),
                )
            )
        if previous is None or block["end_date"] > previous[1]:
            previous = (block["block_id"], block["end_date"])
    return problems


def _absence_problems(frames: Mapping[str, pd.DataFrame]) -> list[Problem]:
    if "absences" not in frames or "blocks" not in frames:
        return []
    blocks = frames["blocks"].dropna(subset=["start_date", "end_date"])
    problems = []
    for row, absence in frames["absences"].dropna(subset=["start_date", "end_date"]).iterrows():
        inside = (blocks["start_date"] <= absence["end_date"]) & (blocks["end_date"] >= absence["start_date"])
        if not inside.any():
            problems.append(
                Problem(
                    "absences.csv",
                    int(row),  # type: ignore[arg-type]
                    "start_date",
                    "dates that fall in at least one block of blocks.csv",
                    f"{absence['start_date'].date()} to {absence['end_date'].date()}",
                )
            )
    return problems


def _date_problems(frames: Mapping[str, pd.DataFrame]) -> list[Problem]:
    """Dated coverage rows must be real calendar dates, history instants real instants."""
    problems = []
    if "history" in frames:
        for column in ("start", "end"):
            for row, value in frames["history"][column].dropna().items():
                try:
                    dt.datetime.fromisoformat(str(value))
                except ValueError:
                    problems.append(
                        Problem("history.csv", int(row), column, "a real time of day with its offset", _short(value))
                    )
    if "coverage" in frames:
        for row, value in frames["coverage"]["applies_on"].dropna().items():
            if _DATE_RE.match(str(value)):
                try:
                    dt.date.fromisoformat(str(value))
                except ValueError:
                    problems.append(
                        Problem("coverage.csv", int(row), "applies_on", "a real calendar date", _short(value))
                    )
    return problems


MAX_ABSENCE_DAYS = _MAX_ABSENCE_DAYS
