"""``rotaflow rules``: every registered rule, with its parameters as its ``Params`` model has them."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

import rotaflow.constraints.rules  # noqa: F401  (registers every rule)
from rotaflow.cli import main
from rotaflow.cli.rules import parameter, type_text
from rotaflow.constraints.registry import RULES
from rotaflow.constraints.ruleset import RuleEntry, RuleSet, RuleSetError, configure


def _listed(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    assert main(["rules", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return {rule["name"]: rule for rule in json.loads(captured.out)["rules"]}


def test_every_registered_rule_is_listed_with_its_summary_and_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    listed = _listed(capsys)
    assert sorted(listed) == sorted(RULES) and len(listed) >= 25
    for name, rule in RULES.items():
        assert listed[name]["summary"] == rule.summary
        assert listed[name]["default_kind"] == rule.default_kind
        assert listed[name]["kinds"] == sorted(rule.kinds)


def test_the_parameters_are_the_params_models(capsys: pytest.CaptureFixture[str]) -> None:
    listed = _listed(capsys)
    for name, rule in RULES.items():
        fields = rule.Params.model_fields
        params = listed[name]["params"]
        assert [p["name"] for p in params] == list(fields), name
        # the defaults listed are the ones a rule set that gives no params gets
        defaults = rule.Params.model_validate({}).model_dump(mode="json")
        assert {p["name"]: p["default"] for p in params} == defaults, name
        for item in params:
            assert item["required"] is False and item["description"] == fields[item["name"]].description


def test_the_kinds_listed_are_the_ones_a_rule_set_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    for name, rule in _listed(capsys).items():
        for kind in ("hard", "soft"):
            ruleset = RuleSet(name="one", rules=[RuleEntry(rule=name, kind=kind)])
            if kind in rule["kinds"]:
                assert configure(ruleset)[0].kind == kind
            else:
                with pytest.raises(RuleSetError, match=f"cannot be {kind}"):
                    configure(ruleset)


def test_types_bounds_and_defaults_as_an_author_reads_them(capsys: pytest.CaptureFixture[str]) -> None:
    weekly = {p["name"]: p for p in _listed(capsys)["acgme_weekly_hours"]["params"]}
    assert weekly["limit_hours"] == {
        "name": "limit_hours",
        "type": "float",
        "required": False,
        "default": 80.0,
        "bounds": {"gt": 0, "le": 88},
        "description": None,
    }
    assert weekly["averaging"]["type"] == "'rolling_28d' | 'block' | None"
    assert weekly["leave_excluded_from_average"]["type"] == "bool | None"

    class Params(BaseModel):
        needed: int = Field(ge=1, lt=10, description="must be given")
        pairs: list[tuple[str, str]] = []
        mode: Literal["a", "b"] | None = None

    needed, pairs, mode = (parameter(n, f) for n, f in Params.model_fields.items())
    assert needed == {
        "name": "needed",
        "type": "int",
        "required": True,
        "default": None,
        "bounds": {"ge": 1, "lt": 10},
        "description": "must be given",
    }
    assert (pairs["type"], pairs["default"]) == ("list[tuple[str, str]]", [])
    assert mode["type"] == "'a' | 'b' | None" == type_text(Literal["a", "b"] | None)
    assert type_text(dict[str, list[int]]) == "dict[str, list[int]]"


def test_the_table_shows_each_rule_its_kinds_and_parameters(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["rules"]) == 0
    shown = capsys.readouterr().out
    for name in RULES:  # names and kinds are never cut, even on 80 columns
        assert name in shown
    assert "hard only" in shown and "soft only" in shown and "hard (or soft)" in shown and "soft (or hard)" in shown
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["rules"]) == 0
    assert "limit_hours: float = 80.0, > 0, ≤ 88" in capsys.readouterr().out
