"""Prefect automations on rotaflow's events (configs/automations.yaml), made idempotently by name.

Each automation fires on its events; with a webhook URL it also sends a notification through a
``CustomWebhookNotificationBlock`` named ``rotaflow-alerts``, else its action is ``do-nothing``
and the firing itself (Automations page, ``prefect.automation.triggered`` in the Event Feed) is
what the operator sees.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rotaflow.configs.settings import CONFIG_DIR
from rotaflow.errors import ConfigError

__all__ = [
    "ALERTS_BLOCK",
    "AUTOMATIONS_FILE",
    "AutomationSpec",
    "alerts_block",
    "ensure_automations",
    "load_automations",
]

AUTOMATIONS_FILE = CONFIG_DIR / "automations.yaml"
ALERTS_BLOCK = "rotaflow-alerts"

SUBJECT = "rotaflow: {{ event.event }}"
BODY = (
    "{{ event.event }} on {{ event.resource.id }} at {{ event.occurred }}\n"
    "{% for key, value in event.payload.items() %}{{ key }}: {{ value }}\n{% endfor %}"
)


class AutomationSpec(BaseModel):
    """One automation of configs/automations.yaml."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    expect: list[str] = Field(min_length=1)
    match: dict[str, str] = Field(default_factory=dict)
    match_related: dict[str, str] = Field(default_factory=dict)
    posture: Literal["Reactive", "Proactive"] = "Reactive"
    within_seconds: float = Field(default=0, ge=0)

    def body(self, block_document_id: str | None) -> dict[str, Any]:
        """The API's AutomationCreate document."""
        action: dict[str, Any] = {"type": "do-nothing"}
        if block_document_id:
            action = {"type": "send-notification", "block_document_id": block_document_id, "subject": SUBJECT}
            action["body"] = BODY
        trigger: dict[str, Any] = {
            "type": "event",
            "match": {"prefect.resource.id": "*", **self.match},
            "match_related": self.match_related,
            "expect": self.expect,
            "posture": self.posture,
            "threshold": 1,
            "within": self.within_seconds,
        }
        if self.posture == "Proactive":  # "nothing arrived within" per resource, not per event
            trigger["for_each"] = ["prefect.resource.id"]
        return {
            "name": self.name,
            "description": self.description,
            "enabled": True,
            "trigger": trigger,
            "actions": [action],
        }


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    automations: list[AutomationSpec]


def load_automations(path: Path | None = None) -> list[AutomationSpec]:
    path = path or AUTOMATIONS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return _File.model_validate(data).automations
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path.name}: cannot be read ({type(exc).__name__})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path.name}: {where}: {first['msg']}") from exc


def alerts_block(webhook_url: str, *, api_url: str, auth_string: str) -> str:
    """The id of the ``rotaflow-alerts`` webhook block on the server at ``api_url`` (made, or updated
    to point at ``webhook_url``)."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: auth_string}):
        CustomWebhookNotificationBlock.register_type_and_schema()  # a fresh server may not know the type yet
        block = CustomWebhookNotificationBlock(
            name=ALERTS_BLOCK,
            url=webhook_url,
            json_data={"text": "{{subject}}\n{{body}}", "title": "{{name}}"},
        )
        return str(block.save(ALERTS_BLOCK, overwrite=True))


def ensure_automations(
    client: Any,
    *,
    specs: list[AutomationSpec] | None = None,
    block_document_id: str | None = None,
) -> dict[str, str]:
    """Create or update every automation by name through ``client`` (an authenticated httpx client on
    the API); returns ``{name: "created" | "updated" | "unchanged"}``. ``block_document_id``: a
    notification block (see ``alerts_block``) each automation notifies through; else ``do-nothing``.
    """
    specs = load_automations() if specs is None else specs
    listed = client.post("/automations/filter", json={"limit": 200})
    listed.raise_for_status()
    existing = {a["name"]: a for a in listed.json()}
    outcome: dict[str, str] = {}
    for spec in specs:
        body = spec.body(block_document_id)
        found = existing.get(spec.name)
        if found is None:
            made = client.post("/automations/", json=body)
            made.raise_for_status()
            outcome[spec.name] = "created"
        elif _same(found, body):
            outcome[spec.name] = "unchanged"
        else:
            client.put(f"/automations/{found['id']}", json=body).raise_for_status()
            outcome[spec.name] = "updated"
    return outcome


def _same(found: dict[str, Any], body: dict[str, Any]) -> bool:
    trigger = found.get("trigger", {})
    wanted = body["trigger"]
    within = trigger.get("within")
    seconds = within if isinstance(within, int | float) else _seconds(within)
    return (
        found.get("description") == body["description"]
        and found.get("enabled") is True
        and trigger.get("expect")
        and sorted(trigger["expect"]) == sorted(wanted["expect"])
        and trigger.get("match") == wanted["match"]
        and trigger.get("match_related") == wanted["match_related"]
        and trigger.get("posture") == wanted["posture"]
        and seconds == wanted["within"]
        and [a.get("type") for a in found.get("actions", [])] == [a["type"] for a in body["actions"]]
        and [a.get("block_document_id") for a in found.get("actions", [])]
        == [a.get("block_document_id") for a in body["actions"]]
    )


def _seconds(value: Any) -> float | None:
    """``within`` as the API returns it: seconds, or an ISO 8601 duration such as ``PT26H``."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    from pydantic import TypeAdapter

    return TypeAdapter(dt.timedelta).validate_python(value).total_seconds()
