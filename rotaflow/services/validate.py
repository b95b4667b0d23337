"""Validate a schedule of any origin and write what a data steward reads.

The second opinion is independent of the solver: the ACGME validator
(:mod:`rotaflow.validations.acgme`) and the coverage, structure and utilisation checks
(:mod:`rotaflow.validations.coverage`) recompute their rules from the bundle and the assignments alone.
The program's other rules (max consecutive nights, requests, fairness …), which only the rule
engine knows, are checked by the engine's own checkers, block by block. Burnout risk
(advisory) and the N-1/N-2 contingency analysis complete the picture; ``write_validation``
writes findings.csv, validation.json, a self-contained report.html and GX Data Docs for the
assignments and findings.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

import rotaflow.constraints.rules  # noqa: F401  (registers every rule)
from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.model import check_schedule
from rotaflow.constraints.registry import RULES
from rotaflow.errors import InputError, Problem
from rotaflow.files import private_dir, write_private
from rotaflow.services.generate import findings_rows
from rotaflow.services.results import RUN_FACTS, BrokenOutput, ValidateResult, check_csv, check_json
from rotaflow.validations.acgme import AcgmeReport, limits_for, validate_acgme
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.burnout import burnout_scores
from rotaflow.validations.contracts import ASSIGNMENT_COLUMNS, FINDING_COLUMNS, LOCAL_TIME_FORMAT
from rotaflow.validations.coverage import CoverageReport, validate_coverage
from rotaflow.validations.findings import rule_kinds
from rotaflow.validations.instances import block_instance, rules_for

__all__ = [
    "INDEPENDENT_RULES",
    "Validation",
    "blocks_in",
    "check_run_facts",
    "validate",
    "validation_facts",
    "validation_result",
    "write_validation",
]

ContingencyOrder = Literal["none", "n1", "n2"]

INDEPENDENT_RULES = frozenset(name for name, rule in RULES.items() if rule.independently_checked)
"""Rules the independent validators recompute; the engine's checkers cover the rest."""

SEVERITY_ORDER = {"violation": 0, "warning": 1, "info": 2}


@dataclass
class Validation:
    """Everything one validation found."""

    period: tuple[dt.date, dt.date]
    blocks: list[str]
    schedule: pd.DataFrame
    findings: pd.DataFrame
    acgme: AcgmeReport
    coverage: CoverageReport
    burnout: pd.DataFrame
    contingency: Any | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    """Names of the rules of the program's rule set."""
    history_given: bool = True
    """Whether work before the period was known (the bundle's history.csv or a passed history had rows): without
    it the first weeks' 4-week averages count only the days inside the period."""

    @property
    def hard_violations(self) -> int:
        return int((self.findings["severity"] == "violation").sum())

    @property
    def warnings(self) -> int:
        return int((self.findings["severity"] == "warning").sum())

    def summary(self) -> dict[str, Any]:
        """validation.json: counts by severity and rule, utilisation, burnout bands, contingency."""
        by_rule = (
            self.findings.groupby(["rule", "severity"]).size().reset_index(name="n").to_dict("records")
            if len(self.findings)
            else []
        )
        out: dict[str, Any] = {
            "verdict": "failed" if self.hard_violations else "passed",
            "period_start": self.period[0].isoformat(),
            "period_end": self.period[1].isoformat(),
            "blocks": self.blocks,
            "assignments": len(self.schedule),
            "hard_violations": self.hard_violations,
            "warnings": self.warnings,
            "infos": int((self.findings["severity"] == "info").sum()),
            "findings_by_rule": by_rule,
            "utilisation_by_block": self.coverage.blocks.to_dict("records"),
            "burnout_bands": self.burnout["band"].value_counts().to_dict() if len(self.burnout) else {},
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            **self.glance(),
        }
        if self.contingency is not None:
            out["contingency"] = self.contingency.summary()
        return out

    def glance(self) -> dict[str, Any]:
        """What the report's "At a glance" shows beyond the counts: the weekly limit, the residents above it in
        a single week, the dates without spare coverage, and whether history before the period was known."""
        from rotaflow.validations.report.glance import days_without_spare, single_week_over_limit

        limit = float(self.acgme.limits.weekly_hours.limit_hours)
        return {
            "weekly_limit_hours": limit,
            "single_week_over_limit": single_week_over_limit(self.acgme.weekly, limit),
            "days_without_spare": days_without_spare(self.coverage.coverage),
            "history_given": self.history_given,
        }


