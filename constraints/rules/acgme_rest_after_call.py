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

from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from constraints.instance import Schedule
from constraints.registry import BuildContext, Rule, Selector, Violation, register
from constraints.rules._common import date_label
from constraints.rules.acgme_max_continuous_duty import Piece, _pieces, duty_periods, period_end, person_pieces


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

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        has_history = {h.person for h in inst.history}
        generic = _pieces(inst, None)
        for person in ctx.people:
            pieces = _pieces(inst, person) if person in has_history else generic
            if any(is_long_call(p, params) for p in pieces):
                _forbid_short_rests(ctx, person, pieces, params)

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

    def any_of(literals: list[Lit], name: str) -> Lit:
        """A literal true exactly when one of ``literals`` is."""
        if any(v is True for v in literals):
            return True
        variables = [v for v in literals if not isinstance(v, bool)]
        if len(variables) <= 1:
            return variables[0] if variables else False
        var = model.new_bool_var(name)
        model.add_max_equality(var, variables)
        return var

    def at_least(true: list[Lit], false: list[Lit], name: str) -> Lit:
        """A literal forced true when each of ``true`` holds and none of ``false`` (free otherwise: it is only
        ever forbidden)."""
        if any(v is False for v in true) or any(v is True for v in false):
            return False
        pos = [v for v in true if not isinstance(v, bool)]
        neg = [v for v in false if not isinstance(v, bool)]
        if not pos and not neg:
            return True
        if len(pos) == 1 and not neg:
            return pos[0]
        var = model.new_bool_var(name)
        model.add_bool_or([*(v.Not() for v in pos), *neg, var])
        return var

    calls = [p for p in pieces if is_long_call(p, params)]
    first = min(p.end_with_transition for p in calls)
    instants = sorted({p.end_with_transition for p in pieces if p.end_with_transition >= first})
    reached: list[Lit] = []  # a call's period reaches the instant
    ends: list[Lit] = []  # a call's period ends at the instant
    covered_before: Lit = False
    for k, instant in enumerate(instants):
        ending_calls: list[Lit] = [literal(p) for p in calls if p.end_with_transition == instant]
        went_on = at_least([reached[-1], covered_before], [], f"went-on:{person}:{k}") if reached else False
        reach = any_of([*ending_calls, went_on], f"reached:{person}:{k}")
        covering: list[Lit] = [literal(p) for p in pieces if p.start <= instant < p.end_with_transition]
        covered = any_of(covering, f"covered:{person}:{k}")
        ends.append(at_least([reach], [covered], f"ends:{person}:{k}"))
        reached.append(reach)
        covered_before = covered
    for piece in pieces:
        if piece.day is None:
            continue
        lo = bisect.bisect_right(instants, piece.start - rest)
        hi = bisect.bisect_left(instants, piece.start)
        window: list[Lit] = [e for e in ends[lo:hi] if e is not False]
        if not window:
            continue
        after = True if any(e is True for e in window) else any_of(window, f"ended:{person}:{piece.day}:{piece.shift}")
        name = f"{person}:{piece.day}:{piece.shift}"
        ctx.not_all(
            [v for v in (literal(piece), after) if not isinstance(v, bool)],
            subject=f"person={person}",
            name=name,
            person=person,
        )
