"""The validator and the engine's checkers report the same short rests, warnings included, with the same hours.

The programs are the random bundles of ``test_acgme_agreement`` (history before the block, hand-offs,
daylight-saving changes, random overrides); here every finding of the two rest rules is compared with
its value, not only the violations' windows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from hypothesis import given

from rotaflow.services.generate import check, findings_rows
from rotaflow.validations.acgme import validate_acgme
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.instances import block_instance, rules_for
from rotaflow.validations.schedule import load_schedule
from tests.unit.validations.test_acgme_agreement import SETTINGS, programs

REST = {"acgme_rest_after_call", "acgme_rest_between_shifts"}


@SETTINGS
@given(programs())
def test_the_validator_and_the_engine_find_the_same_short_rests(program: Any) -> None:
    files, start, end, cells = program
    bundle = parse_bundle(files)
    instance = block_instance(bundle, "B1")
    rules = [r for r in rules_for(bundle) if r.name in REST]
    found = check(instance, rules, [(p, (dt.date.fromisoformat(d) - start).days, s) for p, d, s in cells])
    engine = {
        (row["rule"], row["severity"], row["person_id"], row["window_start"], round(float(row["value"]), 2))
        for row in findings_rows(instance, found)
    }
    frame = pd.DataFrame(cells, columns=["person_id", "date", "shift_id"])
    report = validate_acgme(bundle, load_schedule(bundle, frame), period=(start, end))
    rests = report.findings[report.findings["rule"].isin(REST)]
    mine = {
        (r.rule, r.severity, r.person_id, r.window_start.date().isoformat(), round(float(r.value), 2))
        for r in rests.itertuples()
    }
    assert mine == engine, {"only engine": sorted(engine - mine), "only validator": sorted(mine - engine)}
