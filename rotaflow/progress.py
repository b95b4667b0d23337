"""The progress of long work on the command line: :class:`RichProgress`, the observer of
``rotaflow.events`` that ``rotaflow`` shows on standard error (``rich.progress``) when :func:`wanted`
says so: standard error is a terminal, or ``--progress`` / ``ROTAFLOW_PROGRESS=always`` force it;
never with ``--json``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, ProgressBar, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from rotaflow.events import Observer, Solution, TransferKind

__all__ = ["ENV_VAR", "RichProgress", "wanted"]

ENV_VAR = "ROTAFLOW_PROGRESS"
"""``always`` (also 1, true, yes, on) or ``never`` (0, false, no, off); anything else: ``auto``."""


# --------------------------------------------------------------------------- whether to show it


def wanted(option: bool | None, *, as_json: bool, console: Console) -> bool:
    """Show progress? Never with ``--json``; else ``--progress/--no-progress``, else ``ROTAFLOW_PROGRESS``,
    else only when ``console`` (standard error) is a terminal."""
    if as_json:
        return False
    if option is not None:
        return option
    setting = os.environ.get(ENV_VAR, "").strip().lower()
    if setting in ("always", "1", "true", "yes", "on"):
        return True
    if setting in ("never", "0", "false", "no", "off"):
        return False
    return console.is_terminal


# --------------------------------------------------------------------------- the rich display


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


class _Bar(BarColumn):
    """A bar; a running solve's bar is its elapsed time against the time limit."""

    def render(self, task: Task) -> ProgressBar:
        if task.fields.get("kind") == "solve":
            limit = float(task.fields["limit"])
            elapsed = task.fields.get("seconds")
            if elapsed is None:
                elapsed = task.elapsed or 0.0
            return ProgressBar(
                total=limit,
                completed=min(limit, elapsed),
                width=None if self.bar_width is None else max(1, self.bar_width),
                style=self.style,
                complete_style=self.complete_style,
                finished_style=self.finished_style,
                pulse_style=self.pulse_style,
            )
        return super().render(task)


class _Detail(ProgressColumn):
    """The numbers: objective and bound of a solve, scenarios done/total, bytes done/total."""

    def render(self, task: Task) -> Text:
        kind = task.fields.get("kind")
        if kind == "solve":
            return Text(_solve_text(task), overflow="fold")  # a narrow terminal wraps it: nothing is cut off
        if kind == "bytes":
            return Text(f"{decimal(int(task.completed))}/{decimal(int(task.total or 0))}")
        return Text(f"{int(task.completed)}/{int(task.total or 0)}")


class _Elapsed(TimeElapsedColumn):
    """Elapsed time (a solve shows its own, against its limit)."""

    def render(self, task: Task) -> Text:
        return Text("") if task.fields.get("kind") == "solve" else super().render(task)


def _solve_text(task: Task) -> str:
    fields = task.fields
    parts = []
    if fields.get("status"):
        parts.append(str(fields["status"]))
    objective, bound = fields.get("objective"), fields.get("bound")
    if objective is None or bound is None:
        parts.append("no solution yet")
    else:
        parts.append(f"objective {_number(objective)}")
        parts.append(f"bound {_number(bound)}")
        if objective:
            parts.append(f"gap {abs(objective - bound) / abs(objective):.1%}")
        count = int(fields.get("solutions", 0))
        parts.append(f"{count} solution{'s' if count != 1 else ''}")
    seconds = fields.get("seconds")
    elapsed = (task.elapsed or 0.0) if seconds is None else seconds
    parts.append(f"{elapsed:.1f}/{float(fields['limit']):g} s")
    return " · ".join(parts)


