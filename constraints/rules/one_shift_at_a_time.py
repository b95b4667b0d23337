"""one_shift_at_a_time: nobody works two shifts that overlap in real time, across midnight too."""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any

from rotaflow.constraints.instance import Instance, Schedule
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
        cliques = _cliques(inst) if ctx.kind == "hard" and ctx.every_day else None
        pairs = [(a, b) for a, b in slot_pairs(inst, max_gap=dt.timedelta(0)) if b.start < a.end_with_transition]
        places = [(inst.position(a.day, a.shift), inst.position(b.day, b.shift)) for a, b in pairs]
        for person in ctx.people:
            subject = f"person={person}"
            refs = ctx.x.refs(person)
            if cliques is not None:
                # at most one of the shifts running at each instant a shift starts: every overlapping pair
                # runs at the later one's start, so this says what one constraint per pair says
                for members in cliques:
                    ctx.at_most_literals(
                        [refs[i] for i in members],
                        None,
                        1,
                        subject=subject,
                        name=f"{person}:{members[0]}",
                        person=person,
                    )
            else:
                for (a, b), (i, j) in zip(pairs, places, strict=True):
                    if ctx.applies(person, a.day) or ctx.applies(person, b.day):
                        ctx.not_all(
                            [refs[i], refs[j]],
                            subject=subject,
                            name=f"{person}:{a.day}:{a.shift}:{b.shift}",
                            person=person,
                        )
            past = inst.history_of(person)
            if past:
                hit = [
                    (i, slot)
                    for p in past
                    for i in inst.timeline.overlapping(p.start, p.end_with_transition)
                    for slot in (inst.slot_list[i],)
                    if p.start < slot.end_with_transition
                ]
                ctx.forbid_all(
                    [refs[i] for i, _ in hit],
                    [f"{person}:{slot.day}:{slot.shift}:history" for _, slot in hit],
                    subject=subject,
                    person=person,
                )

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        out = []
        for person in people:
            slots = schedule.by_person.get(person, [])
            past = [(h.start, h.end_with_transition) for h in inst.history if h.person == person]
            starts = [o.start for o in slots]
            longest = max((o.end_with_transition - o.start for o in slots), default=dt.timedelta(0))
            # each overlap is reported on the later-starting shift, its date and shift (on the block's own
            # shift when the other was worked before the block), as the independent check does
            for i, slot in enumerate(slots):
                others = [(start, end, slot.day) for start, end in past]
                # an earlier shift of the block can overlap this one only if it starts less than the longest
                # shift before it (the shifts are in order of start)
                near = bisect.bisect_right(starts, slot.start - longest, 0, i)
                others += [(o.start, o.end_with_transition, o.day) for o in slots[near:i]]
                for start, end, other_day in others:
                    overlap = (min(end, slot.end_with_transition) - max(start, slot.start)).total_seconds() / 3600
                    if overlap > 0 and (
                        selector.day_matches(inst, person, slot.day) or selector.day_matches(inst, person, other_day)
                    ):
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


def _cliques(inst: Instance) -> list[list[int]] | None:
    """Places (in ``slot_list``) of the slots running at each instant a slot starts, those held in another
    left out; None when some slot takes no time (it would overlap a longer one only at its start)."""
    slots = inst.slot_list
    if any(s.end_with_transition <= s.start for s in slots):
        return None
    found = {frozenset(inst.timeline.overlapping(t, t + _TICK)) for t in sorted({s.start for s in slots})}
    ordered = sorted(found, key=len, reverse=True)
    kept: list[frozenset[int]] = []
    for members in ordered:
        if len(members) > 1 and not any(members <= k for k in kept):
            kept.append(members)
    return [sorted(k) for k in kept]


_TICK = dt.timedelta(microseconds=1)
