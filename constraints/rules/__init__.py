"""One module per rule; importing this package registers them all (hard rules first)."""

from __future__ import annotations

from rotaflow.constraints.rules import (  # noqa: F401  (each import registers a rule)
    acgme_call_frequency,
    acgme_day_off_in_seven,
    acgme_max_continuous_duty,
    acgme_pgy1_no_moonlighting,
    acgme_rest_after_call,
    acgme_rest_between_shifts,
    acgme_weekly_hours,
    blocking_absence,
    consecutive_days_off,
    consecutive_working_days,
    continuity,
    coverage,
    coverage_target,
    fairness,
    fixed_days_off,
    forbidden_successions,
    max_consecutive_nights,
    max_shifts_per_type,
    max_weekends,
    one_shift_at_a_time,
    one_shift_per_day,
    rotation_eligibility,
    shift_requests,
    supervision_ratio,
    total_minutes,
)
