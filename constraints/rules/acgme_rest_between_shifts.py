"""acgme_rest_between_shifts: 8 hours free between shifts, a "should" (VI.F.2.a / 6.21).

The gap is measured between continuous duty periods (``duty_periods``): from the end of one
period (its latest end with hand-off) to the start of the next, over the scheduled shifts and
the shifts in history before the block, so a long shift with a short one inside it, or the last
night of the previous block, counts.

In the model a short gap is charged for a pair (``a`` ends the period, ``b`` starts the next): both
worked and no worked shift that would make it otherwise (one running past ``a``'s end that starts
before ``b``, or one ending with ``a`` that sorts after it, so each gap is charged once).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label
from rotaflow.constraints.rules.acgme_max_continuous_duty import Piece, _pieces, duty_periods, period_end, person_pieces


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_rest_hours: float = Field(default=8.0, ge=0)


_Params = Params


@dataclass(frozen=True)
class _ShortGap:
    """``a`` then ``b`` with ``gap`` between them, short when both are worked and none of ``breakers``."""

    a: Piece
    b: Piece
    gap: dt.timedelta
    breakers: tuple[Piece, ...]


@register
class AcgmeRestBetweenShifts(Rule):
    """Between two periods of work there should be 8 hours free; each missing hour costs."""

    name = "acgme_rest_between_shifts"
    summary = "8 hours free between shifts (should)"
    default_kind = "soft"
    unit = "hours"
    Params = Params
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        rest = dt.timedelta(hours=params.min_rest_hours)
        generic = _gap_terms(inst, _short_gaps(_pieces(inst, None), rest), rest)
        for person in ctx.people:
            past = inst.history_of(person)
            gaps = _gap_terms(inst, _short_gaps(_pieces(inst, person), rest), rest) if past else generic
            refs = ctx.x.refs(person)
            subject = f"person={person}"
            for label, worked, breakers, missing in gaps:  # some shift of the pair is off, or a breaker on
                ctx.some_true(
                    [*[-refs[i] - 1 for i in worked], *[refs[i] for i in breakers]],
                    subject=subject,
                    name=f"{person}:{label}",
                    scale=missing,
                    person=person,
                )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            for b, gap in _short_rests(schedule, person, params):
                assert b.day is not None
                out.append(
                    Violation(
                        self.name,
                        person,
                        b.day,
                        b.day,
                        round(gap.total_seconds() / 3600, 2),
                        params.min_rest_hours,
                        "hours",
                        f"{person} has only {gap.total_seconds() / 3600:.1f} h free before "
                        f"{b.shift} on {date_label(inst, b.day)}",
                        "warning",
                    )
                )
        return out


def _gap_terms(
    inst: Instance, gaps: list[_ShortGap], rest: dt.timedelta
) -> list[tuple[str, list[int], list[int], int]]:
    """Each short gap as (name suffix, places in ``slot_list`` of the scheduled shifts of a and b, places of
    the breakers, hours missing): the gap is not short when one of the first is off or one of the others
    worked. Gaps a shift in history closes are left out."""
    out = []
    for short in gaps:
        if any(d.day is None for d in short.breakers):
            continue  # a shift in history closes the gap
        worked = [_place(inst, p) for p in (short.a, short.b) if p.day is not None]
        breakers = [_place(inst, d) for d in short.breakers]
        missing = math.ceil((rest - short.gap).total_seconds() / 3600)
        label = f"{_label(short.a)}:{short.b.day}:{short.b.shift}"
        out.append((label, worked, breakers, missing))
    return out


def _place(inst: Instance, piece: Piece) -> int:
    assert piece.day is not None
    return inst.position(piece.day, piece.shift)


def _label(piece: Piece) -> str:
    return f"{piece.day}:{piece.shift}" if piece.day is not None else f"history:{piece.start.isoformat()}"


def _key(piece: Piece) -> tuple[dt.datetime, str]:
    return (piece.start, piece.shift)


def _short_gaps(pieces: list[Piece], rest: dt.timedelta) -> list[_ShortGap]:
    """Every pair (a, b), b a slot of the horizon, whose gap would be short were it the gap between two periods."""
    ordered = sorted(pieces, key=_key)
    starts = [p.start for p in ordered]
    by_end = sorted(ordered, key=lambda p: p.end_with_transition)
    ends = [p.end_with_transition for p in by_end]
    out = []
    for a in ordered:
        first = bisect.bisect_right(starts, a.end_with_transition)
        last = bisect.bisect_left(starts, a.end_with_transition + rest)
        # running past a's end (or ending with it and sorting after it), and starting before b
        later = by_end[bisect.bisect_left(ends, a.end_with_transition) :]
        for b in ordered[first:last]:
            if b.day is None:
                continue
            breakers = tuple(
                d
                for d in later
                if d is not a
                and d is not b
                and _key(d) < _key(b)
                and (d.end_with_transition > a.end_with_transition or _key(d) > _key(a))
            )
            out.append(_ShortGap(a, b, b.start - a.end_with_transition, breakers))
    return out


def _short_rests(schedule: Schedule, person: str, params: _Params) -> list[tuple[Piece, dt.timedelta]]:
    """(first shift of a period, gap) for each gap between two periods shorter than the minimum."""
    rest = dt.timedelta(hours=params.min_rest_hours)
    periods = duty_periods(person_pieces(schedule, person))
    out = []
    for before, after in zip(periods, periods[1:], strict=False):
        head, gap = after[0], after[0].start - period_end(before)
        if head.day is not None and gap < rest:
            out.append((head, gap))
    return out


def penalty(schedule: Schedule, params: _Params | None = None) -> int:
    """Exact penalty (weight 1): missing hours, rounded up, summed over short rests."""
    params = params or Params()
    rest = dt.timedelta(hours=params.min_rest_hours)
    return sum(
        math.ceil((rest - gap).total_seconds() / 3600)
        for person in schedule.by_person
        for _, gap in _short_rests(schedule, person, params)
    )
