"""How much of a program bundle rotaflow reads: the one place its limits are defined.

A bundle past a limit is refused (exit 2) with a problem naming the file, the limit and what was
found, before the excess is held in memory: files are read through a stream that stops one byte past
the cap, zip members are counted by the bytes they actually produce (never by what their header
says), CSV rows are counted while they are read, and YAML aliases are counted while the document is
composed. docs/coordinators.md ("Size limits") lists these values for coordinators.

The limits keep ingest's peak memory proportional to what is accepted: bench/ingest_limits.py
measures it for the largest bundle accepted (bench/results/ingest_limits.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

    def rows_for(self, file: str) -> int:
        """The data-row limit of a CSV file."""
        return min(self.csv_rows, self.small_files.get(file, self.csv_rows))


LIMITS = BundleLimits()
"""rotaflow's limits."""
