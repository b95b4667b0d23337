"""Calendar feed benchmark: what one publish's feed refresh costs once a program has a history of blocks.

    python bench/feed.py [--residents 150] [--blocks 12] [--seed 1] [--repeat 3] [--code DIR]
                         [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A synthetic program (``rotaflow synth``, ``--residents`` and a third as many faculty) is ingested into its own
PostgreSQL database (created on the server, dropped afterwards), and ``--blocks`` of its blocks are published,
each with a hand-made schedule (every person on about one day in two, on a shift their rotation allows: the
feed reads and writes rows, it does not care whether they are a good schedule). The feed is then written
whole once (every person's file exists). Timed, best of ``--repeat``:

- **swap**: the last block published again with two residents' shifts of one day traded, as a swap publishes
  (``publish_run``): the time of the feed refresh the commit runs, and the files it rewrote;
- **new block**: not timed apart (each of the ``--blocks`` publishes runs one; its time is reported as the
  median of the last three).

``--code DIR`` imports rotaflow from another checkout (e.g. an export of an older commit) to compare. Prints a
table and writes bench/results/feed.json (``feed-<label>.json`` with ``--label``). Times follow the machine's
load; nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _pg import create_pg, drop_pg  # noqa: E402
from _table import Column, print_table, write_results  # noqa: E402  (bench/ is the script's folder)


def _cells(instance: Any, offset: int) -> frozenset[tuple[str, int, str]]:
    """About one day in two for everyone, on the first shift their rotation allows that day."""
    cells = set()
    for n, person in enumerate(instance.people):
        for day in range(instance.days):
            if (day + n + offset) % 2:
                continue
            allowed = instance.allowed.get((person.id, day)) if instance.allowed is not None else None
            shifts = sorted(allowed) if allowed is not None else [s.id for s in instance.shifts]
            if shifts:
                cells.add((person.id, day, shifts[(day + n) % len(shifts)]))
    return frozenset(cells)


def _traded(instance: Any, cells: frozenset[tuple[str, int, str]]) -> frozenset[tuple[str, int, str]]:
    """Two residents trade their shifts of one day (both allowed each other's); else one gives theirs away."""
    residents = {p.id for p in instance.people if p.role == "resident"}
    by_day: dict[int, list[tuple[str, int, str]]] = {}
    for cell in sorted(cells):
        if cell[0] in residents:
            by_day.setdefault(cell[1], []).append(cell)
    for day, worked in sorted(by_day.items()):
        for a in worked:
            for b in worked:
                allowed_a = instance.allowed.get((a[0], day)) or frozenset()
                allowed_b = instance.allowed.get((b[0], day)) or frozenset()
                if a[0] < b[0] and a[2] != b[2] and b[2] in allowed_a and a[2] in allowed_b:
                    return (cells - {a, b}) | {(a[0], day, b[2]), (b[0], day, a[2])}
    first = min(c for c in cells if c[0] in residents)
    return cells - {first}


def _timed_refresh(feed: Any) -> list[tuple[float, float, int]]:
    """Wrap the feed module's refresh_feed (the name refresh_after_commit calls): each call's wall and CPU time
    and the number of files it rewrote."""
    calls: list[tuple[float, float, int]] = []
    inner = feed.refresh_feed

    def timed(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        written = inner(*args, **kwargs)
        calls.append((time.perf_counter() - wall, time.process_time() - cpu, len(written)))
        return written

    feed.refresh_feed = timed
    return calls


def run(args: argparse.Namespace, url: str, work: Path) -> list[dict[str, Any]]:
    os.environ["ROTAFLOW_VAR_DIR"] = str(work / "var")
    from rotaflow.configs.settings import get_settings
    from rotaflow.db.migrate import upgrade
    from rotaflow.db.session import make_engine
    from rotaflow.services import feed
    from rotaflow.services.generate import publish_run
    from rotaflow.services.ingest import ingest_bundle, load_bundle
    from rotaflow.services.results import GenerateResult
    from rotaflow.services.synth import write_bundle
    from rotaflow.validations.instances import block_instance

    get_settings.cache_clear()
    settings = get_settings()
    bundle_dir = work / "bundle"
    write_bundle(bundle_dir, residents=args.residents, seed=args.seed)
    upgrade(url)
    engine = make_engine(url)
    version = ingest_bundle(str(bundle_dir), settings=settings, engine=engine, expectations=False).result.version
    bundle = load_bundle(str(bundle_dir), settings=settings)
    program_key = bundle.program.key
    blocks = [str(b) for b in bundle.frames["blocks"]["block_id"]][: args.blocks]
    from rotaflow.constraints.solve import SolveResult

    versions: dict[str, int] = {}

    def publish(block_id: str, cells: frozenset[tuple[str, int, str]], instance: Any) -> None:
        result = SolveResult("feasible", 0.0, 0.0, 0.0, cells)
        summary = GenerateResult.start(
            run_id=str(uuid.uuid4()),
            program=program_key,
            program_version=version,
            block_id=block_id,
            rules=[],
            time_limit_seconds=5,
        ).solved(result)
        done = publish_run(
            engine,
            program_key=program_key,
            version=version,
            instance=instance,
            result=result,
            summary=summary,
            started_at=dt.datetime.now(dt.UTC),
            based_on=versions.get(block_id),
        )
        versions[block_id] = done.block_version

    calls = _timed_refresh(feed)
    instances = {}
    rows = 0
    for n, block_id in enumerate(blocks):
        instance = block_instance(bundle, block_id)
        cells = _cells(instance, n)
        instances[block_id] = (instance, cells)
        rows += len(cells)
        publish(block_id, cells, instance)
        print(f"published {block_id}: {len(cells)} rows, feed {calls[-1][0]:.2f} s", file=sys.stderr, flush=True)
    latest = sorted(calls[-3:])
    new_block = latest[len(latest) // 2]
    new_files = new_block[2]
    folder = feed.feed_dir(program_key)
    files = len(list(folder.glob("*.ics")))
    last = blocks[-1]
    instance, cells = instances[last]
    swaps = []
    for n in range(max(args.repeat, 1)):
        calls.clear()
        publish(last, _traded(instance, cells) if n % 2 == 0 else cells, instance)
        swaps.append(calls[-1])
    best = min(swaps)
    engine.dispose()
    people = len(bundle.frames["people"])
    return [
        {
            "case": f"swap in {last} (best of {len(swaps)})",
            "people": people,
            "blocks": len(blocks),
            "rows": rows,
            "files": files,
            "rewritten": best[2],
            "wall": round(best[0], 3),
            "cpu": round(best[1], 3),
        },
        {
            "case": "new block (median of last 3)",
            "people": people,
            "blocks": len(blocks),
            "rows": rows,
            "files": files,
            "rewritten": new_files,
            "wall": round(new_block[0], 3),
            "cpu": round(new_block[1], 3),
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=150)
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", type=Path, help="import rotaflow from this checkout instead")
    parser.add_argument("--label", default="", help="results file name suffix (feed-<label>.json)")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    if args.code:
        sys.path.insert(0, str(args.code.resolve()))
    url = create_pg(args.postgres_url)
    try:
        with tempfile.TemporaryDirectory(prefix="rotaflow-feed-bench-") as work:
            rows = run(args, url, Path(work))
    finally:
        drop_pg(args.postgres_url, url)
    for row in rows:
        row["code"] = str(args.code or "this checkout")
    columns: list[Column] = [
        ("case", "case", "<32", ""),
        ("people", "people", ">6", ""),
        ("blocks", "blocks", ">6", ""),
        ("rows", "rows", ">7", ""),
        ("files", "files", ">5", ""),
        ("rewritten", "rewritten", ">9", ""),
        ("wall", "wall s", ">8", ".3f"),
        ("cpu", "cpu s", ">8", ".3f"),
    ]
    print_table(rows, columns)
    write_results(f"feed-{args.label}" if args.label else "feed", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
