"""ACGME validator benchmark: a full academic year of a synthetic 300-resident program.

    python bench/validate_acgme.py [--residents 300] [--days 365] [--repeat 3]

Builds the program with ``rotaflow.services.synth`` (America/New_York, so the year has both daylight-saving
changes), synthesises a plausible schedule (call / post-call / two days / off on inpatient
rotations, five days a week elsewhere, night float, home call before a day off, nothing on leave
days), and times, best of ``--repeat``: ``load_schedule`` of the assignments.csv bytes,
``load_schedule`` of a three-column frame, and ``validate_acgme`` over the year (rolling and block
averaging). Prints a table and writes bench/results/validate_acgme.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMEZONE = "America/New_York"
START = dt.date(2027, 7, 1)


def synthetic_schedule(bundle: Any, days: int, seed: int = 1) -> Any:
    """One row per worked shift: a resident works by the shifts of the rotation of each day."""
    import pandas as pd

    frames = bundle.frames
    rng = random.Random(seed)
    blocks = frames["blocks"].sort_values("start_date")
    eligible = {
        r.rotation_id: [s for s in str(r.eligible_shifts).split(";") if s and s != "nan"]
        for r in frames["rotations"].itertuples()
    }
    plan = {(r.person_id, r.block_id): r.rotation_id for r in frames["rotation_assignments"].itertuples()}
    absent: set[tuple[str, dt.date]] = set()
    for a in frames["absences"].itertuples():
        if a.blocking is not False:
            day = a.start_date.date()
            while day <= a.end_date.date():
                absent.add((a.person_id, day))
                day += dt.timedelta(days=1)
    residents = frames["people"].loc[frames["people"]["role"] == "resident", "person_id"].tolist()
    block_of = []
    for n in range(days):
        date = START + dt.timedelta(days=n)
        inside = blocks[(blocks["start_date"].dt.date <= date) & (blocks["end_date"].dt.date >= date)]
        block_of.append(inside["block_id"].iloc[0])
    rows: list[tuple[str, str, str]] = []
    for person in residents:
        offset = rng.randrange(35)
        for n in range(days):
            date = START + dt.timedelta(days=n)
            shifts = eligible.get(plan.get((person, block_of[n]), ""), [])
            if not shifts or (person, date) in absent:
                continue
            day = date.isoformat()
            if "CALL24" in shifts:  # call, post-call day, two day shifts, a day off
                phase = (n + offset) % 5
                if phase == 0:
                    rows.append((person, day, "CALL24"))
                elif phase in (2, 3):
                    rows.append((person, day, "DAY"))
                continue
            phase = (n + offset) % 7
            if phase >= 5:  # two days off a week
                continue
            evening_call = "HOME_CALL" in shifts and phase == 4 and rng.random() < 0.5
            if shifts == ["NIGHT"]:
                rows.append((person, day, "NIGHT"))
            elif "DAY" in shifts:
                rows.append((person, day, "DAY"))
            else:
                rows.append((person, day, "CLINIC_PM" if evening_call or phase % 2 else "CLINIC_AM"))
            if evening_call:
                rows.append((person, day, "HOME_CALL"))
    return pd.DataFrame(rows, columns=["person_id", "date", "shift_id"])


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from rotaflow.services.synth import BLOCK_DAYS, build_bundle
    from rotaflow.validations.acgme import limits_for, validate_acgme
    from rotaflow.validations.bundle import parse_bundle
    from rotaflow.validations.schedule import load_schedule

    blocks = -(-args.days // BLOCK_DAYS)
    texts = build_bundle(residents=args.residents, blocks=blocks, timezone=TIMEZONE, start=START, seed=1)
    bundle = parse_bundle({name: text.encode() for name, text in texts.items()})
    frame = synthetic_schedule(bundle, args.days)
    full = load_schedule(bundle, frame)
    buffer = io.StringIO()
    export = full.assign(
        date=full["date"].dt.strftime("%Y-%m-%d"),
        start=full["start"].dt.tz_convert(TIMEZONE).map(lambda t: t.isoformat()),
        end=full["end"].dt.tz_convert(TIMEZONE).map(lambda t: t.isoformat()),
        hours=full["hours"].round(2),
        source="solver",
    )[["person_id", "date", "shift_id", "start", "end", "hours", "rotation_id", "source"]]
    export.to_csv(buffer, index=False, lineterminator="\n")
    raw = buffer.getvalue().encode()
    limits = limits_for(bundle)
    period = (START, START + dt.timedelta(days=args.days - 1))

    cases = []
    seconds, loaded = best_of(args.repeat, lambda: load_schedule(bundle, raw))
    cases.append(("load_schedule (assignments.csv, 8 columns)", seconds, len(loaded), None))
    seconds, _ = best_of(args.repeat, lambda: load_schedule(bundle, frame))
    cases.append(("load_schedule (frame, 3 columns)", seconds, len(frame), None))
    seconds, report = best_of(args.repeat, lambda: validate_acgme(bundle, loaded, period=period, limits=limits))
    cases.append(("validate_acgme (every rule, rolling 28 d)", seconds, len(loaded), report))
    block_limits = limits.model_copy(deep=True)
    block_limits.weekly_hours.averaging = "block"
    seconds, block_report = best_of(
        args.repeat, lambda: validate_acgme(bundle, loaded, period=period, limits=block_limits)
    )
    cases.append(("validate_acgme (every rule, block averaging)", seconds, len(loaded), block_report))

    columns = ["case", "residents", "days", "rows", "best_s", "findings", "violations"]
    print(" | ".join(columns))
    results = []
    for label, best, count, found in cases:
        row = {
            "case": label,
            "residents": args.residents,
            "days": args.days,
            "rows": count,
            "best_s": round(best, 3),
            "findings": None if found is None else len(found.findings),
            "violations": None if found is None else int((found.findings["severity"] == "violation").sum()),
        }
        results.append(row)
        print(" | ".join(str(row[c]) for c in columns), flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "timezone": TIMEZONE,
        "repeat": args.repeat,
        "target_s": 3.0,
        "results": results,
    }
    (out / "validate_acgme.json").write_text(json.dumps(payload, indent=2))
    print(f"written {out / 'validate_acgme.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
