"""Rule sets: loading, validating and overriding which rules apply, and the registry behind them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rotaflow.constraints.registry import RULES, Rule, register
from rotaflow.constraints.ruleset import (
    DEFAULT_DIR,
    RuleEntry,
    RuleSet,
    RuleSetError,
    configure,
    load_ruleset,
    merge_overrides,
)

DEFAULT_FILE = DEFAULT_DIR / "acgme-residency.yaml"
RULE_TESTS = Path(__file__).resolve().parent / "rules"


def rules_of(ruleset: RuleSet) -> dict[str, RuleEntry]:
    return {e.key: e for e in ruleset.rules}


# ---------------------------------------------------------------------- the default rule set


def test_the_default_rule_set_loads_every_entry_of_its_file() -> None:
    ruleset = load_ruleset()
    listed = [entry["rule"] for entry in yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))["rules"]]
    assert ruleset.name == "acgme-residency"
    assert [e.rule for e in ruleset.rules] == listed
    assert load_ruleset(DEFAULT_FILE) == ruleset


def test_the_default_rule_set_configures_with_hard_rules_first() -> None:
    configured = configure(load_ruleset())
    kinds = [c.kind for c in configured]
    assert kinds == sorted(kinds, key=lambda k: k != "hard")
    assert {c.key: c.kind for c in configured if c.kind == "soft"} == {
        "acgme_rest_between_shifts": "soft",
        "coverage_target": "soft",
        "shift_requests": "soft",
        "fairness": "soft",
        "continuity": "soft",
    }
    by_key = {c.key: c for c in configured}
    assert by_key["acgme_weekly_hours"].params.limit_hours == 80
    assert by_key["acgme_weekly_hours"].selector.role == "resident"
    assert by_key["acgme_rest_between_shifts"].weight == 20
    assert by_key["coverage"].selector.role is None


def test_a_rule_set_file_with_mistakes_names_the_file_and_each_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nrules:\n  - rule: coverage\n    weight: -1\n  - colour: red\n", encoding="utf-8")
    with pytest.raises(RuleSetError) as caught:
        load_ruleset(path)
    assert caught.value.problems == [
        "broken.yaml: rules.0.weight: Input should be greater than or equal to 0",
        "broken.yaml: rules.1.rule: Field required",
        "broken.yaml: rules.1.colour: Extra inputs are not permitted",
    ]
    assert str(caught.value) == "; ".join(caught.value.problems)


# ---------------------------------------------------------------------- configure


def test_configure_lists_every_problem_at_once() -> None:
    ruleset = RuleSet(
        name="mistakes",
        rules=[
            RuleEntry(rule="coverage"),
            RuleEntry(rule="no_such_rule"),
            RuleEntry(rule="acgme_weekly_hours", params={"limit_hours": "eighty"}),
            RuleEntry(rule="max_weekends", params={"colour": "red"}),
            RuleEntry(rule="coverage_target", kind="hard"),
        ],
    )
    with pytest.raises(RuleSetError) as caught:
        configure(ruleset)
    problems = caught.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("rule 'no_such_rule' is not a registered rule (known: acgme_call_frequency, ")
    assert problems[1].startswith("rule acgme_weekly_hours: params.limit_hours: ")
    assert problems[2] == "rule max_weekends: params.colour: Extra inputs are not permitted"
    assert problems[3] == "rule coverage_target cannot be hard; it can be soft"


def test_a_disabled_entry_is_not_configured_even_when_it_names_no_rule() -> None:
    ruleset = RuleSet(name="t", rules=[RuleEntry(rule="coverage"), RuleEntry(rule="no_such_rule", enabled=False)])
    assert [c.key for c in configure(ruleset)] == ["coverage"]


def test_an_entry_without_kind_takes_the_rules_default_and_keeps_its_order_within_a_kind() -> None:
    ruleset = RuleSet(
        name="t",
        rules=[
            RuleEntry(rule="fairness"),
            RuleEntry(rule="coverage"),
            RuleEntry(rule="shift_requests"),
            RuleEntry(rule="max_weekends", kind="soft"),
            RuleEntry(rule="one_shift_per_day"),
        ],
    )
    assert [(c.key, c.kind) for c in configure(ruleset)] == [
        ("coverage", "hard"),
        ("one_shift_per_day", "hard"),
        ("fairness", "soft"),
        ("shift_requests", "soft"),
        ("max_weekends", "soft"),
    ]


# ---------------------------------------------------------------------- merge_overrides


@pytest.mark.parametrize("overrides", [None, {}])
def test_no_overrides_leave_the_rule_set_as_it_is(overrides: dict[str, Any] | None) -> None:
    base = load_ruleset()
    assert merge_overrides(base, overrides) is base


def test_an_override_replaces_the_fields_it_gives_and_keeps_the_rest() -> None:
    base = load_ruleset()
    merged = merge_overrides(base, {"rules": [{"rule": "coverage_target", "weight": 99}]})
    assert rules_of(merged)["coverage_target"].weight == 99
    assert [e.key for e in merged.rules] == [e.key for e in base.rules]
    assert rules_of(merged)["fairness"] == rules_of(base)["fairness"]
    assert rules_of(base)["coverage_target"].weight == 10  # the base is not changed


def test_an_override_merges_params_and_replaces_applies_to() -> None:
    merged = merge_overrides(
        load_ruleset(),
        {"rules": [{"rule": "acgme_weekly_hours", "params": {"limit_hours": 72}, "applies_to": {"pgy": [1]}}]},
    )
    entry = rules_of(merged)["acgme_weekly_hours"]
    assert entry.params == {"limit_hours": 72, "window_days": 28}
    assert entry.applies_to is not None and (entry.applies_to.role, entry.applies_to.pgy) == (None, [1])


def test_an_override_can_make_a_rule_soft() -> None:
    merged = merge_overrides(
        load_ruleset(), {"rules": [{"rule": "max_consecutive_nights", "kind": "soft", "weight": 3}]}
    )
    (nights,) = [c for c in configure(merged) if c.key == "max_consecutive_nights"]
    assert (nights.kind, nights.weight) == ("soft", 3)


def test_enabled_false_drops_a_rule() -> None:
    merged = merge_overrides(load_ruleset(), {"rules": [{"rule": "continuity", "enabled": False}]})
    assert "continuity" not in {c.key for c in configure(merged)}


def test_a_new_id_adds_an_entry_at_the_end() -> None:
    extra = {"id": "few_nights_for_r1", "rule": "max_shifts_per_type", "params": {"limits": {"R1": {"NIGHT": 2}}}}
    merged = merge_overrides(load_ruleset(), {"name": "sample-program", "rules": [extra]})
    assert merged.name == "sample-program"
    assert merged.rules[-1].key == "few_nights_for_r1"
    (added,) = [c for c in configure(merged) if c.key == "few_nights_for_r1"]
    assert (added.name, added.params.limit("R1", "NIGHT")) == ("max_shifts_per_type", 2)


def test_an_override_by_id_changes_only_that_entry() -> None:
    base = merge_overrides(
        load_ruleset(),
        {
            "rules": [
                {
                    "id": "nights_pgy1",
                    "rule": "max_consecutive_nights",
                    "params": {"max_nights": 4},
                    "applies_to": {"pgy": [1]},
                }
            ]
        },
    )
    merged = merge_overrides(base, {"rules": [{"id": "nights_pgy1", "params": {"max_nights": 3}}]})
    assert rules_of(merged)["nights_pgy1"].params == {"max_nights": 3}
    assert rules_of(merged)["max_consecutive_nights"].params == {"max_nights": 6}


def test_an_override_replaces_the_description() -> None:
    merged = merge_overrides(load_ruleset(), {"description": "Sample program rules", "rules": []})
    assert merged.description == "Sample program rules"


@pytest.mark.parametrize(
    ("overrides", "problems"),
    [
        ({"rulez": []}, ["bundle.yaml: unknown key(s) rulez; expected rules"]),
        ({"rules": ["coverage"]}, ["bundle.yaml: rules[1]: expected a mapping with a rule name"]),
        ({"rules": [{"weight": 2}]}, ["bundle.yaml: rules[1]: expected a mapping with a rule name"]),
        (
            {"extra": 1, "rules": [{"enabled": False}, "coverage"]},
            [
                "bundle.yaml: unknown key(s) extra; expected rules",
                "bundle.yaml: rules[1]: expected a mapping with a rule name",
                "bundle.yaml: rules[2]: expected a mapping with a rule name",
            ],
        ),
    ],
    ids=["unknown-key", "not-a-mapping", "no-rule-name", "all-at-once"],
)
def test_a_bad_override_is_refused_with_every_problem(overrides: dict[str, Any], problems: list[str]) -> None:
    with pytest.raises(RuleSetError) as caught:
        merge_overrides(load_ruleset(), overrides, source="bundle.yaml")
    assert caught.value.problems == problems


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"id": "new_entry"}, "rule: Field required"),  # a new id must name its rule
        ({"rule": "coverage", "weight": -1}, "weight: Input should be greater than or equal to 0"),
        ({"rule": "coverage", "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"rule": "coverage", "kind": "sometimes"}, "kind: Input should be 'hard' or 'soft'"),
    ],
    ids=["new-id-without-rule", "bad-weight", "unknown-field", "unknown-kind"],
)
def test_an_override_that_makes_an_invalid_entry_is_refused(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(RuleSetError) as caught:
        merge_overrides(load_ruleset(), {"rules": [entry]}, source="bundle.yaml")
    (only,) = caught.value.problems
    assert only.startswith("bundle.yaml: ") and only.endswith(problem)


def test_every_invalid_override_entry_is_reported_by_its_id() -> None:
    overrides = {"rules": [{"rule": "coverage", "weight": -1}, {"rule": "fairness", "colour": "red"}]}
    with pytest.raises(RuleSetError) as caught:
        merge_overrides(load_ruleset(), overrides, source="bundle.yaml")
    first, second = caught.value.problems
    assert "coverage" in first and "weight" in first
    assert "fairness" in second and "colour" in second


def test_an_override_with_bad_params_is_caught_when_configured() -> None:
    merged = merge_overrides(
        load_ruleset(), {"rules": [{"rule": "acgme_weekly_hours", "params": {"limit_hours": "many"}}]}
    )
    with pytest.raises(RuleSetError, match="rule acgme_weekly_hours: params.limit_hours"):
        configure(merged)


# ---------------------------------------------------------------------- the registry


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_registered_rule_builds_and_checks_and_has_its_own_tests(name: str) -> None:
    cls = RULES[name]
    assert cls.name == name
    assert cls.build is not Rule.build, f"{name} does not override build"
    assert cls.check is not Rule.check, f"{name} does not override check"
    assert cls.default_kind in cls.kinds
    assert cls.summary and cls.__doc__
    assert (RULE_TESTS / f"test_{name}.py").is_file(), f"tests/unit/constraints/rules/test_{name}.py is missing"


def test_two_rules_cannot_share_a_name() -> None:
    class Impostor(Rule):
        name = "coverage"
        summary = "not the real coverage rule"

    with pytest.raises(ValueError, match="two rules are named coverage"):
        register(Impostor)
    assert register(RULES["coverage"]) is RULES["coverage"]  # registering the same class again is harmless


def test_the_base_rule_implements_nothing() -> None:
    with pytest.raises(NotImplementedError):
        Rule().build(None, None)  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        Rule().check(None, None, [], None)  # type: ignore[arg-type]
