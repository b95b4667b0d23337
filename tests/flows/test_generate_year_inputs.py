"""`rotaflow generate` of a bundle whose rotation_assignments.csv leaves the block out (a year still to plan)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotaflow.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Iterator[None]:
    yield
    gc.collect()


def _drop_block(folder: Path, block_id: str) -> None:
    path = folder / "rotation_assignments.csv"
    kept = [line for line in path.read_text().splitlines(keepends=True) if f",{block_id}," not in line]
    path.write_text("".join(kept))


def test_a_block_without_rotation_rows_exits_2_naming_the_file(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _drop_block(tiny_dir, "B1")  # B2 keeps its rows: the bundle is valid, B1 is not planned
    out = tmp_path / "out"
    code = main(["generate", "--program", str(tiny_dir), "--block", "B1", "--out", str(out), "--time-limit", "5"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert (
        "rotation_assignments.csv, column block_id: expected a row for each resident in block B1 "
        "(or plan the year: rotaflow plan-year), got no row for block B1"
    ) in err
    assert not out.exists()


def test_a_bundle_without_rotation_assignments_exits_2_for_any_block(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_dir / "rotation_assignments.csv").unlink()
    out = tmp_path / "out"
    code = main(["generate", "--program", str(tiny_dir), "--block", "B2", "--out", str(out), "--time-limit", "5"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "rotation_assignments.csv, column block_id" in err and "got no row for block B2" in err
    assert not out.exists()
