"""The local object store, and the URL helpers shared with the S3 store."""

from __future__ import annotations

from pathlib import Path

import pytest

import rotaflow.storage as storage
from rotaflow.configs.settings import Settings
from rotaflow.errors import StorageError
from rotaflow.storage import LocalStore, S3Store, open_store, split_s3_url


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- round trip


def test_put_get_list_exists_round_trip(store: LocalStore) -> None:
    assert not store.root.exists()  # created on the first write
    store.put_bytes("a.txt", b"alpha")
    store.put_bytes("b.bin", b"\x00\x01\xff")
    assert store.get_bytes("a.txt") == b"alpha"
    assert store.get_bytes("b.bin") == b"\x00\x01\xff"
    assert store.list() == ["a.txt", "b.bin"]
    assert store.exists("a.txt") and store.exists("b.bin")
    assert not store.exists("c.txt")
    assert store.url == str(store.root)


def test_put_overwrites(store: LocalStore) -> None:
    store.put_bytes("k", b"first")
    store.put_bytes("k", b"second")
    assert store.get_bytes("k") == b"second"
    assert store.list() == ["k"]


def test_empty_object(store: LocalStore) -> None:
    store.put_bytes("empty", b"")
    assert store.exists("empty") and store.get_bytes("empty") == b""


def test_nested_keys(store: LocalStore) -> None:
    store.put_bytes("x/y/z.json", b"{}")
    store.put_bytes("x/top.txt", b"t")
    store.put_bytes("other/file", b"o")
    assert (store.root / "x" / "y" / "z.json").read_bytes() == b"{}"
    assert store.list() == ["other/file", "x/top.txt", "x/y/z.json"]
    assert store.list("x") == ["x/top.txt", "x/y/z.json"]
    assert store.list("x/") == ["x/top.txt", "x/y/z.json"]
    assert store.list("x/y") == ["x/y/z.json"]
    assert store.get_bytes("x/y/z.json") == b"{}"
    assert store.exists("x/y/z.json")
    assert not store.exists("x/y")  # a folder is not an object


def test_list_of_a_key_is_that_key(store: LocalStore) -> None:
    store.put_bytes("x/y/z.json", b"{}")
    assert store.list("x/y/z.json") == ["x/y/z.json"]


def test_keys_are_normalised(store: LocalStore) -> None:
    store.put_bytes("./a//b/./c", b"1")
    assert store.list() == ["a/b/c"]
    assert store.get_bytes("a/b/c") == b"1"


def test_list_of_a_missing_prefix_is_empty(store: LocalStore) -> None:
    assert store.list() == []  # the root itself does not exist yet
    store.put_bytes("a/b", b"1")
    assert store.list("nothing") == []
    assert store.list("a/nothing") == []


def test_get_of_a_missing_key_raises_storage_error(store: LocalStore) -> None:
    with pytest.raises(StorageError, match=r"no object 'missing/key' in "):
        store.get_bytes("missing/key")
    store.put_bytes("a", b"1")
    with pytest.raises(StorageError, match="no object 'b'"):
        store.get_bytes("b")


def test_remove_tree(store: LocalStore) -> None:
    store.put_bytes("q/1/a", b"1")
    store.put_bytes("q/1/b", b"2")
    store.put_bytes("q/2/a", b"3")
    store.remove_tree("q/1")
    assert store.list() == ["q/2/a"]
    store.remove_tree("does/not/exist")  # no error
    with pytest.raises(StorageError):
        store.remove_tree("../outside")


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_leaves_no_temporary_files(store: LocalStore) -> None:
    for i in range(5):
        store.put_bytes(f"deep/er/k{i}", b"x" * (i * 1000))
    store.put_bytes("deep/er/k0", b"rewritten")
    assert _all_files(store.root) == [f"deep/er/k{i}" for i in range(5)]
    assert not [p for p in store.root.rglob(".tmp-*")]


