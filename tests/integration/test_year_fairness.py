"""Fairness over the year: four one-week blocks generated and published in turn, as `rotaflow generate` does,
once with block-only fairness and once with year-scope fairness (the default rule set's). Four PGY-2 residents
share one 24-hour call a day on the ward. Each week has seven calls for four residents, so every week someone
gets one fewer; block scope sees only the week (a spread of one is fair) and keeps giving the short week to
the same people, while year scope gives it to whoever is ahead so far. The calls per 28 available days of the
year so far are counted by `rotaflow report year`'s numbers, not by the rule."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

from rotaflow.configs.settings import Settings
from rotaflow.services.generate import history_from_database, load_solver_settings, publish_run, solve_block
from rotaflow.services.ingest import database_engine, ingest_bundle, load_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.year_report import prior_loads, year_report
from rotaflow.validations.instances import block_instance, rules_for
from tests.conftest import TINY

MONDAY = dt.date(2027, 7, 5)
BLOCKS = [f"W{n}" for n in range(1, 5)]
RESIDENTS = [f"R{n}" for n in range(1, 5)]


def ward_year(folder: Path, name: str) -> Path:
    """Four one-week blocks, four PGY-2 residents on the ward, a 24-hour call and a day shift every day."""
    shutil.copytree(TINY, folder)
    (folder / "program.yaml").write_text(f"name: {name}\ntimezone: America/New_York\n", encoding="utf-8")
    (folder / "people.csv").write_text(
        "person_id,name,email,role,pgy,fte,skills\n" + "".join(f"{p},Resident {p},,resident,2,1,\n" for p in RESIDENTS),
        encoding="utf-8",
    )
    (folder / "blocks.csv").write_text(
        "block_id,start_date,end_date\n"
        + "".join(
            f"{b},{MONDAY + dt.timedelta(days=7 * n)},{MONDAY + dt.timedelta(days=7 * n + 6)}\n"
            for n, b in enumerate(BLOCKS)
        ),
        encoding="utf-8",
    )
    (folder / "rotations.csv").write_text(
        "rotation_id,name,setting,eligible_shifts\nWARD,Ward,inpatient,DAY;CALL24\n", encoding="utf-8"
    )
    (folder / "rotation_assignments.csv").write_text(
        "person_id,block_id,rotation_id\n" + "".join(f"{p},{b},WARD\n" for p in RESIDENTS for b in BLOCKS),
        encoding="utf-8",
    )
    (folder / "coverage.csv").write_text(
        "shift_id,applies_on,rotation_id,role,min_pgy,skill,min,max,target\n"
        "CALL24,daily,WARD,resident,,,1,1,\n"
        "DAY,daily,WARD,resident,,,1,2,\n",
        encoding="utf-8",
    )
    for file, header in (
        ("absences.csv", "person_id,start_date,end_date,type,blocking"),
        ("requests.csv", "person_id,date,shift_id,kind,weight"),
        ("history.csv", "person_id,date,shift_id"),
    ):
        (folder / file).write_text(header + "\n", encoding="utf-8")
    return folder


def calls_spread(folder: Path, settings: Settings, scope: str) -> tuple[float, dict[str, int]]:
    """Generate and publish the four weeks in turn with fairness ``scope``; the spread of the PGY's calls per
    28 available days afterwards, and each resident's calls."""
    engine = database_engine(settings)
    try:
        version = ingest_bundle(str(folder), settings=settings, engine=engine, expectations=False).result.version
        bundle = load_bundle(str(folder), settings=settings)
        rules = rules_for(bundle)
        for rule in rules:
            if rule.name == "fairness":
                rule.params = rule.params.model_copy(update={"scope": scope})
        solver = load_solver_settings(time_limit_seconds=20, workers=1, seed=0)
        for n, block in enumerate(BLOCKS):
            start = MONDAY + dt.timedelta(days=7 * n)
            instance = block_instance(bundle, block, history=history_from_database(engine, bundle.program.key, start))
            instance.prior = prior_loads(engine, bundle, block)
            result = solve_block(instance, rules, solver)
            assert result.status in {"optimal", "feasible"}, (scope, block, result.status)
            summary = GenerateResult.start(
                run_id=str(uuid.uuid4()),
                program=bundle.program.key,
                program_version=version,
                block_id=block,
                rules=[],
                time_limit_seconds=20,
            ).solved(result)
            publish_run(
                engine,
                program_key=bundle.program.key,
                version=version,
                instance=instance,
                result=result,
                summary=summary,
                started_at=dt.datetime.now(dt.UTC),
            )
        report = year_report(engine, bundle)
    finally:
        engine.dispose()
    spread = report.spread(2, "calls")
    assert spread is not None and report.until == MONDAY + dt.timedelta(days=27)
    return spread, {r.person_id: r.calls for r in report.residents}


def test_year_scope_fairness_evens_out_the_calls_that_block_scope_lets_pile_up(
    tmp_path: Path, settings: Settings
) -> None:
    block_spread, block_calls = calls_spread(ward_year(tmp_path / "block", "Ward Block Fairness"), settings, "block")
    year_spread, year_calls = calls_spread(ward_year(tmp_path / "year", "Ward Year Fairness"), settings, "year")
    assert sum(block_calls.values()) == sum(year_calls.values()) == 28  # one call a day for four weeks
    # year scope: 28 calls for four residents, seven each (a spread of at most one call over the year)
    assert max(year_calls.values()) - min(year_calls.values()) <= 1
    assert year_spread < block_spread, (year_calls, block_calls)
