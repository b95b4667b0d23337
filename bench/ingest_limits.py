"""Ingest at the size limits: peak memory of the largest bundles accepted, and of hostile ones refused.

Builds, from ``rotaflow synth --residents 300``:

* the bundle with ``requests.csv`` at its row limit (validations/limits.py), and that bundle with
  a ``history.csv`` that brings all its CSV files to the bundle's row limit — the largest bundle
  accepted: both accepted;
* a 50 MB ``requests.csv``, a 1 GB zip bomb, a zip whose header lies about a member's size and a
  "billion laughs" ``constraints.yaml``: all refused.

Each case is one full ``ingest --no-flow`` (read, contracts, expectations, store into a new SQLite
database, or quarantine) in its own process, so its peak RSS (``ru_maxrss``) is that case's alone.
Prints a table and writes bench/results/ingest_limits.json.

    python bench/ingest_limits.py
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _table import print_table, write_results  # noqa: E402  (bench/ is the script's folder)

MiB = 1024 * 1024


def _case(source: str, var_dir: str) -> dict[str, object]:
    """Run inside a child process: one ingest of ``source`` into a new embedded database."""
    os.environ["ROTAFLOW_VAR_DIR"] = var_dir
    from rotaflow.configs.settings import Settings
    from rotaflow.errors import InputError
    from rotaflow.services.ingest import ingest_bundle

    settings = Settings()
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    try:
        outcome = ingest_bundle(source, settings=settings)
        result: dict[str, object] = {"outcome": "accepted", "rows": sum(outcome.row_counts.values())}
    except InputError as error:
        result = {"outcome": "refused", "problem": str(error.problems[0]), "problems": len(error.problems)}
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["imports_rss_mb"] = base_mb
    return result


# --------------------------------------------------------------------------- building the bundles


def _people(folder: Path) -> list[str]:
    with (folder / "people.csv").open(newline="") as handle:
        return [row["person_id"] for row in csv.DictReader(handle)]


def _shifts(folder: Path) -> list[str]:
    with (folder / "shifts.csv").open(newline="") as handle:
        return [row["shift_id"] for row in csv.DictReader(handle)]


def _write_requests(folder: Path, rows: int) -> None:
    """``rows`` distinct requests (person, day of the year, shift or whole day)."""
    people, shifts = _people(folder), [*_shifts(folder), ""]
    first = dt.date(2027, 7, 1)
    with (folder / "requests.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["person_id", "date", "shift_id", "kind", "weight"])
        n = 0
        for day in range(364):
            date = (first + dt.timedelta(days=day)).isoformat()
            for person in people:
                for shift in shifts:
                    if n == rows:
                        return
                    writer.writerow([person, date, shift, "off" if n % 2 else "on", 1 + n % 3])
                    n += 1


def _write_history(folder: Path, rows: int) -> None:
    """``rows`` shifts worked before the first block, spread over the people."""
    people, shifts = _people(folder), _shifts(folder)
    last = dt.date(2027, 6, 30)
    with (folder / "history.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["person_id", "date", "shift_id"])
        n = 0
        for day in range(rows):
            date = (last - dt.timedelta(days=day)).isoformat()
            for person in people:
                for shift in shifts:
                    if n == rows:
                        return
                    writer.writerow([person, date, shift])
                    n += 1


def _raw_zip(path: Path, name: str, declared_size: int, size: int) -> None:
    """A zip of one member of ``size`` zero bytes whose headers declare ``declared_size``."""
    chunk = b"\0" * MiB
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(chunk, crc)
    deflated = block * (size // MiB) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    encoded = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(deflated), declared_size, len(encoded), 0)
    central = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(deflated), declared_size, len(encoded), 0, 0, 0, 0,
        0o100644 << 16, 0,
    )  # fmt: skip
    body = local + encoded + deflated
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(encoded), len(body), 0)
    path.write_bytes(body + central + encoded + end)


def _bundles(work: Path) -> dict[str, Path]:
    from rotaflow.services.synth import write_bundle
    from rotaflow.validations.limits import LIMITS

    base = work / "synthetic-300"
    write_bundle(base, residents=300, seed=1)
    cases: dict[str, Path] = {"synthetic, 300 residents": base}

    at_limit = work / "requests-at-limit"
    shutil.copytree(base, at_limit)
    _write_requests(at_limit, LIMITS.rows_for("requests.csv"))
    cases[f"requests.csv {LIMITS.rows_for('requests.csv'):,} rows"] = at_limit

    both = work / "bundle-at-row-limit"
    shutil.copytree(at_limit, both)
    others = sum(_rows(p) for p in both.glob("*.csv") if p.name != "history.csv")
    history = min(LIMITS.rows_for("history.csv"), LIMITS.bundle_rows - others)
    _write_history(both, history)
    cases[f"+ history.csv {history:,} rows (all: {LIMITS.bundle_rows:,})"] = both

    fifty = work / "requests-50mb"
    shutil.copytree(base, fifty)
    row = b"R001,2027-07-05,DAY,off,3\n"
    with (fifty / "requests.csv").open("wb") as handle:
        handle.write(b"person_id,date,shift_id,kind,weight\n")
        while handle.tell() < 50 * MiB:
            handle.write(row * 10_000)
    cases["requests.csv of 50 MB"] = fifty

    bomb = work / "bomb.zip"
    _raw_zip(bomb, "requests.csv", 1024 * MiB, 1024 * MiB)
    cases["zip bomb: 1 GB member, 1 MB zip"] = bomb
    liar = work / "liar.zip"
    _raw_zip(liar, "requests.csv", 100, 1024 * MiB)
    cases["zip header says 100 B, is 1 GB"] = liar

    laughs = work / "billion-laughs"
    shutil.copytree(base, laughs)
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
    (laughs / "constraints.yaml").write_text("\n".join(lines) + "\n")
    cases["billion laughs constraints.yaml"] = laughs
    return cases


def _rows(path: Path) -> int:
    with path.open(newline="") as handle:
        return sum(1 for row in csv.reader(handle) if any(cell.strip() for cell in row)) - 1


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_case(sys.argv[2], sys.argv[3])))
        return 0
    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-limits-"))
    try:
        rows = []
        for label, path in _bundles(work).items():
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(work / uuid.uuid4().hex)],
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append({"bundle": label, "bytes_on_disk": _size(path), **result})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    columns = [
        ("bundle", "bundle", "<42", ""),
        ("bytes_on_disk", "MB on disk", ">10", ".1f"),
        ("outcome", "outcome", "<9", ""),
        ("seconds", "seconds", ">8", ".2f"),
        ("imports_rss_mb", "imports MB", ">10", ".0f"),
        ("peak_rss_mb", "peak MB", ">8", ".0f"),
    ]
    print_table([{**r, "bytes_on_disk": r["bytes_on_disk"] / MiB} for r in rows], columns)
    for r in rows:
        if r["outcome"] == "refused":
            print(f"  {r['bundle']}: {r['problem']}")
    write_results("ingest_limits", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
