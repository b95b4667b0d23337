"""What an operator sees of a run in the Prefect UI: its one-line state message, the run's INFO logs on the
API, the final generation-summary artifact, failures as one plain line (no engine traceback)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, LogFilter, LogFilterFlowRunId
from prefect.settings import PREFECT_API_URL

from rotaflow.errors import InfeasibleError
from rotaflow.flows import outcome
from rotaflow.flows.generate import generate_block
from rotaflow.services.generate import next_block_and_days
from rotaflow.services.results import GenerateResult
from rotaflow.tasks.generate import FINDING_ROWS, outcome_markdown
from tests.flows.test_events import Captured, _tiny_blocks, _tz, events  # noqa: F401
from tests.flows.test_generate_flow import fast_ingest  # noqa: F401
from tests.schedules import make_solvable

pytestmark = [pytest.mark.flow, pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")]


def _api(coro_factory: Any) -> Any:
    async def run() -> Any:
        async with get_client() as client:
            return await coro_factory(client)

    return asyncio.run(run())


def _latest_artifact(key: str, flow_run_id: object) -> Any:
    found = _api(lambda c: c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))))
    mine = sorted((a for a in found if a.flow_run_id == flow_run_id), key=lambda a: a.created)
    assert mine, f"no {key} artifact for the run"
    return mine[-1]


@pytest.mark.usefixtures("fast_ingest")
def test_block_next_that_generates_nothing_says_so_in_message_log_and_artifact(
    tiny_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:
    make_solvable(tiny_dir)
    caplog.set_level(logging.INFO, logger="prefect")
    state = generate_block(str(tiny_dir), "next", out_dir=str(tmp_path / "out"), next_within_days=35, return_state=True)
    assert state.is_completed()
    found = next_block_and_days(types.SimpleNamespace(frames={"blocks": _tiny_blocks(tiny_dir)}, program=_tz()))
    assert found is not None
    block, days = found
    expected = f"nothing generated: {block} starts in {days} days (generation starts 35 days ahead)"
    assert state.message == expected
    assert expected in [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    artifact = _latest_artifact("generation-summary", state.state_details.flow_run_id)
    assert "nothing generated" in artifact.data and f"**{days} days**" in artifact.data
    assert state.result()["status"] == "not-yet"  # the command line's result is unchanged


@pytest.mark.usefixtures("fast_ingest")
def test_a_published_run_ends_with_its_version_in_the_message_and_the_final_summary(
    tiny_dir: Path,
    tmp_path: Path,
) -> None:
    make_solvable(tiny_dir)
    state = generate_block(
        str(tiny_dir), "B1", out_dir=str(tmp_path / "out"), time_limit_seconds=5, contingency="none", backup=False,
        return_state=True,
    )  # fmt: skip
    assert state.is_completed(), state.message
    summary = state.result()
    assert (
        state.message
        == f"B1: published version {summary['version']}, not backed up (--no-backup); {summary['warnings']} warning(s)"
    )
    assert summary["backup"] == {"skipped": "--no-backup"}
    artifact = _latest_artifact("generation-summary", state.state_details.flow_run_id)
    assert f"| published | yes, version {summary['version']} |" in artifact.data
    assert "| backup | not backed up (--no-backup) |" in artifact.data
    assert "| hard violations | 0 " in artifact.data
    assert f"`{(tmp_path / 'out' / 'report.html').resolve()}`" in artifact.data  # no reports server: the path as text
    assert "file://" not in artifact.data


@pytest.mark.usefixtures("fast_ingest")
def test_hard_violations_fail_with_one_plain_line_and_the_summary_reports_the_outcome(
    tiny_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    events: Captured,  # noqa: F811
) -> None:
    import rotaflow.flows.generate as generate_flow

    make_solvable(tiny_dir)
    real = generate_flow.validate_schedule

    def stricter(*args: Any, **kwargs: Any) -> Any:  # the independent validator finds what the engine did not
        state = real(*args, **kwargs)
        summary = dict(state.result())
        summary["hard_violations"] = 6
        return type("Checked", (), {"result": lambda self, raise_on_failure=True: summary, "message": ""})()

    monkeypatch.setattr(generate_flow, "validate_schedule", stricter)
    out = tmp_path / "out"
    state = generate_block(
        str(tiny_dir), "B1", out_dir=str(out), time_limit_seconds=5, contingency="none", return_state=True
    )
    assert state.is_failed()
    message = str(state.message)
    assert "\n" not in message
    assert message.startswith("the solver reported ")
    assert "the independent validation found 6 hard violation(s) (the rules' own checkers: 0)" in message
    assert "nothing published" in message
    artifact = _latest_artifact("generation-summary", state.state_details.flow_run_id)
    assert "| hard violations | 6 (the rules' own checkers: 0" in artifact.data
    assert "| published | no |" in artifact.data and "**failed**" in artifact.data
    assert isinstance(state.result(raise_on_failure=False), InfeasibleError)  # the CLI's exit code 3 still
    assert len(events.named("rotaflow.generation.failed")) == 1
    assert events.named(outcome.RUN_FAILED) == []  # reported once, by the generation's own event
    # one failure fires one automation: every event of the run (rotaflow's, and the server's state-change
    # events of the run and of its subflows, as Prefect's server makes them) against configs/automations.yaml
    emitted = [*events.all(), *_state_events(state.state_details.flow_run_id)]
    fired = {name for event in emitted for name in _automations_matching(event)}
    assert fired == {"rotaflow: block generation failed"}, fired


def _automations_matching(event: Any) -> list[str]:
    """The reactive automations of configs/automations.yaml whose trigger covers ``event`` (the server's own
    trigger model decides)."""
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    from rotaflow.automations import load_automations

    received = ReceivedEvent.model_validate(event.model_dump(mode="json"))
    found = []
    for spec in load_automations():
        trigger = EventTrigger.model_validate(spec.body(None)["trigger"])
        if spec.posture == "Reactive" and trigger.covers(received):
            found.append(spec.name)
    return found


def _state_events(flow_run_id: Any) -> list[Any]:
    """``prefect.flow-run.<state>`` of a deployment's run (tag ``rotaflow``) and of each of its subflow runs, as
    Prefect's server emits them (prefect/server/models/events.py: the run, its flow and tags as related)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.events.schemas.events import Event

    runs = [_api(lambda c: c.read_flow_run(flow_run_id))]
    runs += _api(
        lambda c: c.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id]))
        )
    )
    made = []
    for run in runs:
        tags = ["rotaflow"] if run.id == flow_run_id else list(run.tags)
        made.append(
            Event(
                event=f"prefect.flow-run.{run.state.name}",
                resource={
                    "prefect.resource.id": f"prefect.flow-run.{run.id}",
                    "prefect.resource.name": run.name,
                    "prefect.state-name": run.state.name,
                    "prefect.state-type": run.state.type.value,
                },
                related=[
                    {"prefect.resource.id": f"prefect.flow.{run.flow_id}", "prefect.resource.role": "flow"},
                    *({"prefect.resource.id": f"prefect.tag.{t}", "prefect.resource.role": "tag"} for t in tags),
                ],
            )
        )
    assert any(e.event == "prefect.flow-run.Failed" for e in made)
    return made


