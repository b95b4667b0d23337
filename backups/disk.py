"""The disk check: enough free space on every volume a backup or restore writes to."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DiskCheck", "VolumeSpace", "existing_ancestor", "free_space_ok", "human_bytes"]

DiskUsage = Callable[[Path], Any]
"""``shutil.disk_usage`` or a stand-in with the same answer (an object with ``.free``)."""


@dataclass(frozen=True)
class VolumeSpace:
    """One volume: the paths written to it, the space they need and the space it has."""

    paths: tuple[Path, ...]
    free: int
    needed: int

    @property
    def ok(self) -> bool:
        return self.free >= self.needed

    def describe(self) -> str:
        where = ", ".join(str(p) for p in self.paths)
        return f"{where}: {human_bytes(self.free)} free, {human_bytes(self.needed)} needed"


@dataclass(frozen=True)
class DiskCheck:
    """The answer of :func:`free_space_ok`: true only when every volume has room."""

    volumes: list[VolumeSpace] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.volumes)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def short(self) -> list[VolumeSpace]:
        return [v for v in self.volumes if not v.ok]

    @property
    def message(self) -> str:
        if self.ok:
            return "enough free space: " + "; ".join(v.describe() for v in self.volumes)
        return "not enough free space: " + "; ".join(v.describe() for v in self.short)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def existing_ancestor(path: Path) -> Path:
    """The path itself, or its nearest folder that exists (where a new file would land)."""
    path = Path(path).absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor)  # pragma: no cover - the root always exists


def free_space_ok(
    paths: Iterable[Path | str],
    needed_bytes: int,
    margin: int = 0,
    *,
    disk_usage: DiskUsage | None = None,
) -> DiskCheck:
    """Check that each volume holding one of ``paths`` has room for all it will receive.

    Every path receives ``needed_bytes``; paths on the same volume add up, and each
    volume keeps ``margin`` bytes free on top. Paths that do not exist yet are measured
    at their nearest existing folder. ``disk_usage`` replaces ``shutil.disk_usage``
    (tests simulate a full disk with it).
    """
    usage = disk_usage or shutil.disk_usage
    groups: dict[int, list[Path]] = {}
    anchors: dict[int, Path] = {}
    for raw in paths:
        path = Path(raw)
        anchor = existing_ancestor(path)
        device = os.stat(anchor).st_dev
        groups.setdefault(device, []).append(path)
        anchors.setdefault(device, anchor)
    volumes = []
    for device, members in groups.items():
        free = int(usage(anchors[device]).free)
        volumes.append(VolumeSpace(tuple(members), free, needed_bytes * len(members) + margin))
    return DiskCheck(volumes)
