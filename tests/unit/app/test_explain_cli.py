"""``rotaflow explain`` on a database where the hand-made schedule of the tiny bundle's block B1 was published
(version 1), and on that schedule as a file (no database)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotaflow.cli import main
from rotaflow.configs.settings import Settings, get_settings
from rotaflow.constraints.solve import SolveResult
from rotaflow.db.migrate import upgrade
from rotaflow.services.generate import publish_run
from rotaflow.services.ingest import database_engine, ingest_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.validations.instances import block_instance
from tests.schedules import load
from tests.unit.app.explain_schedule import bundle_dir, rows, write_csv

PROGRAM = "tiny-internal-medicine-residency"


def _publish(folder: Path, settings: Settings) -> None:
    """The bundle at ``folder`` ingested into the settings' database, B1 published as version 1."""
    bundle = load(folder)
    instance = block_instance(bundle, "B1")
    cells = frozenset((p, instance.day_index(d), s) for p, d, s in rows())
    result = SolveResult("feasible", 0.0, 0.0, 0.0, cells)
    engine = database_engine(settings)
    version = ingest_bundle(str(folder), settings=settings, engine=engine, expectations=False).result.version
    summary = GenerateResult.start(
        run_id=str(uuid.uuid4()),
        program=PROGRAM,
        program_version=version,
        block_id="B1",
        rules=[],
        time_limit_seconds=5,
    ).solved(result)
    done = publish_run(
        engine,
        program_key=PROGRAM,
        version=version,
        instance=instance,
        result=result,
        summary=summary,
        started_at=dt.datetime.now(dt.UTC),
        reason="generate",
        based_on=None,
        actor="rotaflow generate",
    )
    assert done.block_version == 1
    engine.dispose()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """One SQLite database for the module with B1 published: (the bundle, the database URL)."""
    folder = tmp_path_factory.mktemp("explain-cli")
    url = f"sqlite:///{(folder / 'app.db').as_posix()}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROTAFLOW_DATABASE_URL", url)
        get_settings.cache_clear()
        _publish(bundle_dir(folder / "tiny"), get_settings())
    get_settings.cache_clear()
    yield folder / "tiny", url


@pytest.fixture
def published(database: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The module's database is the one the command opens; its bundle."""
    folder, url = database
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    return folder


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["explain", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_explains_the_published_shift(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, printed, err = _run(
        capsys, "-p", str(published), "--block", "B1", "--person", "R2", "--date", "2027-07-06", "--json"
    )
    assert code == 0, err
    found = json.loads(printed)
    assert (found["version"], found["schedule"], found["shift_id"], found["has_shift"]) == (1, None, "DAY", True)
    assert found["coverage"][0]["row"] == "coverage.csv row 1" and found["coverage"][0]["needed"] is True
    (r1,) = found["alternatives"]
    assert (r1["person_id"], r1["legal"], r1["cost"], r1["costs"]) == ("R1", True, -5, {"shift_requests": -5})


def test_the_form_field_names_are_the_same_options(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--block-id``, ``--person-id`` and ``--shift-id`` (the names of the other commands' form fields) say what
    ``--block``, ``--person`` and ``--shift`` say."""
    day = ("--date", "2027-07-06", "--json")
    new = _run(capsys, "-p", str(published), "--block-id", "B1", "--person-id", "R2", "--shift-id", "DAY", *day)
    old = _run(capsys, "-p", str(published), "--block", "B1", "--person", "R2", "--shift", "DAY", *day)
    assert new[0] == 0, new[2]
    assert json.loads(new[1]) == json.loads(old[1])
    assert (json.loads(new[1])["block_id"], json.loads(new[1])["person_id"]) == ("B1", "R2")


def test_the_published_shift_is_explained_on_postgresql(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", postgres_url)
    monkeypatch.setenv(
        "ROTAFLOW_SECRET_KEY", "Vq3" + uuid.uuid4().hex + uuid.uuid4().hex
    )  # a server database needs one
    get_settings.cache_clear()
    upgrade(postgres_url)  # a server database is migrated before use (`rotaflow db upgrade`)
    folder = bundle_dir(tmp_path / "tiny")
    _publish(folder, get_settings())
    code, printed, err = _run(capsys, "-p", str(folder), "--person", "R2", "--date", "2027-07-06", "--json")
    assert code == 0, err
    found = json.loads(printed)
    assert (found["version"], found["shift_id"], found["alternatives"][0]["cost"]) == (1, "DAY", -5)


def test_text_names_people_by_id_only(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, printed, err = _run(capsys, "-p", str(published), "--person", "R1", "--date", "2027-07-03", "--shift", "DAY")
    assert code == 0, err  # the block is the one holding --date
    assert printed.splitlines()[0] == f"{PROGRAM} block B1 (published version 1): R1 on 2027-07-03"
    assert "R2 (DAY, in R1's place): kept off by blocking_absence: R2 works DAY on 2027-07-03 while on leave" in printed
    people = (published / "people.csv").read_text(encoding="utf-8")
    assert "Resident One" in people and "Resident One" not in printed and "@example.org" not in printed


def test_a_schedule_file_is_explained_without_the_database(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = bundle_dir(tmp_path / "tiny")
    schedule = write_csv(tmp_path / "assignments.csv", rows())
    args = ("-p", str(folder), "-s", str(schedule), "--person", "R1", "--date", "2027-07-02", "--json", "--limit", "1")
    code, printed, err = _run(capsys, *args)
    assert code == 0, err
    found = json.loads(printed)
    assert (found["version"], found["schedule"], found["works"], found["shift_id"]) == (
        None,
        "assignments.csv",
        [],
        None,
    )
    assert [a["shift_id"] for a in found["alternatives"]] == ["DAY"] and found["left_out"] == 2
    assert not (settings.var_dir / "rotaflow.db").exists()  # nothing opened, nothing written


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--person", "R9", "--date", "2027-07-03"), "--person"),
        (("--person", "R1", "--date", "2027-07-03", "--shift", "LATE"), "--shift"),
        (("--person", "R1", "--date", "2027-08-03", "--block", "B1"), "--date"),
        (("--person", "R1", "--date", "2027-09-03"), "--date"),
        (("--person", "R1", "--date", "3 July"), "--date"),
        (("--person", "R1", "--date", "2027-07-03", "--block", "B9"), "--block"),
        (("--person", "R1", "--date", "2027-08-03"), "--block"),  # B2: nothing of it is published
    ],
)
def test_bad_input_exits_2_naming_the_option(
    published: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], option: str
) -> None:
    code, printed, err = _run(capsys, "-p", str(published), *args)
    assert code == 2 and printed == ""
    assert option in err
