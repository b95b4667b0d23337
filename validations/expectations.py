"""Great Expectations suites, generated from the Pandera contracts, and steward expectations.

The suite of a dataset is derived from its Pandera model (columns, nullability, uniqueness,
sets, ranges, patterns), so each rule is written once. Steward-level expectations that
span files or judge distributions live declaratively in ``configs/expectations.yaml`` and
run against the derived views defined here. A file-mode GX context under ``var/gx``
builds Data Docs on every run. GX is imported lazily: it takes seconds to import.

Each run is named (``run_name``: the program and the run id), so its result pages sit under
``validations/<suite>/<run name>/<time>/`` in the site. GX's pages load jQuery, Bootstrap and
their plug-ins from CDNs; offline its index lists nothing and its scripts fail. So after each build
the site is made to work offline (``offline_site``): every page loses its remote scripts,
stylesheets and images and its inline scripts (the tables are in the markup), gains a local
stylesheet, and the index becomes a plain list of every validation result; each run also gets a
page of its own (``runs/<run name>/<time>.html``) that report.html links to. A run builds and
rewrites only its own pages (and the suites' and the index), under a lock on the site, each page
written whole and 0600; the index is read from a ledger of results, not from GX's store.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import glob
import html
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml
from pydantic import BaseModel, ConfigDict

from rotaflow.configs.settings import CONFIG_DIR
from rotaflow.errors import Problem
from rotaflow.files import PRIVATE_FILE, private_dir, replace_private
from rotaflow.validations.contracts import DATASETS, Dataset

__all__ = [
    "ExpectationReport",
    "StewardExpectation",
    "VIEWS",
    "load_steward_expectations",
    "offline_site",
    "site_lock",
    "validation_run_name",
    "run_expectations",
    "suite_specs_from_model",
]

STEWARD_FILE = CONFIG_DIR / "expectations.yaml"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation in GX terms: its type and keyword arguments."""

    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


def suite_specs_from_model(model: type[pa.DataFrameModel]) -> list[ExpectationSpec]:
    """Translate a Pandera model into GX expectations (one definition, not two)."""
    schema = model.to_schema()
    specs: list[ExpectationSpec] = []
    for name, column in schema.columns.items():
        meta = {"expected": column.description or ""}
        specs.append(ExpectationSpec("expect_column_to_exist", {"column": name}, meta))
        if not column.nullable:
            specs.append(ExpectationSpec("expect_column_values_to_not_be_null", {"column": name}, meta))
        if column.unique:
            specs.append(ExpectationSpec("expect_column_values_to_be_unique", {"column": name}, meta))
        for check in column.checks:
            stats = dict(check.statistics or {})
            spec = _check_to_spec(name, check.name, stats, meta)
            if spec is not None:
                specs.append(spec)
    if schema.unique:
        specs.append(
            ExpectationSpec(
                "expect_compound_columns_to_be_unique",
                {"column_list": list(schema.unique), "ignore_row_if": "never"},
                {"expected": "a unique combination of " + ", ".join(schema.unique)},
            )
        )
    return specs


def _check_to_spec(column: str, check: str, stats: dict[str, Any], meta: dict[str, Any]) -> ExpectationSpec | None:
    if check == "isin":
        return ExpectationSpec(
            "expect_column_values_to_be_in_set", {"column": column, "value_set": list(stats["allowed_values"])}, meta
        )
    if check == "str_matches":
        pattern = str(getattr(stats["pattern"], "pattern", stats["pattern"]))
        # GX searches with pandas str.contains, which warns on capturing groups
        pattern = re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern)
        return ExpectationSpec("expect_column_values_to_match_regex", {"column": column, "regex": pattern}, meta)
    if check == "in_range":
        return ExpectationSpec(
            "expect_column_values_to_be_between",
            {
                "column": column,
                "min_value": stats["min_value"],
                "max_value": stats["max_value"],
                "strict_min": not stats.get("include_min", True),
                "strict_max": not stats.get("include_max", True),
            },
            meta,
        )
    bounds = {
        "greater_than_or_equal_to": ("min_value", False),
        "greater_than": ("min_value", True),
        "less_than_or_equal_to": ("max_value", False),
        "less_than": ("max_value", True),
    }
    if check in bounds:
        key, strict = bounds[check]
        strict_key = "strict_min" if key == "min_value" else "strict_max"
        value = next(iter(stats.values()))
        return ExpectationSpec(
            "expect_column_values_to_be_between", {"column": column, key: value, strict_key: strict}, meta
        )
    return None  # a check GX cannot express; Pandera still enforces it


