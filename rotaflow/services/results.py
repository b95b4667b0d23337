"""What a run hands back, typed: the result of generating a block, of validating a schedule and of planning a year.

A result is built in one place (these models and the services), never filled in as a dict across a
flow. Its JSON form (``as_dict``) is what summary.json, validation.json and ``--json`` hold: the
fields given so far, in the order below, so a run that stopped early shows only what it reached.

The files a run writes are held to their contracts where they are written (``check_csv``,
``check_json``): a file that breaks its contract is a defect of rotaflow, ``BrokenOutput``, never
bad input.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rotaflow.constraints.explain import Conflict
from rotaflow.constraints.preflight import PreflightReport
from rotaflow.constraints.registry import RULES
from rotaflow.constraints.solve import SolveResult
from rotaflow.errors import RotaflowError

__all__ = [
    "PHASES",
    "BrokenOutput",
    "GenerateResult",
    "NotYet",
    "PhaseClock",
    "Phases",
    "ValidateResult",
    "YearResult",
    "check_csv",
    "check_json",
    "clocked",
    "move_phase",
    "phase",
    "summary_json",
]

RUN_FACTS = ("run_id", "status", "objective", "best_bound", "solve_seconds")
"""What a generation run tells the validation of its schedule about itself."""


class BrokenOutput(RotaflowError):
    """A file rotaflow wrote broke its own contract: a defect in rotaflow, not in the user's data."""

    exit_code = 1


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able form: the fields given so far, in field order (held to the model where it is
        written: ``check_json``)."""
        return self.model_dump(exclude_unset=True, warnings=False)

    def with_(self, **changes: Any) -> Self:
        return self.model_copy(update=changes)


PHASES = (
    "ingest",
    "contracts",
    "preflight",
    "build",
    "solve",
    "checks",
    "validation",
    "contingency",
    "export",
    "publish",
    "backup",
)
"""The phases of a block-generation run, in the order they run (summary.json's ``phases``)."""


def _seconds() -> Any:
    return Field(default=None, ge=0)


class Phases(_Result):
    """summary.json's ``phases``: wall seconds (3 decimals) of each phase of the run; null when it did not run.

    The phases never overlap, so their sum is at most ``total`` (the run from its first step to the last
    write of summary.json; the command's start-up and Prefect's API before the flow runs are outside it).
    """

    ingest: float | None = _seconds()
    """Reading the bundle, storing its version (the ingest flow without its checks) and reading it again."""
    contracts: float | None = _seconds()
    """The bundle held to its Pandera contracts and its Great Expectations suites."""
    preflight: float | None = _seconds()
    build: float | None = _seconds()
    """The block's instance (with the database's history) and its CP-SAT model."""
    solve: float | None = _seconds()
    """CP-SAT's own seconds (``solve_seconds``)."""
    checks: float | None = _seconds()
    """The rules' own checkers (findings.csv before the validation)."""
    validation: float | None = _seconds()
    """The independent validation (flow ``validate_schedule``) without the contingency analysis."""
    contingency: float | None = _seconds()
    """The N-1 / N-2 contingency analysis (``--contingency``)."""
    export: float | None = _seconds()
    publish: float | None = _seconds()
    backup: float | None = _seconds()
    total: float = Field(ge=0)

    @model_validator(mode="after")
    def _within_total(self) -> Phases:
        """The contract of a summary.json read back (``check_json``); ``PhaseClock.phases`` always keeps it."""
        spent = sum(getattr(self, name) or 0.0 for name in PHASES)
        if spent > self.total + PHASE_EPSILON:
            raise ValueError(f"the phases add up to {spent:.3f} s, more than the total {self.total:.3f} s")
        return self


PHASE_EPSILON = 0.01
"""What rounding to 3 decimals can add to the phases' sum above ``total``."""


class PhaseClock:
    """The wall time of a run's phases (``time.perf_counter``), from its creation on.

    A phase started inside another (a task the timed step runs) is its own: the outer phase keeps only
    the rest. Only the thread that made the clock times phases (the steps of a run run there, one after
    another); a phase timed on another thread is not counted.
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self._open: list[list[float]] = []  # [start, seconds of the phases inside] of each open phase
        self._thread = threading.get_ident()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Times the ``with`` block as ``name`` (added to what the phase had)."""
        if threading.get_ident() != self._thread:
            yield
            return
        frame = [time.perf_counter(), 0.0]
        self._open.append(frame)
        try:
            yield
        finally:
            self._open.pop()
            elapsed = time.perf_counter() - frame[0]
            self._count(name, elapsed - frame[1])
            if self._open:
                self._open[-1][1] += elapsed

    def _count(self, name: str, seconds: float) -> None:
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}; the phases are {', '.join(PHASES)}")
        self.seconds[name] = self.seconds.get(name, 0.0) + max(0.0, seconds)

    def move(self, source: str, target: str, seconds: float) -> None:
        """Count ``seconds`` of what phase ``source`` took as phase ``target`` (a part known afterwards:
        the solver's own seconds of a build-and-solve call, the contingency analysis of a validation)."""
        if target not in PHASES:
            raise ValueError(f"unknown phase {target!r}; the phases are {', '.join(PHASES)}")
        had = self.seconds.get(source, 0.0)
        part = min(max(0.0, seconds), had)
        self.seconds[source] = had - part
        self.seconds[target] = self.seconds.get(target, 0.0) + part

    def phases(self) -> Phases:
        """The phases so far (those not timed: null) and the total since the clock started (never less than
        the phases' sum, which rounding alone could otherwise put a few milliseconds above it)."""
        elapsed = time.perf_counter() - self.started
        given = {name: round(self.seconds[name], 3) if name in self.seconds else None for name in PHASES}
        spent = sum(seconds or 0.0 for seconds in given.values())
        return Phases(**given, total=round(max(elapsed, spent), 3))


