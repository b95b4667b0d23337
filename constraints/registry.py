"""The rule registry and what a rule needs to add itself to a CP-SAT model.

A rule is a class with a stable ``name``, a default ``kind`` (hard or soft), a pydantic
``Params`` model, a ``build`` that adds its constraints through a :class:`BuildContext`
and a ``check`` that finds its violations in a finished :class:`Schedule` without the
solver. Hard constraints are guarded by one enforcement literal per rule × subject (so an
infeasibility can be explained in those words); soft ones return named, weighted penalties.
Rules never touch the objective.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict

from rotaflow.constraints.instance import Cell, Instance, Schedule

__all__ = [
    "RULES",
    "BuildContext",
    "Guard",
    "Penalty",
    "Rule",
    "RuleKind",
    "Selector",
    "Term",
    "Variables",
    "Violation",
    "register",
]

RuleKind = Literal["hard", "soft"]
Term = tuple[int, cp_model.IntVar | cp_model.LiteralT]


class Selector(BaseModel):
    """``applies_to``: which people (and days, by rotation) a rule binds."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["resident", "faculty"] | None = None
    pgy: list[int] | None = None
    person_ids: list[str] | None = None
    rotation: list[str] | None = None

    def person_matches(self, instance: Instance, person_id: str) -> bool:
        person = instance.person[person_id]
        if self.role is not None and person.role != self.role:
            return False
        if self.pgy is not None and person.pgy not in self.pgy:
            return False
        return self.person_ids is None or person_id in self.person_ids

    def day_matches(self, instance: Instance, person_id: str, day: int) -> bool:
        if self.rotation is None:
            return True
        return instance.rotation.get((person_id, day)) in self.rotation


@dataclass(frozen=True)
class Violation:
    """A broken rule in a finished schedule (day indexes inclusive)."""

    rule: str
    person: str | None
    first_day: int
    last_day: int
    value: float
    limit: float
    unit: str
    message: str
    severity: Literal["violation", "warning"] = "violation"
    shift: str | None = None
    """The shift of a per-shift violation (on ``first_day``); None for one over a window."""


@dataclass
class Penalty:
    """A named, weighted soft-rule term: ``weight × value`` enters the objective."""

    rule: str
    name: str
    weight: int
    terms: list[Term]
    constant: int = 0


@dataclass
class Guard:
    """The enforcement literal of one rule × subject group of hard constraints."""

    rule: str
    subject: str
    literal: cp_model.IntVar
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.rule}({self.subject})"


