"""Every deployment in prefect.yaml points at a flow that loads and accepts its parameters.

Prefect silently ignores misplaced keys, so each deployment's entrypoint, parameters, schedules and the
parameter schema Prefect derives (what the UI renders as the run form) are checked here, through the
same functions ``prefect deploy`` uses.
"""

from __future__ import annotations

import datetime as dt
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema_from_entrypoint
from prefect.utilities.schema_tools.validation import is_valid

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_KEYS = {
    "name",
    "description",
    "entrypoint",
    "parameters",
    "work_pool",
    "schedules",
    "tags",
    "concurrency_limit",
    "version",
    "enforce_parameter_schema",
    "triggers",
    "job_variables",
}
PROGRAM_TZ = "Pacific/Honolulu"  # the sample program's timezone (configs/programs/sample/program.yaml)

EXPECTED: dict[str, dict[str, Any]] = {
    "ingest-program": {"entrypoint": "rotaflow.flows.ingest:ingest_program", "schedules": []},
    "block-generation": {"entrypoint": "rotaflow.flows.generate:generate_block", "schedules": [IntervalSchedule]},
    "validate-schedule": {"entrypoint": "rotaflow.flows.validate:validate_schedule", "schedules": []},
    "contingency-report": {"entrypoint": "rotaflow.flows.contingency:contingency_report", "schedules": [CronSchedule]},
    "nightly-backup": {"entrypoint": "rotaflow.flows.backup:backup", "schedules": [CronSchedule]},
    "weekly-verify": {"entrypoint": "rotaflow.flows.backup:verify_backups", "schedules": [CronSchedule]},
    "emergency-restore": {"entrypoint": "rotaflow.flows.restore:emergency_restore", "schedules": []},
    "absence-repair": {"entrypoint": "rotaflow.flows.absence_repair:absence_repair", "schedules": []},
    "shift-swap": {"entrypoint": "rotaflow.flows.swap:shift_swap", "schedules": []},
    "year-planning": {"entrypoint": "rotaflow.flows.year:year_planning", "schedules": []},
}


def _deployments() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return {d["name"]: d for d in config["deployments"]}


def _schema(deployment: dict[str, Any]) -> dict[str, Any]:
    module, _, name = deployment["entrypoint"].partition(":")
    return parameter_schema_from_entrypoint(f"{module}.{name}").model_dump_for_openapi()


def test_prefect_yaml_deployments_load() -> None:
    deployments = _deployments()
    assert set(deployments) == set(EXPECTED)
    for deployment in deployments.values():
        assert set(deployment) <= ALLOWED_KEYS, f"misplaced keys in {deployment['name']}"
        assert deployment["entrypoint"] == EXPECTED[deployment["name"]]["entrypoint"]
        flow: Flow[..., object] = load_flow_from_entrypoint(deployment["entrypoint"])
        assert isinstance(flow, Flow)
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters", {})) <= accepted
        assert deployment["work_pool"]["name"] == "rotaflow-process"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_schedules_are_in_the_program_timezone(name: str) -> None:
    deployment = _deployments()[name]
    built = [_schedule_config_to_deployment_schedule(s)["schedule"] for s in deployment.get("schedules") or []]
    assert [type(s) for s in built] == EXPECTED[name]["schedules"]
    for schedule in built:
        assert schedule.timezone == PROGRAM_TZ


def test_block_generation_runs_four_weeks_before_each_block() -> None:
    (config,) = _deployments()["block-generation"]["schedules"]
    schedule = _schedule_config_to_deployment_schedule(config)["schedule"]
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.interval == dt.timedelta(days=28)
    anchor = schedule.anchor_date.astimezone(dt.timezone(dt.timedelta(hours=-10)))  # HST has no DST
    assert (anchor.date(), anchor.hour) == (dt.date(2027, 6, 3), 6)
    assert dt.date(2027, 7, 1) - anchor.date() == dt.timedelta(days=28)  # the sample's first block
    assert _deployments()["block-generation"]["parameters"]["block_id"] == "next"


def test_the_contingency_report_takes_the_block_as_a_parameter() -> None:
    deployment = _deployments()["contingency-report"]
    assert "block_id" not in deployment["parameters"]  # the block containing the run's day
    block = _schema(deployment)["properties"]["block_id"]
    assert block.get("default") is None and "today" in block["description"]


def test_emergency_restore_is_manual_and_one_at_a_time() -> None:
    deployment = _deployments()["emergency-restore"]
    assert not deployment.get("schedules")
    assert deployment["concurrency_limit"] == 1
    assert "parameters" not in deployment  # the operator fills the form: nothing preset


