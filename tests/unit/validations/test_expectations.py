"""Great Expectations suites generated from the Pandera contracts, and the steward expectations.

GX runs cost a few seconds each, so every real run happens once, in the module-scoped
``gx_runs`` fixture, and the tests read its results.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

import rotaflow.services.ingest as ingest
from rotaflow.configs.settings import Settings
from rotaflow.errors import InputError, Problem
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.contracts import (
    APPLIES_ON_PATTERN,
    DATASETS,
    CoverageModel,
    PeopleModel,
    RotationAssignmentsModel,
)
from rotaflow.validations.expectations import (
    STEWARD_FILE,
    VIEWS,
    ExpectationReport,
    ExpectationSpec,
    StewardExpectation,
    _located,
    _quiet,
    _resolve,
    load_steward_expectations,
    offline_site,
    run_expectations,
    suite_specs_from_model,
    validation_run_name,
)
from tests.conftest import TINY

# GX 1.24 imports the deprecated stdlib modules sre_constants and sre_parse
# (great_expectations/datasource/fluent/data_connector/file_path_data_connector.py), which
# emits "DeprecationWarning: module 'sre_constants' is deprecated" at import time; with
# filterwarnings=error the first `import great_expectations` in a test would fail. Third-party,
# import-time only.
pytestmark = pytest.mark.filterwarnings("ignore:module 'sre_(constants|parse)' is deprecated:DeprecationWarning")


def _tiny_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(TINY.iterdir())}


def _replace(files: dict[str, bytes], name: str, old: str, new: str) -> dict[str, bytes]:
    text = files[name].decode()
    assert old in text, f"{old!r} not in {name}"
    return {**files, name: text.replace(old, new).encode()}


def _by_type(specs: list[ExpectationSpec], column: str | None = None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if column is None or spec.kwargs.get("column") == column:
            assert spec.type not in out, f"{spec.type} twice for {column}"
            out[spec.type] = spec.kwargs
    return out


def _long_absence_files() -> dict[str, bytes]:
    """The tiny bundle with a 400-day absence (it overlaps B1, so the contract passes) and FTE 0.1."""
    files = _replace(_tiny_files(), "absences.csv", "R1,2027-07-10,2027-07-11", "R1,2027-07-01,2028-08-03")
    people = files["people.csv"].decode().splitlines()
    header = people[0].split(",")
    fte = header.index("fte")
    rows = [line.split(",") for line in people[1:]]
    for row in rows:
        row[fte] = "0.1"
    files["people.csv"] = ("\n".join([people[0]] + [",".join(r) for r in rows]) + "\n").encode()
    return files


# =========================================================================== suites from models


def test_people_suite_from_the_model() -> None:
    specs = suite_specs_from_model(PeopleModel)
    columns = list(PeopleModel.to_schema().columns)
    assert [s.kwargs["column"] for s in specs if s.type == "expect_column_to_exist"] == columns

    person = _by_type(specs, "person_id")
    assert set(person) == {
        "expect_column_to_exist",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_unique",
        "expect_column_values_to_match_regex",
    }
    assert person["expect_column_values_to_match_regex"]["regex"] == r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"

    role = _by_type(specs, "role")
    assert role["expect_column_values_to_be_in_set"] == {"column": "role", "value_set": ["resident", "faculty"]}
    assert "expect_column_values_to_not_be_null" in role

    pgy = _by_type(specs, "pgy")
    assert pgy["expect_column_values_to_be_between"] == {
        "column": "pgy",
        "min_value": 1,
        "max_value": 8,
        "strict_min": False,
        "strict_max": False,
    }
    assert "expect_column_values_to_not_be_null" not in pgy  # faculty have none

    fte = _by_type(specs, "fte")["expect_column_values_to_be_between"]
    assert (fte["min_value"], fte["max_value"], fte["strict_min"], fte["strict_max"]) == (0, 1, True, False)

    # required columns, and only those, must not be null
    not_null = [s.kwargs["column"] for s in specs if s.type == "expect_column_values_to_not_be_null"]
    assert not_null == ["person_id", "name", "role"]
    assert not_null == DATASETS["people"].required_columns
    unique = [s.kwargs["column"] for s in specs if s.type == "expect_column_values_to_be_unique"]
    assert unique == ["person_id"]
    assert not any(s.type == "expect_compound_columns_to_be_unique" for s in specs)


def test_specs_carry_the_contract_phrase() -> None:
    specs = suite_specs_from_model(PeopleModel)
    pgy = [s for s in specs if s.kwargs.get("column") == "pgy"]
    assert {s.meta["expected"] for s in pgy} == {"a whole number 1-8"}


def test_regexes_have_no_capturing_groups_and_match_the_same_values() -> None:
    specs = suite_specs_from_model(PeopleModel) + suite_specs_from_model(CoverageModel)
    regexes = {s.kwargs["column"]: s.kwargs["regex"] for s in specs if s.type == "expect_column_values_to_match_regex"}
    assert set(regexes) >= {"person_id", "email", "skills", "shift_id", "applies_on", "rotation_id", "skill"}
    for column, regex in regexes.items():
        assert re.compile(regex).groups == 0, f"{column}: {regex}"
    assert regexes["skills"] == r"^[A-Za-z0-9_\-]{1,64}(?:;[A-Za-z0-9_\-]{1,64}){0,15}$"
    applies_on = re.compile(regexes["applies_on"])
    original = re.compile(APPLIES_ON_PATTERN)
    assert original.groups > 0
    for value in ["daily", "weekday", "weekend", "mon", "mon;wed;fri", "2027-07-04", "mon;", "Monday", "2027-7-4", ""]:
        assert bool(applies_on.search(value)) == bool(original.search(value)), value


def test_coverage_suite_from_the_model() -> None:
    specs = suite_specs_from_model(CoverageModel)
    assert _by_type(specs, "min")["expect_column_values_to_be_between"] == {
        "column": "min",
        "min_value": 0,
        "strict_min": False,
    }
    assert _by_type(specs, "role")["expect_column_values_to_be_in_set"] == {
        "column": "role",
        "value_set": ["resident", "faculty"],
    }
    assert "expect_column_values_to_not_be_null" not in _by_type(specs, "role")  # optional filter
    not_null = [s.kwargs["column"] for s in specs if s.type == "expect_column_values_to_not_be_null"]
    assert not_null == ["shift_id", "applies_on", "min"]
    compound = [s for s in specs if s.type == "expect_compound_columns_to_be_unique"]
    assert len(compound) == 1
    assert compound[0].kwargs == {
        "column_list": ["shift_id", "applies_on", "rotation_id", "role", "min_pgy", "skill"],
        "ignore_row_if": "never",
    }
    assert compound[0].meta == {
        "expected": "a unique combination of shift_id, applies_on, rotation_id, role, min_pgy, skill"
    }
    assert not any(s.type == "expect_column_values_to_be_unique" for s in specs)


def test_rotation_assignments_compound_unique() -> None:
    specs = suite_specs_from_model(RotationAssignmentsModel)
    compound = [s.kwargs["column_list"] for s in specs if s.type == "expect_compound_columns_to_be_unique"]
    assert compound == [["person_id", "block_id"]]


class _Bounds(pa.DataFrameModel):
    """Every check kind the translation knows, and one it does not."""

    gt: Series[int] = pa.Field(gt=0)
    ge: Series[int] = pa.Field(ge=1)
    lt: Series[int] = pa.Field(lt=10)
    le: Series[int] = pa.Field(le=9)
    open_range: Series[float] = pa.Field(
        in_range={"min_value": 0, "max_value": 1, "include_min": False, "include_max": False}
    )
    length: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 3}, nullable=True, unique=True)


def test_every_bound_check_translates() -> None:
    specs = suite_specs_from_model(_Bounds)
    between = {s.kwargs["column"]: s.kwargs for s in specs if s.type == "expect_column_values_to_be_between"}
    assert between == {
        "gt": {"column": "gt", "min_value": 0, "strict_min": True},
        "ge": {"column": "ge", "min_value": 1, "strict_min": False},
        "lt": {"column": "lt", "max_value": 10, "strict_max": True},
        "le": {"column": "le", "max_value": 9, "strict_max": False},
        "open_range": {"column": "open_range", "min_value": 0, "max_value": 1, "strict_min": True, "strict_max": True},
    }
    # str_length has no translation: Pandera alone enforces it; nullable and unique still do
    assert set(_by_type(specs, "length")) == {"expect_column_to_exist", "expect_column_values_to_be_unique"}
    assert {s.meta["expected"] for s in specs} == {""}  # no descriptions given


def test_every_dataset_has_a_suite() -> None:
    for dataset in DATASETS.values():
        specs = suite_specs_from_model(dataset.model)
        exist = [s.kwargs["column"] for s in specs if s.type == "expect_column_to_exist"]
        assert exist == dataset.columns, dataset.name


# =========================================================================== steward expectations


def test_load_the_steward_expectations() -> None:
    items = load_steward_expectations()
    assert STEWARD_FILE.name == "expectations.yaml" and STEWARD_FILE.parent.name == "configs"
    assert [i.name for i in items] == [
        "one_rotation_per_resident_per_block",
        "coverage_names_existing_shift",
        "absence_at_most_365_days",
        "most_people_have_full_fte",
    ]
    by_name = {i.name: i for i in items}
    assert by_name["absence_at_most_365_days"] == StewardExpectation(
        name="absence_at_most_365_days",
        dataset="absences_with_length",
        file="absences.csv",
        expectation="expect_column_values_to_be_between",
        kwargs={"column": "length_days", "min_value": 1, "max_value": 365},
        explain="an absence of at most 365 days",
        severity="error",
    )
    assert by_name["most_people_have_full_fte"].severity == "warning"
    assert by_name["coverage_names_existing_shift"].kwargs["value_set"] == {"from": "shifts.shift_id"}
    for item in items:
        assert item.dataset in VIEWS or item.dataset in DATASETS


def test_an_unknown_dataset_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "expectations.yaml"
    path.write_text(
        "expectations:\n"
        "  - name: fine\n"
        "    dataset: people\n"
        "    file: people.csv\n"
        "    expectation: expect_column_values_to_not_be_null\n"
        "    kwargs: {column: name}\n"
        "    explain: a name\n"
        "  - name: typo\n"
        "    dataset: peeple\n"
        "    file: people.csv\n"
        "    expectation: expect_column_values_to_not_be_null\n"
        "    kwargs: {column: name}\n"
        "    explain: a name\n"
    )
    with pytest.raises(ValueError, match="^expectations.yaml: expectation typo names unknown dataset peeple$"):
        load_steward_expectations(path)


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "expectations.yaml"
    path.write_text(
        "expectations:\n"
        "  - {name: n, dataset: people, file: people.csv, expectation: e, kwargs: {}, explain: x, sevrity: warning}\n"
    )
    with pytest.raises(ValueError, match="sevrity"):  # pydantic's ValidationError is a ValueError
        load_steward_expectations(path)


@pytest.mark.parametrize("text", ["", "expectations: []\n", "other: 1\n"])
def test_an_empty_file_has_no_steward_expectations(tmp_path: Path, text: str) -> None:
    path = tmp_path / "expectations.yaml"
    path.write_text(text)
    assert load_steward_expectations(path) == []


def test_views_and_references(tiny_files: dict[str, bytes]) -> None:
    frames = parse_bundle(tiny_files).frames
    view = VIEWS["resident_block_rotations"](frames)
    assert list(view.index) == [f"{p} in block {b}" for p in ("R1", "R2", "R3") for b in ("B1", "B2")]
    assert view["rotations"].tolist() == [1] * 6
    absences = VIEWS["absences_with_length"](frames)
    assert absences["length_days"].tolist() == [2, 3]
    assert absences.index.tolist() == [1, 2]  # rows keep the bundle's row numbers
    assert "length_days" not in frames["absences"]  # the view is a copy

    assert _resolve({"column": "shift_id", "value_set": {"from": "shifts.shift_id"}}, frames) == {
        "column": "shift_id",
        "value_set": ["CALL24", "DAY", "HOME", "NIGHT"],
    }
    assert _resolve({"value_set": {"from": "x", "other": 1}}, frames) == {"value_set": {"from": "x", "other": 1}}


# =========================================================================== locating failures


def _result(column: str | None, indices: list[Any], values: list[Any]) -> Any:
    return SimpleNamespace(
        expectation_config=SimpleNamespace(kwargs={"column": column} if column else {}),
        result={"unexpected_index_list": indices, "unexpected_list": values},
    )


def test_located_failures() -> None:
    # a whole-column expectation (e.g. a mean) has no rows
    assert _located("people.csv", _result("fte", [], []), "an average FTE") == [
        Problem("people.csv", None, "fte", "an average FTE", "a failed expectation")
    ]
    # plain row numbers
    assert _located("people.csv", _result("pgy", [2, 4.0], [9, 0]), "1-8") == [
        Problem("people.csv", 2, "pgy", "1-8", "9"),
        Problem("people.csv", 4, "pgy", "1-8", "0"),
    ]
    # GX reports an index named "row" as a dict next to the value
    assert _located("absences.csv", _result("length_days", [{"length_days": 400, "row": 1}], [400]), "x") == [
        Problem("absences.csv", 1, "length_days", "x", "400")
    ]
    # compound expectations give dict values: no "got"
    assert _located("coverage.csv", _result(None, [{"row": 5}], [{"shift_id": "DAY"}]), "unique") == [
        Problem("coverage.csv", 5, None, "unique", None)
    ]
    # a non-numeric index names its subject in the expectation
    assert _located("x.csv", _result("c", ["subject A"], []), "e") == [
        Problem("x.csv", None, "c", "e (subject A)", None)
    ]
    # at most 100 problems per expectation
    assert len(_located("x.csv", _result("c", list(range(1, 300)), list(range(1, 300))), "e")) == 100


def test_quiet_tolerates_a_context_without_the_setting(caplog: pytest.LogCaptureFixture) -> None:
    def save() -> None:
        raise AttributeError("no progress_bars here")

    context = SimpleNamespace(variables=SimpleNamespace(save=save))
    with caplog.at_level("DEBUG", logger="rotaflow.validations.expectations"):
        _quiet(context)  # cosmetic only: no error
    assert "could not turn off GX progress bars: AttributeError" in caplog.text


# =========================================================================== real GX runs


@dataclass
class GxRuns:
    clean: ExpectationReport
    clean_dir: Path
    bad: ExpectationReport
    bad_error: InputError
    bad_bundle: Bundle


@pytest.fixture(scope="module")
def gx_runs(tmp_path_factory: pytest.TempPathFactory) -> GxRuns:
    """Three GX runs: the tiny bundle, a bad one, and the bad one through check_expectations."""
    clean_dir = tmp_path_factory.mktemp("gx-clean") / "gx"
    clean = run_expectations(parse_bundle(_tiny_files()).frames, gx_dir=clean_dir)

    bundle = parse_bundle(_long_absence_files())  # passes the Pandera contract
    frames = dict(bundle.frames)
    # frames handed straight to GX (not through parse_bundle): one missing rotation (no problem: the file
    # may be partial), a second rotation for R2 in B1 and one repeated coverage row, to see how the
    # steward view and the compound checks report them
    ra = frames["rotation_assignments"]
    ra = ra.loc[~((ra["person_id"] == "R1") & (ra["block_id"] == "B2"))]
    second = ra.loc[[2]].assign(rotation_id="NF").set_axis(pd.Index([7], name="row"))
    frames["rotation_assignments"] = pd.concat([ra, second])
    coverage = frames["coverage"]
    frames["coverage"] = pd.concat([coverage, coverage.loc[[1]].set_axis(pd.Index([5], name="row"))])
    bad = run_expectations(frames, gx_dir=tmp_path_factory.mktemp("gx-bad") / "gx")

    settings = Settings(gx_dir=tmp_path_factory.mktemp("gx-check") / "gx")
    with pytest.raises(InputError) as caught:
        ingest.check_expectations(bundle, settings=settings)
    return GxRuns(clean, clean_dir, bad, caught.value, bundle)


def test_the_tiny_bundle_meets_every_expectation(gx_runs: GxRuns) -> None:
    report = gx_runs.clean
    assert report.success and report.problems == []
    assert report.failed == 0
    assert report.evaluated > 0
    assert report.evaluated == sum(total for _, total in report.per_dataset.values())
    assert all(ok == total for ok, total in report.per_dataset.values())
    assert set(report.per_dataset) == {f"rotaflow-{n}".replace("_", "-") for n in DATASETS} | {
        "rotaflow-steward-resident-block-rotations",
        "rotaflow-steward-coverage",
        "rotaflow-steward-absences-with-length",
        "rotaflow-steward-people",
    }


def test_every_generated_spec_is_evaluated(gx_runs: GxRuns) -> None:
    for name, dataset in DATASETS.items():
        total = gx_runs.clean.per_dataset[f"rotaflow-{name}".replace("_", "-")][1]
        assert total == len(suite_specs_from_model(dataset.model)), name


def test_data_docs_are_built(gx_runs: GxRuns) -> None:
    index = gx_runs.clean.docs_index
    assert index is not None and index.is_file()
    assert index.suffix == ".html"
    assert index.is_relative_to(gx_runs.clean_dir)
    text = index.read_text(encoding="utf-8")
    assert "<html" in text.lower()
    assert "rotaflow-people" in text


def _site(report: ExpectationReport) -> Path:
    assert report.docs_index is not None
    return report.docs_index.parent


def test_the_site_loads_nothing_from_other_hosts(gx_runs: GxRuns) -> None:
    site = _site(gx_runs.bad)
    pages = list(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        text = page.read_text(encoding="utf-8")
        # no remote script, stylesheet or image (links to read elsewhere may stay), and no script at all
        assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=[\"']?(https?:)?//", text, re.I), page
        assert "<script" not in text.lower(), page
        assert "rotaflow-offline.css" in text, page
    for sheet in site.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", sheet.read_text(encoding="utf-8")), sheet


def test_the_index_lists_every_result_without_scripts(gx_runs: GxRuns) -> None:
    text = _site(gx_runs.bad).joinpath("index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>", text)
    assert len(rows) == len(gx_runs.bad.per_dataset)
    assert text.count('class="failed"') == sum(ok < total for ok, total in gx_runs.bad.per_dataset.values())
    assert "rotaflow-steward-absences-with-length" in text


def test_each_run_is_named_and_has_its_own_page(gx_runs: GxRuns) -> None:
    report = gx_runs.bad
    assert report.run_name == "rotaflow"  # no run name given
    page = report.docs_page
    assert page is not None and page.is_file()
    assert page.parent == _site(report) / "runs" / "rotaflow"
    text = page.read_text(encoding="utf-8")
    # every dataset of the run, linked to GX's page of it under the run's name
    links = re.findall(r'href="([^"]+\.html)"', text)
    assert len(links) == len(report.per_dataset)
    assert all("/rotaflow/" in link and (page.parent / link).resolve().is_file() for link in links), links
    # the failed expectations, by column and contract phrase (never a failing value: it may be personal)
    assert "length_days: expect_column_values_to_be_between (expected an absence of at most 365 days)" in text
    assert "400" not in re.sub(r"\d{8}T\d{6}\.\d+Z|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "", text)


def test_validation_run_names() -> None:
    assert validation_run_name("tiny", "0f3a-9c") == "tiny-0f3a-9c"
    assert validation_run_name("tiny", None) == "tiny"
    assert validation_run_name("a b/c", "x:y") == "a-b-c-x-y"  # a path segment: nothing else


def test_offline_site_without_a_site_or_a_run(tmp_path: Path) -> None:
    assert offline_site(tmp_path / "missing", tmp_path / "store") is None
    site = tmp_path / "site"
    site.mkdir()
    (site / "page.html").write_text(
        '<html><head><script src="https://code.jquery.com/jquery.js"></script>'
        '<link rel="stylesheet" href="//cdn.example/b.css"></head>'
        '<body><img src="https://cdn.example/logo.png?id=1"><script>$(".x").hide();</script><table></table></body></html>'
    )
    assert offline_site(site, tmp_path / "store", "tiny-run", dt.datetime(2027, 7, 1, tzinfo=dt.UTC)) is None
    text = (site / "page.html").read_text()
    assert text == (
        '<html><head><link rel="stylesheet" href="static/styles/rotaflow-offline.css">\n</head>'
        '<body><img src="static/images/logo-long.png"><table></table></body></html>'
    )
    assert "No validation results yet." in (site / "index.html").read_text()


def test_an_absence_over_365_days_is_a_located_problem(gx_runs: GxRuns) -> None:
    absence = [p for p in gx_runs.bad.problems if p.file == "absences.csv"]
    assert absence == [Problem("absences.csv", 1, "length_days", "an absence of at most 365 days", "400")]
    assert not gx_runs.bad.success
    assert gx_runs.bad.per_dataset["rotaflow-steward-absences-with-length"] == (0, 1)
    assert gx_runs.bad.docs_index is not None


def test_a_failed_warning_expectation_is_no_problem(gx_runs: GxRuns) -> None:
    # everyone's FTE is 0.1: the warning-level mean check fails but rejects nothing
    assert gx_runs.bad.per_dataset["rotaflow-steward-people"] == (0, 1)
    assert not [p for p in gx_runs.bad.problems if p.file == "people.csv"]
    assert gx_runs.bad_bundle.frames["people"]["fte"].tolist() == [0.1] * 4


def test_a_second_rotation_is_reported_and_a_missing_one_is_not(gx_runs: GxRuns) -> None:
    problems = [p for p in gx_runs.bad.problems if p.column == "rotations"]
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.file, problem.row, problem.column, problem.got) == (
        "rotation_assignments.csv",
        None,
        "rotations",
        "2",
    )
    assert problem.expected.startswith("exactly one rotation for every resident in every block")
    # R1 has no row in B2: rotation_assignments.csv may be partial (the year plan fills it); the
    # block's instance refuses the block (tests/unit/validations/test_instances.py)
    assert not [p for p in gx_runs.bad.problems if "R1" in p.expected]
    # the generated compound check sees the repeated (person_id, block_id) too, at its rows
    repeated = [p for p in gx_runs.bad.problems if p.file == "rotation_assignments.csv" and p.column is None]
    assert {p.row for p in repeated} == {2, 7}
    # failed = absence + second rotation (steward) + repeated pair (contract) + the warning + repeated coverage row
    assert gx_runs.bad.failed == 5
    assert gx_runs.bad.evaluated == gx_runs.clean.evaluated


def test_the_second_rotation_names_its_subject(gx_runs: GxRuns) -> None:
    problems = [p for p in gx_runs.bad.problems if p.column == "rotations"]
    assert problems == [
        Problem(
            "rotation_assignments.csv",
            None,
            "rotations",
            "exactly one rotation for every resident in every block (R2 in block B1)",
            "2",
        )
    ]


def test_a_bundle_without_rotation_assignments_meets_the_steward_view(tiny_files: dict[str, bytes]) -> None:
    files = {k: v for k, v in tiny_files.items() if k != "rotation_assignments.csv"}
    view = VIEWS["resident_block_rotations"](parse_bundle(files).frames)
    assert view.empty and list(view.columns) == ["person_id", "block_id", "rotations"]


def test_the_generated_compound_unique_check_agrees_with_pandera(gx_runs: GxRuns) -> None:
    assert gx_runs.bad.per_dataset["rotaflow-coverage"][0] < gx_runs.bad.per_dataset["rotaflow-coverage"][1]
    assert [p for p in gx_runs.bad.problems if p.file == "coverage.csv"]


def test_check_expectations_raises_input_error(gx_runs: GxRuns) -> None:
    error = gx_runs.bad_error
    assert error.problems == [Problem("absences.csv", 1, "length_days", "an absence of at most 365 days", "400")]
    assert error.exit_code == 2
    assert "absences.csv, row 1, column length_days: expected an absence of at most 365 days, got 400" in str(error)


def test_check_expectations_returns_the_report_when_nothing_fails(
    tiny_files: dict[str, bytes], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no fourth GX run: the report shape is what matters here
    calls: list[tuple[Path, str]] = []
    report = ExpectationReport(success=True, problems=[], docs_index=None, evaluated=3, failed=1)

    def fake_run(frames: Any, *, gx_dir: Path, run_name: str) -> ExpectationReport:
        calls.append((gx_dir, run_name))
        return report

    monkeypatch.setattr(ingest, "run_expectations", fake_run)
    bundle = parse_bundle(tiny_files)
    assert ingest.check_expectations(bundle, settings=settings) is report
    assert calls == [(settings.resolved_gx_dir, f"{bundle.program.key}-ingest")]  # the run is named, not __none__


def test_offline_site_lists_what_the_store_holds_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
    site, store = tmp_path / "site", tmp_path / "store"
    (site / "validations" / "rotaflow-people" / "tiny-run" / "manual").mkdir(parents=True)
    (site / "validations" / "rotaflow-people" / "tiny-run" / "manual" / "people.html").write_text("<html></html>")
    good = store / "rotaflow-people" / "tiny-run" / "manual"
    good.mkdir(parents=True)
    (good / "people.json").write_text(
        '{"suite_name": "rotaflow-people", "success": false, '
        '"statistics": {"evaluated_expectations": 2, "unsuccessful_expectations": 1}, '
        '"results": [{"success": true}, {"success": false, "expectation_config": {"type": '
        '"expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "b"]}, "meta": {}}}]}'
    )
    broken = store / "rotaflow-shifts" / "tiny-run" / "20270701T000000.000000Z"
    broken.mkdir(parents=True)
    (broken / "shifts.json").write_text("{not json")
    when = dt.datetime(2027, 7, 1, tzinfo=dt.UTC)
    assert offline_site(site, store, "another-run", when) is None  # the store holds nothing of that run
    index = (site / "index.html").read_text()
    assert index.count("<tr><td>") == 1  # the unreadable result is left out
    assert "<td>manual</td>" in index  # a run time GX did not write is shown as it is
    assert 'href="validations/rotaflow-people/tiny-run/manual/people.html"' in index


def _stored(gx_dir: Path) -> dict[str, int]:
    """The GX project's stored files (suites, validation definitions, its YAML) and when each was written."""
    root = gx_dir / "gx"
    files = [root / "great_expectations.yml", *root.glob("expectations/*.json")]
    files += root.glob("validation_definitions/*")
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in files}


