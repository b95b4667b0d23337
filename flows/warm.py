"""A command's start-up while Prefect's temporary API starts: the API's process boots while this one loads
the modules the run will need, instead of one after the other.

Without ``PREFECT_API_URL`` (no `rotaflow serve` server, no Prefect server named), a command's first flow run
starts Prefect's temporary API: a process of its own that takes seconds to import and to create its
database, while the command waits. ``api_warm_start`` starts that same API (Prefect's
``SubprocessASGIServer``, which the flow run then finds running and uses) before the command imports
its flows and the run's heavy libraries (Great Expectations, the report's plotting), so both happen at once.
The imports run on the calling thread only (never two threads importing at once); a thread only waits for
the API to answer. When the early start fails, nothing is lost: the flow run starts the API itself, as
without this, and reports what fails.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterable, Iterator

__all__ = ["RUN_MODULES", "api_warm_start"]

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

    Yields whether the API is being started here (False: a server is named, nothing is started or imported).
    """
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        yield False
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance the flow run's client takes (one per process)
    waiting = threading.Thread(target=_start, args=(server,), name="prefect-api-start", daemon=True)
    waiting.start()
    try:
        yield True
        for name in modules:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    finally:
        waiting.join()


def _start(server: object) -> None:
    with contextlib.suppress(Exception):  # the flow run starts it again and reports the error
        server.start()  # type: ignore[attr-defined]
