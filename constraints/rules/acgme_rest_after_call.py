"""acgme_rest_after_call: 14 hours free after a 24-hour in-house call (VI.F.2.b / 6.21.a)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from constraints.instance import Instance, Schedule
from constraints.registry import BuildContext, Rule, Selector, Violation, register
from constraints.rules._common import date_label, slot_pairs


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_rest_hours: float = Field(default=14.0, ge=0)
    min_call_hours: float = Field(default=23.0, gt=0, description="scheduled length that makes a 24-hour call")


_Params = Params


def is_long_call(inst: Instance, shift: str, scheduled_minutes: int, params: _Params) -> bool:
    return inst.shift[shift].in_house_call and scheduled_minutes >= params.min_call_hours * 60


@register
class AcgmeRestAfterCall(Rule):
    """After a 24-hour in-house call, the next shift starts at least 14 hours after it ends."""

    name = "acgme_rest_after_call"
    summary = "14 hours free after 24-hour call"
    unit = "hours"
    Params = Params

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        rest = dt.timedelta(hours=params.min_rest_hours)
        pairs = [
            (a, b)
            for a, b in slot_pairs(inst, max_gap=rest)
            if is_long_call(inst, a.shift, a.scheduled_minutes, params)
            and a.end_with_transition <= b.start < a.end_with_transition + rest
        ]
        for person in ctx.people:
            for a, b in pairs:
                ctx.not_all(
                    [ctx.x.is_assigned(person, a.day, a.shift), ctx.x.is_assigned(person, b.day, b.shift)],
                    subject=f"person={person}",
                    name=f"{person}:{a.day}:{b.day}:{b.shift}",
                    person=person,
                )
            for past in inst.history:
                if past.person != person or not (
                    past.in_house_call and past.scheduled_minutes >= params.min_call_hours * 60
                ):
                    continue
                for slot in inst.slots():
                    if past.end_with_transition <= slot.start < past.end_with_transition + rest:
                        ctx.forbid(
                            ctx.x.is_assigned(person, slot.day, slot.shift),
                            subject=f"person={person}",
                            name=f"{person}:history:{slot.day}:{slot.shift}",
                            person=person,
                        )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        rest = dt.timedelta(hours=params.min_rest_hours)
        out = []
        for person in people:
            mine = schedule.by_person[person]
            calls: list[Any] = [s for s in mine if is_long_call(inst, s.shift, s.scheduled_minutes, params)]
            calls += [
                h
                for h in inst.history
                if h.person == person and h.in_house_call and h.scheduled_minutes >= params.min_call_hours * 60
            ]
            for call in calls:
                for nxt in mine:
                    gap = nxt.start - call.end_with_transition
                    if dt.timedelta(0) <= gap < rest:
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
                                f"{gap.total_seconds() / 3600:.1f} h after a 24-hour call",
                            )
                        )
        return out
