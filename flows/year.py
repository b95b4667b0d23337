"""Flow ``year_planning`` (deployment ``year-planning``): the Prefect form for the academic year's rotations.

load the bundle → plan the year (``rotaflow.services.year.run_plan``: CP-SAT, the run's cancellation stops it)
→ rotation_assignments.csv, plan_summary.json and year.html in a new folder ``var/runs/<program>-year-<run>``
→ with ``publish``, the bundle ingested and the plan stored as the program's year plan
(``publish_plan``: block generation then takes a block's rotations from it) → the markdown artifact
``year-plan`` (the resident × block grid, each rotation's head-count per block against its capacity, what was
not granted) and the event ``rotaflow.year.planned``.

An impossible year fails the run with the diagnosis (the rules that cannot all hold, in words; the artifact
and year.html carry it too); a bad bundle fails it with the located error. Both emit
``rotaflow.year.failed``. Events go on ``rotaflow.program.<key>`` with ids and numbers only; the artifact shows
people by person_id, never by name. A cancelled run stops the solver and ends Cancelled with nothing written.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.runtime import flow_run
from prefect.states import Cancelled, State

from rotaflow.configs.settings import get_settings
from rotaflow.constraints.solve import Progress, SolveResult
from rotaflow.errors import InfeasibleError, InputError, Problem
from rotaflow.flows import outcome
from rotaflow.services.generate import SolverSettings, claim_out_dir, record_run_files
from rotaflow.services.ingest import database_engine, ingest_bundle, load_bundle
from rotaflow.services.results import YearResult
from rotaflow.services.year import YearPlan, plan_summary, publish_plan, run_plan, write_plan
from rotaflow.tasks.generate import watched_solve
from rotaflow.validations.bundle import Bundle

__all__ = ["ACTOR", "describe_plan", "emit_year_event", "year_planning"]

ACTOR = "rotaflow year-planning"
"""Who the published year plan says made it."""

MAX_PROGRESS_SECONDS = 24 * 3600.0
"""The progress artifact's scale stops at a day (the solver settings' longest time limit)."""


@flow(name="year-planning", log_prints=False, on_failure=[outcome.unreported_failure])
def year_planning(
    program: str,
    time_limit_seconds: float = 60,
    vacation: Literal["hard", "soft"] = "hard",
    publish: bool = False,
) -> dict[str, Any] | State:
    """Plan which rotation each resident does in each block of the academic year, and publish it if asked.

    Every PGY requirement and rotation capacity is met, locked rows of rotation_assignments.csv are kept, a
    blocking absence falls on a rotation that allows leave, and the residents' wishes are granted where possible.
    The plan is in the run's artifact (year-plan) and in year.html of the run's folder.

    Args:
        program: The program bundle: a folder (e.g. configs/programs/sample), a .zip or an s3://bucket/prefix,
            with rotation_requirements.csv (and optionally rotation_capacity.csv, rotation_requests.csv).
        time_limit_seconds: Seconds the solver may use; the best plan found by then is kept.
        vacation: hard: a blocking vacation needs a rotation that allows leave in its block; soft: granted
            where possible, the others reported as not granted (other absences stay hard).
        publish: Store the plan as the program's year plan (the bundle is ingested first): block generation
            then takes a block's rotations from it where rotation_assignments.csv has no row for that block.

    Returns:
        plan_summary.json's JSON form with out_dir, files and published (the year plan's number, or null); a
        failed run's error carries it as ``summary``.
    """
    if not (math.isfinite(time_limit_seconds) and time_limit_seconds > 0):
        error = InputError(
            [Problem("form", None, "time_limit_seconds", "a positive number of seconds", str(time_limit_seconds))]
        )
        return outcome.failed(str(error), data=error)
    try:
        bundle = load_program(program)
    except InputError as exc:
        emit_year_event("failed", _key_of(program), reason="the bundle broke its contract")
        return outcome.failed(str(exc), data=exc)
    key = bundle.program.key
    logger = get_run_logger()
    plan = plan_the_year(bundle, time_limit_seconds, vacation)
    if plan.result.status == "cancelled":  # the kill switch: nothing is written or published
        return Cancelled(message=f"the run was cancelled after {plan.result.seconds:.1f} s of solving")
    run_id = flow_run.get_id() or str(uuid.uuid4())
    out = Path(get_settings().var_dir) / "runs" / f"{key}-year-{run_id[:8]}"
    files = write_files(bundle, plan, str(out))
    result = YearResult.of(plan_summary(plan), out_dir=out, files=files)
    if not plan.planned:
        post_plan(plan, result.as_dict())
        if plan.result.diagnosis:
            why = "the year cannot be planned"
            message = f"{why}: " + "; ".join(g.message for g in plan.result.diagnosis)
        else:
            why = "no plan was found in time"
            message = f"no plan was found within {time_limit_seconds:g} s ({plan.result.status})"
        emit_year_event(
            "failed",
            key,
            reason=why,
            status=plan.result.status,
            conflicts=[g.kind for g in plan.result.diagnosis],
            residents=len(plan.problem.residents),
            blocks=len(plan.problem.blocks),
        )
        message += f"; see {out.resolve() / 'year.html'}"
        return outcome.failed(message, data=InfeasibleError(message, summary=result.as_dict()))
    if publish:
        try:
            result = result.published_as(publish_the_plan(program, bundle, plan))
        except InputError as exc:
            emit_year_event("failed", key, reason="the plan could not be published", status=plan.result.status)
            return outcome.failed(str(exc), data=exc)
        logger.info("published as year plan %s of %s", result.published, key)
    post_plan(plan, result.as_dict())
    emit_year_event(
        "planned",
        key,
        status=plan.result.status,
        objective=plan.result.objective,
        best_bound=plan.result.best_bound,
        residents=len(plan.problem.residents),
        blocks=len(plan.problem.blocks),
        unmet=len(plan.result.unmet),
        published=result.published,
    )
    line = f"planned {len(plan.problem.residents)} resident(s) over {len(plan.problem.blocks)} block(s) "
    line += f"({plan.result.status}); {len(plan.result.unmet)} wish(es) not granted; "
    line += f"published as year plan {result.published}" if result.published else "not published"
    return outcome.completed(line, data=result.as_dict())


# --------------------------------------------------------------------------- the steps


@task(name="load-program", cache_policy=NO_CACHE)
def load_program(program: str) -> Bundle:
    """Read the bundle and hold every file to its contract (``InputError``, located, when it breaks it)."""
    return load_bundle(program, settings=get_settings(), year_plan=False)


@task(name="plan-year", cache_policy=NO_CACHE)
def plan_the_year(bundle: Bundle, time_limit_seconds: float, vacation: Literal["hard", "soft"]) -> YearPlan:
    """CP-SAT within the time limit; each improving plan to the log, a progress artifact, and a cancelled run
    stops the search (``watched_solve``, as block generation)."""
    settings = SolverSettings(time_limit_seconds=min(time_limit_seconds, MAX_PROGRESS_SECONDS))

    def run(stop: threading.Event, on_progress: Callable[[Progress], None]) -> YearPlan:
        return run_plan(
            bundle,
            time_limit=time_limit_seconds,
            vacation=vacation,
            stop=stop,
            on_solution=lambda seconds, objective, bound: on_progress(Progress(seconds, objective, bound)),
        )

    def solved(plan: YearPlan) -> SolveResult:
        result = plan.result
        return SolveResult(result.status, result.objective, result.best_bound, result.seconds, frozenset())

    return watched_solve(settings, run, solved)


@task(name="write-plan", cache_policy=NO_CACHE)
def write_files(bundle: Bundle, plan: YearPlan, out: str) -> list[Path]:
    """rotation_assignments.csv (when there is a plan), plan_summary.json and year.html in the run's folder,
    claimed as rotaflow's and listing them."""
    folder = claim_out_dir(out)
    files = write_plan(bundle, plan, folder)
    record_run_files(folder, files)
    return files


