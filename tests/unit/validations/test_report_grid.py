"""The report's schedule grid (validations/report/grid.py): role and PGY of every row, the day's rotation and
leave in each cell with a legend, one print table per week, and the cell explanations embedded for the panel."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rotaflow.validations.report import FINDING_COLUMNS, ReportData, render_report
from rotaflow.validations.report.grid import _runs, _schedule_section, grid_frames
from tests.schedules import load

START = dt.date(2027, 7, 1)
HOSTILE = "</script><script>window.__pwned=1</script>"


def day(offset: int) -> str:
    return (START + dt.timedelta(days=offset)).isoformat()


def grid_data(days: int = 28, **changes: Any) -> ReportData:
    """Two residents and a faculty member over ``days`` days: R1 works every day but the 3rd, R2 is away on a
    blocking vacation for the whole period (no shift at all), F1 works the first day only."""
    rows = [{"person_id": "R1", "date": day(d), "shift_id": "DAY"} for d in range(days) if d != 2]
    rows.append({"person_id": "F1", "date": day(0), "shift_id": "NIGHT"})
    data = ReportData(
        summary={
            "program": "tiny-im",
            "block_id": "B1",
            "period_start": day(0),
            "period_end": day(days - 1),
        },
        findings=pd.DataFrame(columns=list(FINDING_COLUMNS)),
        assignments=pd.DataFrame(rows),
        people=pd.DataFrame(
            {"person_id": ["R1", "R2", "F1"], "role": ["resident", "resident", "faculty"], "pgy": [2, 1, pd.NA]}
        ),
        rotations=pd.DataFrame(
            [
                {
                    "person_id": "R1",
                    "start_date": day(0),
                    "end_date": day(13),
                    "rotation_id": "WARD",
                    "rotation_name": "Ward",
                    "setting": "inpatient",
                    "block_id": "B1",
                },
                {
                    "person_id": "R1",
                    "start_date": day(14),
                    "end_date": day(27),
                    "rotation_id": "NF",
                    "rotation_name": "Night float",
                    "setting": "night_float",
                    "block_id": "B2",
                },
                {
                    "person_id": "R2",
                    "start_date": day(0),
                    "end_date": day(27),
                    "rotation_id": "VAC",
                    "rotation_name": "Vacation",
                    "setting": "leave",
                    "block_id": "B1",
                },
            ]
        ),  # fmt: skip
        absences=pd.DataFrame(
            [
                {
                    "person_id": "R1",
                    "start_date": pd.Timestamp(day(4)),
                    "end_date": pd.Timestamp(day(5)),
                    "type": "conference",
                    "blocking": False,
                },
                {
                    "person_id": "R1",
                    "start_date": pd.Timestamp(day(5)),
                    "end_date": pd.Timestamp(day(6)),
                    "type": "sick",
                    "blocking": True,
                },
                {
                    "person_id": "R2",
                    "start_date": pd.Timestamp(day(0)),
                    "end_date": pd.Timestamp(day(27)),
                    "type": "vacation",
                    "blocking": pd.NA,
                },
            ]
        ),  # fmt: skip
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def rows_of(html: str, table_id: str = "schedule-grid") -> dict[str, list[str]]:
    """Each body row of the wide table: person id -> its cells' HTML (person, role, PGY, rotation, days...)."""
    table = html[html.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    out = {}
    for row in re.findall(r"<tr data-p='([^']*)'>(.*?)</tr>", table):
        out[row[0]] = re.findall(r"<t[hd][^>]*>.*?</t[hd]>", row[1])
    return out


def payload(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="grid-data">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_every_person_has_a_row_with_role_pgy_and_rotation() -> None:
    html = _schedule_section(grid_data())
    rows = rows_of(html)
    assert list(rows) == ["R1", "R2", "F1"]  # residents first, then faculty
    assert "28 days" in html and "3 people" in html
    r1, r2, f1 = rows["R1"], rows["R2"], rows["F1"]
    assert [re.sub("<[^>]+>", "", c) for c in r1[:4]] == ["R1", "resident", "2", "WARD → NF"]
    assert [re.sub("<[^>]+>", "", c) for c in r2[:4]] == ["R2", "resident", "1", "VAC"]
    assert [re.sub("<[^>]+>", "", c) for c in f1[:4]] == ["F1", "faculty", "—", ""]  # faculty: no PGY
    assert len(r1) == len(r2) == len(f1) == 4 + 28


def test_cells_carry_the_shift_the_rotation_band_and_the_leave() -> None:
    rows = rows_of(_schedule_section(grid_data()))
    days = {person: cells[4:] for person, cells in rows.items()}
    # R1: DAY on the ward in week 1, nothing on the 3rd, night float from the 15th
    assert re.fullmatch(r"<td class='s0 r\d'>DAY</td>", days["R1"][0])
    ward = re.findall(r"r\d", days["R1"][0])[0]
    night_float = re.findall(r"r\d", days["R1"][14])[0]
    assert ward != night_float
    assert days["R1"][2] == f"<td class='{ward}'></td>"
    # a non-blocking conference (worked anyway), then a day where a blocking sick day wins over it
    assert "lv-o" in days["R1"][4] and "title='conference (non-blocking)'" in days["R1"][4] and ">DAY<" in days["R1"][4]
    assert "lv-b" in days["R1"][5] and "title='sick (blocking)'" in days["R1"][5]
    # R2 is away all month: each day says so (blocking by default), not an empty row
    assert all("lv-b" in cell and ">vac<" in cell for cell in days["R2"])
    assert all("title='vacation (blocking)'" in cell for cell in days["R2"])
    assert days["F1"][0] == "<td class='s1'>NIGHT</td>" and days["F1"][1] == "<td></td>"


def test_the_legend_names_shifts_rotations_and_both_kinds_of_leave() -> None:
    html = _schedule_section(grid_data())
    legend = html[html.index('<p class="legend">') : html.index("</p>", html.index('<p class="legend">'))]
    assert "DAY</span>" in legend and "NIGHT</span>" in legend
    assert "NF · Night float" in legend and "VAC · Vacation" in legend and "WARD · Ward" in legend
    assert "class='chip lv-b'>blocking leave" in legend and "class='chip lv-o'>non-blocking absence" in legend


def test_a_leave_rotation_shows_as_leave_without_an_absence_row() -> None:
    html = _schedule_section(grid_data(absences=None))
    r2 = rows_of(html)["R2"][4:]
    assert all("lv-b" in cell and ">leave<" in cell and "title='leave (blocking)'" in cell for cell in r2)


def test_print_has_one_table_per_week_with_the_person_columns_repeated() -> None:
    html = _schedule_section(grid_data())
    printed = html[html.index('<div class="grid-print"') :]
    weeks = re.findall(r'<table class="grid grid-week"><caption>(Week \d+: [0-9-]+ – [0-9-]+)</caption>', printed)
    assert weeks == [
        "Week 1: 2027-07-01 – 2027-07-07",
        "Week 2: 2027-07-08 – 2027-07-14",
        "Week 3: 2027-07-15 – 2027-07-21",
        "Week 4: 2027-07-22 – 2027-07-28",
    ]
    tables = printed.split('<table class="grid grid-week">')[1:]
    for n, table in enumerate(tables):
        head = table[table.index("<thead>") : table.index("</thead>")]
        assert head.count("<th scope='col'") == 4 + 7
        assert "person</th>" in head and "role</th>" in head and "PGY</th>" in head and "rotation</th>" in head
        for d in range(7):
            assert (START + dt.timedelta(days=7 * n + d)).isoformat()[5:] in head
        assert table.count("<th scope='row' class='who'>") == 3
    # the rotation column of a week names that week's rotation only
    assert "<td class='rot'>WARD</td>" in tables[1] and "<td class='rot'>NF</td>" in tables[2]
    assert "@page{size:A4 landscape" in html
    assert re.search(r"\.grid-week\{[^}]*page-break-inside:avoid", html)
    assert re.search(r"@media print\{[^@]*\.grid-screen[^}]*display:none", html)


def test_on_screen_a_line_marks_the_start_of_each_week() -> None:
    # person, role, PGY, rotation: the first day is the 5th cell of a row, and every 7th after it
    assert "#schedule-grid td:nth-child(7n+5)" in _schedule_section(grid_data())
    assert "#schedule-grid td:nth-child(7n+2)" in _schedule_section(grid_data(people=None, rotations=None))


def test_a_period_not_a_multiple_of_seven_ends_with_a_short_week() -> None:
    html = _schedule_section(grid_data(days=10))
    assert "Week 2: 2027-07-08 – 2027-07-10" in html and "Week 3" not in html


def test_explanations_are_embedded_as_json_and_cannot_end_the_script() -> None:
    explanations = {
        ("R1", day(0), "DAY"): "R1 works DAY: the ward needs 1 resident.\nNo one else is eligible.",
        ("R2", day(3), ""): f"R2 is on vacation {HOSTILE}",
        ("R1", dt.date(2027, 7, 2), "DAY"): "a date given as a date",
    }
    html = _schedule_section(grid_data(explanations=explanations))
    assert HOSTILE not in html and "window.__pwned=1</script>" not in html
    data = payload(html)
    assert data["explain"]["R1"][day(0)]["DAY"].endswith("No one else is eligible.")
    assert data["explain"]["R2"][day(3)][""] == f"R2 is on vacation {HOSTILE}"
    assert data["explain"]["R1"][day(1)]["DAY"] == "a date given as a date"
    assert data["dates"] == [day(d) for d in range(28)]
    assert data["blocks"][0] == "B1" and data["blocks"][20] == "B2"  # the block of each day, for the command
    assert data["runs"]["R1"] == [[0, "WARD"], [14, "NF"]] and data["runs"]["F1"] == [[0, ""]]
    assert data["rotations"] == {"NF": "Night float", "VAC": "Vacation", "WARD": "Ward"}
    # the panel and its help are on the page; the command for cells without an explanation is in the script
    assert 'id="cell-explain"' in html and 'aria-live="polite"' in html and 'aria-describedby="grid-help"' in html
    assert "rotaflow explain --program PATH --block " in html and "' --person '" in html and "' --date '" in html


def test_without_explanations_the_payload_is_empty_and_the_grid_still_works() -> None:
    data = payload(_schedule_section(grid_data()))
    assert data["explain"] == {}


def test_runs_compress_a_persons_rotation_days() -> None:
    assert _runs(["A", "A", "", "B", "B"]) == [(0, "A"), (2, ""), (3, "B")]
    assert _runs([]) == []


def test_without_people_or_rotations_the_grid_keeps_its_old_columns() -> None:
    data = grid_data(people=None, rotations=None, absences=None)
    html = _schedule_section(data)
    assert "<th scope='col'>PGY</th>" not in html and "rotation</th>" not in html
    assert list(rows_of(html)) == ["F1", "R1"]  # the people of the assignments, in id order
    assert "rotation (band" not in html


def test_names_and_emails_never_reach_the_grid(tiny_dir: Path) -> None:
    bundle = load(tiny_dir)
    frames = grid_frames(bundle)
    for frame in frames.values():
        assert not {"name", "email"} & set(frame.columns)
    spans = frames["rotations"].set_index(["person_id", "block_id"])
    assert spans.loc[("R3", "B1"), "rotation_id"] == "NF"
    assert spans.loc[("R3", "B1"), "rotation_name"] == "Night float"
    assert spans.loc[("R3", "B1"), "start_date"] == pd.Timestamp("2027-07-01")
    assert spans.loc[("R3", "B1"), "end_date"] == pd.Timestamp("2027-07-28")
    assert list(frames["absences"]["type"]) == ["conference", "vacation"]
    rows = [{"person_id": "R1", "date": "2027-07-01", "shift_id": "DAY"}]
    data = ReportData(
        summary={"period_start": "2027-07-01", "period_end": "2027-07-28"},
        findings=pd.DataFrame(columns=list(FINDING_COLUMNS)),
        assignments=pd.DataFrame(rows),
        **frames,
    )
    html = render_report(data)
    for person in bundle.frames["people"].itertuples():
        assert person.name not in html
        assert pd.isna(person.email) or person.email not in html


def test_no_assignments() -> None:
    data = grid_data(assignments=pd.DataFrame(columns=["person_id", "date"]))
    assert _schedule_section(data) == '<p class="note">No assignments to show.</p>'


# --------------------------------------------------------------------------- through write_validation


def _written_report(tiny_dir: Path, tmp_path: Path) -> str:
    from rotaflow.services.validate import validate, write_validation
    from rotaflow.validations.schedule import load_schedule

    bundle = load(tiny_dir)
    rows = [("R1", "2027-07-10", "DAY"), ("R2", "2027-07-10", "DAY"), ("R3", "2027-07-10", "NIGHT")]
    frame = pd.DataFrame(rows, columns=["person_id", "date", "shift_id"])
    validation = validate(bundle, load_schedule(bundle, frame), block_id="B1")
    write_validation(tmp_path / "out", validation, bundle, data_docs=False)
    return (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def _explain_module(monkeypatch: pytest.MonkeyPatch, function: Any) -> None:
    module = types.ModuleType("rotaflow.services.explain")
    module.cell_explanations = function  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rotaflow.services.explain", module)


def test_write_validation_shows_roles_rotations_leave_and_explanations(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def explain(bundle: Any, validation: Any) -> dict[tuple[str, str, str], str]:
        seen.append(validation.period)
        return {("R1", "2027-07-10", "DAY"): "R1 works DAY: the ward needs a resident."}

    _explain_module(monkeypatch, explain)
    html = _written_report(tiny_dir, tmp_path)
    rows = rows_of(html)
    assert list(rows) == ["R1", "R2", "R3", "F1"]  # everyone of people.csv, also those without a shift
    assert [re.sub("<[^>]+>", "", c) for c in rows["F1"][:3]] == ["F1", "faculty", "—"]
    assert [re.sub("<[^>]+>", "", c) for c in rows["R3"][:4]] == ["R3", "resident", "3", "NF"]
    r1_10th = rows["R1"][4 + 9]
    assert "lv-o" in r1_10th and ">DAY<" in r1_10th  # absences.csv: R1 at a non-blocking conference
    assert seen == [(dt.date(2027, 7, 1), dt.date(2027, 7, 28))]
    assert payload(html)["explain"] == {"R1": {"2027-07-10": {"DAY": "R1 works DAY: the ward needs a resident."}}}


def test_write_validation_renders_without_explanations_when_they_fail(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(bundle: Any, validation: Any) -> dict[tuple[str, str, str], str]:
        raise RuntimeError("explain failed")

    _explain_module(monkeypatch, broken)
    with caplog.at_level("WARNING", logger="rotaflow.services.validate"):
        html = _written_report(tiny_dir, tmp_path)
    assert payload(html)["explain"] == {}
    assert "report.html without cell explanations: RuntimeError" in caplog.text
    assert list(rows_of(html)) == ["R1", "R2", "R3", "F1"]


def test_write_validation_skips_explanations_of_a_large_program(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[int] = []

    def explain(bundle: Any, validation: Any) -> dict[tuple[str, str, str], str]:
        called.append(1)
        return {}

    _explain_module(monkeypatch, explain)
    monkeypatch.setattr("rotaflow.services.validate.EXPLAINED_CELLS_MAX", 4 * 28 - 1)  # 4 people × 28 days
    html = _written_report(tiny_dir, tmp_path)
    assert called == [] and payload(html)["explain"] == {}


def test_write_validation_embeds_the_explain_services_texts(tiny_dir: Path, tmp_path: Path) -> None:
    """The real rotaflow.services.explain: every worked cell and every day off of the block is explained."""
    explain = payload(_written_report(tiny_dir, tmp_path))["explain"]
    assert set(explain) == {"R1", "R2", "R3", "F1"}
    assert "DAY" in explain["R1"]["2027-07-10"] and "NIGHT" in explain["R3"]["2027-07-10"]
    assert all(set(explain[p]) == {f"2027-07-{d:02d}" for d in range(1, 29)} for p in explain)
    assert "" in explain["F1"]["2027-07-10"]  # a day without a shift says why
    for texts in explain.values():
        for by_shift in texts.values():
            assert all("Resident One" not in text and "@example.org" not in text for text in by_shift.values())
