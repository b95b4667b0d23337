"""Thin Prefect tasks of schedule validation: each calls one function of the service layer."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rotaflow.configs.settings import get_settings
from rotaflow.services import ingest as ingest_service
from rotaflow.services import validate as service
from rotaflow.tasks.links import file_link, markdown_link
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.schedule import load_schedule, read_schedule_file

__all__ = ["load_program", "publish_validation", "read_schedule", "run_validation", "write_report"]


@task(name="load-program", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def load_program(program: str) -> Bundle:
    """Read and check the bundle under its contract."""
    return ingest_service.load_bundle(program, settings=get_settings())


@task(name="read-schedule", cache_policy=NO_CACHE)
def read_schedule(bundle: Bundle, schedule: str) -> pd.DataFrame:
    """The schedule file, held to the assignments contract and to the bundle."""
    path = Path(schedule)
    return load_schedule(bundle, read_schedule_file(path), file=path.name)


@task(name="validate", cache_policy=NO_CACHE)
def run_validation(
    bundle: Bundle,
    schedule: pd.DataFrame,
    history: pd.DataFrame | None,
    block_id: str | None,
    period: tuple[dt.date, dt.date] | None,
) -> service.Validation:
    """The independent ACGME validator, coverage and structure, program rules, burnout risk."""
    return service.validate(bundle, schedule, history=history, block_id=block_id, period=period)


@task(name="write-report", cache_policy=NO_CACHE)
def write_report(
    out_dir: str, validation: service.Validation, bundle: Bundle, summary: dict[str, Any], data_docs: bool
) -> service.Written:
    """findings.csv, validation.json, report.html and the GX Data Docs of the outputs."""
    return service.write_validation(Path(out_dir), validation, bundle, summary=summary, data_docs=data_docs)


@task(name="publish-validation", cache_policy=NO_CACHE)
def publish_validation(validation: service.Validation, written: service.Written, title: str) -> None:
    """Markdown summary, findings table and links as Prefect artifacts (ids only, no names)."""
    facts = validation.summary()
    verdict = (
        "**passed**" if not validation.hard_violations else f"**failed**: {validation.hard_violations} violation(s)"
    )
    lines = [
        f"# Validation of {title}: {verdict}",
        "",
        f"- period {facts['period_start']} – {facts['period_end']} ({', '.join(facts['blocks']) or 'no block'})",
        f"- {facts['assignments']} assignments; {facts['warnings']} warning(s), {facts['infos']} info",
        f"- outputs: `{written.folder.resolve()}`",
        f"- report: {markdown_link(written.folder / 'report.html')}",
    ]
    if written.docs_page is not None:
        lines.append(f"- Great Expectations Data Docs: {markdown_link(written.docs_page, 'Data Docs')}")
    for block in facts["utilisation_by_block"]:
        lines.append(f"- utilisation of {block['block_id']}: {block['utilisation']:.0%} ({block['band']})")
    if facts["burnout_bands"]:
        bands = ", ".join(f"{k} {v}" for k, v in sorted(facts["burnout_bands"].items()))
        lines.append(f"- burnout risk (advisory): {bands}")
    if "contingency" in facts:
        c = facts["contingency"]
        lines.append(f"- contingency: {c}")
    create_markdown_artifact(key="validation-summary", markdown="\n".join(lines), description="Schedule validation")
    if len(validation.findings):
        table = json.loads(validation.findings.head(500).to_json(orient="records", date_format="iso"))
        create_table_artifact(key="validation-findings", table=table, description="Validation findings (first 500)")
    # links only where the browser can open them (the reports server of `rotaflow serve`), never file://
    report = file_link(written.folder / "report.html")
    if report is not None:
        create_link_artifact(
            key="validation-report", link=report, link_text="report.html", description="The validation report"
        )
    docs = file_link(written.docs_page) if written.docs_page is not None else None
    if docs is not None:
        create_link_artifact(
            key="validation-data-docs",
            link=docs,
            link_text="Great Expectations Data Docs",
            description="Contracts of the assignments and findings",
        )
