"""Today's date where the program works (rotaflow.services.planning)."""

from __future__ import annotations

import datetime as dt

from rotaflow.services.planning import program_today

UTC = dt.UTC


def test_today_is_the_date_where_the_program_works() -> None:
    late = dt.datetime(2027, 7, 1, 3, 30, tzinfo=UTC)  # 23:30 on 30 June in New York
    assert program_today("America/New_York", now=late) == dt.date(2027, 6, 30)
    assert program_today("Asia/Tokyo", now=late) == dt.date(2027, 7, 1)
    before = dt.datetime.now(UTC)
    today = program_today("Pacific/Kiritimati")  # UTC+14: a day ahead of UTC most of the time
    after = dt.datetime.now(UTC)
    assert today in {program_today("Pacific/Kiritimati", now=before), program_today("Pacific/Kiritimati", now=after)}
