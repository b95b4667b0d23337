"""The suite's own scheduling (tests/conftest.py): the longest modules are named by paths that exist, and start first."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import LONGEST_FIRST, ROOT, start_rank


def test_every_longest_first_path_exists() -> None:
    for prefix in LONGEST_FIRST:
        assert (ROOT / prefix).exists(), prefix


def test_the_longest_modules_are_collected_first() -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--collect-only",
        "tests/flows",
        "tests/integration",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    ranks = [
        min(start_rank(i), 2) for i in ids
    ]  # the two modules under tests/flows and tests/integration, then the rest
    assert ranks[0] == 0 and 1 in ranks and ranks == sorted(ranks), ids[:3]
