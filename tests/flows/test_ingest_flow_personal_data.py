"""A name typed in the wrong column of a rejected bundle reaches neither the Prefect artifacts nor the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from rotaflow.cli import main
from rotaflow.errors import PERSONAL_DATA_HIDDEN, InputError
from rotaflow.flows.ingest import ingest_program


def _misplace_a_name(bundle: Path) -> None:
    people = bundle / "people.csv"
    text = people.read_text()
    old = "R2,Resident Two,r2@example.org,resident,2"
    assert old in text
    people.write_text(text.replace(old, "R2,Resident Two,r2@example.org,resident,Faculty One"))


def _artifact_data(key: str, flow_run_id: object) -> list[str]:
    async def read() -> list[str]:
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return [str(a.data) + str(a.description) for a in found if a.flow_run_id == flow_run_id]

    return asyncio.run(read())


def test_the_failure_table_artifact_hides_a_misplaced_name(tiny_dir: Path) -> None:
    _misplace_a_name(tiny_dir)
    state = ingest_program(str(tiny_dir), return_state=True)
    assert state.is_failed()
    with pytest.raises(InputError):
        state.result()
    tables = _artifact_data("ingest-contract-failures", state.state_details.flow_run_id)
    assert len(tables) == 1
    assert "pgy" in tables[0] and PERSONAL_DATA_HIDDEN in tables[0]
    assert "Faculty One" not in tables[0]


def test_the_cli_hides_a_misplaced_name(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _misplace_a_name(tiny_dir)
    assert main(["ingest", "-p", str(tiny_dir), "--no-flow", "--json"]) == 2
    captured = capsys.readouterr()
    assert "people.csv, row 2, column pgy" in captured.err
    assert "Faculty One" not in captured.out + captured.err