def test_a_failed_write_removes_its_temporary_file_and_keeps_the_old_object(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_bytes("k", b"old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", broken_replace)
    with pytest.raises((OSError, StorageError)):
        store.put_bytes("k", b"new")
    monkeypatch.undo()
    assert _all_files(store.root) == ["k"]
    assert store.get_bytes("k") == b"old"


def test_temporary_files_are_not_listed(store: LocalStore) -> None:
    store.put_bytes("dir/real", b"1")
    (store.root / "dir" / ".tmp-abandoned").write_bytes(b"half")  # a crashed writer's leftover
    assert store.list() == ["dir/real"]
    assert store.list("dir") == ["dir/real"]


# --------------------------------------------------------------------------- key safety


BAD_KEYS = [
    "../escape",
    "a/../../escape",
    "a/../b",  # even when it would land inside again
    "..",
    "/etc/passwd",
    "/absolute/key",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_that_leave_the_store_are_refused(store: LocalStore, tmp_path: Path, key: str) -> None:
    with pytest.raises(StorageError, match="must be relative and stay inside the store"):
        store.put_bytes(key, b"x")
    with pytest.raises(StorageError, match="must be relative and stay inside the store"):
        store.get_bytes(key)
    with pytest.raises(StorageError, match="must be relative and stay inside the store"):
        store.exists(key)
    assert not (tmp_path / "escape").exists()
    assert not store.root.exists() or _all_files(store.root) == []


def test_refusal_names_the_key(store: LocalStore) -> None:
    with pytest.raises(StorageError) as caught:
        store.put_bytes("../x", b"1")
    assert "'../x'" in str(caught.value)
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("prefix", ["..", "../", "a/../..", str(Path("/tmp").resolve())])
def test_list_refuses_a_prefix_that_leaves_the_store(tmp_path: Path, prefix: str) -> None:
    store = LocalStore(tmp_path / "objects")
    store.put_bytes("inside", b"1")
    (tmp_path / "secret.txt").write_text("outside the store")
    with pytest.raises(StorageError, match="must be relative and stay inside the store"):
        store.list(prefix)


# --------------------------------------------------------------------------- open_store / URLs


def test_open_store_gives_a_local_store_for_a_path(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "objects"))
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "objects"
    store.put_bytes("k", b"v")
    assert (tmp_path / "objects" / "k").read_bytes() == b"v"


def test_open_store_with_settings_still_local_for_a_path(tmp_path: Path, settings: Settings) -> None:
    store = open_store(settings.resolved_object_store, settings=settings)
    assert isinstance(store, LocalStore)
    assert store.root == Path(settings.resolved_object_store)


def test_open_store_gives_an_s3_store_without_touching_the_network(settings: Settings) -> None:
    # building a boto3 client makes no request; nothing is listening and nothing is needed
    store = open_store("s3://my-bucket/some/prefix", settings=settings)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == ("my-bucket", "some/prefix")
    assert store.url == "s3://my-bucket/some/prefix"
    assert store._key("a/b") == "some/prefix/a/b"


def test_open_store_s3_reads_settings_when_none_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from rotaflow.configs.settings import get_settings

    monkeypatch.setenv("ROTAFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ROTAFLOW_S3_REGION", "eu-west-3")
    get_settings.cache_clear()
    store = open_store("s3://b")
    assert isinstance(store, S3Store)
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert store.client.meta.region_name == "eu-west-3"
    assert (store.bucket, store.prefix, store.url) == ("b", "", "s3://b")
    assert store._key("x") == "x"


def test_s3_store_keys_are_checked_before_any_request(settings: Settings) -> None:
    store = open_store("s3://my-bucket/p", settings=settings)
    assert isinstance(store, S3Store)
    with pytest.raises(StorageError, match="must be relative"):
        store._key("../other-prefix/x")
    with pytest.raises(StorageError, match="must be relative"):
        store._key("/abs")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/prefix", ("bucket", "prefix")),
        ("s3://bucket/a/b/c/", ("bucket", "a/b/c/")),
        ("s3://my.bucket-1/x", ("my.bucket-1", "x")),
    ],
)
def test_split_s3_url(url: str, expected: tuple[str, str]) -> None:
    assert split_s3_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3:///prefix-only", "http://bucket/prefix", "bucket/prefix", "/local/path", "", "S4://b/p"],
)
def test_split_s3_url_refuses_other_urls(url: str) -> None:
    with pytest.raises(StorageError, match=r"expected s3://bucket/prefix, got "):
        split_s3_url(url)


def test_s3_client_is_configured_with_timeouts_and_retries() -> None:
    client = storage.s3_client(
        endpoint_url="http://127.0.0.1:9", region="us-west-2", access_key_id="a", secret_access_key="b"
    )
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == "us-west-2"
    assert client.meta.config.connect_timeout == 5
    assert client.meta.config.read_timeout == 60
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] == 4  # 3 retries after the first try
