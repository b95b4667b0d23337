"""rotation_eligibility: a resident works only the shifts their rotation allows that day."""

from __future__ import annotations

from typing import Any

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label


@register
class RotationEligibility(Rule):
    """Only shifts the person's rotation (or role) makes them eligible for."""

    name = "rotation_eligibility"
    summary = "shifts only from the person's rotation"
    kinds = frozenset({"hard"})
    unit = "shifts"
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: Any) -> None:
        inst = ctx.instance
        if inst.allowed is None:
            return
        for person in ctx.people:
            row = ctx.x.row(person)
            banned = [
                (day, k, shift)
                for day in range(inst.days)
                for k, shift in enumerate(inst.shift_ids)
                if not inst.may_work(person, day, shift)
            ]
            size = len(inst.shift_ids)
            ctx.forbid_all(
                [row[day * size + k] for day, k, _ in banned],
                [f"{person}:{day}:{shift}" for day, _, shift in banned],
                subject=f"person={person}",
                person=person,
            )

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person, day, shift in sorted(schedule.cells):
            if person in people and not inst.may_work(person, day, shift):
                rotation = inst.rotation.get((person, day)) or "no rotation"
                out.append(
                    Violation(
                        self.name,
                        person,
                        day,
                        day,
                        1,
                        0,
                        "shifts",
                        f"{person} works {shift} on {date_label(inst, day)}, which {rotation} does not allow",
                        shift=shift,
                    )
                )
        return out
