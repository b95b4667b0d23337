"""The disk check: every volume written to has room for what it receives plus a margin."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rotaflow.backups.disk import existing_ancestor, free_space_ok, human_bytes


def _free(n: int) -> Any:
    return lambda path: SimpleNamespace(free=n, total=10 * n, used=9 * n)


def test_enough_room_passes(tmp_path: Path) -> None:
    check = free_space_ok([tmp_path], 1000, 100, disk_usage=_free(1100))
    assert check.ok and bool(check)
    assert check.short == []
    assert check.message.startswith("enough free space: ")


def test_too_little_room_names_the_volume_and_the_amounts(tmp_path: Path) -> None:
    check = free_space_ok([tmp_path], 1000, 100, disk_usage=_free(1099))
    assert not check
    assert check.message == f"not enough free space: {tmp_path}: 1.1 KB free, 1.1 KB needed"
    assert [v.needed for v in check.short] == [1100]


def test_paths_on_one_volume_add_up(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    check = free_space_ok([tmp_path / "a", tmp_path / "b"], 1000, 10, disk_usage=_free(1500))
    assert len(check.volumes) == 1
    assert check.volumes[0].needed == 2010
    assert not check.ok


def test_a_path_that_does_not_exist_yet_is_measured_where_it_will_be_made(tmp_path: Path) -> None:
    future = tmp_path / "not" / "yet" / "there"
    assert existing_ancestor(future) == tmp_path
    seen: list[Path] = []

    def usage(path: Path) -> Any:
        seen.append(path)
        return SimpleNamespace(free=5)

    assert not free_space_ok([future], 10, disk_usage=usage)
    assert seen == [tmp_path]


def test_the_real_disk_usage_is_the_default(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    assert free_space_ok([str(tmp_path)], 1).ok
    assert not free_space_ok([tmp_path], free * 4).ok


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (5 * 1024**3, "5.0 GB"), (3 * 1024**5, "3072.0 TB")]
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text
