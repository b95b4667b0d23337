"""Fuzzing the bundle contract: broken bundles are always refused cleanly, never half-stored.

Each example copies the tiny valid bundle, applies one to three corruptions that are each
guaranteed to break the contract (a value that no parser or check of its column accepts,
an id no file lists, a repeated key, a missing file ...), optionally dresses the files in
spreadsheet artefacts that must not matter (byte-order mark, CRLF, padded cells), and runs
``rotaflow ingest --no-flow`` on the result. Properties (docs/formats.md, last line):

* ``main`` returns 2 and no exception escapes;
* every problem printed names a bundle file and says what was expected;
* a corruption aimed at a data row is reported at that file and row (1 = first data row);
* nothing is written to the database, and exactly one quarantined copy with errors.json exists.

Each example gets its own var folder (ROTAFLOW_VAR_DIR), seeded with an empty database already
at the head revision: migrating a new SQLite file per example would cost most of a second.

A second property: the benign artefacts alone never change the bundle's content hash.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import string
import tempfile
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rich.console import Console

import rotaflow.cli
from rotaflow.configs.settings import get_settings
from rotaflow.db.migrate import upgrade
from rotaflow.db.session import dispose_engines
from rotaflow.validations.bundle import BUNDLE_FILES, parse_bundle
from rotaflow.validations.contracts import DATASETS, ID_PATTERN, Dataset

TINY = Path(__file__).resolve().parents[2] / "fixtures" / "tiny"
TINY_FILES: dict[str, bytes] = {p.name: p.read_bytes() for p in sorted(TINY.iterdir())}
BY_FILE: dict[str, Dataset] = {d.file: d for d in DATASETS.values()}
CSV_FILES = sorted(n for n in TINY_FILES if n in BY_FILE)
REQUIRED = sorted([d.file for d in DATASETS.values() if d.required] + ["program.yaml"])
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # no explain: it traces every line
)

# --------------------------------------------------------------------------- the bundle as tables


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    truncated: bool = False  # the last line lost its end (and its newline)
    swapped: frozenset[tuple[str, str]] = frozenset()  # a second swap of a pair would undo the first


def _table(raw: bytes) -> Table:
    lines = raw.decode("utf-8").splitlines()
    cells = [line.split(",") for line in lines if line]
    assert not any('"' in line for line in lines), "the fixture needs no CSV quoting"
    return Table(cells[0], cells[1:])


State = dict[str, Table | str | bytes]
"""A bundle in the making: tables, YAML text (both get dressed), or raw bytes (left as they are)."""


def _tiny_state() -> State:
    return {name: (_table(raw) if name in BY_FILE else raw.decode()) for name, raw in TINY_FILES.items()}


# --------------------------------------------------------------------------- invalid values

_SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "!#$%&*+/<=>?@^_|~.:;- ", min_size=1, max_size=10)
_LETTERS = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
_BOOL_WORDS = {"true", "false", "yes", "no", "1", "0"}


def _fmt(y: int, m: int, d: int) -> str:
    return f"{y:04d}-{m:02d}-{d:02d}"


_YEAR = st.integers(1900, 2999)
BAD_DATES = st.one_of(
    st.builds(_fmt, _YEAR, st.integers(13, 99), st.integers(1, 28)),
    st.builds(_fmt, _YEAR, st.integers(1, 12), st.integers(32, 99)),
    st.builds(_fmt, _YEAR, st.just(2), st.integers(30, 31)),
    st.builds(_fmt, _YEAR, st.sampled_from([4, 6, 9, 11]), st.just(31)),
    st.builds(_fmt, _YEAR, st.just(0), st.integers(1, 28)),
    st.builds(_fmt, _YEAR, st.integers(1, 12), st.just(0)),
    st.sampled_from(["2027/07/01", "07/01/2027", "2027-7-1", "20270701", "2027-07-01T00:00", "tomorrow", "1.7.2027"]),
)
BAD_IDS = st.one_of(
    _LETTERS.map(lambda s: "-" + s),
    st.tuples(_LETTERS, _LETTERS, st.sampled_from("!#@/ ;")).map(lambda t: t[0] + t[2] + t[1]),
    st.integers(65, 80).map(lambda n: "A" * n),
)
UNKNOWN_IDS = st.integers(0, 999).map(lambda n: f"ZZ{n}")
# header names a spreadsheet may hold: any text, line breaks and quotes included, short or long
ODD_NAMES = st.one_of(st.text(min_size=1, max_size=30), st.text(min_size=100, max_size=600)).filter(
    lambda t: t.strip() != ""
)
# YAML values no loader can turn into data (a correct reader refuses them)
UNPARSEABLE_YAML = [
    "2027-02-30",
    "2027-13-01",
    "2027-07-01 25:00:00",
    "!!float x",
    "!!int x",
    "!!timestamp x",
    "[unclosed",
]
# ... plus documents that stress the loader: deep nesting, an integer of 5000 digits
HOSTILE_YAML = [
    *UNPARSEABLE_YAML,
    "9" * 5000,
    "0x" + "f" * 5000,
    "[" * 3000,
    "a: " + "{a: " * 3000,
    "[" * 3000 + "]" * 3000,
]


def _checks(dataset: Dataset, column: str) -> dict[str, dict[str, Any]]:
    col = dataset.model.to_schema().columns[column]
    return {c.name: dict(c.statistics) for c in col.checks}


def _breaks_checks(checks: dict[str, dict[str, Any]], value: str) -> bool:
    if "isin" in checks and value not in checks["isin"]["allowed_values"]:
        return True
    return "str_matches" in checks and re.match(checks["str_matches"]["pattern"], value) is None


def bad_values(dataset: Dataset, column: str) -> st.SearchStrategy[str] | None:
    """Values that no parser or check of ``column`` accepts; None for free text."""
    dtype = str(dataset.model.to_schema().columns[column].dtype)
    checks = _checks(dataset, column)
    if dtype == "Int64":
        out = [_LETTERS, st.sampled_from(["1.5", "1e3", "12345678901", "--1", "0x1F"])]
        if "in_range" in checks:
            low, high = checks["in_range"]["min_value"], checks["in_range"]["max_value"]
            out.append(st.one_of(st.integers(-999, low - 1), st.integers(high + 1, 9999)).map(str))
        if "greater_than_or_equal_to" in checks:
            out.append(st.integers(-999, checks["greater_than_or_equal_to"]["min_value"] - 1).map(str))
        return st.one_of(out)
    if dtype == "Float64":
        out = [_LETTERS]
        if "in_range" in checks:
            high = checks["in_range"]["max_value"]
            out.append(st.floats(high + 0.5, 1e6, allow_nan=False).map(lambda f: f"{f:.3f}"))
            out.append(st.just("-1"))
        return st.one_of(out)
    if dtype == "boolean":
        return _LETTERS.filter(lambda s: s.lower() not in _BOOL_WORDS)
    if dtype.startswith("datetime64"):
        return st.one_of(BAD_DATES, _LETTERS)
    if not checks:
        return None
    text = st.one_of(_SAFE_TEXT, _SAFE_TEXT.map(lambda s: ";" + s), _SAFE_TEXT.map(lambda s: s + "!"))
    return text.map(str.strip).filter(lambda s: s != "" and _breaks_checks(checks, s))


REFERENCES: dict[tuple[str, str], str] = {
    ("rotation_assignments.csv", "person_id"): "people.csv",
    ("rotation_assignments.csv", "block_id"): "blocks.csv",
    ("rotation_assignments.csv", "rotation_id"): "rotations.csv",
    ("coverage.csv", "shift_id"): "shifts.csv",
    ("coverage.csv", "rotation_id"): "rotations.csv",
    ("absences.csv", "person_id"): "people.csv",
    ("requests.csv", "person_id"): "people.csv",
    ("requests.csv", "shift_id"): "shifts.csv",
    ("history.csv", "person_id"): "people.csv",
    ("history.csv", "shift_id"): "shifts.csv",
    ("rotations.csv", "eligible_shifts"): "shifts.csv",
}

# Column pairs whose contents, swapped, break the file on their own (no other file needed).
SWAPS: dict[str, list[tuple[str, str]]] = {
    "people.csv": [("person_id", "pgy"), ("role", "name")],
    "blocks.csv": [("block_id", "end_date"), ("block_id", "start_date")],
    "shifts.csv": [("shift_id", "kind"), ("start", "transition_minutes")],
    "rotations.csv": [("rotation_id", "setting")],
    "coverage.csv": [("shift_id", "min")],
    "absences.csv": [("person_id", "type")],
    "requests.csv": [("person_id", "weight")],
    "history.csv": [("person_id", "date")],
}

# --------------------------------------------------------------------------- corruptions

# category: what a corruption does to the file, which decides what may hide its exact row.
CELL, ROW, SWAP, HEADER, TRUNCATE, YAML, REPLACE, DELETE = range(8)


@dataclass(frozen=True)
class Kind:
    name: str
    category: int
    files: tuple[str, ...]


def _files_with(pred: Callable[[Dataset, str], bool]) -> tuple[str, ...]:
    header = {f: _table(TINY_FILES[f]).header for f in CSV_FILES}
    return tuple(f for f in CSV_FILES if any(pred(BY_FILE[f], c) for c in header[f]))


def _corruptible(d: Dataset, c: str) -> bool:
    return bad_values(d, c) is not None


def _is_date(d: Dataset, c: str) -> bool:
    return str(d.model.to_schema().columns[c].dtype).startswith("datetime64") or c == "applies_on"


def _is_id(d: Dataset, c: str) -> bool:
    return "str_matches" in _checks(d, c) and _checks(d, c)["str_matches"]["pattern"] == ID_PATTERN


def _is_required(d: Dataset, c: str) -> bool:
    return not d.model.to_schema().columns[c].nullable


KINDS = [
    Kind("wrong_type", CELL, _files_with(_corruptible)),
    Kind("bad_date", CELL, _files_with(_is_date)),
    Kind("bad_id", CELL, _files_with(_is_id)),
    Kind("unknown_id", CELL, tuple(sorted({f for f, _ in REFERENCES}))),
    Kind("empty_required_cell", CELL, tuple(CSV_FILES)),
    Kind("far_date", CELL, ("blocks.csv",)),
    Kind("wrong_field_count", ROW, tuple(CSV_FILES)),
    Kind("duplicate_id", ROW, ("blocks.csv", "people.csv", "rotations.csv", "shifts.csv")),
    Kind("duplicate_row", ROW, tuple(CSV_FILES)),
    Kind("swapped_columns", SWAP, tuple(sorted(SWAPS))),
    Kind("missing_column", HEADER, tuple(CSV_FILES)),
    Kind("truncated", TRUNCATE, tuple(CSV_FILES)),
    Kind("bad_timezone", YAML, ("program.yaml",)),
    Kind("unknown_key", YAML, ("program.yaml",)),
    Kind("empty_name", YAML, ("program.yaml",)),
    Kind("hostile_yaml", YAML, ("program.yaml", "constraints.yaml")),
    Kind("empty_file", REPLACE, tuple(CSV_FILES) + ("program.yaml",)),
    Kind("binary_junk", REPLACE, tuple(CSV_FILES) + ("program.yaml",)),
    Kind("text_junk", REPLACE, tuple(CSV_FILES) + ("program.yaml",)),
    Kind("deleted", DELETE, tuple(REQUIRED)),
]
PICKS = st.sampled_from(KINDS).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(k.files)))


@dataclass
class Applied:
    kind: Kind
    file: str
    rows: frozenset[int] | None = None  # one of these rows must be named (None: the file)
    depends_on: str | None = None  # a file that must pass for the problem to be seen


def _non_blank(cells: list[str]) -> bool:
    return "".join(cells).strip() != ""


def _cell_targets(state: State, file: str, pred: Callable[[Dataset, str], bool]) -> list[tuple[int, str]]:
    table = state[file]
    assert isinstance(table, Table)
    cols = [c for c in table.header if pred(BY_FILE[file], c)]
    return [(r, c) for r in range(1, len(table.rows) + 1) for c in cols]


def _set(table: Table, row: int, column: str, value: str) -> None:
    table.rows[row - 1][table.header.index(column)] = value


def apply(kind: Kind, file: str, state: State, draw: Callable[[Any], Any]) -> Applied | None:  # noqa: C901
    """Corrupt ``state[file]`` in place; None when this corruption cannot apply any more."""
    dataset = BY_FILE.get(file)
    table = state.get(file)
    done = Applied(kind, file)
    name = kind.name
    if kind.category == CELL:
        assert isinstance(table, Table) and dataset is not None
        if name == "wrong_type":
            row, col = draw(st.sampled_from(_cell_targets(state, file, _corruptible)))
            value = draw(bad_values(dataset, col))
        elif name == "bad_date":
            row, col = draw(st.sampled_from(_cell_targets(state, file, _is_date)))
            value = draw(BAD_DATES)
        elif name == "bad_id":
            row, col = draw(st.sampled_from(_cell_targets(state, file, _is_id)))
            value = draw(BAD_IDS)
        elif name == "unknown_id":
            row, col = draw(st.sampled_from(_cell_targets(state, file, lambda d, c: (d.file, c) in REFERENCES)))
            value = draw(UNKNOWN_IDS)
            if col == "eligible_shifts":
                value = "DAY;" + value
            done.depends_on = REFERENCES[(file, col)]
        elif name == "far_date":
            # a date pandas cannot hold in nanoseconds (or one just inside): B2 starting before B1
            # ends, or B1 ending after B2 starts, makes the blocks overlap whatever else happens
            early = st.one_of(st.integers(1, 1677), st.integers(1678, 2026)).map(lambda y: _fmt(y, 1, 1))
            late = st.one_of(st.integers(2263, 9999), st.integers(2028, 2262)).map(lambda y: _fmt(y, 12, 31))
            row, col, value = draw(
                st.one_of(early.map(lambda v: (2, "start_date", v)), late.map(lambda v: (1, "end_date", v)))
            )
            done.rows = frozenset({1, 2})
        else:  # empty_required_cell: never empties a whole row (a blank line is skipped, not refused)
            targets = [
                (r, c)
                for r, c in _cell_targets(state, file, _is_required)
                if _non_blank([v for i, v in enumerate(table.rows[r - 1]) if i != table.header.index(c)])
            ]
            row, col = draw(st.sampled_from(targets))
            value = draw(st.sampled_from(["", " ", "\t"]))
        _set(table, row, col, value)
        done.rows = done.rows or frozenset({row})
    elif kind.category == ROW:
        assert isinstance(table, Table)
        n = len(table.rows)
        if name == "wrong_field_count":
            row = draw(st.integers(1, n))
            cells = table.rows[row - 1]
            if draw(st.booleans()) and _non_blank(cells[:-1]):
                cells.pop()
            else:
                cells.extend(draw(st.lists(st.sampled_from(["x", "", "1", "2027-07-01"]), min_size=1, max_size=3)))
            done.rows = frozenset({row})
        elif name == "duplicate_id":
            a, b = draw(st.lists(st.integers(1, n), min_size=2, max_size=2, unique=True))
            table.rows[b - 1][0] = table.rows[a - 1][0]
            done.rows = frozenset({a, b})
        else:  # duplicate_row
            a = draw(st.integers(1, n))
            table.rows.append(list(table.rows[a - 1]))
            done.rows = frozenset({a, n + 1})
    elif kind.category == SWAP:
        assert isinstance(table, Table)
        pairs = [p for p in SWAPS[file] if p not in table.swapped]
        if not pairs:
            return None
        first, second = draw(st.sampled_from(pairs))
        table.swapped |= {(first, second)}
        i, j = table.header.index(first), table.header.index(second)
        for cells in table.rows:
            if max(i, j) < len(cells):
                cells[i], cells[j] = cells[j], cells[i]
    elif kind.category == HEADER:
        assert isinstance(table, Table) and dataset is not None
        if name == "missing_column":
            present = [c for c in table.header if c in dataset.columns and _is_required(dataset, c)]
            if not present:
                return None
            col = draw(st.sampled_from(present))
            i = table.header.index(col)
            del table.header[i]
            for cells in table.rows:
                if i < len(cells):
                    del cells[i]
    elif kind.category == TRUNCATE:
        assert isinstance(table, Table)
        width = len(table.header)
        cuts = [
            (r, j, length)
            for r, cells in enumerate(table.rows, start=1)
            for j in range(min(width - 1, len(cells)))
            for length in range(len(cells[j]) + 1)
            if _non_blank(cells[:j] + [cells[j][:length]])
        ]
        if cuts:  # the last line stops inside a row, so that row lacks fields
            row, j, length = draw(st.sampled_from(cuts))
            table.rows[row - 1] = table.rows[row - 1][:j] + [table.rows[row - 1][j][:length]]
            del table.rows[row:]
            done.rows = frozenset({row})
        else:  # no row to cut inside: cut the header before its last column
            table.header = table.header[:-1]
            table.rows = []
        table.truncated = True
    elif kind.category == YAML:
        text = state.get(file, "")
        assert isinstance(text, str)
        if name == "hostile_yaml":
            hostile = draw(st.sampled_from(HOSTILE_YAML if file == "program.yaml" else UNPARSEABLE_YAML))
            if file == "constraints.yaml":
                text = f"rule_{draw(_LETTERS)}: {hostile}\n"
            elif hostile.startswith(("[", "{", "a:")):
                text = hostile  # nesting: the whole file
            else:
                text += f"extra_{draw(_LETTERS)}: {hostile}\n"
        elif name == "bad_timezone":
            zone = draw(
                st.tuples(_LETTERS, _LETTERS).map("/".join).filter(lambda z: z not in zoneinfo.available_timezones())
            )
            text = re.sub(r"(?m)^timezone: .*$", f"timezone: {zone}", text)
        elif name == "unknown_key":
            text += f"extra_{draw(_LETTERS)}: 1\n"
        else:
            text = re.sub(r"(?m)^name: .*$", 'name: ""', text)
        state[file] = text
    elif kind.category == REPLACE:
        if name == "empty_file":
            state[file] = draw(st.sampled_from([b"", b"\n", b"\n\n", b"   \n", b"\r\n  \r\n"]))
        elif name == "text_junk":  # UTF-8 text without the first required column (or key)
            needle = "timezone" if file == "program.yaml" else BY_FILE[file].required_columns[0]
            state[file] = draw(st.text(max_size=200).filter(lambda t: needle not in t)).encode()
        else:  # binary_junk: always holds a NUL or a byte no UTF-8 text can hold
            junk = draw(st.binary(max_size=120))
            poison = draw(st.sampled_from([b"\x00", b"\xff", b"\xfe", b"\xc0", b"\xc1", b"\xf5", b"\x00\xff"]))
            at = draw(st.integers(0, len(junk)))
            state[file] = junk[:at] + poison + junk[at:]
    else:  # deleted
        state.pop(file, None)
    return done


# --------------------------------------------------------------------------- benign artefacts

PADS = ["", " ", "  ", "\t", " \t "]


@dataclass(frozen=True)
class Dress:
    bom: bool = False
    crlf: bool = False
    pads: tuple[tuple[str, str], ...] = (("", ""),)


DRESS = st.builds(
    Dress,
    bom=st.booleans(),
    crlf=st.booleans(),
    pads=st.lists(st.tuples(st.sampled_from(PADS), st.sampled_from(PADS)), min_size=1, max_size=4).map(tuple),
)


def render(item: Table | str | bytes, dress: Dress) -> bytes:
    newline = "\r\n" if dress.crlf else "\n"
    if isinstance(item, bytes):
        return item  # junk or an empty file: left as it is
    if isinstance(item, str):
        text = item.replace("\n", newline)
    else:
        lines = []
        k = 0
        for cells in [item.header, *item.rows]:
            out = []
            for cell in cells:
                left, right = dress.pads[k % len(dress.pads)]
                k += 1
                if set(cell) & set(',"\r\n'):  # quoted, and then unpadded: a space before a quote is data
                    out.append('"' + cell.replace('"', '""') + '"')
                else:
                    out.append(f"{left}{cell}{right}")
            lines.append(",".join(out))
        text = newline.join(lines) + ("" if item.truncated else newline)
    return (b"\xef\xbb\xbf" if dress.bom else b"") + text.encode()


# --------------------------------------------------------------------------- running the CLI


def _problem_lines(stderr: str) -> list[str]:
    return [line[4:] for line in stderr.split("\n") if line.startswith("  - ")]


def _names(lines: list[str], file: str, rows: frozenset[int] | None) -> bool:
    if rows is None:
        pattern = rf"{re.escape(file)}[,:]"
    else:
        pattern = rf"{re.escape(file)}, row ({'|'.join(map(str, sorted(rows)))})[,:]"
    return any(re.match(pattern, line) for line in lines)


def _expectation(done: Applied, applied: list[Applied]) -> tuple[str, frozenset[int] | None] | None:
    """Where ``done`` must be reported, given the other corruptions that may hide it."""
    others = [a for a in applied if a is not done]
    if done.depends_on and any(a.file == done.depends_on for a in others):
        return None  # references wait until the file they point into passes (no cascade)
    same = {a.kind.category for a in others if a.file == done.file}
    hidden = {HEADER, REPLACE, DELETE}  # the file is refused before its rows are read
    if done.kind.category in (CELL, ROW):
        hidden |= {SWAP, TRUNCATE}  # the value moved away, or its row was cut off
    elif done.kind.category == TRUNCATE:
        hidden |= {TRUNCATE}
    return done.file, (None if same & hidden else done.rows)


def _row_counts(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    engine = sa.create_engine(f"sqlite:///{db.as_posix()}")
    try:
        with engine.connect() as conn:
            return {
                table: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()
                for table in sa.inspect(conn).get_table_names()
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def migrated_db() -> Iterator[Path]:
    """An empty database at the head revision, copied into each example's var folder.

    Migrating a fresh SQLite file takes most of a second; the ingest under test finds the
    copy at head and goes straight to reading the bundle.
    """
    with tempfile.TemporaryDirectory(prefix="rotaflow-fuzz-db-") as tmp:
        db = Path(tmp) / "rotaflow.db"
        upgrade(f"sqlite:///{db.as_posix()}")
        dispose_engines()
        yield db


def run_ingest(folder: Path, var: Path) -> tuple[int, str]:
    old = os.environ.get("ROTAFLOW_VAR_DIR")
    os.environ["ROTAFLOW_VAR_DIR"] = str(var)
    get_settings.cache_clear()
    console = Console(file=io.StringIO(), width=400, color_system=None)
    try:
        with mock.patch("rotaflow.cli.err", console), mock.patch("rotaflow.cli.ingest.err", console):
            code = rotaflow.cli.main(["ingest", "--program", str(folder), "--no-flow"])
    finally:
        dispose_engines()
        if old is None:
            os.environ.pop("ROTAFLOW_VAR_DIR", None)
        else:
            os.environ["ROTAFLOW_VAR_DIR"] = old
        get_settings.cache_clear()
    stream = console.file
    assert isinstance(stream, io.StringIO)
    return code, stream.getvalue()


# --------------------------------------------------------------------------- the properties


@FUZZ
@given(data=st.data())
def test_a_corrupted_bundle_is_refused_located_and_never_stored(migrated_db: Path, data: st.DataObject) -> None:
    picks = data.draw(st.lists(PICKS, min_size=1, max_size=3), label="corruptions")
    picks.sort(key=lambda p: p[0].category)  # cells, rows, columns, then whole files
    state = _tiny_state()
    applied: list[Applied] = []
    for kind, file in picks:
        if file in TINY_FILES and file not in state:
            continue  # already deleted: the deletion is reported
        done = apply(kind, file, state, data.draw)
        if done is not None:
            applied.append(done)
    assert applied
    dress = {name: data.draw(DRESS, label=f"dress {name}") for name in sorted(state)}
    files = {name: render(item, dress[name]) for name, item in state.items()}
    assert files != TINY_FILES

    with tempfile.TemporaryDirectory(prefix="rotaflow-fuzz-") as tmp:
        folder, var = Path(tmp) / "bundle", Path(tmp) / "var"
        shutil.copytree(TINY, folder)
        for name in TINY_FILES:
            if name not in files:
                (folder / name).unlink()
        for name, raw in files.items():
            (folder / name).write_bytes(raw)
        var.mkdir()
        shutil.copyfile(migrated_db, var / "rotaflow.db")
        before = _row_counts(var / "rotaflow.db")

        code, stderr = run_ingest(folder, var)

        assert code == 2, stderr
        lines = _problem_lines(stderr)
        assert lines, stderr
        for line in lines:
            assert re.split(r"[,:]", line, maxsplit=1)[0] in BUNDLE_FILES, line
            assert ": expected " in line, line
        for done in applied:
            expected = _expectation(done, applied)
            if expected is not None:
                assert _names(lines, *expected), (done, expected, stderr)

        # nothing written: the database holds what it held (only Alembic's revision row)
        assert {t: n for t, n in before.items() if n} == {"alembic_version": 1}
        assert _row_counts(var / "rotaflow.db") == before

        quarantine = var / "objects" / "quarantine"
        entries = [p for p in quarantine.iterdir() if not p.name.startswith(".")]
        assert len(entries) == 1, entries
        report = json.loads((entries[0] / "errors.json").read_text())
        assert len(report["problems"]) == len(lines)
        copy = entries[0] / "bundle"
        assert {p.name: p.read_bytes() for p in copy.iterdir()} == files


@cache
def _tiny_hash() -> str:
    return parse_bundle(TINY_FILES).content_hash


@FUZZ
@given(dress=st.dictionaries(st.sampled_from(sorted(TINY_FILES)), DRESS, min_size=1))
def test_spreadsheet_artefacts_never_change_the_bundle(dress: dict[str, Dress]) -> None:
    base = _tiny_hash()
    state = _tiny_state()
    files = {name: render(item, dress.get(name, Dress())) for name, item in state.items()}
    assert parse_bundle(files).content_hash == base


_COLUMN_NAMES = sorted({c for d in DATASETS.values() for c in d.columns})


@FUZZ
@given(data=st.data())
def test_added_columns_never_change_the_bundle(data: st.DataObject) -> None:
    """docs/formats.md: a program may add columns. One that is not a near-miss of a column the file
    lacks is ignored (and noted); the bundle means exactly what it meant without it."""
    import difflib

    state = _tiny_state()
    file = data.draw(st.sampled_from(sorted(CSV_FILES)), label="file")
    table = state[file]
    assert isinstance(table, Table)
    absent = [c for c in BY_FILE[file].columns if c not in table.header]
    name = data.draw(
        st.one_of(_LETTERS.map(lambda t: "extra_" + t), ODD_NAMES.map(str.strip)).filter(
            lambda n: (
                n
                and n.isprintable()  # a NUL or a line break would make another file, not another column
                and "," not in n
                and '"' not in n
                and n not in _COLUMN_NAMES
                and not difflib.get_close_matches(n.casefold(), absent, n=1, cutoff=0.8)
            )
        ),
        label="column",
    )
    position = data.draw(st.integers(0, len(table.header)), label="position")
    table.header.insert(position, name)
    for cells in table.rows:
        cells.insert(min(position, len(cells)), data.draw(st.sampled_from(["", "x", "1"])))
    bundle = parse_bundle({n: render(item, Dress()) for n, item in state.items()})
    assert bundle.content_hash == _tiny_hash()
    assert len(bundle.notes) == 1 and bundle.notes[0].startswith(f"{file}: column ")
