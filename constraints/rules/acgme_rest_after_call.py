"""acgme_rest_after_call: 14 hours free after a 24-hour in-house call (VI.F.2.b / 6.21.a).

Rest is owed from the end of the continuous duty period that holds the call, whatever was chained
onto it (``duty_periods``: a shift starting no later than the period's end so far, hand-off
included, joins it). Every shift of a later period that starts less than the rest after that end
breaks the rule; shifts of the period itself are the continuous-duty rule's business.

The model follows the same definition over the instants where a shift may end: at each such
instant ``e`` a literal says some assigned shift covers ``[e, e + ε)`` (the period goes on), another
that a call's period has reached ``e`` (a call ending at ``e``, or such a period reaching the instant
before while that one was covered), and a third that a call's period ends at ``e`` (reached, not
covered). A shift starting at ``T`` is forbidden with any such end in ``(T - rest, T)``.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any

from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label
from rotaflow.constraints.rules.acgme_max_continuous_duty import Piece, _pieces, duty_periods, period_end, person_pieces


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_rest_hours: float = Field(default=14.0, ge=0)
    min_call_hours: float = Field(default=23.0, gt=0, description="scheduled length that makes a 24-hour call")


_Params = Params


Lit = cp_model.IntVar | bool
"""A literal of the model, or a constant (history, or a shift nobody can hold there)."""


def is_long_call(piece: Piece, params: _Params) -> bool:
    return piece.in_house_call and piece.scheduled >= dt.timedelta(hours=params.min_call_hours)


def short_rests_after_call(pieces: list[Piece], params: _Params) -> list[tuple[Piece, dt.timedelta]]:
    """(scheduled shift, rest before it) for each shift starting too soon after a call's duty period ended."""
    rest = dt.timedelta(hours=params.min_rest_hours)
    out = []
    ended: dt.datetime | None = None  # the end of the last period that held a 24-hour call
    for period in duty_periods(pieces):
        if ended is not None:
            out += [(p, p.start - ended) for p in period if p.day is not None and p.start - ended < rest]
        if any(is_long_call(p, params) for p in period):
            ended = period_end(period)
    return out


@register
class AcgmeRestAfterCall(Rule):
    """After a 24-hour in-house call, the next shift starts at least 14 hours after its duty period ends."""

    name = "acgme_rest_after_call"
    summary = "14 hours free after 24-hour call"
    unit = "hours"
    Params = Params
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        generic = _pieces(inst, None)
        plan = _Plan(inst, generic, params) if any(is_long_call(p, params) for p in generic) else None
        for person in ctx.people:
            if inst.history_of(person):
                pieces = _pieces(inst, person)
                if any(is_long_call(p, params) for p in pieces):
                    _forbid_short_rests(ctx, person, pieces, params)
            elif plan is not None:
                plan.build(ctx, person)

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            for nxt, gap in short_rests_after_call(person_pieces(schedule, person), params):
                assert nxt.day is not None
                out.append(
                    Violation(
                        self.name,
                        person,
                        nxt.day,
                        nxt.day,
                        round(gap.total_seconds() / 3600, 2),
                        params.min_rest_hours,
                        "hours",
                        f"{person} starts {nxt.shift} on {date_label(inst, nxt.day)} "
                        f"{gap.total_seconds() / 3600:.1f} h after a 24-hour call's duty period",
                    )
                )
        return out


def _forbid_short_rests(ctx: BuildContext, person: str, pieces: list[Piece], params: _Params) -> None:
    model = ctx.model
    rest = dt.timedelta(hours=params.min_rest_hours)

    def literal(piece: Piece) -> Lit:
        return True if piece.day is None else ctx.x.is_assigned(person, piece.day, piece.shift)

    calls = [p for p in pieces if is_long_call(p, params)]
    first = min(p.end_with_transition for p in calls)
    instants = sorted({p.end_with_transition for p in pieces if p.end_with_transition >= first})
    by_start = sorted(pieces, key=lambda p: p.start)
    starts = [p.start for p in by_start]
    longest = max(p.end_with_transition - p.start for p in pieces)

    def covering(instant: dt.datetime) -> list[Lit]:
        """The shifts running over the instant ([start, end + hand-off)): worked, the period goes on."""
        lo, hi = bisect.bisect_left(starts, instant - longest), bisect.bisect_right(starts, instant)
        return [literal(p) for p in by_start[lo:hi] if instant < p.end_with_transition]

    # reached[k]: a call's duty period lasts until instants[k] (forced true when it does, free otherwise:
    # it only ever forbids). A call ending at the instant, or a period that reached the instant before
    # while a worked shift ran over that one.
    reached: list[Lit] = []
    covers: list[list[Lit]] = []
    for k, instant in enumerate(instants):
        ending = [literal(p) for p in calls if p.end_with_transition == instant]
        went_on = reached[-1] if reached else False
        over = covers[-1] if covers else []
        if _certain(ending) or (went_on is True and _certain(over)):
            reach: Lit = True
        else:
            causes = [v for v in ending if not isinstance(v, bool)]
            steps = [v for v in over if not isinstance(v, bool)] if went_on is not False else []
            keeps = went_on is not False and _certain(over)
            if not causes and not steps and not keeps:
                reach = False
            else:
                var = model.new_bool_var(f"call-period:{person}:{k}")
                for cause in causes:
                    model.add_implication(cause, var)
                for step in steps:
                    model.add_bool_or([*([] if went_on is True else [went_on.Not()]), step.Not(), var])  # type: ignore[union-attr]
                if keeps:
                    model.add_implication(went_on, var)  # type: ignore[arg-type]
                reach = var
        reached.append(reach)
        covers.append(covering(instant))

    late: dict[dt.datetime, Lit] = {}  # a call's period ended less than the rest before this instant
    for piece in pieces:
        if piece.day is None:
            continue
        if piece.start not in late:
            lo = bisect.bisect_right(instants, piece.start - rest)
            hi = bisect.bisect_left(instants, piece.start)
            ends = [k for k in range(lo, hi) if reached[k] is not False and not _certain(covers[k])]
            if any(reached[k] is True and not covers[k] for k in ends):
                late[piece.start] = True
            elif len(ends) == 1 and not covers[ends[0]]:
                late[piece.start] = reached[ends[0]]
            elif not ends:
                late[piece.start] = False
            else:
                var = model.new_bool_var(f"after-call-period:{person}:{piece.start.isoformat()}")
                for k in ends:
                    model.add(var >= reached[k] - sum(covers[k]))  # type: ignore[arg-type, operator]
                late[piece.start] = var
        after = late[piece.start]
        if after is False:
            continue
        ctx.not_all(
            [v for v in (literal(piece), after) if not isinstance(v, bool)],
            subject=f"person={person}",
            name=f"{person}:{piece.day}:{piece.shift}",
            person=person,
        )


