"""Progress events of long work: the solver, the contingency scenarios, backup copies.

The work reports numbers only (objective, bound, seconds, scenario counts, bytes), never names,
emails or ids of people. There are two ways to receive them:

* **explicit callbacks**, keyword-only parameters of the service functions:
  ``rotaflow.services.generate.solve_block(on_progress=)`` (each improving solution),
  ``rotaflow.validations.contingency.analyse_contingency(on_progress=)`` (scenarios done, total) and
  ``rotaflow.backups.sets.create_backup / upload_set / fetch_backup(on_bytes=)`` (bytes done, total);
* **observers** (:class:`Observer`) installed for a while with :func:`observing`. They are
  process-wide, so they also see the work a Prefect flow runs in this process: its tasks call the
  same service functions, which notify the observers besides any callback they were given. With no
  observer installed the notifications do nothing. (Contingency repairs that a Dask cluster runs
  in other processes are not seen.)

This module imports the standard library only, so the solver, the contingency analysis and the
backup code report without pulling a renderer in; ``rotaflow.progress`` draws the events.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

__all__ = [
    "Observer",
    "Solution",
    "Transfer",
    "TransferKind",
    "active",
    "observing",
    "scenarios_done",
    "scenarios_planned",
    "solution",
    "solve_finished",
    "solve_started",
]

TransferKind = Literal["upload", "download"]


class Solution(Protocol):
    """An improving solution as the solver reports it (``rotaflow.constraints.solve.Progress``)."""

    @property
    def seconds(self) -> float: ...
    @property
    def objective(self) -> float: ...
    @property
    def bound(self) -> float | None: ...


log = logging.getLogger(__name__)


class Observer:
    """Receives progress events; every method does nothing unless overridden.

    Events may come from other threads (the solver's, a task runner's); an observer must be quick.
    """

    def solve_started(self, limit: float) -> None:
        """A solve began with ``limit`` seconds."""

    def solution(self, point: Solution) -> None:
        """An improving solution: ``point.seconds``, ``point.objective``, ``point.bound``."""

    def solve_finished(self, status: str, seconds: float, objective: float | None, bound: float | None) -> None:
        """The solve ended (``optimal``, ``feasible``, ``infeasible``, ``timeout`` …) with its final
        objective and best bound (``None``: no solution, no bound)."""

    def scenarios_planned(self, order: int, total: int) -> None:
        """The N-``order`` contingency analysis has ``total`` scenarios."""

    def scenarios_done(self, order: int, count: int) -> None:
        """``count`` more N-``order`` scenarios are settled."""

    def transfer_started(self, kind: TransferKind, total: int) -> None:
        """A backup set of ``total`` bytes starts to move (``upload`` into a store, ``download`` out of one)."""

    def transferred(self, kind: TransferKind, count: int) -> None:
        """``count`` more bytes moved."""

    def transfer_finished(self, kind: TransferKind) -> None:
        """The whole set moved."""


_observers: list[Observer] = []
_lock = threading.Lock()


@contextlib.contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Notify ``observer`` of every progress event in this process until the block ends."""
    with _lock:
        _observers.append(observer)
    try:
        yield observer
    finally:
        with _lock:
            _observers.remove(observer)


def active() -> bool:
    """Whether any observer is installed."""
    return bool(_observers)


def _notify(event: str, *args: Any) -> None:
    if not _observers:
        return
    with _lock:
        observers = list(_observers)
    for observer in observers:
        try:
            getattr(observer, event)(*args)
        except Exception:  # progress is cosmetic: it never breaks the work
            log.debug("progress observer %r failed on %s", observer, event, exc_info=True)


def solve_started(limit: float) -> None:
    _notify("solve_started", limit)


def solution(point: Solution) -> None:
    _notify("solution", point)


def solve_finished(status: str, seconds: float, objective: float | None, bound: float | None) -> None:
    _notify("solve_finished", status, seconds, objective, bound)


def scenarios_planned(order: int, total: int) -> None:
    _notify("scenarios_planned", order, total)


def scenarios_done(order: int, count: int = 1) -> None:
    _notify("scenarios_done", order, count)


class Transfer:
    """The bytes of one backup copy, for an explicit ``on_bytes(done, total)`` and the observers.

    :meth:`start` returns ``None`` when nobody listens, so callers can skip the counting.
    :meth:`add` is safe from several threads (S3 transfers report from their own).
    """

    def __init__(self, kind: TransferKind, total: int, on_bytes: Callable[[int, int], None] | None) -> None:
        self.kind = kind
        self.total = total
        self.done = 0
        self.on_bytes = on_bytes
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls, kind: TransferKind, on_bytes: Callable[[int, int], None] | None, total: Callable[[], int]
    ) -> Transfer | None:
        if on_bytes is None and not active():
            return None
        transfer = cls(kind, total(), on_bytes)
        _notify("transfer_started", kind, transfer.total)
        if on_bytes is not None:
            on_bytes(0, transfer.total)
        return transfer

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            done = self.done
            if self.on_bytes is not None:
                self.on_bytes(done, self.total)
        _notify("transferred", self.kind, count)

    def finish(self) -> None:
        _notify("transfer_finished", self.kind)