_CLOCK: contextvars.ContextVar[PhaseClock | None] = contextvars.ContextVar("rotaflow_phase_clock", default=None)


@contextlib.contextmanager
def clocked() -> Iterator[PhaseClock]:
    """A new ``PhaseClock`` for the run inside the ``with`` block: ``phase`` and ``move_phase`` time on it."""
    clock = PhaseClock()
    token = _CLOCK.set(clock)
    try:
        yield clock
    finally:
        _CLOCK.reset(token)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Times the ``with`` block as phase ``name`` of the run being clocked (``clocked``); else nothing."""
    clock = _CLOCK.get()
    if clock is None:
        yield
        return
    with clock.phase(name):
        yield


def move_phase(source: str, target: str, seconds: float) -> None:
    """``PhaseClock.move`` on the run being clocked, if any."""
    clock = _CLOCK.get()
    if clock is not None and threading.get_ident() == clock._thread:
        clock.move(source, target, seconds)


class GenerateResult(_Result):
    """summary.json of one block-generation run (``rotaflow generate --json``)."""

    run_id: str
    program: str
    program_version: int
    block_id: str
    status: str
    objective: int | float | None
    best_bound: int | float | None
    solve_seconds: int | float
    hard_violations: int
    warnings: int
    rules: list[str]
    time_limit_seconds: int | float
    preflight: list[dict[str, Any]] = []
    penalties: dict[str, Any] = {}
    gap: float | None = None
    """|objective - best_bound| / |objective| (0 when both are 0; null without a schedule or a bound)."""
    diagnosis: list[dict[str, Any]] = []
    published: bool = False
    out_dir: str = ""
    engine_check_violations: int = 0
    validation: dict[str, Any] = {}
    backup: dict[str, Any] = {}
    based_on_version: int | None = None
    """The block's published version the run started from (its hint; a repair's frozen past)."""
    version: int | None = None
    """The block's version the run published."""
    repair: dict[str, Any] = {}
    """A repair's facts: from which date, the changes made against the minimum proved, the churn guard."""
    phases: Phases | None = None
    """Wall seconds of each phase of the run and its total (``Phases``)."""

    @classmethod
    def start(
        cls,
        *,
        run_id: str,
        program: str,
        program_version: int,
        block_id: str,
        rules: Iterable[str],
        time_limit_seconds: float,
    ) -> GenerateResult:
        """A run that has not solved yet: infeasible until the solver says otherwise. ``rules``: the names of
        the rule set's rules (the registered ones are listed)."""
        return cls(
            run_id=run_id,
            program=program,
            program_version=program_version,
            block_id=block_id,
            status="infeasible",
            objective=None,
            best_bound=None,
            solve_seconds=0.0,
            hard_violations=0,
            warnings=0,
            rules=sorted(set(rules) & set(RULES)),
            time_limit_seconds=time_limit_seconds,
        )

    def screened(self, report: PreflightReport) -> GenerateResult:
        """The preflight screens' reasons; when they refuse the block, their errors are the diagnosis."""
        reasons = [r.as_dict() for r in report.reasons]
        if report.ok:
            return self.with_(preflight=reasons)
        return self.with_(preflight=reasons, diagnosis=[r.as_dict() for r in report.errors])

    def solved(self, result: SolveResult) -> GenerateResult:
        return self.with_(
            status=result.status,
            objective=result.objective,
            best_bound=result.best_bound,
            gap=None if result.gap is None else round(result.gap, 6),
            solve_seconds=round(result.seconds, 3),
            penalties=result.penalties,
        )

    def diagnosed(self, conflicts: list[Conflict]) -> GenerateResult:
        return self.with_(diagnosis=[c.as_dict() for c in conflicts])

    def checked(self, findings: list[dict[str, Any]]) -> GenerateResult:
        """The engine's own checkers' findings counted; nothing is published yet."""
        return self.with_(
            hard_violations=sum(1 for f in findings if f["severity"] == "violation"),
            warnings=sum(1 for f in findings if f["severity"] == "warning"),
            published=False,
        )

    def written_to(self, out: str | Path) -> GenerateResult:
        return self.with_(out_dir=str(Path(out).resolve()))

    def run_facts(self) -> dict[str, Any]:
        """What the validation of this run's schedule repeats about the run."""
        facts = self.as_dict()
        return {k: facts[k] for k in RUN_FACTS}

    def validated(self, validation: Mapping[str, Any]) -> GenerateResult:
        """The independent validation's verdict: the run's hard violations are the engine's or the
        validation's, whichever are more; what the validation found beyond that goes under ``validation``."""
        engine = self.hard_violations
        known = self.as_dict().keys() | {"engine_check_violations"}
        return self.with_(
            engine_check_violations=engine,
            hard_violations=max(engine, int(validation["hard_violations"])),
            warnings=int(validation["warnings"]),
            validation={k: v for k, v in validation.items() if k not in known},
        )

    def published_as(self, published: bool, version: int | None = None) -> GenerateResult:
        if published and version is not None:
            return self.with_(published=True, version=version)
        return self.with_(published=published)

    def backed_up(self, backup: Mapping[str, Any]) -> GenerateResult:
        return self.with_(backup=dict(backup))

    def timed(self, clock: PhaseClock | None = None) -> GenerateResult:
        """The run's phases so far (``clock``, default: the run being clocked; none: unchanged)."""
        clock = clock or _CLOCK.get()
        return self if clock is None else self.with_(phases=clock.phases())


