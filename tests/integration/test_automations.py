"""Automations on rotaflow's events, on a real Prefect server: made idempotently, and they fire."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from rotaflow.automations import AUTOMATIONS_FILE, AutomationSpec, alerts_block, ensure_automations, load_automations
from rotaflow.errors import ConfigError
from rotaflow.serve import Served

EMITTED_EVENTS = {
    "rotaflow.generation.failed",
    "rotaflow.validation.violations",
    "rotaflow.backup.stale",
    "rotaflow.backup.restore-test-failed",
    "rotaflow.restore.gate-refused",
    "rotaflow.restore.completed",
    "rotaflow.run.failed",
    "rotaflow.backup.created",
}
REPAIR_EVENTS = {"needs-approval", "refused", "failed"}
"""``rotaflow.repair.<what>``, emitted through ``emit_repair_event(what, …)`` (flows/repair.py)."""
SWAP_EVENTS = {"needs-approval", "approved", "rejected", "failed"}
"""``rotaflow.swap.<what>``, emitted through ``emit_swap_event(what, …)`` (flows/swap.py); ``executed`` (a swap
without approval) has no automation: it is the ordinary case."""


def test_every_event_the_flows_emit_has_an_automation() -> None:
    specs = load_automations()
    expected = {event for spec in specs for event in spec.expect}
    assert expected >= EMITTED_EVENTS | {f"rotaflow.repair.{what}" for what in REPAIR_EVENTS}
    assert expected >= {f"rotaflow.swap.{what}" for what in SWAP_EVENTS}
    sources = "\n".join(p.read_text() for p in (Path(__file__).resolve().parents[2] / "flows").glob("*.py"))
    for event in EMITTED_EVENTS:
        assert f'"{event}"' in sources, f"no flow emits {event}"
    assert 'f"rotaflow.repair.{what}"' in sources
    for what in REPAIR_EVENTS:
        assert re.search(rf'emit_repair_event\(\s*"{what}"', sources), f"no flow emits rotaflow.repair.{what}"
    assert 'f"rotaflow.swap.{what}"' in sources
    for what in SWAP_EVENTS:
        assert re.search(rf'emit_swap_event\(\s*"{what}"', sources), f"no flow emits rotaflow.swap.{what}"
    [proactive] = [s for s in specs if s.posture == "Proactive"]
    assert proactive.body(None)["trigger"]["for_each"] == ["prefect.resource.id"]
    assert proactive.within_seconds == 26 * 3600


def test_a_broken_automations_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "automations.yaml"
    path.write_text(yaml.safe_dump({"automations": [{"name": "x", "expect": []}]}))
    with pytest.raises(ConfigError, match=r"automations\.yaml: automations\.0\.expect"):
        load_automations(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_automations(tmp_path / "missing.yaml")


def _events(served: Served, prefix: str, since: dt.datetime) -> list[dict[str, Any]]:
    body = {
        "filter": {"event": {"prefix": [prefix]}, "occurred": {"since": since.isoformat()}},
        "limit": 50,
    }
    with served.client() as client:
        found = client.post("/events/filter", json=body)
        found.raise_for_status()
        return list(found.json()["events"])


def _emit(served: Served, event: str, resource_id: str) -> None:
    """Emit from another process, as a flow run on the worker does (authenticated websocket)."""
    env = dict(os.environ, PREFECT_API_URL=served.config.api_url, PREFECT_API_AUTH_STRING=served.auth)
    code = (
        "from prefect.events import emit_event\n"
        f"assert emit_event({event!r}, resource={{'prefect.resource.id': {resource_id!r}}}, payload={{'n': 1}})\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_automations_are_made_once_and_fire_on_rotaflow_events(prefect_server: Served) -> None:
    with prefect_server.client() as client:
        first = ensure_automations(client)
        assert set(first.values()) == {"created"} and len(first) == len(load_automations())
        assert set(ensure_automations(client).values()) == {"unchanged"}
        listed = client.post("/automations/filter", json={}).json()
        assert sorted(a["name"] for a in listed) == sorted(first)  # no duplicates

        specs = load_automations()
        specs[0] = specs[0].model_copy(update={"description": "changed"})
        again = ensure_automations(client, specs=specs)
        assert again[specs[0].name] == "updated" and list(again.values()).count("unchanged") == len(specs) - 1

        stale = next(a for a in listed if a["trigger"]["expect"] == ["rotaflow.backup.stale"])
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    _emit(prefect_server, "rotaflow.backup.stale", "rotaflow.backup.quick")
    deadline = time.monotonic() + 90
    fired: set[str] = set()
    while time.monotonic() < deadline and "prefect.automation.triggered" not in fired:
        fired |= {
            e["event"]
            for e in _events(prefect_server, "prefect.automation.", since)
            if e["resource"]["prefect.resource.id"] == f"prefect.automation.{stale['id']}"
        }
        time.sleep(1)
    assert "prefect.automation.triggered" in fired, f"the stale-backup automation did not fire: {fired}"


def test_with_a_webhook_each_automation_notifies_through_the_alerts_block(prefect_server: Served) -> None:
    block_id = alerts_block(
        "http://127.0.0.1:9/rotaflow-alerts", api_url=prefect_server.config.api_url, auth_string=prefect_server.auth
    )
    spec = AutomationSpec(name="rotaflow-test: notify", expect=["rotaflow.test.notify"])
    with prefect_server.client() as client:
        assert ensure_automations(client, specs=[spec], block_document_id=block_id) == {spec.name: "created"}
        [made] = [a for a in client.post("/automations/filter", json={}).json() if a["name"] == spec.name]
        [action] = made["actions"]
        assert action["type"] == "send-notification" and action["block_document_id"] == block_id
        assert "{{ event.event }}" in action["subject"]
        block = client.get(f"/block_documents/{block_id}").json()
        assert block["name"] == "rotaflow-alerts"
        assert ensure_automations(client, specs=[spec]) == {spec.name: "updated"}  # back to do-nothing
    assert AUTOMATIONS_FILE.is_file()


def test_no_failure_event_is_matched_by_two_automations() -> None:
    """One failure, one automation: rotaflow's failure events and Prefect's own state-change events of a
    deployment's run (tag rotaflow) each match at most one automation; a Failed run matches none (the flow's
    own event, or rotaflow.run.failed from its on_failure hook, does), a Crashed one exactly one."""
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    triggers = {s.name: EventTrigger.model_validate(s.body(None)["trigger"]) for s in load_automations()}
    tag = {"prefect.resource.id": "prefect.tag.rotaflow", "prefect.resource.role": "tag"}

    def matching(event: str, resource: str, related: list[dict[str, str]] | None = None) -> list[str]:
        received = ReceivedEvent(
            occurred=dt.datetime.now(dt.UTC),
            event=event,
            resource={"prefect.resource.id": resource},
            related=related or [],
            id=uuid.uuid4(),
        )
        return [
            name for name, trigger in triggers.items() if trigger.posture == "Reactive" and trigger.covers(received)
        ]

    run = "prefect.flow-run.00000000-0000-0000-0000-000000000001"
    assert matching("prefect.flow-run.Failed", run, [tag]) == []
    assert matching("prefect.flow-run.Crashed", run, [tag]) == ["rotaflow: a flow run crashed"]
    assert matching("rotaflow.run.failed", run) == ["rotaflow: a run failed"]
    assert matching("rotaflow.restore.completed", "rotaflow.backup.quick") == [
        "rotaflow: an emergency restore completed"
    ]
    for event in sorted(EMITTED_EVENTS - {"rotaflow.backup.created"}):
        assert len(matching(event, "rotaflow.program.sample")) == 1, event