class _Plan:
    """What ``_forbid_short_rests`` adds for someone with no shift in history, worked out once over the
    horizon's slots (places in ``slot_list``) and then added for each such person with their own decisions:
    with no history every literal is a decision, never a constant, so the shape is the same for all."""

    def __init__(self, inst: Instance, pieces: list[Piece], params: _Params) -> None:
        rest = dt.timedelta(hours=params.min_rest_hours)
        place = {id(p): inst.position(p.day, p.shift) for p in pieces if p.day is not None}
        calls = [p for p in pieces if is_long_call(p, params)]
        first = min(p.end_with_transition for p in calls)
        instants = sorted({p.end_with_transition for p in pieces if p.end_with_transition >= first})
        by_start = sorted(pieces, key=lambda p: p.start)
        starts = [p.start for p in by_start]
        longest = max(p.end_with_transition - p.start for p in pieces)
        covers: list[list[int]] = []
        # reach[k]: None (a call's period cannot last until instants[k]) or (calls ending then, the
        # shifts running over the instant before, which carry the period on when it reached that one)
        self.reach: list[tuple[list[int], list[int]] | None] = []
        for k, instant in enumerate(instants):
            causes = [place[id(p)] for p in calls if p.end_with_transition == instant]
            steps = covers[-1] if k and self.reach[-1] is not None else []
            self.reach.append((causes, steps) if causes or steps else None)
            lo, hi = bisect.bisect_left(starts, instant - longest), bisect.bisect_right(starts, instant)
            covers.append([place[id(p)] for p in by_start[lo:hi] if instant < p.end_with_transition])
        # for each scheduled piece, in order: its place and how "a call's period ended less than the rest
        # before it starts" reads: None (never), ("reach", k) or ("var", [(k, covers[k]), ...])
        self.pieces: list[tuple[int, str, tuple[str, Any] | None]] = []
        late: dict[dt.datetime, tuple[str, Any] | None] = {}
        for piece in pieces:
            if piece.day is None:
                continue
            if piece.start not in late:
                lo = bisect.bisect_right(instants, piece.start - rest)
                hi = bisect.bisect_left(instants, piece.start)
                ends = [k for k in range(lo, hi) if self.reach[k] is not None]
                if len(ends) == 1 and not covers[ends[0]]:
                    late[piece.start] = ("reach", ends[0])
                elif not ends:
                    late[piece.start] = None
                else:
                    late[piece.start] = ("var", [(k, covers[k]) for k in ends])
            self.pieces.append((place[id(piece)], piece.start.isoformat(), late[piece.start]))
        self.labels = [f"{p.day}:{p.shift}" for p in pieces if p.day is not None]

    def build(self, ctx: BuildContext, person: str) -> None:
        model = ctx.model
        # written straight into the model's proto: a decision's reference is its index, its negation -index - 1
        constraints = model.proto.constraints
        refs = ctx.x.refs(person)
        reached: list[Any] = []
        for k, step in enumerate(self.reach):
            if step is None:
                reached.append(None)
                continue
            causes, steps = step
            var = model.new_bool_var(f"call-period:{person}:{k}")
            index = var.index
            for cause in causes:  # the call ⇒ its period is reached
                constraint = constraints.add()
                constraint.enforcement_literal.append(refs[cause])
                constraint.bool_and.literals.append(index)
            if steps:  # reached before and still on ⇒ reached
                went_on = -reached[k - 1].index - 1
                for other in steps:
                    constraints.add().bool_or.literals.extend([went_on, -refs[other] - 1, index])
            reached.append(var)
        late: dict[str, Any] = {}
        subject = f"person={person}"
        for (place, start, how), label in zip(self.pieces, self.labels, strict=True):
            if how is None:
                continue
            if start not in late:
                if how[0] == "reach":
                    late[start] = reached[how[1]]
                else:
                    var = model.new_bool_var(f"after-call-period:{person}:{start}")
                    for k, covering in how[1]:  # reached and not covered ⇒ late
                        constraints.add().bool_or.literals.extend(
                            [var.index, -reached[k].index - 1, *[refs[i] for i in covering]]
                        )
                    late[start] = var
            ctx.not_all([refs[place], late[start].index], subject=subject, name=f"{person}:{label}", person=person)


def _certain(literals: list[Lit]) -> bool:
    """One of ``literals`` is the constant true (a shift in history)."""
    return any(v is True for v in literals)
