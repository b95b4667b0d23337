"""Thin Prefect tasks of block generation: each calls one function of the service layer."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.transactions import Transaction, get_transaction

from rotaflow.configs.settings import get_settings
from rotaflow.constraints.explain import Conflict, diagnose
from rotaflow.constraints.instance import Cell, Instance
from rotaflow.constraints.preflight import PreflightReport, preflight
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.solve import Progress, SolveResult
from rotaflow.services import generate as service
from rotaflow.services import ingest as ingest_service
from rotaflow.services import versions
from rotaflow.services.calendars import CalendarLabels
from rotaflow.services.results import GenerateResult
from rotaflow.services.year_report import prior_loads
from rotaflow.tasks.links import file_link, markdown_link
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.findings import rule_kinds
from rotaflow.validations.instances import block_instance, rules_for

T = TypeVar("T")

__all__ = [
    "build_instance",
    "explain_infeasibility",
    "export_outputs",
    "load_for_generation",
    "outcome_markdown",
    "post_outcome",
    "publish",
    "run_preflight",
    "solve_schedule",
    "validate_schedule_rules",
    "watched_solve",
    "write_summary",
]


@task(name="load-program", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def load_for_generation(program: str) -> Bundle:
    """Read and check the bundle (the ingest flow has stored this version)."""
    return ingest_service.load_bundle(program, settings=get_settings())


@task(name="build-instance", cache_policy=NO_CACHE)
def build_instance(bundle: Bundle, block_id: str) -> tuple[Instance, list[ConfiguredRule]]:
    """The block's instance with history from the database, and the program's rule set."""
    settings = get_settings()
    engine = ingest_service.database_engine(settings)
    blocks = bundle.frames["blocks"].set_index("block_id")
    history: list[tuple[str, dt.date, str]] = []
    base = None
    if block_id in blocks.index:
        first = blocks.at[block_id, "start_date"].date()
        history = service.history_from_database(engine, bundle.program.key, first)
        base = versions.published_version(engine, bundle.program.key, block_id)
    # a block already published starts from that version: the solver's hint, and continuity counts changes
    instance = block_instance(bundle, block_id, history=history, previous=base.cells if base else ())
    instance.prior = prior_loads(engine, bundle, block_id)  # the year so far, for year-scope fairness
    versions.start_from(instance, base, versions.next_version(engine, bundle.program.key, block_id))
    # the validator must see the same past as the solver: keep the published history it was given
    instance.meta["database_history"] = [(p, d.isoformat(), s) for p, d, s in history]
    return instance, rules_for(bundle)


@task(name="preflight", cache_policy=NO_CACHE)
def run_preflight(instance: Instance, rules: list[ConfiguredRule]) -> PreflightReport:
    """Feasibility screens before any solving (raises PreflightFailed with the reasons)."""
    return preflight(instance, rules, raise_on_error=False)


@task(name="solve", cache_policy=NO_CACHE)
def solve_schedule(instance: Instance, rules: list[ConfiguredRule], settings: service.SolverSettings) -> SolveResult:
    """CP-SAT within the time limit; progress to the log and an artifact; stops when the run is cancelled."""
    result = watched_solve(
        settings,
        lambda stop, on_progress: service.solve_block(instance, rules, settings, stop=stop, on_progress=on_progress),
        lambda result: result,
    )
    return result


def watched_solve(
    settings: service.SolverSettings,
    run: Callable[[threading.Event, Callable[[Progress], None]], T],
    solved: Callable[[T], SolveResult],
) -> T:
    """``run(stop, on_progress)`` (a solve) inside a task: a progress artifact that moves with the time, the
    log hears each improving solution, and a cancelled flow run sets ``stop``. ``solved`` reads the final
    ``SolveResult`` out of what ``run`` returns."""
    logger = get_run_logger()
    stop = threading.Event()
    artifact = cast(UUID, create_progress_artifact(progress=0.0, key="solve-progress", description="Solver progress"))
    started = time.monotonic()

    def on_progress(point: Progress) -> None:  # runs in the solver's thread: log only, no API calls here
        bound = "not known" if point.bound is None else f"{point.bound:.0f}"
        logger.info("objective %.0f, bound %s after %.1f s", point.objective, bound, point.seconds)

    run_id = flow_run.get_id()  # read here: the watcher thread has no run context of its own
    watcher = threading.Thread(
        target=_watch_cancellation,
        args=(stop, run_id, artifact, started, settings.time_limit_seconds),
        daemon=True,
        name="cancel-watch",
    )
    watcher.start()
    try:
        outcome = run(stop, on_progress)
    finally:
        stop.set()
        # the watcher may be halfway through moving the artifact: let it finish first, or its
        # late update would land after the final 100 % below
        watcher.join(timeout=15.0)
    result = solved(outcome)
    update_progress_artifact(artifact, 100.0, description=f"{result.status}: objective {result.objective}")
    logger.info(
        "solver finished: %s, objective %s, bound %s, %.1f s",
        result.status,
        result.objective,
        result.best_bound,
        result.seconds,
    )
    return outcome


def _watch_cancellation(
    stop: threading.Event, run_id: str | None, artifact: UUID, started: float, limit: float, interval: float = 1.0
) -> None:
    """The kill switch: a cancelled flow run stops the solver within about a second.

    The same loop moves the progress artifact along with the elapsed time, on one client.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactUpdate

    try:
        with get_client(sync_client=True) as client:
            while not stop.wait(interval):
                share = min(99.0, 100.0 * (time.monotonic() - started) / limit)
                with contextlib.suppress(Exception):  # progress is cosmetic; the kill switch keeps watching
                    client.update_artifact(artifact, ArtifactUpdate(data=share))
                if run_id is None:
                    continue
                state = client.read_flow_run(UUID(str(run_id))).state
                if state is not None and (state.is_cancelling() or state.is_cancelled()):
                    stop.set()
                    return
    except Exception:  # the API being away must not stop the solve
        return


