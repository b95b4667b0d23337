"""Repair of a published block: its instance with the past frozen, the churn guard, the repair's facts.

A repair reads the bundle (a new row of absences.csv is how an absence arrives) and the block's
published version. The days before the repair date (``--from``; default tomorrow in the program's
timezone, or the block's first day when that is later) are kept exactly as published; the rest is
solved again with as few changes as possible (``rotaflow.constraints.repair``). The churn guard then
refuses a repair that changes too much of what the absence did not force: more than a share of the
remaining assignments, or of one person's remaining shifts (``configs/solver.yaml``, ``repair:``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rotaflow.constraints.instance import Cell, Instance
from rotaflow.constraints.repair import RepairResult, forced_removals
from rotaflow.errors import InputError, Problem
from rotaflow.services.planning import program_today
from rotaflow.services.versions import PublishedVersion, start_from
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import block_instance

__all__ = [
    "Churn",
    "ChurnLimits",
    "NoPublishedVersion",
    "churn",
    "repair_facts",
    "repair_from",
    "repair_instance",
    "started_too_late",
]

ACTOR = "rotaflow repair"


class NoPublishedVersion(InputError):
    """The block has nothing published to repair."""


@dataclass(frozen=True)
class ChurnLimits:
    """When a repair is refused (unless allowed): shares of the remaining assignments it may change."""

    total_share: float = 0.2
    person_share: float = 0.5


@dataclass(frozen=True)
class Churn:
    """How much of the remaining schedule a repair changes beyond what its absences force.

    ``remaining``: the published assignments on the days from the repair date on that the person can
    still work; ``forced``: those they can no longer work (absent, or no longer eligible): losing them is
    the repair's reason, not churn; ``changed``: remaining assignments the repair takes away or moves
    (to another person, day or shift); ``added``: assignments it adds (the cover). A person's changed
    shifts are the more of those they lose and those they gain (one lost and one gained: one shift
    moved), and their share is that over their remaining shifts; someone with no remaining shift has
    none that could change (what they take on is held by the work-hour rules).
    """

    remaining: int
    forced: int
    changed: int
    added: int
    limits: ChurnLimits
    people: list[dict[str, Any]] = field(default_factory=list)
    """The people over their limit: person_id, remaining, changed, share."""

    @property
    def share(self) -> float:
        return self.changed / self.remaining if self.remaining else 0.0

    @property
    def refused(self) -> bool:
        return self.share > self.limits.total_share or bool(self.people)

    def reasons(self) -> list[str]:
        """Why the guard refuses, in words (person ids only)."""
        out = []
        if self.share > self.limits.total_share:
            out.append(
                f"{self.changed} of the {self.remaining} remaining assignments would change "
                f"({self.share:.0%}, more than {self.limits.total_share:.0%})"
            )
        for person in self.people:
            out.append(
                f"{person['changed']} of the {person['remaining']} remaining shift(s) of {person['person_id']} "
                f"would change ({person['share']:.0%}, more than {self.limits.person_share:.0%})"
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "refused": self.refused,
            "remaining": self.remaining,
            "forced": self.forced,
            "changed": self.changed,
            "added": self.added,
            "share": round(self.share, 4),
            "limit_share": self.limits.total_share,
            "limit_person_share": self.limits.person_share,
            "people_over_limit": self.people,
            "reasons": self.reasons(),
        }


def repair_from(bundle: Bundle, block_id: str, given: dt.date | None, today: dt.date | None = None) -> dt.date:
    """The repair date: ``given``, or tomorrow in the program's timezone (the block's first day when that is
    later). ``InputError`` naming ``--from`` when it falls after the block's last day, or before today."""
    blocks = bundle.frames["blocks"].set_index("block_id")
    first = blocks.at[block_id, "start_date"].date()
    last = blocks.at[block_id, "end_date"].date()
    day = today or program_today(bundle.program.timezone)
    if given is not None and given < day:  # the days already worked are never re-solved
        raise InputError(
            [
                Problem(
                    "command line",
                    None,
                    "--from",
                    f"today ({day}) or a later date: days already worked are kept as they were",
                    given.isoformat(),
                )
            ]
        )
    chosen = given or max(day + dt.timedelta(days=1), first)
    if chosen > last:
        got = chosen.isoformat() + ("" if given else " (tomorrow: the block is over)")
        raise InputError(
            [Problem("command line", None, "--from", f"a date on or before the block's last day, {last}", got)]
        )
    return chosen


