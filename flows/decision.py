"""A coordinator's decision as a pause for input, with a timeout that ends as "no decision".

The Prefect server fails a run whose pause expired (the run could not end as rejected), so the pause
is given a grace period and, at the timeout, a timer resumes the run with ``approve`` off: the flow
then ends on its own terms. The absence-repair and shift-swap flows ask this way.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TypeVar

from prefect import pause_flow_run
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import resume_flow_run
from prefect.input import RunInput

__all__ = ["PAUSE_GRACE_SECONDS", "ask_decision"]

PAUSE_GRACE_SECONDS = 60
"""How long the pause outlives the timeout, so the timer's "no decision" arrives first."""

D = TypeVar("D", bound=RunInput)


def ask_decision(model: type[D], description: str, *, key: str, timeout_hours: float, poll_seconds: int) -> D | None:
    """Pause the running flow for ``model`` (a RunInput with ``approve: bool`` and ``reason: str``), its dialog
    showing ``description``; None when no decision came within ``timeout_hours``."""
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None
    flow_run_id = context.flow_run.id
    timeout = max(1, round(timeout_hours * 3600))
    expired = threading.Event()
    settings = contextvars.copy_context()

    def expire() -> None:
        expired.set()
        try:
            settings.run(resume_flow_run, flow_run_id, run_input={"approve": False, "reason": ""})
        except Exception:  # someone decided first: theirs counts
            expired.clear()

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        decision = pause_flow_run(
            wait_for_input=model.with_initial_data(description=description, approve=False, reason=""),
            timeout=timeout + PAUSE_GRACE_SECONDS,
            poll_interval=max(1, min(poll_seconds, timeout)),
            key=key,
        )
    except FlowPauseTimeout:
        return None
    finally:
        timer.cancel()
        timer.join(30)
    return None if expired.is_set() else decision
