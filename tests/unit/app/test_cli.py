"""The command line: help everywhere, exit codes, synth, ingest and db commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rotaflow import __version__
from rotaflow.cli import main
from rotaflow.configs.settings import get_settings

COMMANDS = [[], ["ingest"], ["synth"], ["db"], ["db", "upgrade"], ["db", "downgrade"], ["db", "current"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "rotaflow")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_ingest_without_flow_prints_json(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--program", str(tiny_dir), "--no-flow", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["program"] == "tiny-internal-medicine-residency"
    assert payload["version"] == 1 and payload["new_version"] is True
    assert payload["rows"]["people"] == 4
    assert Path(payload["data_docs"]).is_file()


def test_ingest_notes_added_files_and_columns_it_does_not_read(
    tiny_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_dir / "README.txt").write_text("our program's notes\n")
    lines = (tiny_dir / "blocks.csv").read_text().splitlines()
    widened = [lines[0] + ",academic_year"] + [line + ",2027-28" for line in lines[1:] if line]
    (tiny_dir / "blocks.csv").write_text("\n".join(widened) + "\n")
    assert main(["ingest", "--program", str(tiny_dir), "--no-flow", "--json"]) == 0
    captured = capsys.readouterr()
    notes = [
        "README.txt: not a bundle file of docs/formats.md; kept, not read",
        "blocks.csv: column academic_year is not read by rotaflow; ignored",
    ]
    assert json.loads(captured.out)["notes"] == notes
    assert all(f"note: {n}" in captured.err for n in notes)


def test_bad_bundle_exits_2_with_located_messages(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tiny_dir / "blocks.csv").write_text("block_id,start_date,end_date\nB1,2027-07-01,2027-13-01\n")
    assert main(["ingest", "--program", str(tiny_dir), "--no-flow"]) == 2
    err = capsys.readouterr().err
    assert "blocks.csv, row 1, column end_date: expected a date (YYYY-MM-DD), got '2027-13-01'" in err


def test_missing_bundle_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--program", str(tmp_path / "nope"), "--no-flow"]) == 2
    assert "expected an existing bundle folder" in capsys.readouterr().err


def test_synth_writes_a_valid_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "synthetic"
    assert main(["synth", "--residents", "30", "--seed", "4", "--out", str(out)]) == 0
    assert (out / "people.csv").is_file()
    from rotaflow.validations.bundle import parse_bundle

    bundle = parse_bundle({p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")})
    assert (bundle.frames["people"]["role"] == "resident").sum() == 30


SAMPLE = Path(__file__).resolve().parents[3] / "configs" / "programs" / "sample"


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_synth_refuses_a_folder_it_did_not_write_and_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    bundle = tmp_path / "sample"
    shutil.copytree(SAMPLE, bundle)  # a program someone keeps: same file names as synth writes
    (bundle / "notes.txt").write_text("mine\n")
    before = _contents(bundle)
    assert main(["synth", "--residents", "5", "--out", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert "command line, column --out: expected a new or empty folder" in err and "did not create" in err
    assert _contents(bundle) == before  # nothing overwritten, nothing added

    a_file = tmp_path / "people.csv"
    a_file.write_text("person_id\n")
    assert main(["synth", "--residents", "5", "--out", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err and a_file.read_text() == "person_id\n"


def test_synth_replaces_its_own_earlier_bundle(tmp_path: Path) -> None:
    out = tmp_path / "synthetic"
    assert main(["synth", "--residents", "5", "--seed", "1", "--out", str(out)]) == 0
    first = (out / "people.csv").read_bytes()
    assert main(["synth", "--residents", "7", "--seed", "2", "--out", str(out)]) == 0
    assert (out / "people.csv").read_bytes() != first
    from rotaflow.services.generate import run_files
    from rotaflow.services.synth import BUNDLE_FILES

    assert sorted(p.name for p in run_files(out.resolve())) == sorted(BUNDLE_FILES)


def test_synth_with_a_bad_option_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "synthetic"
    assert main(["synth", "--residents", "5", "--timezone", "Mars/Olympus", "--out", str(out)]) == 2
    assert not out.exists()


def test_synth_refuses_too_many_residents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--residents", "301", "--out", str(tmp_path / "x")]) == 2
    assert "command line, column --residents: expected a whole number from 3 to 300" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--bogus"]) == 2


def test_db_upgrade_current_and_downgrade(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert "database: 0004; code: 0004" in capsys.readouterr().out
    assert main(["db", "downgrade", "base", "--confirm", "base"]) == 0
    assert main(["db", "current"]) == 0
    assert "database: none" in capsys.readouterr().out


def test_version_prints_without_touching_var_or_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    var = tmp_path / "fresh-var"
    monkeypatch.setenv("ROTAFLOW_VAR_DIR", str(var))
    monkeypatch.delenv("PREFECT_HOME", raising=False)  # else Prefect's home is made where it says
    get_settings.cache_clear()
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"rotaflow {__version__}\n"
    assert not var.exists() and get_settings.cache_info().currsize == 0  # settings never read