def blocks_in(bundle: Bundle, first: dt.date, last: dt.date) -> list[str]:
    """The blocks that overlap ``[first, last]``, in date order."""
    blocks = bundle.frames["blocks"].sort_values("start_date")
    hit = (blocks["start_date"].dt.date <= last) & (blocks["end_date"].dt.date >= first)
    return [str(b) for b in blocks.loc[hit, "block_id"]]


def block_period(bundle: Bundle, block_id: str) -> tuple[dt.date, dt.date]:
    blocks = bundle.frames["blocks"].set_index("block_id")
    if block_id not in blocks.index:
        known = ", ".join(map(str, blocks.index[:10]))
        raise InputError([Problem("blocks.csv", None, "block_id", f"one of the program's blocks ({known})", block_id)])
    return blocks.at[block_id, "start_date"].date(), blocks.at[block_id, "end_date"].date()


def validate(
    bundle: Bundle,
    schedule: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    block_id: str | None = None,
    period: tuple[dt.date, dt.date] | None = None,
    contingency: ContingencyOrder = "none",
    contingency_runner: Callable[..., Any] | None = None,
    on_contingency_progress: Callable[[int, int], None] | None = None,
) -> Validation:
    """Validate ``schedule`` (``rotaflow.validations.schedule.load_schedule``'s frame) over a block or period.

    ``history`` holds shifts worked before the period (same frame shape); the bundle's
    history.csv is added by the ACGME validator itself. ``contingency`` runs the N-1 (or N-1 and
    N-2) analysis of ``block_id``'s schedule; ``contingency_runner`` maps the scenarios that need a
    solve (a Prefect task map, say); by default they run in this process. ``on_contingency_progress(done,
    total)`` follows the contingency scenarios (``analyse_contingency``'s ``on_progress``).
    """
    clock: dict[str, float] = {}
    if block_id is not None:
        period = block_period(bundle, block_id)
    if period is None:
        if schedule.empty:
            raise InputError([Problem("assignments.csv", None, None, "at least one assignment, or a block", "no rows")])
        dates = pd.to_datetime(schedule["date"])
        period = (dates.min().date(), dates.max().date())
    first, last = period
    blocks = blocks_in(bundle, first, last)

    started = time.perf_counter()
    acgme = validate_acgme(bundle, schedule, history=history, period=period)
    clock["acgme"] = time.perf_counter() - started

    started = time.perf_counter()
    rules = rules_for(bundle)
    ratio = next(
        ((r.params.pgy1_per_faculty, r.params.others_per_faculty) for r in rules if r.name == "supervision_ratio"), None
    )
    limits = limits_for(bundle)
    coverage = validate_coverage(
        bundle,
        schedule,
        period=period,
        weekly_limit_hours=limits.weekly_hours.limit_hours,
        supervision=ratio,
    )
    clock["coverage"] = time.perf_counter() - started

    started = time.perf_counter()
    engine = _engine_findings(bundle, schedule, history, blocks, period, rules)
    clock["program_rules"] = time.perf_counter() - started

    started = time.perf_counter()
    people = bundle.frames["people"]
    residents = sorted(people.loc[people["role"] == "resident", "person_id"])
    burnout = burnout_scores(
        schedule,
        residents,
        period,
        timezone=bundle.program.timezone,
        requests=bundle.frames.get("requests"),
        weekly_limit_hours=limits.weekly_hours.limit_hours,
    )
    clock["burnout"] = time.perf_counter() - started

    findings = pd.concat(
        [f for f in (acgme.findings, coverage.findings, engine) if len(f)] or [pd.DataFrame(columns=FINDING_COLUMNS)],
        ignore_index=True,
    )[FINDING_COLUMNS]
    findings = _ordered(findings)

    analysis = None
    if contingency != "none" and block_id is None:
        raise InputError([Problem("options", None, "--block", "a block for the contingency analysis", None)])
    if contingency != "none" and not (findings["severity"] == "violation").any():
        # contingency asks whether a legal schedule survives losing people: it needs a legal schedule
        from rotaflow.validations.contingency import analyse_contingency

        started = time.perf_counter()
        cells = list(
            zip(schedule["person_id"], pd.to_datetime(schedule["date"]).dt.date, schedule["shift_id"], strict=True)
        )
        past = []
        if history is not None and len(history):
            dates = pd.to_datetime(history["date"]).dt.date
            past = list(zip(history["person_id"], dates, history["shift_id"], strict=True))
        assert block_id is not None
        analysis = analyse_contingency(
            bundle,
            block_id,
            cells,
            order=2 if contingency == "n2" else 1,
            solve=contingency_runner,
            history=past,
            on_progress=on_contingency_progress,
        )
        clock["contingency"] = time.perf_counter() - started
    names = sorted({r.name for r in rules})
    given = bundle.frames.get("history")
    known = (given is not None and len(given) > 0) or (history is not None and len(history) > 0)
    return Validation(
        period, blocks, schedule, findings, acgme, coverage, burnout, analysis, clock, names, history_given=known
    )


