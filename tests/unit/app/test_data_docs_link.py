"""A generation's validation names its Great Expectations run after the program and the run id, and
report.html links that run's own Data Docs page."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rotaflow.services import validate as validation_service
from rotaflow.services.ingest import load_bundle
from rotaflow.services.results import ValidateResult, check_json
from rotaflow.validations.schedule import load_schedule, read_schedule_file
from tests.schedules import make_solvable, solved_schedule


def test_the_report_links_the_runs_own_data_docs_page(tiny_dir: Path, tmp_path: Path) -> None:
    program = make_solvable(tiny_dir)
    schedule = solved_schedule(program, "B1", tmp_path / "assignments.csv")
    bundle = load_bundle(str(program))
    frame = load_schedule(bundle, read_schedule_file(schedule), file=schedule.name)
    validation = validation_service.validate(bundle, frame, block_id="B1", contingency="none")
    facts = validation_service.validation_facts("tiny", "assignments.csv", "B1", run={"run_id": "run-7"})
    out, gx_dir = tmp_path / "out", tmp_path / "gx"
    written = validation_service.write_validation(out, validation, bundle, summary=facts, gx_dir=gx_dir)

    page = written.docs_page
    assert page is not None and page.is_file()
    site = gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert page.parent == site / "runs" / "tiny-run-7"
    facts = json.loads((out / "validation.json").read_text())
    # data_docs is the site's index, as before the runs had pages; data_docs_run the run's own page
    assert (facts["data_docs"], facts["data_docs_run"]) == (str(site / "index.html"), str(page))
    check_json(ValidateResult, facts, "validation.json")
    link = Path(os.path.relpath(page, out)).as_posix()
    assert f'href="{link}"' in (out / "report.html").read_text(encoding="utf-8")
    results = gx_dir / "gx" / "uncommitted" / "validations"
    assert sorted(p.relative_to(results).parts[:2] for p in results.rglob("*.json")) == [
        ("rotaflow-assignments", "tiny-run-7"),
        ("rotaflow-findings", "tiny-run-7"),
    ]
