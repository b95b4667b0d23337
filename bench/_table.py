"""What every benchmark ends with: its table on standard output and its JSON under bench/results/."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

Column = tuple[str, str, str, str]
"""(key in a row, title, alignment such as "<20" or ">8", number format such as ".2f" or "")."""


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> None:
    header = " ".join(format(title, align) for _, title, align, _ in columns)
    print(header)
    print("-" * len(header))
    for row in rows:
        print(" ".join(format(format(row[key], fmt), align) for key, _, align, fmt in columns))


def write_results(name: str, rows: list[dict[str, Any]]) -> Path:
    """``bench/results/<name>.json``: the machine and the rows."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, "results": rows}
    path.write_text(json.dumps(payload, indent=2))
    print(f"\nwritten {path}")
    return path