class NotYet(_Result):
    """``--block next`` when the next block starts later than the lead window: nothing generated."""

    program: str
    block_id: str
    status: Literal["not-yet"]
    message: str

    @classmethod
    def of(cls, program: str, block_id: str, message: str) -> NotYet:
        return cls(program=program, block_id=block_id, status="not-yet", message=message)


class ValidateResult(_Result):
    """validation.json and the result of validating a schedule (``rotaflow validate --json``).

    ``timezone``, ``data_docs`` (the Data Docs site's index) and ``data_docs_run`` (the run's own Data Docs
    page) are in validation.json only; ``out_dir`` is in the result only.
    """

    program: str
    schedule: str | None = None
    run_id: str | None = None
    status: str | None = None
    objective: int | float | None = None
    best_bound: int | float | None = None
    solve_seconds: int | float | None = None
    block_id: str | None = None
    verdict: Literal["passed", "failed"]
    period_start: str
    period_end: str
    blocks: list[str]
    assignments: int
    hard_violations: int
    warnings: int
    infos: int
    findings_by_rule: list[dict[str, Any]]
    utilisation_by_block: list[dict[str, Any]]
    burnout_bands: dict[str, Any]
    seconds: dict[str, Any]
    contingency: dict[str, Any] | None = None
    weekly_limit_hours: int | float | None = None
    """The ACGME weekly limit (80 h unless the program sets another)."""
    single_week_over_limit: list[str] | None = None
    """Residents above the weekly limit in at least one single 7-day week (allowed while the 4-week average holds)."""
    days_without_spare: list[str] | None = None
    """Dates on which a coverage requirement that needs someone has no one above its minimum."""
    history_given: bool | None = None
    """Whether work before the period was known (history.csv or the database's published schedule)."""
    timezone: str | None = None
    data_docs: str | None = None
    data_docs_run: str | None = None
    out_dir: str | None = None


