"""How much of a program bundle rotaflow reads: the one place its limits are defined.

A bundle past a limit is refused (exit 2) with a problem naming the file, the limit and what was
found, before the excess is held in memory: files are read through a stream that stops one byte past
the cap, zip members are counted by the bytes they actually produce (never by what their header
says), CSV rows are counted while they are read, and YAML aliases are counted while the document is
composed. A schedule file (``rotaflow validate --schedule``) has limits of its own, sized for a
year of a large program; rotaflow's own outputs are read back under them (``for_schedule``).
docs/coordinators.md ("Size limits") lists these values for coordinators.

The limits keep ingest's peak memory proportional to what is accepted: bench/ingest_limits.py
measures it for the largest bundle accepted (bench/results/ingest_limits.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

__all__ = ["LIMITS", "BundleLimits"]

MiB = 1024 * 1024

_SMALL_FILES: Mapping[str, int] = MappingProxyType(
    {
        # the files every check multiplies together (residents x blocks, shifts x rotations …)
        "people.csv": 5_000,
        "blocks.csv": 500,
        "shifts.csv": 500,
        "rotations.csv": 1_000,
        "coverage.csv": 20_000,
    }
)


@dataclass(frozen=True)
class BundleLimits:
    """The limits a bundle is held to (the defaults are rotaflow's; tests pass smaller ones)."""

    file_bytes: int = 20 * MiB
    """Bytes of any one file (or zip member), counted as read."""
    bundle_bytes: int = 50 * MiB
    """Bytes of all files together, counted as read."""
    files: int = 1_000
    """Entries of a bundle folder, zip members (folders included), or objects under an s3:// prefix."""
    csv_rows: int = 100_000
    """Data rows of a CSV file, unless ``small_files`` gives it fewer."""
    bundle_rows: int = 200_000
    """Data rows of all CSV files together: what ingest's peak memory grows with."""
    small_files: Mapping[str, int] = field(default_factory=lambda: _SMALL_FILES)
    """Tighter row limits for the files whose sizes other checks multiply."""
    yaml_bytes: int = 1 * MiB
    """Bytes of a YAML file (program.yaml, constraints.yaml, a backup configuration)."""
    yaml_aliases: int = 1_000
    """Alias references (``*name``) in one YAML document."""
    yaml_nodes: int = 100_000
    """Nodes of one YAML document once every alias is expanded (a billion laughs has 10^9)."""
    schedule_rows: int = 500_000
    """Data rows of a schedule file (``rotaflow validate --schedule``): a year of 300 residents is ~110,000."""
    schedule_bytes: int = 100 * MiB
    """Bytes of a schedule file, counted as read: 500,000 rows of 200 bytes (a full assignments.csv row is ~110)."""

    def rows_for(self, file: str) -> int:
        """The data-row limit of a CSV file."""
        return min(self.csv_rows, self.small_files.get(file, self.csv_rows))

    def for_schedule(self) -> BundleLimits:
        """These limits with a schedule's in place of a bundle file's, to read a whole schedule as one file.

        rotaflow's own outputs (assignments.csv, findings.csv of a run) are read back through these:
        a year of a large program is a schedule, not a bundle file, and must not meet the bundle's caps.
        """
        return replace(
            self,
            file_bytes=self.schedule_bytes,
            bundle_bytes=self.schedule_bytes,
            csv_rows=self.schedule_rows,
            bundle_rows=self.schedule_rows,
            small_files=MappingProxyType({}),
        )


LIMITS = BundleLimits()
"""rotaflow's limits."""