class Variables:
    """The decisions: ``is_assigned(person, day, shift)``, with derived day indicators."""

    def __init__(self, model: cp_model.CpModel, instance: Instance) -> None:
        self.model = model
        self.instance = instance
        self._x: dict[Cell, cp_model.IntVar] = {}
        self._rows: dict[str, list[cp_model.IntVar]] = {}
        shift_ids = instance.shift_ids
        new_bool_var = model.new_bool_var
        for person in instance.person_ids:  # the order of ``instance.cells``
            row = self._rows[person] = []
            for day in range(instance.days):
                for shift in shift_ids:
                    var = new_bool_var(f"x[{person},{day},{shift}]")
                    self._x[(person, day, shift)] = var
                    row.append(var)
        self._works: dict[tuple[str, int], cp_model.IntVar] = {}
        self._indices: dict[Cell, int] | None = None
        self._one_a_day: dict[tuple[str, int], cp_model.IntVar] = {}
        # id(literal) → (literal, its negation); the literal is kept so its id is never reused
        self._negations: dict[int, tuple[Any, Any]] = {}
        self._negated_rows: dict[str, list[Any]] = {}
        self._refs: dict[str, list[int]] = {}
        # id(variable) → (variable, least, greatest value); every decision is Boolean
        self._bounds: dict[int, tuple[Any, int, int]] = {id(v): (v, 0, 1) for v in self._x.values()}

    def is_assigned(self, person: str, day: int, shift: str) -> cp_model.IntVar:
        return self._x[(person, day, shift)]

    def row(self, person: str) -> list[cp_model.IntVar]:
        """The person's decisions in ``instance.slot_list`` order (by day, then shift)."""
        return self._rows[person]

    def negated_row(self, person: str) -> list[Any]:
        """The negations of ``row(person)``, made once (the same objects ``negation`` returns)."""
        found = self._negated_rows.get(person)
        if found is None:
            negation = self.negation
            found = self._negated_rows[person] = [negation(v) for v in self._rows[person]]
        return found

    def refs(self, person: str) -> list[int]:
        """The model's references of ``row(person)`` (each decision's index), read once: a rule that
        passes references instead of the variables saves reading each variable's index again."""
        found = self._refs.get(person)
        if found is None:
            found = self._refs[person] = [v.index for v in self._rows[person]]
        return found

    def on_day(self, person: str, day: int) -> list[cp_model.IntVar]:
        size = len(self.instance.shift_ids)
        return self._rows[person][day * size : (day + 1) * size]

    def negation(self, literal: Any) -> Any:
        """``literal.Not()``, made once per literal object (a negation costs a call into the solver's library)."""
        hit = self._negations.get(id(literal))
        if hit is None:
            hit = self._negations[id(literal)] = (literal, literal.Not())
        return hit[1]

    def bounds(self, var: Any) -> tuple[int, int]:
        """The least and greatest value of a variable or literal (read from the model once)."""
        hit = self._bounds.get(id(var))
        if hit is not None:
            return hit[1], hit[2]
        if type(var) is _NOT:
            return 0, 1
        low, high = _var_bounds(var)
        self._bounds[id(var)] = (var, low, high)
        return low, high

    def works(self, person: str, day: int) -> cp_model.IntVar:
        """1 when the person starts any shift on the day."""
        key = (person, day)
        if key not in self._works:
            shifts = self.on_day(person, day)
            if len(shifts) == 1:
                self._works[key] = shifts[0]
                return shifts[0]
            var = self.model.new_bool_var(f"works[{person},{day}]")
            self.model.add_max_equality(var, shifts)
            self._works[key] = var
            self._bounds[id(var)] = (var, 0, 1)
            if key in self._one_a_day:
                self._link(key)
        return self._works[key]

    def declare_one_a_day(self, person: str, day: int, literal: cp_model.IntVar) -> None:
        """A rule enforces at most one shift for the person on the day whenever ``literal`` holds.

        ``works`` is then also the plain sum of the day's shifts (under ``literal``): the same
        meaning as their maximum, but a linear equality that tightens the LP relaxation.
        """
        key = (person, day)
        if key in self._one_a_day:
            return
        self._one_a_day[key] = literal
        if key in self._works:
            self._link(key)

    def _link(self, key: tuple[str, int]) -> None:
        var = self._works[key]
        shifts = self.on_day(*key)
        if len(shifts) > 1:
            self.model.add(var == cp_model.LinearExpr.sum(shifts)).only_enforce_if(self._one_a_day[key])

    def indices(self) -> dict[Cell, int]:
        """Each cell's variable index in the model proto (for hints and fixings in bulk)."""
        if self._indices is None:
            self._indices = {cell: var.index for cell, var in self._x.items()}
        return self._indices

    def literals(self, values: Mapping[Cell, bool]) -> list[int]:
        """Proto literals saying each cell has its value (index when true, -index-1 when false)."""
        indices = self.indices()
        return [indices[cell] if value else -indices[cell] - 1 for cell, value in values.items()]

    def hint(self, model: cp_model.CpModel, cells: Iterable[Cell]) -> None:
        """Hint ``model`` (this one or a copy of it) with the schedule of ``cells``: every cell."""
        chosen = set(cells)
        indices = self.indices()
        model.clear_hints()
        model.proto.solution_hint.vars.extend(indices.values())
        model.proto.solution_hint.values.extend([int(cell in chosen) for cell in indices])

    def fix(self, person: str, day: int, shift: str, value: bool) -> None:
        self.model.add(self._x[(person, day, shift)] == int(value))

    def items(self) -> Iterable[tuple[Cell, cp_model.IntVar]]:
        return self._x.items()

    def extract(self, value: Callable[[cp_model.IntVar], int]) -> frozenset[Cell]:
        return frozenset(cell for cell, var in self._x.items() if value(var))


