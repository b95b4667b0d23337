"""forbidden_successions: some shifts may not be followed by certain shifts the next day.

A shift worked in history on the day before the block counts: the block's first day may not hold
a shift that may not follow it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rotaflow.constraints.instance import Schedule
from rotaflow.constraints.registry import BuildContext, Rule, Selector, Violation, register
from rotaflow.constraints.rules._common import date_label, history_days


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pairs: list[tuple[str, str]] = Field(default=[], description="(shift, shift that may not follow next day)")


_Params = Params


@register
class ForbiddenSuccessions(Rule):
    """A listed shift is never followed the next day by a shift it may not precede."""

    name = "forbidden_successions"
    summary = "forbidden shift sequences on consecutive days"
    unit = "shifts"
    Params = Params
    personal = True

    def build(self, ctx: BuildContext, params: _Params) -> None:
        inst = ctx.instance
        pairs = [(a, b) for a, b in params.pairs if a in inst.shift and b in inst.shift]
        if ctx.kind == "hard":
            # One implication per shift worked (a → none of its forbidden successors), not one
            # constraint per pair: the same meaning, several times fewer constraints to load.
            followers: dict[str, list[str]] = {}
            for a, b in pairs:
                if b not in followers.setdefault(a, []):
                    followers[a].append(b)
            size = len(inst.shift_ids)
            plan = [
                (inst.shift_position[a], [inst.shift_position[b] for b in banned]) for a, banned in followers.items()
            ]
            add_bool_and = ctx.model.add_bool_and
            for person in ctx.people:
                guard = ctx.guard(f"person={person}", person=person)
                row, negated = ctx.x.row(person), ctx.x.negated_row(person)
                before = history_days(inst, person).get(-1, set()) if inst.history_of(person) else set()
                for a in sorted(before & set(followers)):
                    add_bool_and([negated[inst.shift_position[b]] for b in followers[a]]).only_enforce_if(guard)
                for day in range(inst.days - 1):
                    today, tomorrow = day * size, (day + 1) * size
                    for worked, barred in plan:
                        add_bool_and([negated[tomorrow + k] for k in barred]).only_enforce_if(
                            [row[today + worked], guard]
                        )
            return
        for person in ctx.people:
            before = history_days(inst, person).get(-1, set())
            for a, b in pairs:
                if a in before:
                    ctx.not_all(
                        [ctx.x.is_assigned(person, 0, b)],
                        subject=f"person={person}",
                        name=f"{person}:-1:{a}:{b}",
                        person=person,
                    )
            for day in range(inst.days - 1):
                for a, b in pairs:
                    ctx.not_all(
                        [ctx.x.is_assigned(person, day, a), ctx.x.is_assigned(person, day + 1, b)],
                        subject=f"person={person}",
                        name=f"{person}:{day}:{a}:{b}",
                        person=person,
                    )

    def check(self, schedule: Schedule, params: _Params, people: list[str], selector: Selector) -> list[Violation]:
        inst = schedule.instance
        forbidden = set(map(tuple, params.pairs))
        worked = set(schedule.cells)
        worked |= {(p, -1, a) for p in people for a in history_days(inst, p).get(-1, set()) if a in inst.shift}
        return [
            Violation(
                self.name,
                p,
                d,
                d + 1,
                1,
                0,
                "shifts",
                f"{p} works {a} on {date_label(inst, d)} and then {b}, which may not follow it",
            )
            for p, d, a in sorted(worked)
            if p in people
            for b in inst.shift_ids
            if (a, b) in forbidden and (p, d + 1, b) in schedule.cells
        ]