def repair_instance(
    bundle: Bundle,
    block_id: str,
    *,
    base: PublishedVersion | None,
    history: list[tuple[str, dt.date, str]],
    from_date: dt.date,
    next_number: int,
    today: dt.date | None = None,
) -> Instance:
    """The block's instance for a repair: the published version as the previous schedule, the days before
    ``from_date`` frozen to it (those before today count as worked: source ``history``)."""
    if base is None:
        raise NoPublishedVersion(
            [
                Problem(
                    "command line",
                    None,
                    "--block",
                    "a block with a published schedule (generate it first)",
                    f"{block_id} has no published version",
                )
            ]
        )
    instance = block_instance(bundle, block_id, history=history, previous=base.cells, frozen_before=from_date)
    start_from(instance, base, next_number)
    day = today or program_today(bundle.program.timezone)
    instance.meta.update(
        reason="repair",
        actor=ACTOR,
        worked_before_day=max(0, min(instance.days, (day - instance.start).days)),
        repair_from=from_date.isoformat(),
        reference=absence_reference(bundle, instance),
    )
    return instance


def absence_reference(bundle: Bundle, instance: Instance) -> str:
    """The blocking absences that take published shifts away, for changes.csv's ``reference``: person id,
    dates and type (no names)."""
    forced = forced_removals(instance)
    hit = {(person, instance.date(day)) for person, day, _ in forced}
    found = []
    for row in bundle.frames["absences"].itertuples():
        blocking = True if pd.isna(row.blocking) else bool(row.blocking)
        first, last = row.start_date.date(), row.end_date.date()
        if blocking and any(p == row.person_id and first <= d <= last for p, d in hit):
            found.append(f"absence {row.person_id} {first}..{last} ({row.type})")
    text = "; ".join(sorted(set(found)))
    return text if len(text) <= 200 else text[:197] + "..."


def churn(instance: Instance, cells: frozenset[Cell], limits: ChurnLimits) -> Churn:
    """The churn of the repaired ``cells`` against the instance's previous (published) schedule."""
    after = {c for c in instance.previous if instance.frozen_days <= c[1] < instance.days}
    new = {c for c in cells if instance.frozen_days <= c[1] < instance.days}
    forced = forced_removals(instance) & after
    keepable = after - forced
    changed = keepable - new
    remaining: dict[str, int] = {}
    for person, _, _ in keepable:
        remaining[person] = remaining.get(person, 0) + 1
    lost: dict[str, int] = {}
    for person, _, _ in changed:
        lost[person] = lost.get(person, 0) + 1
    gained: dict[str, int] = {}
    for person, _, _ in new - after:
        gained[person] = gained.get(person, 0) + 1
    people = []
    for person in sorted(remaining.keys() & (lost.keys() | gained.keys())):
        count = max(lost.get(person, 0), gained.get(person, 0))  # a shift lost and one gained: one moved
        share = count / remaining[person]
        if share > limits.person_share:
            people.append(
                {
                    "person_id": person,
                    "remaining": remaining[person],
                    "changed": count,
                    "share": round(share, 4),
                }
            )
    return Churn(
        remaining=len(keepable),
        forced=len(forced),
        changed=len(changed),
        added=len(new - after),
        limits=limits,
        people=people,
    )


def repair_facts(instance: Instance, repaired: RepairResult, guard: Churn | None) -> dict[str, Any]:
    """summary.json's ``repair``: from which date, the changes made against the proved minimum, the guard."""
    facts: dict[str, Any] = {
        "from": instance.meta.get("repair_from"),
        "frozen_days": instance.frozen_days,
        "reference": instance.meta.get("reference") or None,
        "changes": repaired.changes,
        "min_changes_bound": repaired.min_changes_bound,
        "proved_minimal": repaired.proved_minimal,
        "build_seconds": round(repaired.build_seconds, 3),
    }
    if guard is not None:
        facts["churn"] = guard.as_dict()
    return facts


def started_too_late(instance: Instance, today: dt.date | None = None) -> str | None:
    """Why a repair may no longer be published (its first re-solved day has passed while it waited for
    approval: those days were worked as published), or None."""
    first = instance.meta.get("repair_from")
    day = today or program_today(instance.timezone)
    if first is None or day <= dt.date.fromisoformat(str(first)):
        return None
    return f"the repair re-solved the days from {first}, and today is {day}: run it again from today"