@task(name="diagnose", cache_policy=NO_CACHE)
def explain_infeasibility(
    instance: Instance, rules: list[ConfiguredRule], settings: service.SolverSettings
) -> list[Conflict]:
    """The smallest set of conflicting rule groups found within the diagnosis time limit."""
    return diagnose(instance, rules, time_limit=settings.diagnosis_time_limit_seconds)


@task(name="check-rules", cache_policy=NO_CACHE)
def validate_schedule_rules(
    instance: Instance, rules: list[ConfiguredRule], result: SolveResult
) -> list[dict[str, Any]]:
    """Every rule's independent checker over the schedule: findings.csv rows."""
    return service.findings_rows(instance, service.check(instance, rules, result.cells), rule_kinds(rules))


@task(name="publish", cache_policy=NO_CACHE)
def publish(
    program_key: str,
    version: int,
    instance: Instance,
    result: SolveResult,
    summary: GenerateResult,
    started_at: dt.datetime,
) -> service.Published:
    """Record the run and publish its schedule under a row lock on the block.

    Inside a transaction (publish + backup), a rollback withdraws the schedule again and puts
    back the one it replaced.
    """
    engine = ingest_service.database_engine(get_settings())
    reason = str(instance.meta.get("reason", "generate"))
    base = versions.base_of(instance)
    made_from: dict[str, Any] = {}
    if reason != "generate":  # a repair or a swap publishes only over the version it was made from
        made_from["based_on"] = base.number if base else None
    published = service.publish_run(
        engine,
        program_key=program_key,
        version=version,
        instance=instance,
        result=result,
        summary=summary,
        started_at=started_at,
        actor=str(instance.meta.get("actor", "rotaflow generate")),
        reason=reason,
        note=_text(instance.meta.get("note")),
        reference=_text(instance.meta.get("reference")),
        **made_from,
    )
    folder = Path(summary.out_dir) if summary.out_dir else None
    if base is not None and published.block_version is not None and folder is not None:
        # changes.csv now names the version it made
        service.record_run_files(folder, service.rewrite_changes(folder, instance, base, published.block_version))
    txn = get_transaction()
    if txn is not None:
        txn.set("published_run", published.run_id)
        txn.set("changes", (folder, instance, base) if base is not None and folder is not None else None)
    return published


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


@publish.on_rollback
def _withdraw(txn: Transaction) -> None:
    run_id: str | None = txn.get("published_run", None)
    if run_id is not None:
        engine = ingest_service.database_engine(get_settings())
        put_back = service.unpublish_run(engine, run_id=run_id, reason="the backup after publishing failed")
        changes = txn.get("changes", None)
        if changes is not None:  # the version was withdrawn: changes.csv is a preview again
            folder, instance, base = changes
            service.rewrite_changes(folder, instance, base, None)
        get_run_logger().warning("run %s withdrawn; %d previously published assignment(s) put back", run_id, put_back)


@task(name="export", cache_policy=NO_CACHE)
def export_outputs(
    out_dir: str,
    instance: Instance,
    bundle: Bundle,
    cells: Iterable[Cell],
    findings: list[dict[str, Any]],
    summary: GenerateResult,
) -> list[str]:
    """assignments.csv, findings.csv, summary.json, report.html and the calendars of ``cells``; artifacts."""
    people = bundle.frames["people"]
    names = dict(zip(people["person_id"], people["name"], strict=True))
    outputs = service.write_outputs(
        Path(out_dir),
        instance=instance,
        cells=cells,
        findings=findings,
        summary=summary,
        names=names,
        base=versions.base_of(instance),
        labels=CalendarLabels.of_bundle(bundle),
    )
    lines = [
        f"# Block {summary.block_id} of `{summary.program}`: solver {summary.status}",
        "",
        f"- objective {summary.objective} (bound {summary.best_bound}), {summary.solve_seconds} s",
        f"- the rules' own checkers: {summary.hard_violations} hard violation(s), {summary.warnings} warning(s)",
        "- the independent validation follows; this artifact's next version has the run's outcome",
        f"- outputs: {markdown_link(Path(out_dir) / 'summary.json', 'summary.json')}",
    ]
    create_markdown_artifact(key="generation-summary", markdown="\n".join(lines), description="Block generation")
    if findings:
        create_table_artifact(key="generation-findings", table=findings[:500], description="Rule checker findings")
    return [str(p) for p in outputs.files]


