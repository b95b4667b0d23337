"""Where a run may write its outputs (``rotaflow.services.generate.check_out_dir``, ``claim_out_dir``, ``run_files``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotaflow.configs.settings import get_settings
from rotaflow.errors import InputError
from rotaflow.services.generate import RUN_MARKER, check_out_dir, claim_out_dir, record_run_files, run_files


def test_an_object_store_outside_var_is_protected_and_var_runs_is_the_run_area(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTAFLOW_OBJECT_STORE", str(tmp_path / "store"))
    get_settings.cache_clear()
    with pytest.raises(InputError, match="is inside rotaflow's own data"):
        check_out_dir(tmp_path / "store" / "runs" / "x")
    with pytest.raises(InputError, match="is inside rotaflow's own data"):
        check_out_dir(tmp_path / "var" / "runs")  # the run area itself: only folders inside it
    assert check_out_dir(tmp_path / "var" / "runs" / "x") == (tmp_path / "var" / "runs" / "x").resolve()
    assert not (tmp_path / "var" / "runs" / "x").exists()  # checking writes nothing


def test_an_s3_object_store_leaves_local_folders_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTAFLOW_OBJECT_STORE", "s3://rotaflow-objects/prefix")
    get_settings.cache_clear()
    assert check_out_dir(tmp_path / "out") == (tmp_path / "out").resolve()
    with pytest.raises(InputError, match="is inside rotaflow's own data"):
        check_out_dir(tmp_path / "var" / "objects")  # still inside var


def test_the_marker_lists_only_files_inside_the_folder_and_never_follows_a_symlink(tmp_path: Path) -> None:
    folder = claim_out_dir(tmp_path / "out")
    (folder / "a.csv").write_text("a")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.ics").write_text("b")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the run's")
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    (folder / "link.csv").symlink_to(outside / "secret.txt")
    record_run_files(folder, [folder / "a.csv", folder / "sub" / "b.ics", folder / "linked" / "secret.txt"])
    record_run_files(folder, [folder / "link.csv", folder / "a.csv"])
    assert [p.relative_to(folder).as_posix() for p in run_files(folder)] == ["a.csv", "sub/b.ics"]

    claim_out_dir(folder)  # a new run: the earlier run's files go, whatever they point at stays
    assert not (folder / "a.csv").exists() and not (folder / "sub" / "b.ics").exists()
    assert not (folder / "link.csv").exists() and (outside / "secret.txt").read_text() == "not the run's"
    assert run_files(folder) == [] and (folder / RUN_MARKER).is_file()


@pytest.mark.parametrize("content", ["not json", '{"files": ["../escape.txt", "/etc/hostname", 3]}', "[]"])
def test_a_damaged_marker_lists_nothing(content: str, tmp_path: Path) -> None:
    folder = claim_out_dir(tmp_path / "out")
    (tmp_path / "escape.txt").write_text("outside")
    (folder / RUN_MARKER).write_text(content)
    assert run_files(folder) == []
    claim_out_dir(folder)
    assert (tmp_path / "escape.txt").read_text() == "outside"