@task(name="publish-plan", cache_policy=NO_CACHE)
def publish_the_plan(program: str, bundle: Bundle, plan: YearPlan) -> int:
    """Ingest the bundle (its version is what the plan is planned from), then store the plan as the program's
    year plan; its number."""
    settings = get_settings()
    engine = database_engine(settings)
    try:
        ingest_bundle(program, settings=settings, engine=engine)
        return publish_plan(engine, bundle, plan, actor=ACTOR)
    finally:
        engine.dispose()


@task(name="post-plan", cache_policy=NO_CACHE)
def post_plan(plan: YearPlan, summary: dict[str, Any]) -> None:
    """The plan as the run's markdown artifact ``year-plan``."""
    create_markdown_artifact(
        key="year-plan", markdown=describe_plan(plan, summary), description=f"Year plan of {plan.program}"
    )


# --------------------------------------------------------------------------- the artifact


def _cell(value: object) -> str:
    """A table cell's text: pipes escaped, one line."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _bounds(low: int | None, high: int | None) -> str:
    """A rotation's capacity in a block: "1–3", "≥ 1" or "≤ 3"."""
    if low is not None and high is not None:
        return f"{low}–{high}"
    return f"≥ {low}" if low is not None else f"≤ {high}"


def describe_plan(plan: YearPlan, summary: dict[str, Any]) -> str:
    """The plan in markdown: the facts, the resident × block grid of rotation ids (locked cells marked 🔒, blocks
    with leave marked ✈), each rotation's head-count per block against its capacity (out of bounds in bold),
    what was not granted and why; for an impossible year, the diagnosis. Person ids only, never names."""
    problem, result = plan.problem, plan.result
    facts = [
        f"- {len(problem.residents)} residents × {len(problem.blocks)} blocks, vacation {plan.vacation}, "
        f"solved in {result.seconds:.1f} s of {plan.time_limit:g} s",
    ]
    if result.objective is not None:
        gap = f", gap {result.gap:.1%}" if result.gap is not None else ""
        facts.append(f"- objective {result.objective:g} (bound {result.best_bound:g}{gap})")
    if summary.get("published") is not None:
        facts.append(f"- published as year plan **{summary['published']}**")
    facts.append(f"- files: `{summary['out_dir']}` ({', '.join(summary['files'])})")
    lines = [f"# Year plan of `{plan.program}`: **{result.status}**", "", *facts]
    if result.diagnosis:
        lines += [
            "",
            "## Why no plan is possible",
            "",
            "These rules cannot all hold together; relaxing any one of them makes the rest possible:",
            "",
            *(f"- {g.message}" for g in result.diagnosis),
        ]
    if not plan.planned:
        if not result.diagnosis:
            lines += ["", f"No plan was found ({result.status}): give it more time."]
        return "\n".join(lines) + "\n"
    blocks = problem.blocks
    head = "| " + " | ".join(_cell(b) for b in blocks) + " |"
    rule = "|---" * (len(blocks) + 1) + "|"
    away = {(item.person, item.block) for item in problem.leave}
    lines += ["", "## Rotations", "", "| resident (PGY) " + head, rule]
    for person in problem.residents:
        cells = []
        for block in blocks:
            mark = ("🔒" if (person.id, block) in problem.locked else "") + ("✈" if (person.id, block) in away else "")
            cells.append(_cell(result.plan[person.id, block]) + (f" {mark}" if mark else ""))
        lines.append(f"| {_cell(person.id)} ({person.pgy}) | " + " | ".join(cells) + " |")
    lines += ["", "🔒 locked in rotation_assignments.csv; ✈ leave in that block."]
    counts = Counter((block, rotation) for (_, block), rotation in result.plan.items())
    lines += ["", "## Head-count per block (capacity)", "", "| rotation " + head, rule]
    for spec in problem.rotations:
        cells = []
        for block in blocks:
            low, high = problem.bounds(block, spec.id)
            n = counts[block, spec.id]
            text = str(n)
            if low is not None or high is not None:
                text += f" ({_bounds(low, high)})"
            outside = (high is not None and n > high) or (low is not None and n < low)
            cells.append(f"**{text}**" if outside else text)
        lines.append(f"| {_cell(spec.id)} | " + " | ".join(cells) + " |")
    lines += ["", "## Not granted", ""]
    if result.unmet:
        for u in result.unmet:
            rotation = f", {_cell(u.rotation_id)}" if u.rotation_id else ""
            lines.append(f"- **{_cell(u.person_id)}**, block {_cell(u.block_id)}{rotation} ({u.kind}): {u.reason}")
    else:
        lines.append("Every wish and leave was granted.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- events


def emit_year_event(what: str, program_key: str, **details: Any) -> None:
    """Event ``rotaflow.year.<what>`` (planned, failed) on ``rotaflow.program.<key>``; ids and numbers only."""
    emit_event(
        f"rotaflow.year.{what}",
        resource={"prefect.resource.id": f"rotaflow.program.{program_key}", "prefect.resource.name": program_key},
        payload=details,
    )


def _key_of(program: str) -> str:
    """The program's name as its path gives it, for a bundle that could not be read (as block generation)."""
    return Path(program.rstrip("/")).name.removesuffix(".zip") or "bundle"
