"""Outcomes an operator must see in the Prefect UI are emitted as Prefect events, not only logged.

Events are captured with Prefect's own testing client (``AssertingEventsClient`` behind the events
worker, as ``prefect.testing.fixtures.asserting_events_worker`` does).
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from prefect.events.clients import AssertingEventsClient
from prefect.events.schemas.events import Event
from prefect.events.worker import EventsWorker

from rotaflow.configs.settings import get_settings
from rotaflow.flows.backup import verify_backups
from rotaflow.flows.generate import generate_block
from rotaflow.flows.restore import emergency_restore
from rotaflow.flows.validate import validate_schedule
from rotaflow.services.generate import next_block, next_block_and_days
from tests.flows.test_generate_flow import _append, fast_ingest  # noqa: F401
from tests.schedules import make_solvable, solved_schedule

pytestmark = pytest.mark.flow


class Captured:
    def __init__(self, worker: EventsWorker) -> None:
        self.worker = worker

    def named(self, name: str) -> list[Event]:
        self.worker.wait_until_empty()
        client = self.worker._client
        assert isinstance(client, AssertingEventsClient)
        return [e for e in client.events if e.event == name]

    def all(self) -> list[Event]:
        self.worker.wait_until_empty()
        client = self.worker._client
        assert isinstance(client, AssertingEventsClient)
        return list(client.events)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    try:
        yield Captured(worker)
    finally:
        worker.drain()


@pytest.fixture
def live(filled_sqlite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_sqlite)
    get_settings.cache_clear()
    return filled_sqlite


@pytest.fixture
def config_path(tmp_path: Path) -> str:
    path = tmp_path / "backup.yaml"
    path.write_text(yaml.safe_dump({"tiers": {"quick": {"keep_last": 2, "stale_after_hours": 26}}}))
    return str(path)


def test_failed_generation_emits_an_event(
    events: Captured,
    tiny_dir: Path,
    tmp_path: Path,
    fast_ingest: None,  # noqa: F811
) -> None:
    make_solvable(tiny_dir)
    _append(tiny_dir / "coverage.csv", ["DAY,2027-07-05,WARD,resident,,,3,3,"])  # preflight refuses B1
    state = generate_block(str(tiny_dir), "B1", out_dir=str(tmp_path / "out"), time_limit_seconds=5, return_state=True)
    assert state.is_failed()
    (event,) = events.named("rotaflow.generation.failed")
    assert event.resource.id.startswith("rotaflow.program.")
    assert event.payload["block_id"] == "B1" and event.payload["status"] == "infeasible"
    assert "preflight" in event.payload["reason"]


def test_a_bundle_that_breaks_its_contract_emits_a_generation_event(
    events: Captured, tiny_dir: Path, tmp_path: Path
) -> None:
    (tiny_dir / "people.csv").write_text("person_id,name,role,pgy\nR1,,resident,9\n")
    state = generate_block(str(tiny_dir), "B1", out_dir=str(tmp_path / "out"), time_limit_seconds=5, return_state=True)
    assert state.is_failed()
    (event,) = events.named("rotaflow.generation.failed")
    assert event.resource.id == "rotaflow.program.tiny"
    assert event.payload == {"block_id": "B1", "reason": "the bundle broke its contract"}


def test_a_hard_violation_emits_an_event(events: Captured, tiny_dir: Path, tmp_path: Path) -> None:
    program = make_solvable(tiny_dir)
    schedule = solved_schedule(program, "B1", tmp_path / "assignments.csv")
    rows = schedule.read_text().splitlines()[1:]
    person, date = next(r for r in rows if r.startswith("R1,")).split(",")[:2]
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,date,shift_id\n" + "\n".join(",".join(r.split(",")[:3]) for r in rows))
    bad.write_text(bad.read_text() + f"\n{person},{date},NIGHT\n")
    state = validate_schedule(str(program), str(bad), out_dir=str(tmp_path / "out"), data_docs=False, return_state=True)
    assert state.is_failed()
    (event,) = events.named("rotaflow.validation.violations")
    assert event.resource.id.startswith("rotaflow.program.")
    assert event.payload["hard_violations"] >= 1
    assert person not in str(event.payload)  # counts, not people


def test_a_stale_tier_emits_an_event(events: Captured, live: str, config_path: str) -> None:
    state = verify_backups(config_path=config_path, return_state=True)
    assert state.is_completed(), state.message
    stale = {e.resource.id: e for e in events.named("rotaflow.backup.stale")}
    summary = state.result()
    assert isinstance(summary, dict)
    assert {f"rotaflow.backup.{t}" for t in summary["stale"]} == set(stale)
    assert "rotaflow.backup.quick" in stale  # configured and empty: stale
    assert stale["rotaflow.backup.quick"].payload["newest"] is None
    assert "rotaflow.backup.immaculate" not in stale  # no S3 settings: not configured, no alert


def test_a_backup_emits_an_event_a_proactive_automation_waits_for(events: Captured, live: str) -> None:
    from rotaflow.flows.backup import backup

    result = backup(return_state=True).result()
    (event,) = events.named("rotaflow.backup.created")
    assert event.resource.id == "rotaflow.backup.quick"
    assert event.payload == {"backup_id": result["backup_id"], "bytes": result["bytes"]}


def test_a_failed_restore_test_emits_an_event(events: Captured, live: str) -> None:
    from rotaflow.backups.config import load_backup_config, open_tier_store
    from rotaflow.backups.sets import create_backup
    from tests.flows.test_backup_flows import _forge_fingerprint

    made = create_backup(database_url=live, config=load_backup_config())
    _forge_fingerprint(Path(open_tier_store("quick", load_backup_config()).url) / made.backup_id, "rotations")
    assert verify_backups(return_state=True).is_failed()
    (event,) = events.named("rotaflow.backup.restore-test-failed")
    assert event.resource.id == "rotaflow.backup.quick"
    assert event.payload["backup_id"] == made.backup_id
    assert event.payload["problems"] == ["table rotations has the right row count but different content"]


def test_a_refused_gate_emits_an_event(events: Captured, live: str, config_path: str) -> None:
    state = emergency_restore("quick", "no-such-backup", config_path=config_path, return_state=True)
    assert state.is_failed()
    (event,) = events.named("rotaflow.restore.gate-refused")
    assert event.resource.id == "rotaflow.backup.quick"
    assert event.payload["backup_id"] == "no-such-backup" and event.payload["status"] == "refused"
    assert "sqlite" not in str(event.payload).lower()  # no database URL in the event


def test_next_block_is_the_first_starting_after_today() -> None:
    blocks = pd.DataFrame(
        {"block_id": ["B2", "B1"], "start_date": pd.to_datetime(["2027-07-29", "2027-07-01"])},
    )
    bundle = types.SimpleNamespace(
        frames={"blocks": blocks}, program=types.SimpleNamespace(timezone="Pacific/Honolulu")
    )
    assert next_block(bundle, dt.date(2027, 6, 3)) == "B1"
    assert next_block(bundle, dt.date(2027, 7, 1)) == "B2"
    assert next_block(bundle, dt.date(2027, 8, 1)) is None


def test_a_scheduled_run_before_the_lead_window_generates_nothing(
    events: Captured,
    tiny_dir: Path,
    tmp_path: Path,
    fast_ingest: None,  # noqa: F811
) -> None:
    make_solvable(tiny_dir)
    state = generate_block(str(tiny_dir), "next", out_dir=str(tmp_path / "out"), next_within_days=35, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    expected = next_block_and_days(types.SimpleNamespace(frames={"blocks": _tiny_blocks(tiny_dir)}, program=_tz()))
    assert expected is not None and expected[1] > 35  # the tiny program's first block is months away
    assert result["status"] == "not-yet" and result["block_id"] == expected[0] == "B1"
    assert f"starts in {expected[1]} days" in result["message"]
    assert not (tmp_path / "out").exists()  # nothing solved, published or exported
    assert events.named("rotaflow.generation.failed") == []


def _tiny_blocks(bundle: Path) -> pd.DataFrame:
    blocks = pd.read_csv(bundle / "blocks.csv")
    blocks["start_date"] = pd.to_datetime(blocks["start_date"])
    return blocks


def _tz() -> types.SimpleNamespace:
    return types.SimpleNamespace(timezone="America/New_York")  # the tiny program's