@task(name="write-summary", cache_policy=NO_CACHE)
def write_summary(out_dir: str, summary: GenerateResult) -> str:
    """summary.json once validation has added its verdict."""
    return str(service.write_summary(Path(out_dir), summary))


FINDING_ROWS = 50
"""At most this many findings in the outcome artifact's table (violations first); the rest are counted."""
_SEVERITY_ORDER = {"violation": 0, "warning": 1, "info": 2}


def _findings(out_dir: Path) -> list[dict[str, str]]:
    """findings.csv of the run (the validation's, which repeats the engine's), violations first: ids only."""
    import csv

    path = out_dir / "findings.csv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [
            {
                "rule": row.get("rule", ""),
                "severity": row.get("severity", ""),
                "person_id": row.get("person_id", ""),
                "window": "–".join(dict.fromkeys(d for d in (row.get("window_start"), row.get("window_end")) if d)),
            }
            for row in csv.DictReader(handle)
        ]
    return sorted(rows, key=lambda r: _SEVERITY_ORDER.get(r["severity"], 3))


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def outcome_markdown(summary: GenerateResult, findings: list[dict[str, str]], *, headline: str) -> str:
    """The run's outcome for the ``generation-summary`` artifact: what happened, the glance figures of
    summary.json, where the report is, and the findings (rule, severity, person id, window; ids only)."""
    validation = summary.validation or {}
    published = f"yes, version {summary.version}" if summary.published else "no"
    backup = summary.backup or {}
    skipped = f"not backed up ({backup['skipped']})" if backup.get("skipped") else None
    lines = [
        f"# Block {summary.block_id} of `{summary.program}`: {headline}",
        "",
        "| | |",
        "|---|---|",
        f"| solver | {summary.status}, objective {summary.objective} (bound {summary.best_bound}), "
        f"{summary.solve_seconds} s |",
        f"| hard violations | {summary.hard_violations} (the rules' own checkers: {summary.engine_check_violations}; "
        "the independent validation decides) |",
        f"| warnings | {summary.warnings} |",
        f"| published | {published} |",
        f"| backup | {_cell(backup.get('backup_id') or backup.get('error') or skipped or 'none')} |",
    ]
    if summary.based_on_version is not None:
        lines.append(f"| based on version | {summary.based_on_version} |")
    for block in validation.get("utilisation_by_block") or []:
        lines.append(f"| utilisation of {block['block_id']} | {block['utilisation']:.0%} ({block['band']}) |")
    bands = validation.get("burnout_bands") or {}
    if bands:
        lines.append(f"| burnout risk (advisory) | {', '.join(f'{k} {v}' for k, v in sorted(bands.items()))} |")
    if summary.out_dir:
        out = Path(summary.out_dir)
        lines.append(f"| report | {markdown_link(out / 'report.html')} |")
        lines.append(f"| files | {markdown_link(out / 'summary.json')}, {markdown_link(out / 'findings.csv')} |")
    if findings:
        lines += [
            "",
            f"## Findings ({len(findings)})",
            "",
            "| rule | severity | person | window |",
            "|---|---|---|---|",
        ]
        for row in findings[:FINDING_ROWS]:
            lines.append(
                f"| {_cell(row['rule'])} | {_cell(row['severity'])} | {_cell(row['person_id'] or '—')} "
                f"| {_cell(row['window'])} |"
            )
        if len(findings) > FINDING_ROWS:
            lines.append(f"| … and {len(findings) - FINDING_ROWS} more | | | |")
    return "\n".join(lines) + "\n"


@task(name="post-outcome", cache_policy=NO_CACHE)
def post_outcome(summary: GenerateResult, headline: str) -> str:
    """The ``generation-summary`` artifact's final version (the run's outcome) and, when the reports server
    runs, a link artifact to report.html; returns the markdown."""
    from prefect.artifacts import create_link_artifact

    findings = _findings(Path(summary.out_dir)) if summary.out_dir else []
    markdown = outcome_markdown(summary, findings, headline=headline)
    create_markdown_artifact(key="generation-summary", markdown=markdown, description="Block generation: outcome")
    if summary.out_dir:
        url = file_link(Path(summary.out_dir) / "report.html")
        if url is not None:
            create_link_artifact(key="generation-report", link=url, link_text="report.html", description="The report")
    return markdown
