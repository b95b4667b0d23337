"""The ingest_program flow on Prefect's local API: tasks, artifacts, failure path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId

from rotaflow.errors import InputError
from rotaflow.flows.ingest import ingest_program


def _artifacts(key: str) -> list[object]:
    async def read() -> list[object]:
        async with get_client() as client:
            return list(await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))))

    return asyncio.run(read())


def _task_names(flow_run_id: object) -> set[str]:
    async def read() -> set[str]:
        async with get_client() as client:
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            return {r.name.rsplit("-", 1)[0] for r in runs}

    return asyncio.run(read())


def test_ingest_flow_loads_the_bundle_and_publishes_artifacts(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rotaflow.configs.settings import get_settings
    from rotaflow.tasks.links import REPORTS_URL_ENV

    monkeypatch.setenv(REPORTS_URL_ENV, "http://127.0.0.1:4201/token")  # as `rotaflow serve` tells its worker
    state = ingest_program(str(tiny_dir), return_state=True)
    assert state.is_completed()
    result = state.result()
    assert result.version == 1 and result.inserted["people"] == 4
    assert _task_names(state.state_details.flow_run_id) == {
        "read-bundle",
        "check-contracts",
        "check-expectations",
        "store-bundle",
        "publish-ingest-summary",
    }
    summary = [a for a in _artifacts("ingest-summary") if a.flow_run_id == state.state_details.flow_run_id]
    assert len(summary) == 1
    assert "| people | 4 | 4 | 0 |" in summary[0].data
    links = [a for a in _artifacts("ingest-data-docs") if a.flow_run_id == state.state_details.flow_run_id]
    assert len(links) == 1 and "file://" not in links[0].data and "file://" not in summary[0].data
    # the Data Docs site's index through the reports server, at its path under var/ (never file://)
    url = links[0].data.split("(", 1)[1].rstrip(")")
    assert url.startswith("http://127.0.0.1:4201/token/gx/gx/uncommitted/data_docs/local_site/")
    docs = get_settings().var_dir / url.removeprefix("http://127.0.0.1:4201/token/")
    assert docs.name == "index.html" and "<html" in docs.read_text()[:2000].lower()
    assert f"[Great Expectations Data Docs]({url})" in summary[0].data


def test_ingest_flow_rejects_a_bad_bundle_with_a_failure_table(tiny_dir: Path) -> None:
    (tiny_dir / "shifts.csv").write_text(
        (tiny_dir / "shifts.csv").read_text().replace("DAY,Day ward,07:00", "DAY,Day ward,7am")
    )
    state = ingest_program(str(tiny_dir), return_state=True)
    assert state.is_failed()
    with pytest.raises(InputError):
        state.result()
    tables = [a for a in _artifacts("ingest-contract-failures") if a.flow_run_id == state.state_details.flow_run_id]
    assert len(tables) == 1
    assert "shifts.csv" in tables[0].data and "clock time HH:MM" in tables[0].data
    assert "quarantine/" in (tables[0].description or "")