class BuildContext:
    """What one configured rule sees while building: the model, the variables, its mode."""

    def __init__(
        self,
        *,
        model: cp_model.CpModel,
        variables: Variables,
        instance: Instance,
        rule: str,
        kind: RuleKind,
        weight: int,
        selector: Selector | None,
        guards: dict[str, Guard],
        penalties: list[Penalty],
    ) -> None:
        self.model = model
        self.x = variables
        self.instance = instance
        self.rule = rule
        self.kind = kind
        self.weight = weight
        self.selector = selector or Selector()
        self._guards = guards
        self._penalties = penalties
        self._people: list[str] | None = None
        self._last_subject: str | None = None
        self._last_guard: Any = None
        self._constraints = model.proto.constraints  # read once: ``model.proto`` is a property

    # ------------------------------------------------------------------ scope

    @property
    def people(self) -> list[str]:
        """People this rule binds (its ``applies_to``)."""
        if self._people is None:
            self._people = [p for p in self.instance.person_ids if self.selector.person_matches(self.instance, p)]
        return list(self._people)

    def applies(self, person: str, day: int) -> bool:
        return self.selector.day_matches(self.instance, person, day)

    @property
    def every_day(self) -> bool:
        """The rule binds its people on every day (no rotation in its ``applies_to``)."""
        return self.selector.rotation is None

    # ------------------------------------------------------------------ hard

    def guard(self, subject: str, **detail: Any) -> cp_model.IntVar:
        """The enforcement literal of this rule for ``subject`` (one per rule × subject)."""
        if subject == self._last_subject:  # rules add their constraints subject by subject
            return self._last_guard
        key = f"{self.rule}({subject})"
        found = self._guards.get(key)
        if found is None:
            literal = self.model.new_bool_var(f"guard:{key}")
            found = self._guards[key] = Guard(self.rule, subject, literal, dict(detail))
        self._last_subject, self._last_guard = subject, found.literal
        return found.literal

    # ------------------------------------------------------------------ both modes

    def at_most(
        self, terms: Sequence[Term], bound: int, *, subject: str, name: str, scale: int = 1, **detail: Any
    ) -> None:
        """``Σ terms ≤ bound``: a guarded constraint, or a penalty on the excess when soft."""
        variables, coefficients, low, high = self._split(terms)
        self._at_most(variables, coefficients, low, high, bound, subject, name, scale, detail)

    def at_least(
        self, terms: Sequence[Term], bound: int, *, subject: str, name: str, scale: int = 1, **detail: Any
    ) -> None:
        """``Σ terms ≥ bound``: a guarded constraint, or a penalty on the shortfall when soft."""
        variables, coefficients, low, high = self._split(terms)
        self._at_least(variables, coefficients, low, high, bound, subject, name, scale, detail)

    def at_most_literals(
        self,
        literals: Sequence[cp_model.LiteralT],
        coefficients: Sequence[int] | None,
        bound: int,
        *,
        subject: str,
        name: str,
        scale: int = 1,
        **detail: Any,
    ) -> None:
        """``at_most`` over Boolean literals (each 0 or 1), with their coefficients (None: all 1): the
        range of the sum comes from the coefficients alone, not from each variable. The literals may be
        given as the model's references instead (``int``: a variable's index, ``-index - 1`` its
        negation; see ``Variables.refs``), all of them or none."""
        variables, coefficients, low, high = _literal_terms(literals, coefficients)
        self._at_most(variables, coefficients, low, high, bound, subject, name, scale, detail)

    def at_least_literals(
        self,
        literals: Sequence[cp_model.LiteralT],
        coefficients: Sequence[int] | None,
        bound: int,
        *,
        subject: str,
        name: str,
        scale: int = 1,
        **detail: Any,
    ) -> None:
        """``at_least`` over Boolean literals (each 0 or 1), with their coefficients (None: all 1)."""
        variables, coefficients, low, high = _literal_terms(literals, coefficients)
        self._at_least(variables, coefficients, low, high, bound, subject, name, scale, detail)

    def not_all(
        self,
        literals: Sequence[cp_model.LiteralT],
        *,
        subject: str,
        name: str,
        scale: int = 1,
        **detail: Any,
    ) -> None:
        """Not every literal may be true (e.g. two shifts that overlap).

        Hard, this is the clause "some literal is false" under the guard; soft, a penalty on ``Σ ≤ n - 1``.
        The literals may be given as references, as for ``at_most_literals``.
        """
        if not literals:
            return
        if self.kind == "hard":  # some literal false: "not l" is -index - 1
            self.some_true([-r - 1 for r in _refs_of(literals)], subject=subject, name=name, **detail)
            return
        self.at_most_literals(literals, None, len(literals) - 1, subject=subject, name=name, scale=scale, **detail)

    def some_true(self, refs: Sequence[int], *, subject: str, name: str, scale: int = 1, **detail: Any) -> None:
        """Some literal of ``refs`` (the model's references, ``-index - 1`` a negation) is true: the clause
        under the guard when hard; soft, a Boolean excess that the clause lets be 0 only when it holds (a
        penalty of one when no literal is true). What ``at_least_literals(…, None, 1)`` means, written as the
        clause CP-SAT reads directly, and cheaper to write."""
        constraint = self._constraints.add()
        if self.kind == "hard":
            constraint.enforcement_literal.append(self.guard(subject, **detail).index)
            constraint.bool_or.literals.extend(refs)
            return
        excess = self.model.new_bool_var(f"excess:{self.rule}:{name}")
        constraint.bool_or.literals.extend([*refs, excess.index])
        self._penalties.append(Penalty(self.rule, name, self.weight * scale, [(1, excess)]))

    def forbid(self, literal: cp_model.IntVar, *, subject: str, name: str, scale: int = 1, **detail: Any) -> None:
        self.not_all([literal], subject=subject, name=name, scale=scale, **detail)

    def forbid_all(
        self,
        literals: Sequence[cp_model.LiteralT],
        names: Sequence[str],
        *,
        subject: str,
        scale: int = 1,
        **detail: Any,
    ) -> None:
        """``forbid`` each literal, all under one subject: hard, one conjunction under the guard (the same
        meaning as one constraint each); soft, a penalty each, named by ``names``."""
        if not literals:
            return
        if self.kind == "hard":
            constraint = self._constraints.add()  # straight into the proto: "not l" is -index - 1
            constraint.enforcement_literal.append(self.guard(subject, **detail).index)
            constraint.bool_and.literals.extend([-r - 1 for r in _refs_of(literals)])
            return
        for literal, name in zip(literals, names, strict=True):
            self.at_most_literals([literal], None, 0, subject=subject, name=name, scale=scale, **detail)

    # ------------------------------------------------------------------ soft only

    def penalize(self, terms: Sequence[Term], *, name: str, constant: int = 0, scale: int = 1) -> None:
        """Add ``weight × scale × (Σ terms + constant)`` to the objective (soft rules)."""
        if terms or constant:
            self._penalties.append(Penalty(self.rule, name, self.weight * scale, list(terms), constant))

    # ------------------------------------------------------------------ internals

    def _split(self, terms: Sequence[Term]) -> tuple[list[Any], list[int], int, int]:
        """The variables and coefficients of the terms with a coefficient, and the least and greatest
        value of their sum (each variable's domain read once per build)."""
        variables: list[Any] = []
        coefficients: list[int] = []
        low = high = 0
        bounds = self.x.bounds
        for coefficient, var in terms:
            if coefficient:
                lo, hi = bounds(var)
                variables.append(var)
                coefficients.append(coefficient)
                if coefficient > 0:
                    low += coefficient * lo
                    high += coefficient * hi
                else:
                    low += coefficient * hi
                    high += coefficient * lo
        return variables, coefficients, low, high

    def _at_most(
        self,
        variables: list[Any],
        coefficients: list[int],
        low: int,
        high: int,
        bound: int,
        subject: str,
        name: str,
        scale: int,
        detail: dict[str, Any],
    ) -> None:
        if high <= bound:
            return  # can never be broken
        refs = _refs(variables)
        if refs is not None:
            if self.kind == "hard":
                _linear(self._constraints, refs, coefficients, INT_MIN, bound, self.guard(subject, **detail).index)
                return
            excess = self.model.new_int_var(0, high - bound, f"excess:{self.rule}:{name}")
            _linear(self._constraints, [*refs, excess.index], [*coefficients, -1], INT_MIN, bound)
            self._penalties.append(Penalty(self.rule, name, self.weight * scale, [(1, excess)]))
            return
        expression = cp_model.LinearExpr.weighted_sum(variables, coefficients)
        if self.kind == "hard":
            self.model.add(expression <= bound).only_enforce_if(self.guard(subject, **detail))
            return
        excess = self.model.new_int_var(0, high - bound, f"excess:{self.rule}:{name}")
        self.model.add(expression - bound <= excess)
        self._penalties.append(Penalty(self.rule, name, self.weight * scale, [(1, excess)]))

    def _at_least(
        self,
        variables: list[Any],
        coefficients: list[int],
        low: int,
        high: int,
        bound: int,
        subject: str,
        name: str,
        scale: int,
        detail: dict[str, Any],
    ) -> None:
        if bound <= low:
            return
        refs = _refs(variables)
        if refs is not None:
            if self.kind == "hard":
                _linear(self._constraints, refs, coefficients, bound, INT_MAX, self.guard(subject, **detail).index)
                return
            shortfall = self.model.new_int_var(0, bound - low, f"short:{self.rule}:{name}")
            _linear(self._constraints, [*refs, shortfall.index], [*coefficients, 1], bound, INT_MAX)
            self._penalties.append(Penalty(self.rule, name, self.weight * scale, [(1, shortfall)]))
            return
        expression = cp_model.LinearExpr.weighted_sum(variables, coefficients)
        if self.kind == "hard":
            self.model.add(expression >= bound).only_enforce_if(self.guard(subject, **detail))
            return
        shortfall = self.model.new_int_var(0, bound - low, f"short:{self.rule}:{name}")
        self.model.add(bound - expression <= shortfall)
        self._penalties.append(Penalty(self.rule, name, self.weight * scale, [(1, shortfall)]))


