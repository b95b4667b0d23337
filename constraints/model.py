"""Build the CP-SAT model of an instance from a configured rule set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.registry import BuildContext, Guard, Penalty, Variables, Violation
from rotaflow.constraints.ruleset import ConfiguredRule

__all__ = ["BuiltModel", "build_model", "check_schedule", "penalty_objective"]


@dataclass
class BuiltModel:
    """The model, its decision variables, the guard of every hard group and the soft penalties."""

    model: cp_model.CpModel
    x: Variables
    instance: Instance
    rules: list[ConfiguredRule]
    guards: dict[str, Guard] = field(default_factory=dict)
    penalties: list[Penalty] = field(default_factory=list)

    def enforce_all(self) -> None:
        """Make every hard group binding (for a normal solve; diagnosis uses assumptions instead)."""
        for guard in self.guards.values():
            self.model.add(guard.literal == 1)


def build_model(instance: Instance, rules: list[ConfiguredRule], *, enforce: bool = True) -> BuiltModel:
    """The model of ``instance`` under ``rules``: each rule's groups, then the pins and the frozen days.

    Every pin is a guard of its own (rule ``pinned``); every frozen day (``instance.frozen_days``)
    is one guard (rule ``frozen``, subject ``date=…``) holding that day's cells exactly as in
    ``instance.previous``, so a diagnosis can name the published day a repair may not touch.
    """
    model = cp_model.CpModel()
    built = BuiltModel(model, Variables(model, instance), instance, rules)
    for configured in rules:
        ctx = BuildContext(
            model=model,
            variables=built.x,
            instance=instance,
            rule=configured.name,
            kind=configured.kind,
            weight=configured.weight,
            selector=configured.selector,
            guards=built.guards,
            penalties=built.penalties,
        )
        configured.rule.build(ctx, configured.params)
    for (person, day, shift), value in sorted(instance.pins.items()):
        subject = f"person={person}, date={instance.date(day).isoformat()}, shift={shift}"
        literal = model.new_bool_var(f"guard:pinned({subject})")
        model.add(built.x.is_assigned(person, day, shift) == int(value)).only_enforce_if(literal)
        built.guards[f"pinned({subject})"] = Guard("pinned", subject, literal, {"person": person, "day": day})
    for day in range(max(0, min(instance.frozen_days, instance.days))):
        subject = f"date={instance.date(day).isoformat()}"
        literal = model.new_bool_var(f"guard:frozen({subject})")
        kept = []  # each cell of the day as published: assigned iff in previous
        for person in instance.person_ids:
            for shift in instance.shift_ids:
                var = built.x.is_assigned(person, day, shift)
                kept.append(var if (person, day, shift) in instance.previous else ~var)
        model.add_bool_and(kept).only_enforce_if(literal)
        built.guards[f"frozen({subject})"] = Guard("frozen", subject, literal, {"day": day})
    objective = penalty_objective(built.penalties)
    if objective is not None:
        model.minimize(objective)
    if enforce:
        built.enforce_all()
    return built


def penalty_objective(penalties: Sequence[Penalty]) -> Any:
    """``Σ weight × (Σ terms + constant)`` over the penalties: the objective; None when it is empty."""
    variables: list[Any] = []
    coefficients: list[int] = []
    constant, empty = 0, True
    for penalty in penalties:
        if penalty.weight:
            for c, v in penalty.terms:
                variables.append(v)
                coefficients.append(penalty.weight * c)
            if penalty.constant:
                constant += penalty.weight * penalty.constant
            empty = empty and not penalty.terms and not penalty.constant
    if empty:
        return None
    if not variables:
        return constant
    expression = cp_model.LinearExpr.weighted_sum(variables, coefficients)
    return expression + constant if constant else expression


def check_schedule(schedule: Schedule, rules: list[ConfiguredRule]) -> list[Violation]:
    """Every rule's own checker over a finished schedule (soft rules report warnings)."""
    out: list[Violation] = []
    inst = schedule.instance
    for configured in rules:
        people = [p for p in inst.person_ids if configured.selector.person_matches(inst, p)]
        for violation in configured.rule.check(schedule, configured.params, people, configured.selector):
            if configured.kind == "soft" and violation.severity == "violation":
                violation = Violation(**{**violation.__dict__, "severity": "warning"})
            out.append(violation)
    return out
