"""Calendars that follow a block's versions: stable UIDs, rising SEQUENCEs, cancelled events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from icalendar import Calendar

from rotaflow.services.calendars import (
    CalendarId,
    CalendarLabels,
    calendar_file,
    calendar_files,
    calendar_identities,
    default_uid,
)
from rotaflow.services.changes import Row

D1, D2, D3 = dt.date(2027, 7, 1), dt.date(2027, 7, 2), dt.date(2027, 7, 5)
ZONE = "Pacific/Honolulu"
STAMP = dt.datetime(2027, 6, 20, 8, 30, 15, tzinfo=dt.UTC)


def test_default_uids_are_todays_for_a_first_version_and_versioned_after() -> None:
    row = ("R1", D1, "DAY")
    assert default_uid("tiny", row) == "tiny-R1-2027-07-01-DAY@rotaflow"
    assert default_uid("tiny", row, 1) == "tiny-R1-2027-07-01-DAY@rotaflow"
    assert default_uid("tiny", row, 4) == "tiny-R1-2027-07-01-DAY-v4@rotaflow"


def test_a_first_version_gets_todays_uids_at_sequence_zero() -> None:
    rows = [("R1", D1, "DAY"), ("R2", D1, "NIGHT")]
    identities, cancelled = calendar_identities("tiny", 1, {}, rows)
    assert identities == {r: (default_uid("tiny", r), 0) for r in rows}
    assert cancelled == {}


def test_unchanged_rows_keep_their_identity() -> None:
    old: dict[Row, CalendarId] = {("R1", D1, "DAY"): ("u-1", 3), ("R2", D2, "DAY"): ("u-2", 0)}
    identities, cancelled = calendar_identities("tiny", 5, old, list(old))
    assert identities == old
    assert cancelled == {}


def test_a_move_keeps_the_uid_and_raises_the_sequence() -> None:
    old: dict[Row, CalendarId] = {("R1", D1, "DAY"): ("u-1", 2), ("R2", D1, "NIGHT"): ("u-2", 0)}
    new = [("R1", D2, "DAY"), ("R2", D1, "NIGHT")]
    identities, cancelled = calendar_identities("tiny", 2, old, new)
    assert identities == {("R1", D2, "DAY"): ("u-1", 3), ("R2", D1, "NIGHT"): ("u-2", 0)}
    assert cancelled == {}  # the moved row is the same event, not a cancellation


def test_a_move_prefers_the_same_shift_then_the_nearest_date() -> None:
    old: dict[Row, CalendarId] = {("R1", D1, "DAY"): ("u-day", 0), ("R1", D1, "NIGHT"): ("u-night", 0)}
    # NIGHT moves to the far D3, DAY to D2: the shift id wins over the date
    new = [("R1", D3, "NIGHT"), ("R1", D2, "DAY")]
    identities, cancelled = calendar_identities("tiny", 2, old, new)
    assert identities == {("R1", D2, "DAY"): ("u-day", 1), ("R1", D3, "NIGHT"): ("u-night", 1)}
    assert cancelled == {}
    # one DAY removed, two DAYs added: the nearer one is the move, the other is new
    old = {("R1", D2, "DAY"): ("u-day", 0)}
    identities, cancelled = calendar_identities("tiny", 2, old, [("R1", D3, "DAY"), ("R1", D1, "DAY")])
    assert identities == {
        ("R1", D1, "DAY"): ("u-day", 1),
        ("R1", D3, "DAY"): ("tiny-R1-2027-07-05-DAY-v2@rotaflow", 0),
    }
    # the same answer whatever the order the rows come in
    again = calendar_identities("tiny", 2, old, [("R1", D1, "DAY"), ("R1", D3, "DAY")])
    assert again == (identities, cancelled)


def test_a_shift_that_changes_hands_is_cancelled_for_one_and_new_for_the_other() -> None:
    old: dict[Row, CalendarId] = {("R1", D1, "DAY"): ("u-1", 1)}
    identities, cancelled = calendar_identities("tiny", 3, old, [("R2", D1, "DAY")])
    assert cancelled == {("R1", D1, "DAY"): ("u-1", 2)}
    uid, sequence = identities[("R2", D1, "DAY")]
    assert (uid, sequence) == ("tiny-R2-2027-07-01-DAY-v3@rotaflow", 0)
    assert uid not in {u for u, _ in cancelled.values()}


def test_a_removal_is_cancelled_and_a_new_row_never_takes_a_cancelled_uid() -> None:
    row = ("R1", D1, "DAY")
    v1, none = calendar_identities("tiny", 1, {}, [row])
    assert none == {}
    v2, cancelled = calendar_identities("tiny", 2, v1, [])
    assert v2 == {}
    assert cancelled == {row: (v1[row][0], 1)}
    # version 3 gives R1 the same shift again: a fresh event, never the cancelled UID at a lower sequence
    v3, _ = calendar_identities("tiny", 3, v2, [row], retired=[v1[row][0]])
    assert v3[row][0] != v1[row][0]
    assert v3[row] == ("tiny-R1-2027-07-01-DAY-v3@rotaflow", 0)


def test_remove_then_re_add_over_three_versions_never_reuses_a_uid_at_a_lower_sequence() -> None:
    kept = ("R2", D2, "NIGHT")
    row = ("R1", D1, "DAY")
    v1, _ = calendar_identities("tiny", 1, {}, [row, kept])
    v2, cancelled2 = calendar_identities("tiny", 2, v1, [kept])
    v3, cancelled3 = calendar_identities("tiny", 3, v2, [row, kept])
    highest: dict[str, int] = {}
    for step in (v1, cancelled2, v2, cancelled3, v3):
        for uid, sequence in step.values():
            assert sequence >= highest.get(uid, -1), f"{uid} went back to sequence {sequence}"
            highest[uid] = sequence
    assert cancelled2 == {row: (v1[row][0], 1)}
    assert v3[row] != v1[row] and v3[row][0] != v1[row][0]
    assert v3[kept] == v1[kept]


def test_a_first_version_after_an_empty_one_avoids_the_retired_uids() -> None:
    row = ("R1", D1, "DAY")
    identities, _ = calendar_identities("tiny", 4, {}, [row], retired=[default_uid("tiny", row)])
    assert identities == {row: (default_uid("tiny", row, 4), 0)}


def _event(person: str, day: str, shift: str, uid: str, sequence: int, rotation: str = "") -> dict[str, Any]:
    return {
        "person_id": person,
        "date": day,
        "shift_id": shift,
        "start": f"{day}T07:00:00-10:00",
        "end": f"{day}T19:30:00-10:00",
        "hours": 12.5,
        "rotation_id": rotation,
        "source": "solver",
        "uid": uid,
        "sequence": sequence,
    }


def _events(raw: bytes) -> dict[str, Any]:
    calendar = Calendar.from_ical(raw)
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def test_a_calendar_carries_sequences_cancellations_and_the_versions_time() -> None:
    active = [_event("R1", "2027-07-02", "DAY", "u-2", 3, rotation="ICU")]
    gone = [_event("R1", "2027-07-01", "NIGHT", "u-1", 1)]
    raw = calendar_file(active, gone, timezone=ZONE, calendar_name="R1 — B1", dtstamp=STAMP)
    calendar = Calendar.from_ical(raw)
    assert str(calendar["method"]) == "PUBLISH"
    assert str(calendar["x-wr-timezone"]) == ZONE
    assert str(calendar["prodid"]) == "-//rotaflow//schedule//EN"
    assert [str(t["tzid"]) for t in calendar.walk("VTIMEZONE")] == [ZONE]
    events = _events(raw)
    assert int(events["u-2"]["sequence"]) == 3
    assert "status" not in events["u-2"]
    assert str(events["u-2"]["summary"]) == "DAY — ICU"  # no labels: the codes
    assert str(events["u-2"]["description"]) == "shift: DAY\nrotation: ICU\nhours: 12.5"
    assert "location" not in events["u-2"]
    assert int(events["u-1"]["sequence"]) == 1
    assert str(events["u-1"]["status"]) == "CANCELLED"
    assert str(events["u-1"]["summary"]) == "Cancelled: NIGHT"
    for event in events.values():
        assert event.decoded("dtstamp") == STAMP
    # instants read back exactly, in the program's zone
    for row in active + gone:
        event = events[row["uid"]]
        assert event.decoded("dtstart") == dt.datetime.fromisoformat(row["start"])
        assert event.decoded("dtend") == dt.datetime.fromisoformat(row["end"])
        assert str(event.decoded("dtstart").tzinfo) == ZONE
    # the cancelled event comes first: events are in time order
    assert [str(e["uid"]) for e in calendar.walk("VEVENT")] == ["u-1", "u-2"]


def test_a_dtstamp_in_another_zone_is_written_in_utc_and_a_naive_one_is_refused() -> None:
    local = STAMP.astimezone(dt.timezone(dt.timedelta(hours=-10)))
    raw = calendar_file(
        [_event("R1", "2027-07-02", "DAY", "u", 0)], [], timezone=ZONE, calendar_name="x", dtstamp=local
    )
    assert b"DTSTAMP:20270620T083015Z" in raw
    with pytest.raises(ValueError, match="aware"):
        calendar_file([], [], timezone=ZONE, calendar_name="x", dtstamp=dt.datetime(2027, 6, 20))


def test_one_file_per_person_also_for_one_with_only_cancelled_events() -> None:
    events = [_event("R1", "2027-07-02", "DAY", "u-2", 0), _event("R1", "2027-07-03", "DAY", "u-3", 0)]
    cancelled = [_event("R2", "2027-07-01", "NIGHT", "u-1", 1)]
    files = calendar_files(events, cancelled, timezone=ZONE, block_id="B1", names={"R1": "Ana"}, dtstamp=STAMP)
    assert sorted(files) == ["R1", "R2"]
    assert sorted(_events(files["R1"])) == ["u-2", "u-3"]
    r2 = Calendar.from_ical(files["R2"])
    assert str(r2["x-wr-calname"]) == "R2 — B1"  # no name given: the person_id
    assert str(Calendar.from_ical(files["R1"])["x-wr-calname"]) == "Ana — B1"
    only = _events(files["R2"])
    assert list(only) == ["u-1"] and str(only["u-1"]["status"]) == "CANCELLED"


def test_a_name_with_a_newline_or_comma_stays_one_escaped_line() -> None:
    names = {"R1": "Doe,\nJane;\r\x0b Q\u2028"}
    files = calendar_files(
        [_event("R1", "2027-07-02", "DAY", "u", 0)], [], timezone=ZONE, block_id="B1", names=names, dtstamp=STAMP
    )
    raw = files["R1"]
    lines = [line for line in raw.decode("utf-8").split("\r\n") if line.startswith("X-WR-CALNAME")]
    assert lines == ["X-WR-CALNAME:Doe\\, Jane\\; Q — B1"]
    # icalendar reads an X- property back as written (escaped); the file still parses as one calendar
    calendar = Calendar.from_ical(raw)
    assert str(calendar["x-wr-calname"]) == "Doe\\, Jane\\; Q — B1"
    assert len(calendar.walk("VEVENT")) == 1


LABELS = CalendarLabels(
    shifts={"DAY": "Day ward", "NIGHT": "Night shift"},
    rotations={"ICU": "ICU rotation", "NF": "Night shift"},
    shift_locations={"NIGHT": "Main hospital, 4th floor"},
    rotation_locations={"ICU": "ICU, building B"},
)


def test_titles_are_the_shift_and_rotation_names_and_the_description_the_codes() -> None:
    active = [
        _event("R1", "2027-07-02", "NIGHT", "u-night", 0, rotation="ICU"),
        _event("R1", "2027-07-03", "DAY", "u-day", 0),
        _event("R1", "2027-07-04", "NIGHT", "u-nf", 0, rotation="NF"),
        _event("R1", "2027-07-05", "CALL", "u-call", 0, rotation="OTHER"),
    ]
    gone = [_event("R1", "2027-07-01", "DAY", "u-gone", 1, rotation="ICU")]
    events = _events(calendar_file(active, gone, timezone=ZONE, calendar_name="x", dtstamp=STAMP, labels=LABELS))
    assert str(events["u-night"]["summary"]) == "Night shift — ICU rotation"
    assert str(events["u-day"]["summary"]) == "Day ward"  # no rotation that day
    assert str(events["u-nf"]["summary"]) == "Night shift"  # the rotation's name is the shift's: said once
    assert str(events["u-call"]["summary"]) == "CALL — OTHER"  # names the labels lack: the ids
    assert str(events["u-gone"]["summary"]) == "Cancelled: Day ward — ICU rotation"
    assert str(events["u-night"]["description"]) == "shift: NIGHT\nrotation: ICU\nhours: 12.5"
    assert str(events["u-day"]["description"]) == "shift: DAY\nhours: 12.5"


def test_the_location_is_the_shifts_else_the_rotations() -> None:
    active = [
        _event("R1", "2027-07-02", "NIGHT", "u-both", 0, rotation="ICU"),
        _event("R1", "2027-07-03", "DAY", "u-rotation", 0, rotation="ICU"),
        _event("R1", "2027-07-04", "DAY", "u-none", 0, rotation="NF"),
    ]
    raw = calendar_file(active, [], timezone=ZONE, calendar_name="x", dtstamp=STAMP, labels=LABELS)
    events = _events(raw)
    assert str(events["u-both"]["location"]) == "Main hospital, 4th floor"
    assert b"LOCATION:Main hospital\\, 4th floor" in raw  # escaped as RFC 5545 asks
    assert str(events["u-rotation"]["location"]) == "ICU, building B"
    assert "location" not in events["u-none"]


def test_an_events_own_dtstamp_and_block_are_kept() -> None:
    made = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)
    row = {**_event("R1", "2027-07-02", "DAY", "u", 2), "dtstamp": made, "block_id": "B1"}
    event = _events(calendar_file([row], [], timezone=ZONE, calendar_name="x", dtstamp=STAMP))["u"]
    assert event.decoded("dtstamp") == made
    assert str(event["description"]).endswith("\nblock: B1")


def test_every_person_given_gets_a_file_one_without_shifts_an_empty_valid_calendar() -> None:
    events = [_event("R1", "2027-07-02", "DAY", "u-2", 0)]
    files = calendar_files(
        events, [], timezone=ZONE, block_id="B1", names={"F1": "Fay"}, dtstamp=STAMP, people=("R1", "R2", "F1")
    )
    assert sorted(files) == ["F1", "R1", "R2"]
    empty = Calendar.from_ical(files["F1"])
    assert empty.walk("VEVENT") == []
    assert str(empty["x-wr-calname"]) == "Fay — B1"
    # RFC 5545: a calendar holds at least one component; an empty one holds its zone's VTIMEZONE
    assert [str(t["tzid"]) for t in empty.walk("VTIMEZONE")] == [ZONE]
    assert files["F1"].startswith(b"BEGIN:VCALENDAR\r\n") and files["F1"].endswith(b"END:VCALENDAR\r\n")


def test_the_zone_is_made_once_and_every_calendar_is_what_icalendars_own_zones_give(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from icalendar import Timezone

    from rotaflow.services import calendars

    zone = "America/Chicago"  # a zone no other test writes: not made yet in this process
    calendars.vtimezone.cache_clear()
    made: list[str] = []
    from_tzid = Timezone.from_tzid

    def counted(tzid: str, *args: Any, **kwargs: Any) -> Timezone:
        made.append(tzid)
        return from_tzid(tzid, *args, **kwargs)

    events = [_event(p, "2027-07-02", "DAY", f"u-{p}", 0) for p in ("R1", "R2", "R3")]
    monkeypatch.setattr(Timezone, "from_tzid", staticmethod(counted))
    files = calendar_files(events, [], timezone=zone, block_id="B1", names=None, dtstamp=STAMP, people=["R4"])
    assert made == [zone]  # four calendars (R4's without events), one VTIMEZONE made
    monkeypatch.setattr(Timezone, "from_tzid", staticmethod(from_tzid))
    for person, raw in files.items():
        calendar = Calendar.from_ical(raw)
        assert [str(t["tzid"]) for t in calendar.walk("VTIMEZONE")] == [zone]
        # icalendar's own way, on the same calendar without its zone: the same bytes
        calendar.subcomponents = [c for c in calendar.subcomponents if c.name != "VTIMEZONE"]
        if person == "R4":
            calendar.add_component(Timezone.from_tzid(zone))
        else:
            calendar.add_missing_timezones()
        assert bytes(calendar.to_ical()) == raw
