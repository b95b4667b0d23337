"""What an emergency restore run hands back, typed: ``RestoreResult``, built step by step as the run goes.

Its JSON form (``as_dict``) is the flow's result, the restore report's facts and ``rotaflow restore
emergency --json``: the facts given so far, in the order the run first gave them, so a run that stopped
early shows only what it reached (a refusal before the backup was found: status, source, backup id,
rolled_back and the message).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypedDict

__all__ = ["GATES", "Confirmation", "GateOutcome", "RestoreResult", "RestoreStatus"]

RestoreStatus = Literal["refused", "restored", "done", "rolled-back", "rollback-failed"]
"""refused: the live database untouched; restored: live and verified; done: live and verified, the clean-up
afterwards failed; rolled-back: the previous database put back; rollback-failed: left for recovery."""

GATES = (
    "1 disk space",
    "2 verify the backup",
    "3 pre-snapshot",
    "4 operator confirmation",
    "5 restore and switch",
    "6 verify the live database",
)
"""The gates of the chain, in the order they run."""


class GateOutcome(TypedDict):
    """One gate of the restore report's table."""

    gate: str
    passed: bool
    detail: str


class Confirmation(TypedDict):
    """How, through which channel, by whom and when the operator confirmed."""

    how: str
    via: str
    by: str
    at_utc: str
    at_local: str


_FIRST = ("status", "source", "backup_id", "rolled_back")
"""The facts every run gives from its start."""


@dataclass
class RestoreResult:
    """One emergency restore run's result. A fact is given with ``give`` (or a method that calls it); the
    fields not given yet are None and absent from ``as_dict``."""

    status: RestoreStatus
    source: str
    backup_id: str
    rolled_back: bool = False
    tier: str | None = None
    tag: str | None = None
    live: str | None = None
    """The live database's URL, its password masked."""
    recovered: dict[str, Any] | None = None
    """The recovery of an interrupted run this run made first (``Recovery.as_dict``)."""
    journal: str | None = None
    disk: str | None = None
    """Gate 1's finding (``DiskGate.summary``)."""
    gates: list[GateOutcome] | None = None
    size_bytes: int | None = None
    pre_snapshot: str | None = None
    undo: str | None = None
    """The command that restores the pre-snapshot."""
    confirmation: Confirmation | None = None
    tables: int | None = None
    """Tables checked in the live database after the switch."""
    message: str | None = None
    unexpected: str | None = None
    """The type name of an exception rotaflow did not raise on purpose (its text stays out of events)."""
    rollback: str | None = None
    """What the automatic rollback did."""
    _given: list[str] = field(default_factory=lambda: list(_FIRST), repr=False, compare=False)

    def give(self, **facts: Any) -> RestoreResult:
        """Set ``facts``; a fact given for the first time goes after those given before it."""
        known = {f.name for f in fields(self)} - {"_given"}
        for name, value in facts.items():
            if name not in known:
                raise AttributeError(f"a restore result has no fact {name!r}")
            setattr(self, name, value)
            if name not in self._given:
                self._given.append(name)
        return self

    def gate(self, index: int, passed: bool, detail: str) -> None:
        """Gate ``index`` (0-based) of ``GATES`` passed or failed (the restore report's table)."""
        outcome = GateOutcome(gate=GATES[index], passed=passed, detail=detail)
        if self.gates is None:
            self.give(gates=[outcome])
        else:
            self.gates.append(outcome)

    def confirmed(self, how: str, via: str, by: str, now: dt.datetime | None = None) -> None:
        """The operator confirmed (``how``, through ``via``, ``by`` whom), now."""
        now = now or dt.datetime.now(dt.UTC)
        local = now.astimezone()
        self.give(
            confirmation=Confirmation(
                how=how,
                via=via,
                by=by,
                at_utc=f"{now:%Y-%m-%d %H:%M:%S} UTC",
                at_local=f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}",
            )
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the facts given, in the order first given."""
        return {name: getattr(self, name) for name in self._given}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestoreResult:
        """The result whose JSON form is ``data`` (its order kept)."""
        first = {name: data[name] for name in _FIRST}
        return cls(**first).give(**{k: v for k, v in data.items() if k not in _FIRST})
