"""Great Expectations suites, generated from the Pandera contracts, and steward expectations.

The suite of a dataset is derived from its Pandera model (columns, nullability, uniqueness,
sets, ranges, patterns), so each rule is written once. Steward-level expectations that
span files or judge distributions live declaratively in ``configs/expectations.yaml`` and
run against the derived views defined here. A file-mode GX context under ``var/gx``
builds Data Docs on every run. GX is imported lazily: it takes seconds to import.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml
from pydantic import BaseModel, ConfigDict

from rotaflow.configs.settings import CONFIG_DIR
from rotaflow.errors import Problem
from rotaflow.validations.contracts import DATASETS, Dataset

__all__ = [
    "ExpectationReport",
    "StewardExpectation",
    "VIEWS",
    "load_steward_expectations",
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
) -> ExpectationReport:
    """Run every dataset's generated suite and the steward expectations; build Data Docs.

    ``datasets`` names the contracts to run: the bundle's by default, ``OUTPUTS`` for a
    run's assignments and findings (then pass ``steward=[]``).
    """
    import great_expectations as gx
    import great_expectations.expectations as gxe  # noqa: F401  (registers expectation types)
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    steward = load_steward_expectations() if steward is None else steward
    gx_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    _quiet(context)
    source = context.data_sources.add_or_update_pandas(name="rotaflow")

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
        suite = ExpectationSuite(name=f"rotaflow-{name}".replace("_", "-"))
        for spec in specs:
            # add_expectation appends (add_expectation_configuration would upsert by column)
            suite.add_expectation(
                ExpectationConfiguration(type=spec.type, kwargs=spec.kwargs, meta=spec.meta).to_domain_obj()
            )
        suite = context.suites.add_or_update(suite)
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"rotaflow-{name}".replace("_", "-"), data=batch_definition, suite=suite)
        )
        validation_definitions.append((definition, frame))
        frames_by_name[definition.name] = (file, frame, stewards)

    problems: list[Problem] = []
    evaluated = failed = 0
    per_dataset: dict[str, tuple[int, int]] = {}
    for definition, frame in validation_definitions:
        result = definition.run(
            batch_parameters={"dataframe": _frame_for_gx(frame)},
            result_format={"result_format": "COMPLETE"},
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
    context.build_data_docs()
    docs = gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    return ExpectationReport(
        success=not problems,
        problems=problems,
        docs_index=docs if docs.exists() else None,
        evaluated=evaluated,
        failed=failed,
        per_dataset=per_dataset,
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

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    except Exception as exc:  # an older GX without the setting: only cosmetic
        log.debug("could not turn off GX progress bars: %s", type(exc).__name__)
