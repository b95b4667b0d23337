"""one_shift_at_a_time: nobody works two shifts that overlap in real time, across midnight too."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label, slot_pairs


@register
class OneShiftAtATime(Rule):
    """A person works at most one shift at any moment (transition time included)."""

    name = "one_shift_at_a_time"
    summary = "no two shifts of one person overlap in time"
    unit = "shifts"
    personal = True
    independently_checked = True

    def build(self, ctx: BuildContext, params: Any) -> None:
        inst = ctx.instance
        pairs = [(a, b) for a, b in slot_pairs(inst, max_gap=dt.timedelta(0)) if b.start < a.end_with_transition]
        for person in ctx.people:
            subject = f"person={person}"
            for a, b in pairs:
                if ctx.applies(person, a.day) or ctx.applies(person, b.day):
                    ctx.not_all(
                        [ctx.x.is_assigned(person, a.day, a.shift), ctx.x.is_assigned(person, b.day, b.shift)],
                        subject=subject,
                        name=f"{person}:{a.day}:{a.shift}:{b.shift}",
                        person=person,
                    )
            for past in inst.history:
                if past.person != person:
                    continue
                for slot in inst.slots():
                    if slot.start < past.end_with_transition and past.start < slot.end_with_transition:
                        ctx.forbid(
                            ctx.x.is_assigned(person, slot.day, slot.shift),
                            subject=subject,
                            name=f"{person}:{slot.day}:{slot.shift}:history",
                            person=person,
                        )

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            slots = schedule.by_person.get(person, [])
            past = [(h.start, h.end_with_transition) for h in inst.history if h.person == person]
            # each overlap is reported on the later-starting shift, its date and shift (on the block's own
            # shift when the other was worked before the block), as the independent check does
            for i, slot in enumerate(slots):
                others = [(start, end, slot.day) for start, end in past]
                others += [(o.start, o.end_with_transition, o.day) for o in slots[:i]]
                for start, end, other_day in others:
                    if not (
                        selector.day_matches(inst, person, slot.day) or selector.day_matches(inst, person, other_day)
                    ):
                        continue
                    overlap = (min(end, slot.end_with_transition) - max(start, slot.start)).total_seconds() / 3600
                    if overlap > 0:
                        out.append(
                            Violation(
                                self.name,
                                person,
                                slot.day,
                                slot.day,
                                round(overlap, 2),
                                0,
                                "hours",
                                f"{person} has two shifts overlapping by {overlap:.1f} h on "
                                f"{date_label(inst, slot.day)}",
                                shift=slot.shift,
                            )
                        )
        return out
