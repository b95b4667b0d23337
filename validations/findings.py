"""What findings.csv's ``kind`` column says: the kind (hard or soft) of the rule a finding is about.

* A rule the program configures (``constraints.yaml``) has the kind it is configured with: a caller that
  knows the configured rules passes them as ``kinds``.
* Otherwise a ``violation`` is hard (a soft rule's findings are never violations: its breaches are
  warnings), and a warning or info of a registered rule has that rule's default kind
  (``coverage_target``, ``fairness``, ``shift_requests``… are soft; the ACGME rules are hard).
* A finding of an independent check that is no rule (``utilisation``, ``work_during_absence``) is hard
  when it is a violation and soft when it only warns or informs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

import rotaflow.constraints.rules  # noqa: F401  (registers every rule)
from rotaflow.constraints.registry import RULES
from rotaflow.validations.contracts import FINDING_COLUMNS

__all__ = ["finding_kind", "rule_kinds", "with_kinds"]


def finding_kind(rule: str, severity: str, kinds: Mapping[str, str] | None = None) -> str:
    """``hard`` or ``soft`` for a finding of ``rule`` with ``severity`` (see the module's docstring)."""
    if kinds is not None and rule in kinds:
        return str(kinds[rule])
    if severity == "violation":
        return "hard"
    if rule in RULES:
        return str(RULES[rule].default_kind)
    return "soft"


def rule_kinds(rules: Iterable[Any]) -> dict[str, str]:
    """``{rule name: configured kind}`` of configured rules (``ConfiguredRule``: ``name`` and ``kind``)."""
    return {str(r.name): str(r.kind) for r in rules}


def with_kinds(findings: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``findings`` with findings.csv's columns, in order, ``kind`` filled in where it is empty, ``date`` as
    timestamps and ``shift_id`` as text (empty where missing)."""
    out = findings.reindex(columns=FINDING_COLUMNS)
    given = [k if isinstance(k, str) and k else None for k in out["kind"]]
    computed = [finding_kind(str(r), str(s), kinds) for r, s in zip(out["rule"], out["severity"], strict=True)]
    out["kind"] = pd.Series([g or c for g, c in zip(given, computed, strict=True)], index=out.index, dtype=str)
    out["date"] = pd.to_datetime(out["date"])
    out["shift_id"] = out["shift_id"].astype(str)
    return out
