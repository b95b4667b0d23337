"""Every deployment in prefect.yaml points at a flow that loads and accepts its parameters."""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml
from prefect.flows import Flow, load_flow_from_entrypoint

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


def test_prefect_yaml_deployments_load() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployments = config["deployments"]
    assert deployments, "prefect.yaml declares no deployment"
    for deployment in deployments:
        assert set(deployment) <= ALLOWED_KEYS, f"misplaced keys in {deployment['name']}"
        path, _, name = deployment["entrypoint"].partition(":")
        assert (ROOT / path).is_file()
        flow = load_flow_from_entrypoint(str(ROOT / path) + ":" + name)
        assert isinstance(flow, Flow)
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters", {})) <= accepted
        assert deployment["work_pool"]["name"] == "rotaflow-process"
