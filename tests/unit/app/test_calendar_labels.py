"""The calendars' names and places from the bundle: shifts.csv's and rotations.csv's optional ``location``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from rotaflow.db.models import ProgramVersion
from rotaflow.db.session import UnitOfWork, make_engine
from rotaflow.errors import InputError
from rotaflow.services.calendars import CalendarLabels
from rotaflow.services.ingest import ingest_bundle
from rotaflow.validations.bundle import parse_bundle


def _with_locations(files: dict[str, bytes], shifts: dict[str, str], rotations: dict[str, str]) -> dict[str, bytes]:
    """The bundle with a ``location`` column on shifts.csv and rotations.csv (empty where not given)."""
    out = dict(files)
    for name, places in (("shifts.csv", shifts), ("rotations.csv", rotations)):
        header, *rows = files[name].decode().splitlines()
        lines = [f"{header},location"]
        for row in rows:
            place = places.get(row.split(",", 1)[0], "")
            lines.append(f'{row},"{place}"' if place else f"{row},")
        out[name] = ("\n".join(lines) + "\n").encode()
    return out


def test_labels_read_the_names_and_the_locations_the_bundle_gives(tiny_files: dict[str, bytes]) -> None:
    files = _with_locations(tiny_files, {"NIGHT": "Main hospital, 4th floor"}, {"WARD": "West wing"})
    labels = CalendarLabels.of_bundle(parse_bundle(files))
    assert labels.shifts == {"DAY": "Day ward", "NIGHT": "Night float", "CALL24": "24-hour call", "HOME": "Home call"}
    assert labels.rotations == {"WARD": "Ward", "NF": "Night float", "VAC": "Vacation"}
    assert labels.shift_locations == {"NIGHT": "Main hospital, 4th floor"}
    assert labels.rotation_locations == {"WARD": "West wing"}
    assert labels.locations() == {"shifts": {"NIGHT": "Main hospital, 4th floor"}, "rotations": {"WARD": "West wing"}}
    assert labels.title({"shift_id": "DAY", "rotation_id": "WARD"}) == "Day ward — Ward"
    assert labels.location({"shift_id": "DAY", "rotation_id": "WARD"}) == "West wing"
    assert labels.location({"shift_id": "NIGHT", "rotation_id": "WARD"}) == "Main hospital, 4th floor"
    # the shipped bundle gives none
    plain = CalendarLabels.of_bundle(parse_bundle(tiny_files))
    assert plain.locations() == {} and plain.location({"shift_id": "NIGHT", "rotation_id": "WARD"}) == ""


def test_a_bundle_without_locations_keeps_its_content_hash(tiny_files: dict[str, bytes]) -> None:
    before = parse_bundle(tiny_files).content_hash
    assert parse_bundle(_with_locations(tiny_files, {}, {})).content_hash == before  # empty columns: as absent
    assert parse_bundle(_with_locations(tiny_files, {"DAY": "Clinic"}, {})).content_hash != before
    assert parse_bundle(_with_locations(tiny_files, {}, {"NF": "Clinic"})).content_hash != before


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        ("x" * 201, "shifts.csv, row 1, column location: expected where the shift is worked: a place of at most 200"),
        ("two\nlines", "shifts.csv, row 1, column location: expected text on one line, without control characters"),
    ],
)
def test_a_location_is_one_line_of_at_most_200_characters(
    tiny_files: dict[str, bytes], place: str, expected: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_bundle(_with_locations(tiny_files, {"DAY": place}, {}))
    messages = [str(p) for p in caught.value.problems]
    assert len(messages) == 1 and messages[0].startswith(expected), messages


def test_ingest_keeps_the_locations_with_the_programs_version_only_when_given(tiny_dir: Path, sqlite_url: str) -> None:
    from rotaflow.db.migrate import upgrade

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        first = ingest_bundle(str(tiny_dir), engine=engine, expectations=False)
        files = {p.name: p.read_bytes() for p in tiny_dir.iterdir()}
        for name, data in _with_locations(files, {"NIGHT": "Main hospital"}, {}).items():
            (tiny_dir / name).write_bytes(data)
        second = ingest_bundle(str(tiny_dir), engine=engine, expectations=False)
        with UnitOfWork(engine) as uow:
            stored = dict(uow.s.execute(select(ProgramVersion.version, ProgramVersion.settings)).all())
    finally:
        engine.dispose()
    assert "locations" not in stored[first.result.version]  # a bundle without locations: settings as before
    assert stored[second.result.version]["locations"] == {"shifts": {"NIGHT": "Main hospital"}}


def test_a_runs_calendars_are_for_everyone_of_the_block_titled_by_name_and_placed(
    tiny_files: dict[str, bytes], tmp_path: Path
) -> None:
    from icalendar import Calendar

    import rotaflow.services.generate as service
    from rotaflow.services.results import GenerateResult
    from rotaflow.validations.instances import block_instance

    bundle = parse_bundle(_with_locations(tiny_files, {"NIGHT": "Main hospital"}, {"WARD": "West wing"}))
    instance = block_instance(bundle, "B1")
    summary = GenerateResult.start(
        run_id="run-1", program="tiny", program_version=1, block_id="B1", rules=[], time_limit_seconds=5.0
    ).with_(status="feasible")
    out = tmp_path / "run"
    service.write_outputs(
        out,
        instance=instance,
        cells=[("R1", 0, "DAY"), ("R3", 1, "NIGHT")],
        findings=[],
        summary=summary,
        names={"R1": "Resident One"},
        labels=CalendarLabels.of_bundle(bundle),
    )
    files = {p.stem: Calendar.from_ical(p.read_bytes()) for p in (out / "calendars").glob("*.ics")}
    assert sorted(files) == ["F1", "R1", "R2", "R3"]  # R2 and F1 have no shift: an empty calendar each
    assert files["R2"].walk("VEVENT") == [] and files["F1"].walk("VEVENT") == []
    (day,) = files["R1"].walk("VEVENT")
    assert (str(day["summary"]), str(day["location"])) == ("Day ward — Ward", "West wing")
    assert str(day["description"]) == "shift: DAY\nrotation: WARD\nhours: 12"
    (night,) = files["R3"].walk("VEVENT")
    assert (str(night["summary"]), str(night["location"])) == ("Night float", "Main hospital")
    assert "Resident One" not in (out / "calendars" / "R3.ics").read_text()  # no other person's name

    # no schedule (infeasible, refused): no calendars at all
    empty = tmp_path / "none"
    service.write_outputs(empty, instance=instance, cells=[], findings=[], summary=summary.with_(status="infeasible"))
    assert not list((empty / "calendars").glob("*.ics"))
