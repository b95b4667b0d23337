"""Rule sets: which rules apply, hard or soft, with weights, parameters and selectors.

A rule set is declarative YAML (``configs/constraints/*.yaml``); a program bundle's
``constraints.yaml`` overrides it entry by entry (matched by ``id``, which defaults to the
rule name): given fields replace the default's, ``enabled: false`` drops an entry, and new
ids add entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import rotaflow.constraints.rules  # noqa: F401  (registers every rule)
from rotaflow.configs.settings import CONFIG_DIR
from rotaflow.constraints.registry import RULES, Rule, RuleKind, Selector

__all__ = ["ConfiguredRule", "RuleEntry", "RuleSet", "RuleSetError", "configure", "load_ruleset", "merge_overrides"]

DEFAULT_DIR = CONFIG_DIR / "constraints"


class RuleSetError(ValueError):
    """The rule set names an unknown rule or gives invalid parameters; ``problems`` lists each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class RuleEntry(BaseModel):
    """One rule in a rule set."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    id: str | None = None
    enabled: bool = True
    kind: RuleKind | None = None
    weight: int = Field(default=1, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)
    applies_to: Selector | None = None

    @property
    def key(self) -> str:
        return self.id or self.rule


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    rules: list[RuleEntry]


@dataclass
class ConfiguredRule:
    """A rule ready to build and check: its implementation, mode, weight, parameters, scope."""

    key: str
    rule: Rule
    kind: RuleKind
    weight: int
    params: Any
    selector: Selector

    @property
    def name(self) -> str:
        return self.rule.name


def load_ruleset(path: Path | str | None = None) -> RuleSet:
    """Read a rule set file (default: configs/constraints/acgme-residency.yaml)."""
    path = Path(path) if path is not None else DEFAULT_DIR / "acgme-residency.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RuleSetError([f"{path.name}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors()]) from exc


def merge_overrides(base: RuleSet, overrides: dict[str, Any] | None, *, source: str = "constraints.yaml") -> RuleSet:
    """Apply a bundle's ``constraints.yaml`` (``rules:`` list of partial entries) to a rule set."""
    if not overrides:
        return base
    problems: list[str] = []
    unknown = set(overrides) - {"rules", "name", "description"}
    if unknown:
        problems.append(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; expected rules")
    entries = {e.key: e.model_dump(exclude_none=True) for e in base.rules}
    order = [e.key for e in base.rules]
    for n, item in enumerate(overrides.get("rules") or [], start=1):
        if not isinstance(item, dict) or "rule" not in item and "id" not in item:
            problems.append(f"{source}: rules[{n}]: expected a mapping with a rule name")
            continue
        key = item.get("id") or item["rule"]
        if key in entries:
            merged = {**entries[key], **item}
            if "params" in item and isinstance(item["params"], dict):
                merged["params"] = {**entries[key].get("params", {}), **item["params"]}
            entries[key] = merged
        else:
            entries[key] = dict(item)
            order.append(key)
    rules = []
    for key in order:
        try:
            rules.append(RuleEntry.model_validate(entries[key]))
        except ValidationError as exc:
            problems += [f"{source}: rule {key}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors()]
    if problems:
        raise RuleSetError(problems)
    return RuleSet(
        name=str(overrides.get("name", base.name)),
        description=str(overrides.get("description", base.description)),
        rules=rules,
    )


def configure(ruleset: RuleSet) -> list[ConfiguredRule]:
    """Check every entry against the registry and validate its parameters (hard rules first)."""
    problems: list[str] = []
    out: list[ConfiguredRule] = []
    for entry in ruleset.rules:
        if not entry.enabled:
            continue
        cls = RULES.get(entry.rule)
        if cls is None:
            problems.append(f"rule {entry.rule!r} is not a registered rule (known: {', '.join(sorted(RULES))})")
            continue
        kind = entry.kind or cls.default_kind
        if kind not in cls.kinds:
            problems.append(f"rule {entry.rule} cannot be {kind}; it can be {', '.join(sorted(cls.kinds))}")
            continue
        try:
            params = cls.Params.model_validate(entry.params)
        except ValidationError as exc:
            for err in exc.errors():
                problems.append(f"rule {entry.key}: params.{_where(err['loc'])}: {err['msg']}")
            continue
        out.append(ConfiguredRule(entry.key, cls(), kind, entry.weight, params, entry.applies_to or Selector()))
    if problems:
        raise RuleSetError(problems)
    out.sort(key=lambda c: c.kind != "hard")
    return out


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "(top)"
