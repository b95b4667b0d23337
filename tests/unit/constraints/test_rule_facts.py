"""Facts about a rule live on the rule: the sets derived from the registry are the lists once kept by hand."""

from __future__ import annotations

from rotaflow.constraints.registry import RULES, Rule
from rotaflow.services.validate import INDEPENDENT_RULES
from rotaflow.validations.contingency.context import _PERSONAL


def test_the_personal_rules_are_the_ones_the_contingency_analysis_listed() -> None:
    listed = {
        "one_shift_at_a_time",
        "one_shift_per_day",
        "rotation_eligibility",
        "blocking_absence",
        "fixed_days_off",
        "acgme_weekly_hours",
        "acgme_day_off_in_seven",
        "acgme_max_continuous_duty",
        "acgme_rest_after_call",
        "acgme_rest_between_shifts",
        "acgme_call_frequency",
        "acgme_pgy1_no_moonlighting",
        "max_consecutive_nights",
        "consecutive_days_off",
        "consecutive_working_days",
        "forbidden_successions",
        "max_shifts_per_type",
        "max_weekends",
        "total_minutes",
        "shift_requests",
    }
    assert listed == _PERSONAL


def test_the_independently_checked_rules_are_the_ones_validation_listed() -> None:
    listed = {
        "acgme_weekly_hours",
        "acgme_day_off_in_seven",
        "acgme_max_continuous_duty",
        "acgme_rest_after_call",
        "acgme_rest_between_shifts",
        "acgme_call_frequency",
        "acgme_pgy1_no_moonlighting",
        "coverage",
        "coverage_target",
        "rotation_eligibility",
        "blocking_absence",
        "one_shift_at_a_time",
        "supervision_ratio",
    }
    assert listed == INDEPENDENT_RULES


def test_a_rule_states_no_fact_unless_it_says_so() -> None:
    assert Rule.personal is False and Rule.independently_checked is False
    demand_rules = {"coverage", "coverage_target", "supervision_ratio", "continuity", "fairness"}
    assert not any(RULES[name].personal for name in demand_rules)