# --------------------------------------------------------------------------- steward views


def _resident_block_rotations(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per resident and block that rotation_assignments.csv names: how many rotations it gives them.

    A resident or block without a row is no row here: rotation_assignments.csv may be partial or absent
    (the year plan fills it in; docs/formats.md), and the instance of a block refuses a block that
    misses a resident (validations/instances.py).
    """
    people, blocks, ra = frames["people"], frames["blocks"], frames["rotation_assignments"]
    residents = people.loc[people["role"] == "resident", "person_id"]
    grid = pd.MultiIndex.from_product([residents, blocks["block_id"]], names=["person_id", "block_id"])
    counts = ra.groupby(["person_id", "block_id"]).size().reindex(grid, fill_value=0)
    counts = counts[counts > 0]
    view = counts.rename("rotations").reset_index()
    view.index = pd.Index(view["person_id"] + " in block " + view["block_id"], name="subject")
    return view


def _absences_with_length(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    view = frames["absences"].copy()
    view["length_days"] = (view["end_date"] - view["start_date"]).dt.days + 1
    return view


VIEWS: dict[str, Callable[[Mapping[str, pd.DataFrame]], pd.DataFrame]] = {
    "resident_block_rotations": _resident_block_rotations,
    "absences_with_length": _absences_with_length,
}
"""Derived frames that steward expectations may name as their ``dataset``."""


class StewardExpectation(BaseModel):
    """A steward-level expectation from configs/expectations.yaml."""

    model_config = ConfigDict(extra="forbid")

    name: str
    dataset: str
    file: str
    expectation: str
    kwargs: dict[str, Any]
    explain: str
    severity: str = "error"


def load_steward_expectations(path: Path = STEWARD_FILE) -> list[StewardExpectation]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = [StewardExpectation.model_validate(item) for item in data.get("expectations", [])]
    for item in items:
        if item.dataset not in VIEWS and item.dataset not in DATASETS:
            raise ValueError(f"{path.name}: expectation {item.name} names unknown dataset {item.dataset}")
    return items


def _resolve(kwargs: dict[str, Any], frames: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """``{from: dataset.column}`` in a kwarg becomes that column's distinct values."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and set(value) == {"from"}:
            dataset, column = str(value["from"]).split(".")
            out[key] = sorted(frames[dataset][column].dropna().unique().tolist())
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- running


@dataclass
class ExpectationReport:
    """The outcome of one GX run over a bundle."""

    success: bool
    problems: list[Problem]
    docs_index: Path | None
    evaluated: int
    failed: int
    per_dataset: dict[str, tuple[int, int]] = field(default_factory=dict)
    docs_page: Path | None = None
    """The run's own Data Docs page (its results, with links to GX's page of each), when built."""
    run_name: str = ""


def _distinct(specs: list[ExpectationSpec]) -> list[ExpectationSpec]:
    """The specs without repeats (same type and arguments): a suite holds each expectation once."""
    seen: set[str] = set()
    out = []
    for spec in specs:
        key = json.dumps([spec.type, spec.kwargs], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


def _frame_for_gx(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype) in ("Int64", "Float64", "boolean"):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def run_expectations(
    frames: Mapping[str, pd.DataFrame],
    *,
    gx_dir: Path,
    steward: list[StewardExpectation] | None = None,
    datasets: Mapping[str, Dataset] = DATASETS,
    run_name: str | None = None,
) -> ExpectationReport:
    """Run every dataset's generated suite and the steward expectations; build Data Docs.

    ``datasets`` names the contracts to run: the bundle's by default, ``OUTPUTS`` for a
    run's assignments and findings (then pass ``steward=[]``). ``run_name`` names the GX run
    (``validation_run_name``: the program and the run id); without it, ``rotaflow``.
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe  # noqa: F401  (registers expectation types)
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    steward = load_steward_expectations() if steward is None else steward
    gx_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    _quiet(context)
    # the stored data source, suites and validation definitions are reused when unchanged: replacing
    # the data source drops its assets, and every asset added again rewrites the project's YAML
    sources = context.data_sources.all()
    source = sources["rotaflow"] if "rotaflow" in sources else context.data_sources.add_pandas(name="rotaflow")

    batches: list[tuple[str, str, pd.DataFrame, list[ExpectationSpec], dict[str, StewardExpectation]]] = []
    for name, dataset in datasets.items():
        if name in frames:
            batches.append((name, dataset.file, frames[name], suite_specs_from_model(dataset.model), {}))
    by_dataset: dict[str, list[StewardExpectation]] = {}
    for item in steward:
        by_dataset.setdefault(item.dataset, []).append(item)
    for view_name, items in by_dataset.items():
        frame = VIEWS[view_name](frames) if view_name in VIEWS else frames[view_name]
        specs = [
            ExpectationSpec(
                item.expectation, _resolve(item.kwargs, frames), {"steward": item.name, "expected": item.explain}
            )
            for item in items
        ]
        batches.append((f"steward-{view_name}", items[0].file, frame, specs, {i.name: i for i in items}))

    validation_definitions = []
    frames_by_name: dict[str, tuple[str, pd.DataFrame, dict[str, StewardExpectation]]] = {}
    for name, file, frame, specs, stewards in batches:
        asset = _asset(source, name)
        batch_definition = _batch_definition(asset)
        # every expectation is given to the suite before the suite is stored: once stored, each
        # add_expectation writes the whole suite again (GX's file store), 193 writes per bundle
        suite = ExpectationSuite(
            name=f"rotaflow-{name}".replace("_", "-"),
            expectations=[
                ExpectationConfiguration(type=spec.type, kwargs=spec.kwargs, meta=spec.meta).to_domain_obj()
                for spec in _distinct(specs)
            ],
        )
        suite = _stored_suite(context, suite)
        definition = _stored_definition(
            context,
            gx.ValidationDefinition(name=f"rotaflow-{name}".replace("_", "-"), data=batch_definition, suite=suite),
        )
        validation_definitions.append((definition, frame))
        frames_by_name[definition.name] = (file, frame, stewards)

    problems: list[Problem] = []
    evaluated = failed = 0
    per_dataset: dict[str, tuple[int, int]] = {}
    name = _safe_run_name(run_name or "rotaflow")
    run_time = dt.datetime.now(dt.UTC)
    for definition, frame in validation_definitions:
        result = definition.run(
            batch_parameters={"dataframe": _frame_for_gx(frame)},
            result_format={"result_format": "COMPLETE"},
            run_id=RunIdentifier(run_name=name, run_time=run_time),
        )
        file, _, stewards = frames_by_name[definition.name]
        ok = 0
        for outcome in result.results:
            evaluated += 1
            if outcome.success:
                ok += 1
                continue
            failed += 1
            config = outcome.expectation_config
            meta = (config.meta if config is not None else None) or {}
            steward_item = stewards.get(meta.get("steward", ""))
            if steward_item is not None and steward_item.severity != "error":
                continue
            expected = str(meta.get("expected") or (config.type if config is not None else "an expectation to hold"))
            problems += _located(file, outcome, expected)
        per_dataset[definition.name] = (ok, len(result.results))
    site = gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    store = gx_dir / "gx" / "uncommitted" / "validations"
    stamp = run_time.strftime(_RUN_TIME_FORMAT)
    # only this run's pages and its suites' (GX would render every stored result again); no GX index
    built: list[Any] = [ExpectationSuiteIdentifier(name=d.suite.name) for d, _ in validation_definitions]
    built += [
        ValidationResultIdentifier.from_tuple(path.relative_to(store).with_suffix("").parts)
        for path in sorted(store.glob(f"*/{glob.escape(name)}/{stamp}/*.json"))
    ]
    page = None
    if built:
        with site_lock(site):
            context.build_data_docs(resource_identifiers=built, build_index=False)
            page = _offline(site, store, name, run_time)
    docs = site / "index.html"
    return ExpectationReport(
        success=not problems,
        problems=problems,
        docs_index=docs if docs.exists() else None,
        evaluated=evaluated,
        failed=failed,
        per_dataset=per_dataset,
        docs_page=page,
        run_name=name,
    )


def validation_run_name(program: str, run_id: str | None) -> str:
    """The GX run name of a validation: ``<program>-<run id>`` (the program alone without a run id)."""
    return _safe_run_name(f"{program}-{run_id}" if run_id else program)


def _safe_run_name(name: str) -> str:
    """A run name fit for a path segment: letters, digits, ``.``, ``_`` and ``-`` (at most 100)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:100]
    return cleaned or "rotaflow"


# --------------------------------------------------------------------------- Data Docs offline

_REMOTE_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>", re.I)
_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.I | re.S)
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>", re.I)
_REMOTE_IMAGE = re.compile(r"(<img\b[^>]*\bsrc=)([\"'])(?:https?:)?//[^\"']*\2", re.I)
_REMOTE_CSS_URL = re.compile(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", re.I)
_RUN_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
SITE_LOCK = ".rotaflow-site.lock"
"""The file under the Data Docs site whose ``flock`` a run holds while the site's pages are built and rewritten."""
SITE_LEDGER = ".rotaflow-results.jsonl"
"""The site's ledger: one JSON line per validation result on the index (no personal data: names and counts)."""
OFFLINE_CSS = "static/styles/rotaflow-offline.css"
_OFFLINE_STYLES = """/* rotaflow: what GX's Data Docs need from the CDN stylesheets, offline */
body { font-family: system-ui, sans-serif; margin: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
.invisible, .modal, .d-none { display: none; }
.fas, .far { font-style: normal; }
.fa-check-circle::before { content: "\\2714"; color: #1a7f37; }
.fa-times-circle::before, .fa-times::before { content: "\\2716"; color: #b42318; }
.fa-exclamation-triangle::before { content: "\\26A0"; color: #b54708; }
.failed { color: #b42318; font-weight: bold; }
.passed { color: #1a7f37; }
"""


def offline_site(
    site: Path, store: Path, run_name: str | None = None, run_time: dt.datetime | None = None
) -> Path | None:
    """Make a built Data Docs site work offline; return the page of the run ``run_name`` at ``run_time``.

    A page loses the scripts, stylesheets and images it loads from other hosts and its inline scripts
    (they need jQuery; the results are in the markup), and links a local stylesheet. Only the pages GX
    has just written are rewritten: the run's result pages (``validations/<suite>/<run name>/<time>/``)
    and the suites' pages; a site without a results ledger yet (made before it, or new) has all its pages
    rewritten once. The index (GX fills its lists from jQuery) becomes a plain list of every validation
    result, newest first, read from the ledger (``SITE_LEDGER``: one line per result, appended as each
    run's results are added), so no earlier result is read again. ``store`` is GX's validation results
    folder (``uncommitted/validations``). Every page is written whole (a new file renamed over the old,
    0600) while the site's lock (``SITE_LOCK``) is held, so concurrent runs take turns.
    """
    if not site.is_dir():
        return None
    with site_lock(site):
        return _offline(site, store, run_name, run_time)


@contextmanager
def site_lock(site: Path) -> Iterator[None]:
    """Hold the Data Docs site's lock (an ``flock`` on ``site/SITE_LOCK``, made 0600 and the site's
    folders 0700 when missing) while GX builds pages and rotaflow rewrites them; another run waits."""
    private_dir(site)
    fd = os.open(site / SITE_LOCK, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def _offline(site: Path, store: Path, run_name: str | None, run_time: dt.datetime | None) -> Path | None:
    """``offline_site`` under the site's lock."""
    css = site / OFFLINE_CSS
    css.parent.mkdir(parents=True, exist_ok=True)
    if not css.is_file() or css.read_text(encoding="utf-8") != _OFFLINE_STYLES:
        replace_private(css, _OFFLINE_STYLES)
    for path in (site / "static").rglob("*.css"):  # GX copies its static assets again on every build
        text = path.read_text(encoding="utf-8")
        local = _REMOTE_CSS_URL.sub("none", text)
        if local != text:
            replace_private(path, local)
    stamp = run_time.strftime(_RUN_TIME_FORMAT) if run_time is not None else None
    ledger = _read_ledger(site)
    index = site / "index.html"
    migrate = ledger is None
    if ledger is None:  # every page, once; every stored result into the ledger
        pages = [p for p in site.rglob("*.html") if p != index]
        new = _stored_results(site, store, sorted(store.glob("*/*/*/*.json")) if store.is_dir() else [])
        ledger = {}
    else:
        pages = sorted(site.glob("expectations/*.html"))
        new = []
        if run_name is not None and stamp is not None:
            pages += sorted(site.glob(f"validations/*/{glob.escape(run_name)}/{stamp}/*.html"))
            new = _stored_results(site, store, sorted(store.glob(f"*/{glob.escape(run_name)}/{stamp}/*.json")))
    for path in pages:
        replace_private(path, _offline_page(path.read_text(encoding="utf-8"), site, path))
    _add_to_ledger(site, new, rewrite=migrate)
    ledger.update({r.key: r for r in new})
    results = sorted(ledger.values(), key=lambda r: (r.run_time, r.run_name, r.suite), reverse=True)
    _write_page(index, site, "Data Docs", _index_body(site, index, results))
    own = [r for r in new if r.run_name == run_name and r.run_time == stamp]
    if run_name is None or not own:
        return None
    page = site / "runs" / run_name / f"{stamp}.html"
    body = f"<p>Run <code>{html.escape(run_name)}</code> at {html.escape(own[0].when)}.</p>" + _results_table(
        site, page, own, detail=True
    )
    _write_page(page, site, f"Data Docs of {run_name}", body)
    return page


@dataclass(frozen=True)
class _StoredResult:
    key: str
    """The result's path in GX's store without ``.json``: ``<suite>/<run name>/<run time>/<batch>``."""
    suite: str
    run_name: str
    run_time: str
    success: bool
    evaluated: int
    failed: int
    page: Path | None
    failures: tuple[tuple[str, str, str], ...] = ()
    """(expectation type, column, expected phrase) of each failed expectation (not kept in the ledger)."""

    @property
    def when(self) -> str:
        try:
            return dt.datetime.strptime(self.run_time, _RUN_TIME_FORMAT).strftime("%Y-%m-%d %H:%M:%S UTC")
        except ValueError:
            return self.run_time


def _stored_results(site: Path, store: Path, paths: list[Path]) -> list[_StoredResult]:
    """The validation results at ``paths`` in GX's store (``<suite>/<run name>/<run time>/<batch>.json``);
    one that cannot be read is left out."""
    found = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        relative = path.relative_to(store).with_suffix(".html")
        page = site / "validations" / relative
        stats = data.get("statistics") or {}
        failures = []
        for item in data.get("results") or []:
            if item.get("success"):
                continue
            config = item.get("expectation_config") or {}
            meta = config.get("meta") or {}
            kwargs = config.get("kwargs") or {}
            column = kwargs.get("column") or ", ".join(kwargs.get("column_list") or [])
            failures.append((str(config.get("type", "")), str(column), str(meta.get("expected", ""))))
        suite_dir, run_dir, time_dir = relative.parts[:3]
        found.append(
            _StoredResult(
                key=relative.with_suffix("").as_posix(),
                suite=str(data.get("suite_name") or suite_dir),
                run_name=run_dir,
                run_time=time_dir,
                success=bool(data.get("success")),
                evaluated=int(stats.get("evaluated_expectations") or 0),
                failed=int(stats.get("unsuccessful_expectations") or 0),
                page=page if page.exists() else None,
                failures=tuple(failures),
            )
        )
    return found


def _read_ledger(site: Path) -> dict[str, _StoredResult] | None:
    """The results the site's ledger lists, by key (a later line wins); ``None`` without a ledger. A line
    that cannot be read (a run stopped while appending it) is skipped."""
    path = site / SITE_LEDGER
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    found: dict[str, _StoredResult] = {}
    for line in lines:
        try:
            item = json.loads(line)
            page = item.get("page")
            result = _StoredResult(
                key=str(item["key"]),
                suite=str(item["suite"]),
                run_name=str(item["run_name"]),
                run_time=str(item["run_time"]),
                success=bool(item["success"]),
                evaluated=int(item["evaluated"]),
                failed=int(item["failed"]),
                page=site / page if page else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        found[result.key] = result
    return found


def _add_to_ledger(site: Path, results: list[_StoredResult], *, rewrite: bool) -> None:
    """Append ``results`` to the site's ledger (``rewrite``: make the ledger of them alone)."""
    lines = "".join(
        json.dumps(
            {
                "key": r.key,
                "suite": r.suite,
                "run_name": r.run_name,
                "run_time": r.run_time,
                "success": r.success,
                "evaluated": r.evaluated,
                "failed": r.failed,
                "page": r.page.relative_to(site).as_posix() if r.page is not None else None,
            },
            sort_keys=True,
        )
        + "\n"
        for r in results
    )
    path = site / SITE_LEDGER
    if rewrite:
        replace_private(path, lines)
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(lines)


def _relative(target: Path, page: Path) -> str:
    return Path(os.path.relpath(target, page.parent)).as_posix()


def _offline_page(text: str, site: Path, page: Path) -> str:
    logo = _relative(site / "static" / "images" / "logo-long.png", page)
    text = _REMOTE_SCRIPT.sub("", text)
    text = _INLINE_SCRIPT.sub("", text)
    text = _REMOTE_LINK.sub("", text)
    text = _REMOTE_IMAGE.sub(lambda m: f"{m.group(1)}{m.group(2)}{logo}{m.group(2)}", text)
    link = f'<link rel="stylesheet" href="{_relative(site / OFFLINE_CSS, page)}">'
    if link not in text:
        text = text.replace("</head>", f"{link}\n</head>", 1)
    return text


def _results_table(site: Path, page: Path, results: list[_StoredResult], *, detail: bool) -> str:
    rows = []
    for r in results:
        status = '<span class="passed">passed</span>' if r.success else '<span class="failed">failed</span>'
        suite = html.escape(r.suite)
        name = f'<a href="{html.escape(_relative(r.page, page))}">{suite}</a>' if r.page is not None else suite
        cells = [status, html.escape(r.when), html.escape(r.run_name), name, str(r.evaluated), str(r.failed)]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        if detail:
            for kind, column, expected in r.failures:
                rows.append(
                    f'<tr class="failure"><td></td><td colspan="5">{html.escape(column or "(table)")}: '
                    f"{html.escape(kind)} (expected {html.escape(expected or 'the expectation to hold')})</td></tr>"
                )
    head = "".join(f"<th>{h}</th>" for h in ("Status", "Run time", "Run name", "Suite", "Expectations", "Failed"))
    return f'<table class="results"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _index_body(site: Path, page: Path, results: list[_StoredResult]) -> str:
    suites = sorted((site / "expectations").glob("*.html")) if (site / "expectations").is_dir() else []
    items = "".join(f'<li><a href="{html.escape(_relative(p, page))}">{html.escape(p.stem)}</a></li>' for p in suites)
    return (
        "<h2>Validation results</h2>"
        + (_results_table(site, page, results, detail=False) if results else "<p>No validation results yet.</p>")
        + "<h2>Expectation suites</h2>"
        + (f'<ul class="suites">{items}</ul>' if items else "<p>No expectation suites.</p>")
    )


def _write_page(path: Path, site: Path, title: str, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    css = _relative(site / OFFLINE_CSS, path)
    replace_private(
        path,
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="{css}"></head>'
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n",
    )


def _located(file: str, item: Any, expected: str) -> list[Problem]:
    column = item.expectation_config.kwargs.get("column")
    indices = item.result.get("unexpected_index_list") or []
    values = item.result.get("unexpected_list") or []
    if not indices:
        return [Problem(file, None, column, expected, "a failed expectation")]
    out = []
    for position, index in enumerate(indices[:100]):
        if isinstance(index, dict):  # a named index comes back with the row's values
            index = index.get("row", index.get("subject", index.get("index")))
        got = repr(values[position]) if position < len(values) and not isinstance(values[position], dict) else None
        if isinstance(index, int | float) and not isinstance(index, bool):
            out.append(Problem(file, int(index), column, expected, got))
        else:
            out.append(Problem(file, None, column, f"{expected} ({index})", got))
    return out


def _stored_suite(context: Any, suite: Any) -> Any:
    """The suite as stored: the stored one when it holds the same expectations, else ``suite`` written."""
    from great_expectations.exceptions import DataContextError

    try:
        existing = context.suites.get(name=suite.name)
    except DataContextError:  # new here (another run storing it at the same moment is no error)
        return context.suites.add_or_update(suite)
    if _expectations_key(existing) == _expectations_key(suite):
        return existing
    return context.suites.add_or_update(suite)


def _expectations_key(suite: Any) -> str:
    configurations = [e.configuration for e in suite.expectations]
    return json.dumps([[c.type, c.kwargs, c.meta] for c in configurations], sort_keys=True, default=str)


def _stored_definition(context: Any, definition: Any) -> Any:
    """The validation definition as stored: the stored one when it binds the same suite and batch."""
    from great_expectations.exceptions import DataContextError

    try:
        existing = context.validation_definitions.get(name=definition.name)
    except DataContextError:
        return context.validation_definitions.add_or_update(definition)
    if existing.suite.id == definition.suite.id and existing.batch_definition.id == definition.batch_definition.id:
        return existing
    return context.validation_definitions.add_or_update(definition)


def _asset(source: Any, name: str) -> Any:
    try:
        return source.get_asset(name)
    except LookupError:
        return source.add_dataframe_asset(name=name)


def _batch_definition(asset: Any) -> Any:
    try:
        return asset.get_batch_definition("whole")
    except (KeyError, LookupError, ValueError):
        return asset.add_batch_definition_whole_dataframe("whole")


def _quiet(context: Any) -> None:
    """No progress bars or usage statistics in batch runs."""
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        current = context.variables.progress_bars  # as stored: a mapping
        if isinstance(current, dict) and current.get("globally") is False:
            return  # already off: the project's YAML is not written again
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    except Exception as exc:  # an older GX without the setting: only cosmetic
        log.debug("could not turn off GX progress bars: %s", type(exc).__name__)
