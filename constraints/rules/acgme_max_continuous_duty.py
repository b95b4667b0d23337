"""acgme_max_continuous_duty: 24 hours scheduled plus up to 4 hours of transition (VI.F.3.a / 6.22).

Shifts that follow each other with no gap (the next starts when the previous ends, or
during its hand-off) join into one period of duty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule, Slot
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_scheduled_hours: float = Field(default=24.0, gt=0)
    max_total_hours: float = Field(default=28.0, gt=0, description="scheduled plus transition")


_Params = Params


@dataclass(frozen=True)
class Piece:
    """A shift in a chain: a slot of the horizon, or a shift from history (``day is None``)."""

    day: int | None
    shift: str
    start: dt.datetime
    end: dt.datetime
    end_with_transition: dt.datetime
    in_house_call: bool = False

    @property
    def scheduled(self) -> dt.timedelta:
        return self.end - self.start


def joins(a: Piece, b: Piece) -> bool:
    """``b`` continues ``a``'s duty: it starts while ``a`` (or its hand-off) is still running, or as it ends."""
    return a.start <= b.start <= a.end_with_transition


def duty_periods(pieces: list[Piece]) -> list[list[Piece]]:
    """Continuous duty periods: pieces by start, each joining the period while it starts no later than the
    period's end so far (hand-off included; gap 0 joins). A period ends at its latest end with transition."""
    periods: list[list[Piece]] = []
    end: dt.datetime | None = None
    for piece in sorted(pieces, key=lambda p: (p.start, p.shift)):
        if end is not None and piece.start <= end:
            periods[-1].append(piece)
            end = max(end, piece.end_with_transition)
        else:
            periods.append([piece])
            end = piece.end_with_transition
    return periods


def period_end(period: list[Piece]) -> dt.datetime:
    return max(p.end_with_transition for p in period)


def person_pieces(schedule: Schedule, person: str) -> list[Piece]:
    """A person's scheduled shifts and their shifts in history, as pieces."""
    inst = schedule.instance
    return [_piece(inst, s) for s in schedule.by_person[person]] + _history_pieces(inst, person)


def _too_long(chain: list[Piece], params: _Params) -> bool:
    scheduled = _union(chain)
    total = max(p.end_with_transition for p in chain) - min(p.start for p in chain)
    return scheduled > dt.timedelta(hours=params.max_scheduled_hours) or total > dt.timedelta(
        hours=params.max_total_hours
    )


def too_long_chains(pieces: list[Piece], params: _Params) -> Iterator[list[Piece]]:
    """Minimal chains of joined pieces that break the limit (each prefix within it)."""
    ordered = sorted(pieces, key=lambda p: p.start)
    # only later pieces follow (ties by position), so a chain never loops
    following = {id(a): [b for b in ordered[i + 1 :] if joins(a, b)] for i, a in enumerate(ordered)}

    def extend(chain: list[Piece]) -> Iterator[list[Piece]]:
        scheduled_piece = any(p.day is not None for p in chain)
        if _too_long(chain, params) and scheduled_piece:
            yield chain
            return
        # a past period already too long on its own: the next scheduled shift is what breaks it
        for nxt in following[id(chain[-1])]:
            yield from extend([*chain, nxt])

    for first in ordered:
        yield from extend([first])


def _chain_places(inst: Instance, chains: Iterable[list[Piece]], kind: str) -> list[tuple[str, list[int]]]:
    """(penalty name suffix, places in ``slot_list``) of each chain's scheduled pieces, chains with none
    left out; the suffix is the chain's first scheduled day and its length.

    Hard, a chain whose slots hold all of another's adds nothing (both are "not all of these" under the
    person's guard) and is left out, as is a repeat; soft, each chain is a penalty of its own and stays.
    """
    out = []
    for chain in chains:
        places = [inst.position(p.day, p.shift) for p in chain if p.day is not None]
        if places:
            first = next(p.day for p in chain if p.day is not None)
            out.append((f"{first}:{len(chain)}", places))
    if kind != "hard":
        return out
    kept: list[frozenset[int]] = []
    result = []
    for label, places in sorted(out, key=lambda item: len(set(item[1]))):
        held = frozenset(places)
        if not any(k <= held for k in kept):
            kept.append(held)
            result.append((label, places))
    return result


def _union(period: list[Piece]) -> dt.timedelta:
    """Scheduled time of a period: the union of its shifts' scheduled intervals."""
    total, cursor = dt.timedelta(), None
    for piece in sorted(period, key=lambda p: p.start):
        start = piece.start if cursor is None else max(piece.start, cursor)
        if piece.end > start:
            total += piece.end - start
        cursor = piece.end if cursor is None else max(cursor, piece.end)
    return total


def _piece(inst: Instance, slot: Slot) -> Piece:
    spec = inst.shift[slot.shift]
    return Piece(slot.day, slot.shift, slot.start, slot.end, slot.end_with_transition, spec.in_house_call)


def _pieces(inst: Instance, person: str | None) -> list[Piece]:
    """Every slot of the horizon, with the person's shifts in history (``None``: no history)."""
    out = [_piece(inst, s) for s in inst.slots()]
    return out if person is None else out + _history_pieces(inst, person)


def _history_pieces(inst: Instance, person: str) -> list[Piece]:
    """The person's shifts in history, as pieces (no day of the horizon)."""
    return [
        Piece(
            None,
            h.kind,
            h.start,
            h.start + dt.timedelta(minutes=h.scheduled_minutes),
            h.end_with_transition,
            h.in_house_call,
        )
        for h in inst.history
        if h.person == person
    ]


@register
class AcgmeMaxContinuousDuty(Rule):
    """A period of duty is at most 24 hours scheduled, 28 hours with transition."""

    name = "acgme_max_continuous_duty"
    summary = "24 + 4 hours of continuous duty at most"
    unit = "hours"
    Params = Params
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        generic = _chain_places(inst, too_long_chains(_pieces(inst, None), params), ctx.kind)
        for person in ctx.people:
            past = inst.history_of(person)
            chains = _chain_places(inst, too_long_chains(_pieces(inst, person), params), ctx.kind) if past else generic
            refs = ctx.x.refs(person)
            for label, places in chains:
                ctx.not_all(
                    [refs[i] for i in places],
                    subject=f"person={person}",
                    name=f"{person}:{label}",
                    person=person,
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            for period in duty_periods(person_pieces(schedule, person)):
                if _too_long(period, params) and any(p.day is not None for p in period):
                    scheduled = _union(period).total_seconds() / 3600
                    total = (period_end(period) - period[0].start).total_seconds() / 3600
                    days = [p.day for p in period if p.day is not None]
                    if scheduled > params.max_scheduled_hours:
                        value, limit = scheduled, params.max_scheduled_hours
                    else:
                        value, limit = total, params.max_total_hours
                    out.append(
                        Violation(
                            self.name,
                            person,
                            days[0],
                            days[-1],
                            round(value, 2),
                            limit,
                            "hours",
                            f"{person} is on duty {scheduled:.1f} h scheduled ({total:.1f} h with transition) "
                            f"from {date_label(inst, days[0])}",
                        )
                    )
        return out
