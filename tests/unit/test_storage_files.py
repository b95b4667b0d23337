"""The local store moves whole files as streams; it refuses what a folder cannot do (Object Lock)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

import rotaflow.storage as storage
from rotaflow.errors import StorageError
from rotaflow.storage import LocalStore, ObjectLock, TransferSettings


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


def _file(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def test_put_file_get_file_round_trip(store: LocalStore, tmp_path: Path) -> None:
    source = _file(tmp_path, "big.bin", 3 * storage.CHUNK + 17)
    store.put_file("sets/a/big.bin", source)
    assert store.size("sets/a/big.bin") == source.stat().st_size
    assert b"".join(store.iter_chunks("sets/a/big.bin", 1000)) == source.read_bytes()
    target = tmp_path / "down" / "copy.bin"
    store.get_file("sets/a/big.bin", target)
    assert target.read_bytes() == source.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["copy.bin"]  # no temporary file left


def test_missing_objects_are_storage_errors(store: LocalStore, tmp_path: Path) -> None:
    for call in (
        lambda: store.get_file("nope", tmp_path / "x"),
        lambda: list(store.iter_chunks("nope")),
        lambda: store.size("nope"),
    ):
        with pytest.raises(StorageError, match="no object 'nope' in "):
            call()
    assert not (tmp_path / "x").exists()


def test_a_folder_cannot_hold_an_object_lock(store: LocalStore, tmp_path: Path) -> None:
    source = _file(tmp_path, "f", 10)
    lock = ObjectLock(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(StorageError, match="is a local folder: it cannot hold an Object Lock"):
        store.put_file("k", source, lock=lock)
    assert store.list() == []
    store.put_file("k", source)
    assert store.retention("k") is None
    [version] = store.versions("k")
    assert (version.version_id, version.is_latest, version.size) == ("local", True, 10)
    assert store.versions("missing") == []


def test_delete_and_delete_prefix(store: LocalStore) -> None:
    for key in ("set1/a", "set1/sub/b", "set10/c", "other"):
        store.put_bytes(key, b"x")
    store.delete("other")
    store.delete("other")  # already gone: no error
    assert store.delete_prefix("set1") == 2
    assert store.list() == ["set10/c"]
    assert not (store.root / "set1").exists()
    assert store.delete_prefix("nothing") == 0


def test_a_failed_copy_leaves_the_old_object(
    store: LocalStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_bytes("k", b"old")
    source = _file(tmp_path, "new", 100)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.shutil, "copyfileobj", broken)
    with pytest.raises(StorageError, match="could not write 'k' to .*: No space left on device"):
        store.put_file("k", source)
    with pytest.raises(StorageError, match="could not read 'k' from .*: No space left on device"):
        store.get_file("k", tmp_path / "down" / "k")
    monkeypatch.undo()
    assert store.get_bytes("k") == b"old"
    assert [p.name for p in (store.root).iterdir()] == ["k"]
    assert list((tmp_path / "down").iterdir()) == []


def test_unwritable_places_are_storage_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    store = LocalStore(blocker)
    with pytest.raises(StorageError, match="could not write 'k'"):
        store.put_file("k", blocker)
    with pytest.raises(StorageError, match="could not read"):
        list(LocalStore(tmp_path).iter_chunks("file/x"))
    with pytest.raises(StorageError, match="could not delete"):
        LocalStore(tmp_path).delete("file/x")


def test_transfer_settings_make_a_boto3_transfer_config() -> None:
    config = TransferSettings(
        multipart_threshold=5 * storage.MB, chunk_bytes=6 * storage.MB, max_concurrency=1
    ).config()
    assert (config.multipart_threshold, config.multipart_chunksize) == (5 * storage.MB, 6 * storage.MB)
    assert config.max_request_concurrency == 1 and config.use_threads is False