def test_the_outcome_table_lists_at_most_fifty_findings_ids_only() -> None:
    summary = GenerateResult.start(
        run_id="r", program="p", program_version=1, block_id="B1", rules=[], time_limit_seconds=5
    ).with_(hard_violations=60, out_dir="/nowhere", backup={"backup_id": "quick-1"})
    findings = [
        {"rule": "acgme_weekly_hours", "severity": "violation", "person_id": f"R{i}", "window": "2027-07-01–2027-07-28"}
        for i in range(60)
    ]
    text = outcome_markdown(summary, findings, headline="**failed**")
    rows = [line for line in text.splitlines() if line.startswith("| acgme_weekly_hours |")]
    assert len(rows) == FINDING_ROWS == 50
    assert "| … and 10 more |" in text
    assert rows[0] == "| acgme_weekly_hours | violation | R0 | 2027-07-01–2027-07-28 |"
    assert "| backup | quick-1 |" in text


def test_an_expected_failure_reaches_the_run_log_as_one_line_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Prefect's engine logs every failed deployment run as "Engine execution exited with unexpected exception"
    with a traceback; for a failure the flow put into words, that record becomes one line."""
    from prefect.flow_engine import run_flow

    @flow(name="fails-plainly")
    def fails_plainly() -> Any:
        return outcome.failed("6 hard violation(s)", data=InfeasibleError("6 hard violation(s)"))

    @flow(name="breaks")
    def breaks() -> Any:
        raise ZeroDivisionError("a bug")

    from prefect.logging.loggers import flow_run_logger

    caplog.set_level(logging.ERROR, logger="prefect.flow_runs")
    for which, raised in ((fails_plainly, InfeasibleError), (breaks, ZeroDivisionError)):
        run = _api(lambda c, which=which: c.create_flow_run(which))
        with pytest.raises(raised):  # as the deployment's engine (prefect/engine.py) calls it
            run_flow(which, flow_run=run, error_logger=flow_run_logger(run))  # type: ignore[arg-type]
    ends = ("the run failed:", outcome.ENGINE_TRACEBACK)
    quiet, loud = [r for r in caplog.records if r.name == "prefect.flow_runs" and r.getMessage().startswith(ends)]
    assert quiet.getMessage() == "the run failed: 6 hard violation(s)" and quiet.exc_info is None
    assert loud.getMessage().startswith(outcome.ENGINE_TRACEBACK) and loud.exc_info is not None  # a bug stays loud


DETAIL = "DETAIL:  Key (email)=(alice.example@hospital.org) already exists."
"""What an unexpected database error's text may carry: a row's values (personal data)."""


def test_an_unreported_failure_of_a_top_level_run_emits_run_failed(events: Captured) -> None:  # noqa: F811
    @flow(name="unexpected", on_failure=[outcome.unreported_failure])
    def unexpected() -> None:
        raise ValueError(f"duplicate key value violates unique constraint\n{DETAIL}")

    state = unexpected(return_state=True)
    assert state.is_failed() and "alice.example" in str(state.message)  # Prefect's message carries str(exc)
    (event,) = events.named(outcome.RUN_FAILED)
    # the webhook gets the exception's type only, never its text
    assert event.payload == {
        "flow": "unexpected",
        "message": "unexpected error: ValueError (the details are in the run's log)",
    }
    assert event.resource.id == f"prefect.flow-run.{state.state_details.flow_run_id}"


def test_run_failed_carries_the_message_only_when_rotaflow_put_the_failure_into_words(
    events: Captured,  # noqa: F811
) -> None:
    from rotaflow.errors import GateRefused

    @flow(name="raises-rotaflow", on_failure=[outcome.unreported_failure])
    def raises_rotaflow() -> None:
        raise GateRefused("the backup quick-1 is damaged: CHECKSUM.sha256 is missing")

    @flow(name="worded", on_failure=[outcome.unreported_failure])
    def worded() -> Any:
        return outcome.failed("the bundle was quarantined: 2 contract failure(s)")

    @flow(name="worded-rotaflow", on_failure=[outcome.unreported_failure])
    def worded_rotaflow() -> Any:
        return outcome.failed("6 hard violation(s); nothing published", data=InfeasibleError("6 hard violation(s)"))

    @flow(name="worded-foreign", on_failure=[outcome.unreported_failure])
    def worded_foreign() -> Any:
        try:
            raise RuntimeError(DETAIL)
        except RuntimeError as exc:  # a flow's words around a foreign exception's text: not sent
            return outcome.failed(f"the store failed: {exc}", data=exc)

    states = [run(return_state=True) for run in (raises_rotaflow, worded, worded_rotaflow, worded_foreign)]
    assert all(state.is_failed() for state in states)
    said = {e.payload["flow"]: e.payload["message"] for e in events.named(outcome.RUN_FAILED)}
    assert said == {
        "raises-rotaflow": "Flow run encountered an exception: GateRefused: the backup quick-1 is damaged: CHECKSUM.sha256 is missing",
        "worded": "the bundle was quarantined: 2 contract failure(s)",
        "worded-rotaflow": "6 hard violation(s); nothing published",
        "worded-foreign": "unexpected error: RuntimeError (the details are in the run's log)",
    }
    ids = {str(state.state_details.flow_run_id) for state in states}
    assert not ids & (outcome._worded | outcome._reported)  # nothing left behind


def test_a_run_that_reported_and_then_completed_leaves_nothing_behind(events: Captured) -> None:  # noqa: F811
    """reported() before a run that ends Completed (a successful restore, a rejected repair …): its id does not
    stay in the registry, where it would silence a later failure under the same id."""

    @flow(name="reports-then-completes")
    def reports_then_completes() -> Any:
        outcome.reported()
        return outcome.completed("restored quick-1 (quick); 14 table(s) verified")

    state = reports_then_completes(return_state=True)
    assert state.is_completed()
    assert str(state.state_details.flow_run_id) not in outcome._reported


SCRIPT = """
from prefect import flow, get_run_logger
from rotaflow.flows import outcome

@flow(name="log-check")
def log_check():
    get_run_logger().info("an INFO line for the UI")
    return outcome.completed("validated: 0 hard violations")

state = log_check(return_state=True)
print(state.state_details.flow_run_id)
"""


def test_serve_sends_the_runs_info_logs_to_the_api_and_keeps_the_console_quiet(tmp_path: Path) -> None:
    """A flow run with the environment `rotaflow serve` gives its worker (and so its runs), though the caller
    has PREFECT_LOGGING_LEVEL=WARNING (tests/conftest.py sets it, as an operator's shell may)."""
    from rotaflow.serve import ServeConfig, worker_env

    assert os.environ.get("PREFECT_LOGGING_LEVEL") == "WARNING"
    env = worker_env(ServeConfig(home=tmp_path / "prefect"), "rotaflow:secret")
    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    env.pop("PREFECT_API_AUTH_STRING")  # the test API has no auth
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    run_id = uuid.UUID(done.stdout.strip().splitlines()[-1])
    logs = _api(lambda c: c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))))
    infos = [log.message for log in logs if log.level == logging.INFO]
    assert "an INFO line for the UI" in infos and "validated: 0 hard violations" in infos
    assert "an INFO line for the UI" not in done.stderr  # the console shows warnings only
