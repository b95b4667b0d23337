"""The sample program's first four blocks, generated and published in turn by the block-generation flow.

Each block's rolling windows reach back into the block published before it (its work from the
database, its leave from the bundle: R028 is on a leave rotation in 2027-B01 and back on the
wards in 2027-B02). Every block must publish with no hard violation by the independent validator.
The flow is the one the CLI and the ``block-generation`` deployment run (ingest, preflight, solve,
the rules' checkers, export, validation, publish and the quick backup), on SQLite in the test's
own var dir; only the N-1 contingency analysis, which runs after the validation and never decides
publication, is left out to keep the test short, and each block has 8 s of solving (any valid schedule
publishes; CP-SAT's first one comes within about 2 s).
"""

from __future__ import annotations

import csv
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from rotaflow.configs.settings import get_settings
from rotaflow.db.models import Assignment, ScheduleRun
from rotaflow.db.session import UnitOfWork
from rotaflow.flows.generate import generate_block
from rotaflow.services.ingest import database_engine
from tests.conftest import ROOT

SAMPLE = ROOT / "configs" / "programs" / "sample"
BLOCKS = ("2027-B01", "2027-B02", "2027-B03", "2027-B04")

pytestmark = [pytest.mark.flow, pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")]


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Iterator[None]:
    yield
    gc.collect()


def _published(block_id: str) -> set[tuple[str, str, str]]:
    with UnitOfWork(database_engine(get_settings())) as uow:
        run = uow.s.scalars(
            select(ScheduleRun).where(ScheduleRun.block_id == block_id, ScheduleRun.status == "published")
        ).one()
        rows = uow.s.scalars(select(Assignment).where(Assignment.run_id == run.id, Assignment.deleted_at.is_(None)))
        return {(a.person_id, a.date.isoformat(), a.shift_id) for a in rows}


def test_the_sample_programs_first_four_blocks_publish_in_turn(tmp_path: Path) -> None:
    summaries: list[dict[str, Any]] = []
    for block_id in BLOCKS:
        out = tmp_path / block_id
        state = generate_block(
            str(SAMPLE), block_id, out_dir=str(out), time_limit_seconds=8, contingency="none", return_state=True
        )
        findings = (out / "findings.csv").read_text(encoding="utf-8") if (out / "findings.csv").exists() else ""
        assert state.is_completed(), (block_id, state.message, [r for r in findings.splitlines() if ",violation," in r])
        summary = state.result()
        summaries.append(summary)
        assert summary["published"] is True and summary["hard_violations"] == 0, (block_id, summary)
        validation = json.loads((out / "validation.json").read_text(encoding="utf-8"))
        assert validation["hard_violations"] == 0 and validation["verdict"] == "passed", block_id
        with (out / "assignments.csv").open(encoding="utf-8", newline="") as handle:
            rows = {(r["person_id"], r["date"], r["shift_id"]) for r in csv.DictReader(handle)}
        assert rows and rows == _published(block_id)
    # the second block was judged with the first one's work and R028's leave before it
    b02 = summaries[1]
    assert b02["validation"]["period_start"] == "2027-07-29"
    # (back from four weeks of leave, R028 has 11.4 hours for the block's first day: less than any of the shifts)
    assert not {r for r in _published("2027-B02") if r[0] == "R028" and r[1] == "2027-07-29"}