class _Through:
    """Writes through ``target``, rich's proxy of standard error during a live display (which prints
    above the bars): a rich Console given the proxy itself would write past it, to the real file."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def write(self, text: str) -> int:
        return int(self._target.write(text))

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return bool(self._target.isatty())

    def fileno(self) -> int:
        return int(self._target.fileno())


class RichProgress(Observer):
    """The progress bars ``rotaflow`` shows on standard error while a command works.

    ``with RichProgress(console) as shown, observing(shown): …``. On a terminal the bars move and
    log lines written to standard error meanwhile (Prefect's) are printed above them; elsewhere
    (a forced display) the final state is printed once at the end.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            _Bar(bar_width=24),
            _Detail(),
            _Elapsed(),
            console=console,
            transient=False,
            redirect_stdout=False,  # standard output holds the command's result only
            redirect_stderr=True,
        )
        self._solve: TaskID | None = None
        self._solutions = 0
        self._scenarios: dict[int, TaskID] = {}
        self._transfers: dict[str, tuple[TaskID, int]] = {}
        self._restore: list[Callable[[], None]] = []

    def __enter__(self) -> RichProgress:
        before = sys.stderr
        self.progress.start()
        if sys.stderr is not before:  # the display redirects standard error: so should the log handlers
            self._redirect_log_handlers({id(before), id(sys.__stderr__)}, sys.stderr)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            for restore in reversed(self._restore):
                restore()
            self._restore.clear()
        finally:
            if self.progress.tasks:
                self.progress.stop()
            else:  # nothing long happened: leave no trace, not even an empty line
                self.progress.live.transient = True
                self.progress.live.stop()

    def _redirect_log_handlers(self, streams: set[int], proxy: Any) -> None:
        loggers = [logging.getLogger()] + [
            item for item in logging.root.manager.loggerDict.values() if isinstance(item, logging.Logger)
        ]
        seen: set[int] = set()
        for logger in loggers:
            for handler in logger.handlers:
                if id(handler) in seen or not isinstance(handler, logging.StreamHandler):
                    continue
                seen.add(id(handler))
                if id(handler.stream) in streams:
                    self._swap(handler, "stream", proxy)
                inner = getattr(handler, "console", None)  # Prefect's handler prints through a rich Console
                if isinstance(inner, Console) and id(inner.file) in streams:
                    self._swap(inner, "file", _Through(proxy))

    def _swap(self, owner: Any, attribute: str, value: Any) -> None:
        old = getattr(owner, attribute)
        setattr(owner, attribute, value)
        self._restore.append(lambda: setattr(owner, attribute, old))

    # ----------------------------------------------------------------- events

    def solve_started(self, limit: float) -> None:
        self._solutions = 0
        self._solve = self.progress.add_task(
            "solving", total=limit, kind="solve", limit=limit, objective=None, bound=None, solutions=0
        )

    def solution(self, point: Solution) -> None:
        if self._solve is None:
            return
        self._solutions += 1
        self.progress.update(self._solve, objective=point.objective, bound=point.bound, solutions=self._solutions)

    def solve_finished(self, status: str, seconds: float, objective: float | None, bound: float | None) -> None:
        if self._solve is None:
            return
        final: dict[str, Any] = {"objective": objective, "bound": bound} if objective is not None else {}
        self.progress.update(self._solve, status=status, seconds=seconds, completed=seconds, **final)
        self.progress.stop_task(self._solve)

    def scenarios_planned(self, order: int, total: int) -> None:
        self._scenarios[order] = self.progress.add_task(f"N-{order} scenarios", total=total, kind="scenarios")

    def scenarios_done(self, order: int, count: int) -> None:
        if order in self._scenarios:
            self.progress.advance(self._scenarios[order], count)

    def transfer_started(self, kind: TransferKind, total: int) -> None:
        self._transfers[kind] = (self.progress.add_task(f"backup {kind}", total=total, kind="bytes"), total)

    def transferred(self, kind: TransferKind, count: int) -> None:
        if kind in self._transfers:
            self.progress.advance(self._transfers[kind][0], count)

    def transfer_finished(self, kind: TransferKind) -> None:
        if kind in self._transfers:
            task, total = self._transfers.pop(kind)
            self.progress.update(task, completed=total)