@dataclass(frozen=True)
class YearResult:
    """The result of planning the academic year (flow ``year_planning``): plan_summary.json's facts
    (``rotaflow.services.year.plan_summary``), then where the run wrote them and the year plan it published."""

    program: str
    status: str
    objective: int | float | None
    best_bound: int | float | None
    gap: float | None
    solve_seconds: int | float
    time_limit_seconds: int | float
    vacation: str
    residents: int
    blocks: int
    penalties: dict[str, Any]
    unmet: list[dict[str, Any]]
    """The wishes and leave not granted, each with its reason."""
    diagnosis: list[dict[str, Any]]
    """Why no plan is possible: the rules that cannot all hold."""
    out_dir: str
    """The run's folder (``var/runs/<program>-year-<run>``), resolved."""
    files: list[str]
    """The names of the files written there."""
    published: int | None = None
    """The number of the year plan stored (``publish``); None when not published."""

    @classmethod
    def of(cls, plan_summary: Mapping[str, Any], *, out_dir: str | Path, files: Iterable[Path]) -> YearResult:
        """plan_summary.json's facts (a plan not published yet), written to ``out_dir`` as ``files``."""
        return cls(**plan_summary, out_dir=str(Path(out_dir).resolve()), files=[f.name for f in files])

    def published_as(self, number: int) -> YearResult:
        return replace(self, published=number)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the fields in order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def summary_json(result: GenerateResult) -> str:
    """summary.json's text, held to its contract first."""
    data = result.as_dict()
    check_json(GenerateResult, data, "summary.json")
    return json.dumps(data, indent=2, default=str) + "\n"


def check_json(model: type[BaseModel], data: Mapping[str, Any], file: str) -> None:
    """``BrokenOutput`` unless ``data`` holds to ``model`` (the contract of the JSON file ``file``)."""
    try:
        model.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or file}: {e['msg']}" for e in exc.errors()[:5])
        raise BrokenOutput(f"rotaflow wrote a {file} that breaks its contract: {problems}") from None


def check_csv(name: Literal["assignments", "findings", "changes"], text: str) -> None:
    """``BrokenOutput`` unless ``text`` reads back under its dataset's contract (``OUTPUTS[name]``): exactly
    its columns, in order, and every row within the Pandera model."""
    from rotaflow.validations.bundle import contract_problems, parse_csv
    from rotaflow.validations.contracts import OUTPUTS
    from rotaflow.validations.limits import LIMITS

    dataset = OUTPUTS[name]
    header = text.split("\n", 1)[0].split(",")
    problems: list[str] = []
    if header != dataset.columns:
        problems.append(f"{dataset.file}: expected the columns {', '.join(dataset.columns)}")
    else:
        frame, found = parse_csv(dataset, text.encode("utf-8"), limits=LIMITS.for_schedule())
        if frame is not None:  # the cells that parsed, held to the Pandera model
            unparsed = {(p.row, p.column) for p in found if p.row is not None and p.column is not None}
            found += contract_problems(dataset, frame, unparsed)
        problems = [str(p) for p in found]
    if problems:
        raise BrokenOutput(f"rotaflow wrote a {dataset.file} that breaks its contract: {'; '.join(problems[:5])}")