_NOT = cp_model.NotBooleanVariable if hasattr(cp_model, "NotBooleanVariable") else type(None)
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # the model's unbounded ends of a domain


def _refs(literals: Sequence[Any]) -> list[int] | None:
    """Each variable's or literal's reference in the model (a negated literal's is ``-i - 1``), or None
    when one is a constant or an expression. References (``int``) pass as they are."""
    if literals and type(literals[0]) is int:
        if set(map(type, literals)) == {int}:
            return list(literals)
        raise TypeError("references and literals mixed in one sum")
    try:
        return [v.index for v in literals]
    except AttributeError:
        return None


def _refs_of(literals: Sequence[Any]) -> list[int]:
    """The references of Boolean literals or references (a clause has no constant or expression)."""
    refs = _refs(literals)
    if refs is None:
        raise TypeError("a clause takes Boolean literals or their references")
    return refs


def add_linear(
    model: cp_model.CpModel,
    refs: Sequence[int],
    coefficients: Sequence[int],
    low: int,
    high: int,
    enforcement: int | None = None,
) -> None:
    """``low ≤ Σ c·ref ≤ high`` (under the literal ``enforcement``) written straight into the model's proto,
    as ``model.add`` writes it: a negated literal ``-i - 1`` reads as ``1 - x_i``, each variable appears
    once, an unbounded end stays ``INT_MIN``/``INT_MAX``. Several times cheaper than building the sum."""
    _linear(model.proto.constraints, refs, coefficients, low, high, enforcement)


