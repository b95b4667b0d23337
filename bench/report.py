"""Report benchmark: time and size of ``render_report`` for a small block and a year-long large program.

    python bench/report.py [--residents 300] [--blocks 13] [--out DIR]

Builds synthetic frames with ``rotaflow.validations.report.example_data`` (ids only) for 12 residents x 28 days
and for RESIDENTS x BLOCKS*28 days (N-2 contingency for every pair), renders each report twice and
prints: case, residents, days, frame rows, seconds to build the frames, seconds to render (best of
two), HTML size in MB and the size without plotly.js. Writes bench/results/report.json, and the
rendered pages into --out when given.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_case(label: str, residents: int, days: int, out: Path | None) -> dict[str, object]:
    from plotly.offline import get_plotlyjs

    from rotaflow.validations.report import example_data, render_report

    started = time.perf_counter()
    data = example_data(residents=residents, days=days)
    built = time.perf_counter() - started
    timings = []
    page = ""
    for _ in range(2):
        started = time.perf_counter()
        page = render_report(data)
        timings.append(time.perf_counter() - started)
    size = len(page.encode("utf-8"))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"report-{label}.html").write_text(page, encoding="utf-8")
    frames = {
        "assignments": len(data.assignments),
        "findings": len(data.findings),
        "weekly_hours": len(data.weekly_hours) if data.weekly_hours is not None else 0,
        "contingency": len(data.contingency) if data.contingency is not None else 0,
    }
    return {
        "case": label,
        "residents": residents,
        "days": days,
        "rows": frames,
        "build_seconds": round(built, 2),
        "render_seconds": round(min(timings), 2),
        "html_mb": round(size / 1e6, 2),
        "html_mb_without_plotlyjs": round((size - len(get_plotlyjs().encode("utf-8"))) / 1e6, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=13)
    parser.add_argument("--out", type=Path, default=None, help="folder to write the rendered pages into")
    args = parser.parse_args()
    results = [
        run_case("small", 12, 28, args.out),
        run_case("large", args.residents, 28 * args.blocks, args.out),
    ]
    print(
        f"{'case':<6} {'residents':>9} {'days':>5} {'assignments':>11} {'build s':>8} {'render s':>9} "
        f"{'MB':>6} {'MB w/o js':>9}"
    )
    for r in results:
        rows = r["rows"]
        assert isinstance(rows, dict)
        print(
            f"{r['case']:<6} {r['residents']:>9} {r['days']:>5} {rows['assignments']:>11} {r['build_seconds']:>8} "
            f"{r['render_seconds']:>9} {r['html_mb']:>6} {r['html_mb_without_plotlyjs']:>9}"
        )
    target = ROOT / "bench" / "results" / "report.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps({"machine": platform.platform(), "python": platform.python_version(), "results": results}, indent=2)
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
