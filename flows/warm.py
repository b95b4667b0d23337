"""A command's start-up while Prefect's temporary API starts, and its end without the interpreter's teardown.

The start: the API's process boots while this one loads the modules the run will need, instead of one
after the other.

Without ``PREFECT_API_URL`` (no `rotaflow serve` server, no Prefect server named), a command's first flow run
starts Prefect's temporary API: a process of its own that takes seconds to import and to create its
database, while the command waits. ``api_warm_start`` starts that same API (Prefect's
``SubprocessASGIServer``, which the flow run then finds running and uses) before the command imports
its flows and the run's heavy libraries (Great Expectations, the report's plotting), so both happen at once.
The imports run on the calling thread only (never two threads importing at once); a thread only waits for
the API to answer. When the early start fails, nothing is lost: the flow run starts the API itself, as
without this, and reports what fails.

The end: once a command has done its work, the interpreter's own shutdown frees each of the thousands of
modules a run loads (Prefect, Great Expectations, pandas, plotly, OR-Tools) and every object left: seconds
spent on memory the operating system takes back anyway. ``exit_now`` does what that shutdown must do, in
the interpreter's order (``threading._shutdown``: the threading module's exit hooks, which let idle
``ThreadPoolExecutor`` workers and Prefect's log and event services end, then the wait for the threads that
are not daemons; then the ``atexit`` handlers, which stop Prefect's temporary API and write what is
buffered; then standard output and error are flushed) and ends the process with the command's exit code.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import importlib
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from prefect.server.api.server import SubprocessASGIServer

__all__ = ["RUN_MODULES", "api_warm_start", "exit_now"]

RUN_MODULES = (
    "rotaflow.flows.generate",
    "rotaflow.flows.validate",
    "rotaflow.flows.contingency",
    "rotaflow.flows.backup",
    "rotaflow.validations.expectations",
    "rotaflow.validations.report",
    "great_expectations",
)
"""What a block generation imports sooner or later (a module that is not installed is skipped)."""


@contextlib.contextmanager
def api_warm_start(modules: Iterable[str] = RUN_MODULES) -> Iterator[bool]:
    """Prefect's temporary API starting (when the runs need one) while the ``with`` block and then the import
    of ``modules`` run; on leaving, the API answers (or its start failed, and the first flow run tries again).

    Yields whether the API is being started here (False: a server is named, or Prefect's temporary servers are
    disabled with ``PREFECT_SERVER_EPHEMERAL_ENABLED``; nothing is started or imported).
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        yield False
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance the flow run's client takes (one per process)
    waiting = threading.Thread(  # in the caller's context, so its temporary Prefect settings apply
        target=contextvars.copy_context().run, args=(_start, server), name="prefect-api-start", daemon=True
    )
    waiting.start()
    try:
        yield True
        for name in modules:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    finally:
        waiting.join()


def _start(server: SubprocessASGIServer) -> None:
    try:
        server.start()
    except Exception:  # the flow run starts it again and reports the error
        with contextlib.suppress(Exception):
            server.stop()  # no API process left behind (one that never answered)


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` after its threads, its ``atexit`` handlers and its output are done."""
    threading._shutdown()  # type: ignore[attr-defined]  # the interpreter's first step at exit: its hooks, then the threads
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a reader that went away (a pipe to `head`)
            stream.flush()
    os._exit(code)