def test_a_second_run_reuses_what_is_stored_and_a_changed_expectation_is_stored_again(tmp_path: Path) -> None:
    gx_dir = tmp_path / "gx"
    frames = parse_bundle(_tiny_files()).frames
    steward = load_steward_expectations()
    first = run_expectations(frames, gx_dir=gx_dir, steward=steward)
    stored = _stored(gx_dir)
    assert len(stored) > 2 * len(first.per_dataset)  # the YAML, a suite and a definition per dataset

    again = run_expectations(frames, gx_dir=gx_dir, steward=steward)
    assert (again.evaluated, again.per_dataset) == (first.evaluated, first.per_dataset)
    assert _stored(gx_dir) == stored  # nothing written again: the data source, suites and definitions are reused

    # a steward who tightens an expectation: its suite is stored again, and the new bound is what runs
    changed = [
        item.model_copy(update={"kwargs": {**item.kwargs, "max_value": 1}})
        if item.name == "absence_at_most_365_days"
        else item
        for item in steward
    ]
    tightened = run_expectations(frames, gx_dir=gx_dir, steward=changed)
    rewritten = {name for name, written in _stored(gx_dir).items() if stored.get(name) != written}
    assert rewritten == {"expectations/rotaflow-steward-absences-with-length.json"}
    name = "rotaflow-steward-absences-with-length"
    assert tightened.per_dataset[name][0] < tightened.per_dataset[name][1]  # the tiny bundle's leave is longer
    assert not tightened.success
