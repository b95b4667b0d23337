"""The advisory burnout-risk score: each component measured exactly, bands, weights."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.burnout import ADVISORY, WEIGHTS, burnout_scores
from rotaflow.validations.schedule import load_schedule

PERIOD = (dt.date(2027, 7, 1), dt.date(2027, 7, 28))  # four weeks, starting on a Thursday


@pytest.fixture
def bundle(tiny_dir: Path) -> Bundle:
    return parse_bundle({p.name: p.read_bytes() for p in sorted(tiny_dir.iterdir())})


def _score(bundle: Bundle, rows: list[tuple[str, str, str]], requests: pd.DataFrame | None = None) -> pd.DataFrame:
    schedule = load_schedule(bundle, pd.DataFrame(rows, columns=["person_id", "date", "shift_id"]))
    out = burnout_scores(schedule, ["R1", "R2", "R3"], PERIOD, timezone="America/New_York", requests=requests)
    return out.set_index("person_id")


def _days(first: int, last: int) -> list[str]:
    return [(PERIOD[0] + dt.timedelta(days=d)).isoformat() for d in range(first, last + 1)]


def test_weights_sum_to_100_and_the_label_says_advisory() -> None:
    assert sum(WEIGHTS.values()) == 100
    assert "not a validated clinical instrument" in ADVISORY


def test_an_empty_schedule_scores_zero(bundle: Bundle) -> None:
    scores = _score(bundle, [])
    assert list(scores.index) == ["R1", "R2", "R3"]
    assert (scores["score"] == 0).all() and set(scores["band"]) == {"low"}


def test_measures_are_exact(bundle: Bundle) -> None:
    # R3: 14 nights in a row (days 0-13), 12 h each
    rows = [("R3", d, "NIGHT") for d in _days(0, 13)]
    # R1: DAY on days 0-4 and 7-11 (two runs of 5), 12 h each
    rows += [("R1", d, "DAY") for d in _days(0, 4) + _days(7, 11)]
    # R2: 7 in-house calls, every fourth day
    rows += [("R2", d, "CALL24") for d in _days(0, 27)[::4]]
    scores = _score(bundle, rows)
    r3, r1, r2 = scores.loc["R3"], scores.loc["R1"], scores.loc["R2"]
    assert r3["mean_weekly_hours"] == pytest.approx(14 * 12 / 4)
    assert r3["longest_run_days"] == 14 and r3["night_share"] == 1.0
    assert r3["c_consecutive"] == 1.0 and r3["c_nights"] == 1.0
    # weekends in July 2027 from the 1st to the 28th: 3-4, 10-11, 17-18, 24-25 → 8 days; R3 works 4 of them
    assert r3["weekend_share"] == 0.5
    assert r3["weekly_trend"] < 0  # all the work is in the first two weeks
    assert r1["longest_run_days"] == 5 and r1["c_consecutive"] == 0.0
    assert r1["night_share"] == 0.0
    assert r2["calls_per_28_days"] == 7.0 and r2["c_calls"] == pytest.approx(7 / 9, abs=1e-3)
    # CALL24 runs 07:00 to 11:00 next day: 3 days' rest until the next call; no short rest
    assert r2["short_rests_per_28_days"] == 0.0
    expected = sum(r3[f"c_{name}"] * weight for name, weight in WEIGHTS.items())
    assert r3["score"] == pytest.approx(expected, abs=0.1)
    assert r3["score"] > r1["score"]


def test_short_rests_and_bands(bundle: Bundle) -> None:
    # R1 works NIGHT then DAY the next day: the night ends 07:00, the day starts 07:00 → joined, no rest;
    # DAY then NIGHT on the same day: day ends 19:00, night starts 19:00 → joined.
    # DAY (07-19) then HOME (17-07) overlap; DAY day 2 then DAY day 3: 12 h rest (not short)
    rows = [("R1", d, "DAY") for d in _days(0, 20)] + [("R1", d, "HOME") for d in _days(0, 20)]
    scores = _score(bundle, rows)
    r1 = scores.loc["R1"]
    assert r1["longest_run_days"] == 21 and r1["c_consecutive"] == 1.0
    assert r1["short_rests_per_28_days"] == 0.0  # HOME ends at 07:00 when DAY starts: back to back
    heavy = [("R3", d, "NIGHT") for d in _days(0, 27)]
    r3 = _score(bundle, heavy).loc["R3"]
    assert r3["mean_weekly_hours"] == 84.0 and r3["c_load"] == 1.0
    assert r3["band"] in {"high", "very_high"}


def test_short_rest_is_counted(bundle: Bundle) -> None:
    # CALL24 on day 0 runs to 11:00 on day 1 (4 h hand-off); HOME starts 17:00 on day 1: a 6-hour rest
    rows = [("R2", _days(0, 0)[0], "CALL24"), ("R2", _days(1, 1)[0], "HOME")]
    rows += [("R2", _days(7, 7)[0], "CALL24"), ("R2", _days(8, 8)[0], "HOME")]
    r2 = _score(bundle, rows).loc["R2"]
    assert r2["short_rests_per_28_days"] == 2.0 and r2["c_short_rests"] == 0.5
    # NIGHT ends 07:00; HOME starts 17:00 the same day: exactly 10 h is not short
    rows = [("R3", _days(0, 0)[0], "NIGHT"), ("R3", _days(1, 1)[0], "HOME")]
    assert _score(bundle, rows).loc["R3", "short_rests_per_28_days"] == 0.0
    # back to back (HOME ends 07:00 when DAY starts) joins one period: no rest at all, not a short one
    rows = [("R1", _days(2, 2)[0], "HOME"), ("R1", _days(3, 3)[0], "DAY")]
    assert _score(bundle, rows).loc["R1", "short_rests_per_28_days"] == 0.0


def test_denied_requests(bundle: Bundle) -> None:
    requests = pd.DataFrame(
        {
            "person_id": ["R1", "R1", "R2"],
            "date": pd.to_datetime(["2027-07-05", "2027-07-06", "2027-07-07"]),
            "shift_id": ["DAY", None, "CALL24"],
            "kind": ["off", "off", "on"],
            "weight": [3, 1, 2],
        }
    )
    rows = [("R1", "2027-07-05", "DAY")]  # R1's off-request of weight 3 is denied, the whole-day one honoured
    scores = _score(bundle, rows, requests)
    assert scores.loc["R1", "denied_request_share"] == 0.75
    assert scores.loc["R2", "denied_request_share"] == 1.0  # wanted CALL24, did not get it
    assert scores.loc["R3", "denied_request_share"] == 0.0
    granted = _score(bundle, [("R2", "2027-07-07", "CALL24")], requests)
    assert granted.loc["R2", "denied_request_share"] == 0.0
    outside = requests.assign(date=pd.to_datetime(["2027-09-01"] * 3))
    assert (_score(bundle, rows, outside)["denied_request_share"] == 0).all()