def _linear(
    constraints: Any,
    refs: Sequence[int],
    coefficients: Sequence[int],
    low: int,
    high: int,
    enforcement: int | None = None,
) -> None:
    """``add_linear`` into the model proto's list of constraints (read once by a caller adding many)."""
    variables: Sequence[int] = refs
    kept: Sequence[int] = coefficients
    offset = 0
    if len(refs) != len(coefficients):
        raise ValueError(f"{len(refs)} variables but {len(coefficients)} coefficients")
    if refs and min(refs) < 0:  # some negated literal: 1 - x_i
        variables, kept = [], []
        for ref, coefficient in zip(refs, coefficients, strict=True):
            if ref >= 0:
                variables.append(ref)
                kept.append(coefficient)
            else:
                variables.append(-ref - 1)
                kept.append(-coefficient)
                offset += coefficient
    if len(set(variables)) != len(variables):
        merged: dict[int, int] = {}
        for var, coefficient in zip(variables, kept, strict=True):
            merged[var] = merged.get(var, 0) + coefficient
        variables = [var for var, coefficient in merged.items() if coefficient]
        kept = [coefficient for coefficient in merged.values() if coefficient]
    constraint = constraints.add()
    if enforcement is not None:
        constraint.enforcement_literal.append(enforcement)
    linear = constraint.linear
    linear.vars.extend(variables)
    linear.coeffs.extend(kept)
    linear.domain.extend([low if low == INT_MIN else low - offset, high if high == INT_MAX else high - offset])


