"""How a rotaflow flow run ends, as the operator sees it in the Prefect UI.

* :func:`completed` / :func:`failed`: the final state with a one-line message (the run's page shows it next
  to the state), also written to the run's log at INFO.
* :class:`QuietFailures`: a failure the flow has already put into words (its state message) reaches the
  run's log as that one line, not as the engine's 40-line traceback ("Engine execution exited with
  unexpected exception …", which Prefect logs for every failed run of a deployment).
* :func:`reported` / :func:`unreported_failure`: one failure fires one automation. A flow that emits its own
  failure event (``rotaflow.generation.failed``, ``rotaflow.repair.failed`` …) calls :func:`reported`; every
  other failure of a top-level run (an unexpected exception, a failed ingest …) is announced by the
  ``on_failure`` hook :func:`unreported_failure` as ``rotaflow.run.failed`` (the flow's name and, for a
  failure rotaflow put into words, its state message: ids and counts only; for an unexpected exception its
  type's name alone, as the event may reach an external webhook). Prefect's own ``prefect.flow-run.Failed``
  has no automation.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.exceptions import FailedRun
from prefect.results import ResultRecord
from prefect.states import Completed, Failed, State

from rotaflow.errors import RotaflowError

__all__ = [
    "RUN_FAILED",
    "QuietFailures",
    "completed",
    "failed",
    "failure_message",
    "install_quiet_failures",
    "reported",
    "unreported_failure",
]

RUN_FAILED = "rotaflow.run.failed"
ENGINE_TRACEBACK = "Engine execution exited with unexpected exception"
"""What Prefect's engine logs, with the exception's traceback, when a deployment's run ends Failed."""

_reported: set[str] = set()
"""Runs that emitted their own failure event (until they end)."""
_worded: set[str] = set()
"""Runs that ended Failed through :func:`failed`, in rotaflow's words (until the hook has read it)."""
_lock = threading.Lock()


def _log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except Exception:  # outside a run (a hook, a plain call): rotaflow's own logger
        return logging.getLogger("rotaflow.flows")


def completed(message: str, data: Any = None) -> State:
    """``Completed`` with a one-line ``message`` (also logged at INFO); ``data`` is the run's result."""
    line = " ".join(message.split())
    _log().info("%s", line)
    _forget(_run_id())  # a run that completes leaves no failure behind to report, or not to
    return Completed(message=line, data=data)


def failed(message: str, data: Any = None) -> State:
    """``Failed`` with a one-line ``message`` (also logged, at INFO: the command line, whose console shows
    warnings only, prints the failure its own way)."""
    line = " ".join(message.split())
    _log().info("%s", line)
    run_id = _run_id()
    if run_id is not None:
        with _lock:
            _worded.add(run_id)
    return Failed(message=line, data=data)


def _run_id() -> str | None:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None


def _forget(run_id: str | None) -> None:
    if run_id is not None:
        with _lock:
            _reported.discard(run_id)
            _worded.discard(run_id)


def reported() -> None:
    """This flow run emitted its own failure event: :func:`unreported_failure` stays silent for it."""
    run_id = _run_id()
    if run_id is not None:
        with _lock:
            _reported.add(run_id)


def unreported_failure(flow: Any, flow_run: Any, state: State) -> None:
    """``on_failure`` hook: ``rotaflow.run.failed`` for a top-level run whose failure no event announced.

    A subflow's failure is its parent's to report (the parent fails, or handles it, in its own words).
    """
    run_id = str(flow_run.id)
    with _lock:
        announced = run_id in _reported
        worded = run_id in _worded
        _reported.discard(run_id)
        _worded.discard(run_id)
    if announced or getattr(flow_run, "parent_task_run_id", None) is not None:
        return
    emit_event(
        RUN_FAILED,
        resource={"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.name": flow_run.name},
        related=[{"prefect.resource.id": f"rotaflow.flow.{flow.name}", "prefect.resource.role": "flow"}],
        payload={"flow": flow.name, "message": failure_message(state, worded=worded)},
    )


def _cause(state: State) -> Any:
    """What a failed state holds: the exception raised, or the data of a state the flow returned."""
    data = state.data
    return data.result if isinstance(data, ResultRecord) else data


def failure_message(state: State, *, worded: bool = False) -> str:
    """The failure as ``rotaflow.run.failed`` tells it (one line, at most 500 characters).

    The state message when rotaflow put the failure into words: a :class:`RotaflowError` (its messages name
    files, rows, rules and ids, never row values or names), or a ``Failed`` state the flow returned through
    :func:`failed` (``worded``) that holds no other exception. Anything else is unexpected: Prefect's message
    then carries ``str(exc)`` (a database error's DETAIL line with a row's values, a path …), which must not
    reach an external webhook, so only the exception's type name is told; the details stay in the run's log.
    """
    cause = _cause(state)
    if isinstance(cause, RotaflowError) or (worded and not isinstance(cause, BaseException)):
        return " ".join(str(state.message or "").split())[:500]
    kind = type(cause).__name__ if isinstance(cause, BaseException) else "an unexpected failure"
    return f"unexpected error: {kind} (the details are in the run's log)"


class QuietFailures(logging.Filter):
    """Turns the engine's traceback of an expected failure into one line: the failure's own message.

    Expected: a rotaflow error (bad input, infeasible, violations, a refused gate …) or Prefect's
    ``FailedRun`` (a ``Failed`` state the flow returned). Anything else keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(ENGINE_TRACEBACK) or not record.exc_info:
            return True
        exc = record.exc_info[1]
        if isinstance(exc, RotaflowError | FailedRun):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            record.msg = f"the run failed: {first}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


_QUIET = QuietFailures()


def install_quiet_failures() -> None:
    """:class:`QuietFailures` on the logger Prefect's engine reports a run's end to (idempotent)."""
    logger = logging.getLogger("prefect.flow_runs")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)


install_quiet_failures()
