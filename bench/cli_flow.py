"""CLI flow benchmark: `rotaflow ingest` of the sample from the command line, as a user runs it, in three modes.

* ``--no-flow``: no Prefect at all;
* flow, temporary server: no server running, so Prefect starts its temporary one for the command;
* flow, running server: a `rotaflow serve` server is up (it records its API URL under PREFECT_HOME) and
  the CLI sends its flow runs there.

Each run is a fresh process on a fresh database (its own ROTAFLOW_VAR_DIR), with no PREFECT_* variable
but PREFECT_HOME (one per mode, kept across its runs like a user's var/prefect). One warm-up run per mode
is not counted. Prints a table (wall seconds, ratio of the medians to ``--no-flow``) and writes
bench/results/cli_flow.json. Target: flow with a running server within 1.5x of ``--no-flow``.

    python bench/cli_flow.py [--repeats 3] [--program configs/programs/sample]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "configs" / "programs" / "sample"
ROTAFLOW = Path(sys.executable).parent / "rotaflow"
TARGET = 1.5


def _env(var_dir: Path, prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ROTAFLOW_"))}
    env.update(ROTAFLOW_VAR_DIR=str(var_dir), PREFECT_HOME=str(prefect_home))
    return env


def _run(program: Path, flag: str, work: Path, prefect_home: Path) -> float:
    var_dir = Path(tempfile.mkdtemp(prefix="var-", dir=work))
    command = [str(ROTAFLOW), "ingest", "--program", str(program), flag, "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=_env(var_dir, prefect_home), cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} exited {done.returncode}:\n{done.stderr[-3000:]}")
    shutil.rmtree(var_dir, ignore_errors=True)
    return elapsed


def _mode(label: str, program: Path, flag: str, work: Path, home: Path, repeats: int) -> dict[str, object]:
    _run(program, flag, work, home)  # warm-up: first start of the temporary server's database, first flow
    times = [_run(program, flag, work, home) for _ in range(repeats)]
    print(f"  {label}: " + ", ".join(f"{t:.1f}" for t in times) + " s", file=sys.stderr)
    return {"mode": label, "runs": times, "median_s": statistics.median(times), "min_s": min(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--program", type=Path, default=SAMPLE)
    args = parser.parse_args()

    from rotaflow.serve import ServeConfig, bring_up, shut_down

    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-cli-"))
    rows = [
        _mode("--no-flow", args.program, "--no-flow", work, work / "prefect-none", args.repeats),
        _mode("flow, temporary server", args.program, "--flow", work, work / "prefect-temporary", args.repeats),
    ]
    home = work / "prefect-serve"
    for name in [k for k in os.environ if k.startswith("PREFECT_")]:  # the server as `rotaflow serve` starts it
        os.environ.pop(name)
    config = ServeConfig(port=_free_port(), home=home, deploy=False, worker=False, log=lambda line: None)
    started = time.perf_counter()
    served = bring_up(config)
    server_start = time.perf_counter() - started
    try:
        rows.append(_mode("flow, running server", args.program, "--flow", work, home, args.repeats))
    finally:
        shut_down(served)
    base = float(rows[0]["median_s"])  # type: ignore[arg-type]
    for row in rows:
        row["ratio_to_no_flow"] = float(row["median_s"]) / base  # type: ignore[arg-type]

    header = f"{'mode':<24} {'runs':>4} {'median s':>9} {'min s':>7} {'x --no-flow':>11}"
    print(header)
    print("-" * len(header))
    for r in rows:
        runs = r["runs"]
        assert isinstance(runs, list)
        print(
            f"{r['mode']!s:<24} {len(runs):>4} {r['median_s']:>9.1f} {r['min_s']:>7.1f} {r['ratio_to_no_flow']:>10.2f}x"
        )
    ratio = float(rows[2]["ratio_to_no_flow"])  # type: ignore[arg-type]
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"\nflow with a running server: {ratio:.2f}x --no-flow (target <= {TARGET}x: {verdict});")
    print(f"the server itself took {server_start:.1f} s to start (once, not counted)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_1m": os.getloadavg()[0]},
        "program": str(args.program),
        "server_start_s": server_start,
        "target_ratio": TARGET,
        "results": rows,
    }
    (out / "cli_flow.json").write_text(json.dumps(payload, indent=2))
    print(f"written {out / 'cli_flow.json'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