def _iso_date(value: Any) -> str:
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def _ordered(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings in one shape: ISO dates, empty person ids, violations first."""
    findings = findings.copy()
    for column in ("window_start", "window_end"):
        findings[column] = findings[column].map(_iso_date)
    findings["person_id"] = findings["person_id"].fillna("").astype(str)
    key = findings["severity"].map(SEVERITY_ORDER).fillna(3)
    return (
        findings.assign(_k=key)
        .sort_values(["_k", "rule", "person_id", "window_start", "window_end"], kind="stable")
        .drop(columns="_k")
        .reset_index(drop=True)
    )


def _engine_findings(
    bundle: Bundle,
    schedule: pd.DataFrame,
    history: pd.DataFrame | None,
    blocks: list[str],
    period: tuple[dt.date, dt.date],
    rules: list[Any],
) -> pd.DataFrame:
    """The engine's checkers for the program rules the independent validators do not cover."""
    others = [r for r in rules if r.name not in INDEPENDENT_RULES]
    rows: list[dict[str, Any]] = []
    if not others:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    dates = pd.to_datetime(schedule["date"]).dt.date
    cells_all = list(zip(schedule["person_id"], dates, schedule["shift_id"], strict=True))
    past: list[tuple[str, dt.date, str]] = []
    if history is not None and len(history):
        past = list(
            zip(history["person_id"], pd.to_datetime(history["date"]).dt.date, history["shift_id"], strict=True)
        )
    for block_id in blocks:
        start, end = block_period(bundle, block_id)
        earlier = [c for c in cells_all if c[1] < start] + past
        instance = block_instance(bundle, block_id, history=earlier)
        cells = {
            (p, (d - start).days, s)
            for p, d, s in cells_all
            if start <= d <= end and period[0] <= d <= period[1] and p in instance.person and s in instance.shift
        }
        violations = check_schedule(Schedule.of(instance, cells), others)
        rows += findings_rows(instance, violations, rule_kinds(others))
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


# --------------------------------------------------------------------------- writing


def _csv(frame: pd.DataFrame, columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in frame[columns].itertuples(index=False):
        writer.writerow(["" if _blank(v) else _cell(v) for v in row])
    return buffer.getvalue()


def _blank(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _cell(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else str(value)
    return str(value)


def assignments_csv(schedule: pd.DataFrame, timezone: str) -> str:
    """assignments.csv text (docs/formats.md) of a loaded schedule: local instants with offsets."""
    frame = schedule.sort_values(["person_id", "start"]).copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date.map(dt.date.isoformat)
    for column in ("start", "end"):
        local = [t.tz_convert(timezone) for t in frame[column]]
        frame[column] = [t.isoformat() for t in local]
        frame[f"{column}_local"] = [t.strftime(LOCAL_TIME_FORMAT) for t in local]
    frame["hours"] = frame["hours"].astype(float).round(2)
    return _csv(frame, ASSIGNMENT_COLUMNS)


def findings_csv(findings: pd.DataFrame) -> str:
    """findings.csv text (docs/formats.md)."""
    return _csv(findings, FINDING_COLUMNS)


def validation_facts(
    program: str, schedule: str, block_id: str | None, run: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What validation.json says of what was validated: the program, the schedule file, the generation run
    that made it (``run``: ``GenerateResult.run_facts``) and the block."""
    check_run_facts(run)
    facts = {"program": program, "schedule": schedule, **(run or {})}
    if block_id is not None:
        facts["block_id"] = block_id
    return facts


def check_run_facts(run: Mapping[str, Any] | None) -> None:
    """``InputError`` when the generation run's facts handed to a validation (the flow's ``extra``) hold a
    key that is not a run fact (``RUN_FACTS``): caller input, refused before anything runs."""
    unknown = sorted(set(run or {}) - set(RUN_FACTS))
    if unknown:
        expected = f"the generation run's facts (keys among {', '.join(RUN_FACTS)})"
        raise InputError([Problem("flow parameters", None, "extra", expected, ", ".join(map(str, unknown)))])


def validation_result(validation: Validation, facts: Mapping[str, Any], out: str | Path) -> ValidateResult:
    """The result of a validation written to ``out``: ``facts`` (``validation_facts``), then the verdict;
    ``BrokenOutput`` when it breaks its contract (``ValidateResult``)."""
    data = {**facts, **validation.summary(), "out_dir": str(Path(out).resolve())}
    check_json(ValidateResult, data, "validation result")
    return ValidateResult.model_validate(data)


@dataclass
class Written:
    folder: Path
    files: list[Path]
    docs_page: Path | None = None
    """The Data Docs page report.html links: the run's own page (the site's index if GX built none)."""


def write_validation(
    folder: Path,
    validation: Validation,
    bundle: Bundle,
    *,
    summary: dict[str, Any] | None = None,
    data_docs: bool = True,
    gx_dir: Path | None = None,
) -> Written:
    """findings.csv, validation.json, report.html and (when asked) GX Data Docs of the outputs."""
    from rotaflow.validations.report import ReportData, render_report
    from rotaflow.validations.report.grid import grid_frames

    private_dir(folder)
    facts = {**(summary or {}), **validation.summary()}
    facts.setdefault("program", bundle.program.key)
    facts.setdefault("timezone", bundle.program.timezone)
    check_json(ValidateResult, facts, "validation.json")  # the outputs hold to their contracts before any is written
    files = []
    assignments = None
    if not (folder / "assignments.csv").exists():  # what was validated, with every derived column
        assignments = assignments_csv(validation.schedule, bundle.program.timezone)
        check_csv("assignments", assignments)
    findings = findings_csv(validation.findings)
    check_csv("findings", findings)
    if assignments is not None:
        files.append(write_private(folder / "assignments.csv", assignments))
    files.append(write_private(folder / "findings.csv", findings))
    docs = None
    if data_docs:
        index, run_page = _data_docs(folder, validation, gx_dir, (str(facts["program"]), facts.get("run_id")))
        if index is not None:
            facts["data_docs"] = str(index)
        if run_page is not None:
            facts["data_docs_run"] = str(run_page)
        docs = run_page or index
    links = {"findings.csv": "findings.csv"}
    if (folder / "assignments.csv").exists():
        links["assignments.csv"] = "assignments.csv"
    if docs is not None:
        links["Great Expectations Data Docs"] = Path(os.path.relpath(docs, folder)).as_posix()
    people = bundle.frames["people"][["person_id", "role", "pgy"]]
    assignments = validation.schedule.merge(people, on="person_id", how="left")
    contingency = validation.contingency.scenarios if validation.contingency is not None else None
    data = ReportData(
        summary=facts,
        findings=validation.findings,
        assignments=assignments,
        coverage=validation.coverage.coverage,  # one heatmap cell per requirement and day
        weekly_hours=validation.acgme.weekly,
        utilisation=validation.coverage.utilisation,
        contingency=contingency,
        burnout=validation.burnout,
        rules=[(name, RULES[name].summary) for name in validation.rules if name in RULES],
        links=links,
        **grid_frames(bundle),
        explanations=_cell_explanations(bundle, validation),
        average_window_days=None
        if (rule := validation.acgme.limits.weekly_hours).averaging == "block"
        else rule.window_days,
    )
    path = write_private(folder / "report.html", render_report(data))
    files.append(path)
    path = write_private(folder / "validation.json", json.dumps(facts, indent=2, default=str) + "\n")
    files.append(path)
    return Written(folder, files, docs)


#: the largest grid (people × days) whose cells are explained in report.html
EXPLAINED_CELLS_MAX = 20_000


def _cell_explanations(bundle: Bundle, validation: Validation) -> dict[tuple[str, str, str], str] | None:
    """Why each grid cell is as it is (``rotaflow.services.explain``), or None when the program is too large
    or the explanation fails: the report is written without them then."""
    days = (validation.period[1] - validation.period[0]).days + 1
    if len(bundle.frames["people"]) * days > EXPLAINED_CELLS_MAX:
        return None
    try:
        from rotaflow.services.explain import cell_explanations

        return dict(cell_explanations(bundle, validation))
    except Exception as error:  # noqa: BLE001 - the report stands without explanations
        logging.getLogger(__name__).warning("report.html without cell explanations: %s", type(error).__name__)
        return None


def _data_docs(
    folder: Path, validation: Validation, gx_dir: Path | None, run: tuple[str, str | None]
) -> tuple[Path | None, Path | None]:
    """Hold the run's assignments and findings to their contracts in GX and build Data Docs; the site's
    index and the run's own Data Docs page (the GX run is named after ``run``: the program and the run id)."""
    from rotaflow.configs.settings import get_settings
    from rotaflow.validations.contracts import OUTPUTS
    from rotaflow.validations.expectations import run_expectations, validation_run_name

    texts = {"findings": findings_csv(validation.findings).encode()}
    assignments = folder / "assignments.csv"
    if assignments.exists():
        texts["assignments"] = assignments.read_bytes()
    frames = read_outputs(texts)
    report = run_expectations(
        frames,
        gx_dir=gx_dir or get_settings().var_dir / "gx",
        steward=[],
        datasets=OUTPUTS,
        run_name=validation_run_name(run[0], None if run[1] is None else str(run[1])),
    )
    if not report.success:  # rotaflow's own output broke its contract: a defect, not bad input
        raise BrokenOutput(f"the run's outputs break their contract: {report.problems[:5]}")
    return report.docs_index, report.docs_page


def read_outputs(texts: dict[str, bytes]) -> dict[str, pd.DataFrame]:
    """A run's own outputs (``{"findings": csv bytes, "assignments": …}``) parsed under their contracts.

    They are held to a schedule's limits, not a bundle file's: a year of a large program is far past
    a bundle file's row limit, and rotaflow wrote these files from a schedule already within them.
    """
    from rotaflow.validations.bundle import parse_csv
    from rotaflow.validations.contracts import OUTPUTS
    from rotaflow.validations.limits import LIMITS

    frames: dict[str, pd.DataFrame] = {}
    for name, raw in texts.items():
        frame, problems = parse_csv(OUTPUTS[name], raw, limits=LIMITS.for_schedule())
        if problems or frame is None:
            raise InputError(problems or [Problem(OUTPUTS[name].file, None, None, "a readable file", "nothing")])
        frames[name] = frame
    return frames
