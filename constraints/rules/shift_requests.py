"""shift_requests: grant on/off requests where possible (soft, weighted)."""

from __future__ import annotations

from typing import Any

from rotaflow.constraints.instance import RequestSpec, Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


def _granted(schedule: Schedule, r: RequestSpec) -> bool:
    worked = schedule.works(r.person, r.day, r.shift)
    return worked if r.kind == "on" else not worked


@register
class ShiftRequests(Rule):
    """Each request not granted costs its weight (times the rule's weight)."""

    name = "shift_requests"
    summary = "people's on/off requests"
    default_kind = "soft"
    kinds = frozenset({"soft"})
    unit = "requests"
    personal = True

    def build(self, ctx: BuildContext, params: Any) -> None:
        inst = ctx.instance
        scope = set(ctx.people)
        for n, r in enumerate(inst.requests):
            if r.person not in scope or not 0 <= r.day < inst.days or (r.shift and r.shift not in inst.shift):
                continue
            var = ctx.x.is_assigned(r.person, r.day, r.shift) if r.shift else ctx.x.works(r.person, r.day)
            if r.kind == "on":
                ctx.penalize([(-1, var)], constant=1, name=f"on:{n}", scale=r.weight)
            else:
                ctx.penalize([(1, var)], name=f"off:{n}", scale=r.weight)

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        return [
            Violation(
                self.name,
                r.person,
                r.day,
                r.day,
                r.weight,
                0,
                "requests",
                f"{r.person}'s request to {'work' if r.kind == 'on' else 'be off'} "
                f"{r.shift or 'the day'} on {date_label(inst, r.day)} was not granted",
                "warning",
                r.shift or None,
            )
            for r in inst.requests
            if r.person in people and 0 <= r.day < inst.days and not _granted(schedule, r)
        ]


def penalty(schedule: Schedule) -> int:
    """Exact penalty (weight 1): the weights of requests not granted."""
    inst = schedule.instance
    return sum(r.weight for r in inst.requests if 0 <= r.day < inst.days and not _granted(schedule, r))