def test_absence_repair_is_run_from_its_form() -> None:
    deployment = _deployments()["absence-repair"]
    assert not deployment.get("schedules")  # someone fills the form in when an absence arrives
    assert deployment["parameters"] == {"program": "configs/programs/sample"}
    assert deployment["tags"] == ["rotaflow", "repair"]
    schema = _schema(deployment)
    assert schema["required"] == ["program", "block_id", "person_id", "start_date", "end_date"]
    props = schema["properties"]
    assert list(props) == [
        "program",
        "block_id",
        "person_id",
        "start_date",
        "end_date",
        "absence_type",
        "from_date",
        "allow_churn",
        "time_limit_seconds",
        "approval_timeout_hours",
    ]
    assert all(p.get("description") for p in props.values())  # each form field says what it is
    assert (props["start_date"]["format"], props["end_date"]["format"]) == ("date", "date")
    assert props["absence_type"]["default"] == "sick" and props["allow_churn"]["default"] is False
    assert props["approval_timeout_hours"]["default"] == 72
    assert "people.csv" in props["person_id"]["description"]
    assert "rejects" in props["approval_timeout_hours"]["description"]
    # the form never publishes on the approver's behalf: the run always pauses before publishing
    assert not {"publish", "approve", "backup"} & set(props)


def test_shift_swap_is_run_from_its_form() -> None:
    deployment = _deployments()["shift-swap"]
    assert not deployment.get("schedules")  # someone fills the form in when they want to swap
    assert deployment["parameters"] == {"program": "configs/programs/sample"}
    assert deployment["tags"] == ["rotaflow", "swaps"]
    schema = _schema(deployment)
    assert schema["required"] == ["program", "person_id", "date", "shift_id"]
    props = schema["properties"]
    assert list(props) == [
        "program",
        "person_id",
        "date",
        "shift_id",
        "with_person_id",
        "take_date",
        "take_shift_id",
        "note",
        "accepted_by",
        "swap_id",
        "approval_timeout_hours",
    ]
    assert all(p.get("description") for p in props.values())  # each form field says what it is
    assert props["date"]["format"] == "date"
    assert {"type": "string", "format": "date"} in props["take_date"]["anyOf"]
    assert {"type": "integer"} in props["swap_id"]["anyOf"]
    for optional in ("with_person_id", "take_date", "take_shift_id", "note", "accepted_by", "swap_id"):
        assert props[optional]["default"] is None
    assert props["approval_timeout_hours"]["default"] == 72
    assert "people.csv" in props["person_id"]["description"]
    assert "open offer" in props["with_person_id"]["description"]
    assert "rejects" in props["approval_timeout_hours"]["description"]
    # the form never approves on the coordinator's behalf: approval is the paused run's Resume dialog
    assert not {"approve", "approved", "publish"} & set(props)


def test_year_planning_is_run_from_its_form() -> None:
    deployment = _deployments()["year-planning"]
    assert not deployment.get("schedules")  # the year is planned when a coordinator asks for it
    assert deployment["parameters"] == {"program": "configs/programs/sample"}
    assert deployment["tags"] == ["rotaflow", "planning"]
    schema = _schema(deployment)
    assert schema["required"] == ["program"]
    props = schema["properties"]
    assert list(props) == ["program", "time_limit_seconds", "vacation", "publish"]
    assert all(p.get("description") for p in props.values())  # each form field says what it is
    assert props["time_limit_seconds"]["type"] == "number" and props["time_limit_seconds"]["default"] == 60
    assert props["vacation"]["enum"] == ["hard", "soft"] and props["vacation"]["default"] == "hard"
    assert props["publish"]["type"] == "boolean" and props["publish"]["default"] is False  # publishing is asked for
    assert "rotation_requirements.csv" in props["program"]["description"]
    assert "leave" in props["vacation"]["description"]
    assert "year plan" in props["publish"]["description"]
    assert is_valid({"program": "configs/programs/sample", "vacation": "soft"}, schema)
    assert not is_valid({"program": "configs/programs/sample", "vacation": "sometimes"}, schema)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_parameters_satisfy_the_schema(name: str) -> None:
    deployment = _deployments()[name]
    schema = _schema(deployment)
    parameters = deployment.get("parameters", {})
    required = set(schema.get("required", []))
    if deployment.get("schedules"):  # a scheduled run has nobody to fill the form in
        assert required <= set(parameters)
    assert is_valid(parameters, {**schema, "required": sorted(required & set(parameters))})


def test_parameter_forms_are_typed_and_described() -> None:
    deployments = _deployments()
    generation = _schema(deployments["block-generation"])["properties"]
    assert generation["program"]["type"] == "string"
    assert "bundle" in generation["program"]["description"]
    assert generation["block_id"]["type"] == "string"
    assert "next" in generation["block_id"]["description"]
    assert generation["contingency"]["enum"] == ["none", "n1", "n2"]

    restore = _schema(deployments["emergency-restore"])
    assert restore["required"] == ["source", "backup_id"]
    props = restore["properties"]
    # nothing in the run form confirms on the operator's behalf: the run always pauses for the typed id
    assert set(props) == {
        "source",
        "backup_id",
        "confirm_timeout_seconds",
        "confirm_poll_seconds",
        "keep_previous",
        "config_path",
    }
    assert props["source"]["enum"] == ["quick", "named", "immaculate", "sacred"]
    assert "tier" in props["source"]["description"]
    assert props["backup_id"]["type"] == "string"
    assert "backup list" in props["backup_id"]["description"]
    assert props["keep_previous"]["type"] == "boolean"
    assert all(p.get("description") for p in props.values())

    backup = _schema(deployments["nightly-backup"])["properties"]
    assert backup["tier"]["enum"] == ["quick", "named"]
    assert backup["tier"]["default"] == "quick"
    assert backup["tier"]["description"]