def _literal_terms(
    literals: Sequence[cp_model.LiteralT], coefficients: Sequence[int] | None
) -> tuple[list[Any], list[int], int, int]:
    """Variables, coefficients and the range of ``Σ c·l`` over Boolean literals (zero coefficients dropped)."""
    if coefficients is None:
        variables = list(literals)
        return variables, [1] * len(variables), 0, len(variables)
    if len(coefficients) != len(literals):
        raise ValueError(f"{len(literals)} literals but {len(coefficients)} coefficients")
    if coefficients and min(coefficients) > 0:  # the usual case: minutes, counts
        return list(literals), list(coefficients), 0, sum(coefficients)
    variables, kept = [], []
    low = high = 0
    for coefficient, literal in zip(coefficients, literals, strict=True):
        if coefficient:
            variables.append(literal)
            kept.append(coefficient)
            if coefficient > 0:
                high += coefficient
            else:
                low += coefficient
    return variables, kept, low, high


def _var_bounds(var: Any) -> tuple[int, int]:
    """The least and greatest value of one variable or literal."""
    if getattr(var, "is_boolean", True):  # a Boolean variable or its negation: 0 or 1 (no proto to read)
        return 0, 1
    domain = list(cast(cp_model.IntVar, var).proto.domain)
    return (domain[0], domain[-1]) if domain else (0, 1)


def _range(terms: Sequence[Term]) -> tuple[int, int]:
    """The least and greatest value ``Σ c·v`` can take, from each variable's domain."""
    low = high = 0
    for coefficient, var in terms:
        lo, hi = _var_bounds(var)
        low += min(coefficient * lo, coefficient * hi)
        high += max(coefficient * lo, coefficient * hi)
    return low, high


class NoParams(BaseModel):
    """The parameters of a rule that takes none."""

    model_config = ConfigDict(extra="forbid")


class Rule:
    """Base of every rule: subclasses set the class variables and implement both methods."""

    name: ClassVar[str]
    summary: ClassVar[str]
    default_kind: ClassVar[RuleKind] = "hard"
    kinds: ClassVar[frozenset[RuleKind]] = frozenset({"hard", "soft"})
    unit: ClassVar[str] = ""
    personal: ClassVar[bool] = False
    """Its checker reports only on the people it is given, from their own shifts: a schedule can be
    checked one person at a time (the contingency analysis re-checks only the people it changes)."""
    independently_checked: ClassVar[bool] = False
    """The independent validators (``rotaflow.validations.acgme``, ``coverage``) recompute it, so a
    validation leaves it out of the engine's checkers."""

    Params: ClassVar[type[BaseModel]] = NoParams

    def build(self, ctx: BuildContext, params: Any) -> None:
        raise NotImplementedError

    def check(self, schedule: Schedule, params: Any, people: list[str], selector: Selector) -> list[Violation]:
        raise NotImplementedError


RULES: dict[str, type[Rule]] = {}
"""Every registered rule by its stable name."""


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: add a rule to the registry under its name."""
    if cls.name in RULES and RULES[cls.name] is not cls:
        raise ValueError(f"two rules are named {cls.name}")
    RULES[cls.name] = cls
    return cls


def windows(first: int, last: int, length: int) -> list[tuple[int, int]]:
    """Every window of ``length`` days (first, last inclusive) that overlaps days first..last."""
    return [(start, start + length - 1) for start in range(first - length + 1, last + 1)]


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


__all__ += ["ceil_div", "windows"]
