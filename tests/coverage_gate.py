"""Fail when a critical package's line coverage is under its floor, or was not measured (after `pytest --cov`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

FLOORS = {"constraints": 90.0, "validations": 90.0, "backups": 90.0}


def main(path: str) -> int:
    files = json.loads(Path(path).read_text())["files"]
    failed = False
    for package, floor in FLOORS.items():
        covered = statements = 0
        for name, data in files.items():
            parts = Path(name).parts  # rotaflow/<package>/… (the folder is linked into the package)
            if parts[:2] == ("rotaflow", package) or parts[0] == package:
                covered += data["summary"]["covered_lines"]
                statements += data["summary"]["num_statements"]
        if statements == 0:  # a package the run did not measure cannot pass its floor
            print(f"coverage rotaflow/{package}/: not measured (no file of it in {path}) BELOW FLOOR")
            failed = True
            continue
        percent = 100.0 * covered / statements
        status = "ok" if percent >= floor else "BELOW FLOOR"
        print(f"coverage rotaflow/{package}/: {percent:.1f}% (floor {floor:.0f}%) {status}")
        failed |= percent < floor
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/coverage.json"))
