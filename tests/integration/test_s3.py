"""S3 storage and bundle sources against a real S3 endpoint (moto's server on loopback).

The bundle-source tests for folders and zips live here too: ``rotaflow.validations.sources`` reads
all three kinds of source, and its messages must be the same whichever kind is used.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from rotaflow.configs.settings import get_settings
from rotaflow.db.migrate import upgrade
from rotaflow.db.models import AuditEntry, Person, Program
from rotaflow.db.session import UnitOfWork, make_engine
from rotaflow.errors import InputError, Problem, StorageError
from rotaflow.services.ingest import ingest_bundle
from rotaflow.storage import S3Store, open_store, s3_client
from rotaflow.validations.limits import LIMITS, BundleLimits
from rotaflow.validations.sources import read_bundle_files
from tests.conftest import TINY

# credentials used where a test checks that they never leak into a message
ACCESS_KEY = "AKIALEAKCHECK0000001"
SECRET_KEY = "leak-check-secret-value-0123456789"


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def client(s3_server: str) -> object:
    return s3_client(endpoint_url=s3_server, access_key_id="testing", secret_access_key="testing")


def _upload(client: object, bucket: str, prefix: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=data)  # type: ignore[attr-defined]


def _tiny_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(TINY.iterdir())}


def _messages(caught: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in caught.value.problems]


def _count(engine: Engine, model: type) -> int:
    with UnitOfWork(engine) as uow:
        return int(uow.s.scalar(select(func.count()).select_from(model)) or 0)


# =========================================================================== S3Store


@pytest.mark.s3
@pytest.mark.parametrize("prefix", ["", "some/prefix", "trailing/"])
def test_s3_store_round_trip(s3_bucket: str, client: object, prefix: str) -> None:
    store = S3Store(bucket=s3_bucket, prefix=prefix, client=client)
    keys = ["a.txt", "b/c.txt", "b/d/e.bin", "f", "zz/top"]
    for i, key in enumerate(keys):
        store.put_bytes(key, f"value {i}".encode())
    assert store.list() == sorted(keys)
    assert store.list("b") == ["b/c.txt", "b/d/e.bin"]
    assert store.list("b/d") == ["b/d/e.bin"]
    assert store.list("nothing") == []
    for i, key in enumerate(keys):
        assert store.exists(key)
        assert store.get_bytes(key) == f"value {i}".encode()
    assert not store.exists("b")  # a "folder" is not an object
    assert not store.exists("missing")
    store.put_bytes("f", b"overwritten")
    assert store.get_bytes("f") == b"overwritten"

    # where the objects really are in the bucket
    listed = client.list_objects_v2(Bucket=s3_bucket)["Contents"]  # type: ignore[attr-defined]
    clean = prefix.rstrip("/")
    assert sorted(o["Key"] for o in listed) == sorted(f"{clean}/{k}" if clean else k for k in keys)
    assert store.url == (f"s3://{s3_bucket}/{clean}" if clean else f"s3://{s3_bucket}")


@pytest.mark.s3
def test_s3_store_prefixes_do_not_see_each_other(s3_bucket: str, client: object) -> None:
    one = S3Store(bucket=s3_bucket, prefix="one", client=client)
    two = S3Store(bucket=s3_bucket, prefix="two", client=client)
    whole = S3Store(bucket=s3_bucket, prefix="", client=client)
    one.put_bytes("k", b"1")
    two.put_bytes("k", b"2")
    assert one.list() == ["k"] and two.list() == ["k"]
    assert (one.get_bytes("k"), two.get_bytes("k")) == (b"1", b"2")
    assert whole.list() == ["one/k", "two/k"]
    assert whole.get_bytes("one/k") == b"1"


@pytest.mark.s3
def test_s3_list_treats_a_prefix_as_a_folder_like_the_local_store(
    s3_bucket: str, client: object, tmp_path: Path
) -> None:
    from rotaflow.storage import LocalStore

    local = LocalStore(tmp_path / "objects")
    remote = S3Store(bucket=s3_bucket, prefix="p", client=client)
    for store in (local, remote):
        store.put_bytes("tier1/a", b"1")
        store.put_bytes("tier10/b", b"2")
    assert local.list("tier1") == ["tier1/a"]
    assert remote.list("tier1") == local.list("tier1")


@pytest.mark.s3
def test_s3_store_refuses_keys_that_leave_its_prefix(s3_bucket: str, client: object) -> None:
    store = S3Store(bucket=s3_bucket, prefix="inside", client=client)
    for call in (lambda: store.put_bytes("../outside", b"x"), lambda: store.get_bytes("/abs")):
        with pytest.raises(StorageError) as caught:
            call()
        assert "must be relative and stay inside the store" in str(caught.value)
    with pytest.raises(StorageError):
        store.exists("../outside")
    assert client.list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []  # type: ignore[attr-defined]


@pytest.mark.s3
def test_s3_get_of_a_missing_key_is_a_storage_error(s3_bucket: str, client: object) -> None:
    store = S3Store(bucket=s3_bucket, prefix="p", client=client)
    with pytest.raises(StorageError) as caught:
        store.get_bytes("missing")
    assert str(caught.value) == f"could not read 'missing' from s3://{s3_bucket}/p: NoSuchKey"


@pytest.mark.s3
def test_s3_errors_are_storage_errors_without_credentials(s3_server: str) -> None:
    client = s3_client(endpoint_url=s3_server, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
    store = S3Store(bucket="no-such-bucket-here", prefix="p", client=client)
    errors: list[StorageError] = []
    for call in (lambda: store.put_bytes("k", b"x"), lambda: store.get_bytes("k"), lambda: store.list()):
        with pytest.raises(StorageError) as caught:
            call()
        errors.append(caught.value)
    assert [str(e) for e in errors] == [
        "could not write 'k' to s3://no-such-bucket-here/p: NoSuchBucket",
        "could not read 'k' from s3://no-such-bucket-here/p: NoSuchBucket",
        "could not list s3://no-such-bucket-here/p: NoSuchBucket",
    ]
    for error in errors:
        text = str(error) + repr(error)
        assert ACCESS_KEY not in text and SECRET_KEY not in text
        assert error.__cause__ is not None  # the botocore error stays available for debugging
    assert store.exists("k") is False


@pytest.mark.s3
def test_open_store_uses_the_settings_endpoint(s3_bucket: str, client: object) -> None:
    settings = get_settings()  # after the fixture pointed ROTAFLOW_S3_* at the server
    store = open_store(f"s3://{s3_bucket}/prefix", settings=settings)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == (s3_bucket, "prefix")
    store.put_bytes("x/y", b"hello")
    assert store.list() == ["x/y"] and store.exists("x/y")
    body = client.get_object(Bucket=s3_bucket, Key="prefix/x/y")["Body"].read()  # type: ignore[attr-defined]
    assert body == b"hello"
    # without explicit settings, open_store reads them itself
    assert open_store(f"s3://{s3_bucket}/prefix").get_bytes("x/y") == b"hello"  # type: ignore[union-attr]


# =========================================================================== ingest from S3


@pytest.mark.s3
def test_ingest_from_an_s3_prefix(s3_bucket: str, client: object, engine: Engine) -> None:
    _upload(client, s3_bucket, "bundles/tiny", _tiny_files())
    source = f"s3://{s3_bucket}/bundles/tiny"
    outcome = ingest_bundle(source, settings=get_settings(), engine=engine, expectations=False)
    assert outcome.result.version == 1 and outcome.result.created_version
    assert outcome.result.inserted["people"] == 4
    assert outcome.row_counts["people"] == 4
    assert outcome.source == source
    assert _count(engine, Person) == 4
    # the same bundle read from a folder is the same content: no new version
    again = ingest_bundle(str(TINY), settings=get_settings(), engine=engine, expectations=False)
    assert not again.result.created_version and again.result.version == 1


@pytest.mark.s3
def test_read_bundle_files_from_s3_ignores_nested_objects(s3_bucket: str, client: object) -> None:
    files = _tiny_files()
    _upload(client, s3_bucket, "b", files)
    _upload(client, s3_bucket, "b/old", {"people.csv": b"stale"})
    _upload(client, s3_bucket, "b-other", {"people.csv": b"another bundle"})
    settings = get_settings()
    assert read_bundle_files(f"s3://{s3_bucket}/b", settings=settings) == files
    assert read_bundle_files(f"s3://{s3_bucket}/b/", settings=settings) == files


@pytest.mark.s3
def test_a_bad_bundle_on_s3_is_quarantined_in_an_s3_store(
    s3_bucket: str, client: object, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTAFLOW_OBJECT_STORE", f"s3://{s3_bucket}/store")
    get_settings.cache_clear()
    settings = get_settings()
    files = _tiny_files()
    files["blocks.csv"] = b"block_id,start_date,end_date\nB1,2027-07-01,soon\nB2,2027-07-29,2027-08-25\n"
    _upload(client, s3_bucket, "bundles/bad", files)
    source = f"s3://{s3_bucket}/bundles/bad"

    with pytest.raises(InputError) as caught:
        ingest_bundle(source, settings=settings, engine=engine, expectations=False)
    assert _messages(caught) == ["blocks.csv, row 1, column end_date: expected a date (YYYY-MM-DD), got 'soon'"]
    assert _count(engine, Program) == 0 and _count(engine, Person) == 0 and _count(engine, AuditEntry) == 0

    store = open_store(f"s3://{s3_bucket}/store", settings=settings)
    keys = store.list("quarantine")
    assert keys, "nothing was quarantined"
    prefix = "/".join(keys[0].split("/")[:2])  # quarantine/<time>-<hash>
    assert prefix.startswith("quarantine/")
    assert set(keys) == {f"{prefix}/bundle/{name}" for name in files} | {
        f"{prefix}/errors.json",
        f"{prefix}/errors.csv",
    }
    for name, data in files.items():
        assert store.get_bytes(f"{prefix}/bundle/{name}") == data
    report = json.loads(store.get_bytes(f"{prefix}/errors.json"))
    assert report["source"] == source
    assert report["problems"] == [
        {"file": "blocks.csv", "row": 1, "column": "end_date", "expected": "a date (YYYY-MM-DD)", "got": "'soon'"}
    ]
    # the quarantine went to S3, not to the local var/ folder
    assert not (settings.var_dir / "objects").exists()


@pytest.mark.s3
def test_an_empty_s3_prefix_is_bad_input(s3_bucket: str, engine: Engine) -> None:
    source = f"s3://{s3_bucket}/bundles/none"
    with pytest.raises(InputError) as caught:
        read_bundle_files(source, settings=get_settings())
    assert caught.value.problems == [Problem(source, None, None, "bundle files under the s3:// prefix", "no objects")]
    assert _messages(caught) == [f"{source}: expected bundle files under the s3:// prefix, got no objects"]
    assert caught.value.source == source

    with pytest.raises(InputError, match="no objects"):
        ingest_bundle(source, settings=get_settings(), engine=engine, expectations=False)
    assert _count(engine, Program) == 0


@pytest.mark.s3
def test_an_unreadable_s3_bucket_is_bad_input(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTAFLOW_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("ROTAFLOW_S3_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("ROTAFLOW_S3_SECRET_ACCESS_KEY", SECRET_KEY)
    get_settings.cache_clear()
    source = "s3://no-such-bucket-here/bundle"
    with pytest.raises(InputError) as caught:
        read_bundle_files(source, settings=get_settings())
    assert _messages(caught) == [
        f"{source}: expected a readable s3:// bundle prefix, "
        "got could not list s3://no-such-bucket-here/bundle: NoSuchBucket"
    ]
    assert ACCESS_KEY not in str(caught.value) and SECRET_KEY not in str(caught.value)
    assert isinstance(caught.value.__cause__, StorageError)


@pytest.mark.s3
def test_an_s3_bundle_over_the_size_limit_is_refused(s3_bucket: str, client: object) -> None:
    _upload(client, s3_bucket, "big", {"people.csv": b"x" * (600 * 1024), "shifts.csv": b"y" * (600 * 1024)})
    source = f"s3://{s3_bucket}/big"
    limits = BundleLimits(bundle_bytes=1024 * 1024)
    with pytest.raises(InputError) as caught:
        read_bundle_files(source, settings=get_settings(), limits=limits)
    assert _messages(caught) == [f"{source}: expected at most 1048576 bytes in all, got more"]
    with pytest.raises(InputError) as caught:
        read_bundle_files(source, settings=get_settings(), limits=BundleLimits(file_bytes=600 * 1024 - 1))
    assert _messages(caught) == ["people.csv: expected at most 614399 bytes, got more than 614399"]
    with pytest.raises(InputError) as caught:
        read_bundle_files(source, settings=get_settings(), limits=BundleLimits(files=1))
    assert _messages(caught) == [f"{source}: expected at most 1 files, got 2"]


# =========================================================================== folders and zips


def _zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_read_bundle_files_from_a_folder(tiny_dir: Path) -> None:
    (tiny_dir / ".DS_Store").write_bytes(b"junk")
    (tiny_dir / "sub").mkdir()
    (tiny_dir / "sub" / "people.csv").write_bytes(b"stale")
    assert read_bundle_files(str(tiny_dir)) == _tiny_files()


def test_read_bundle_files_from_a_flat_zip(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bundle.zip", _tiny_files())
    assert read_bundle_files(str(archive)) == _tiny_files()


def test_read_bundle_files_from_a_zip_with_a_top_folder(tmp_path: Path) -> None:
    # a folder entry first, as zip tools write it, then the files inside it
    members = {"tiny/": b"", **{f"tiny/{name}": data for name, data in _tiny_files().items()}}
    archive = _zip(tmp_path / "bundle.zip", members)
    assert read_bundle_files(str(archive)) == _tiny_files()


def test_read_bundle_files_from_a_zip_made_on_a_mac(tmp_path: Path) -> None:
    files = _tiny_files()
    members = {f"tiny/{name}": data for name, data in files.items()}
    members.update({f"__MACOSX/tiny/._{name}": b"\x00\x05\x16\x07resource fork" for name in files})
    members["__MACOSX/tiny/program.yaml"] = b"name: not the real one"
    members["tiny/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    members["tiny/old/people.csv"] = b"an older copy in a sub-folder"
    archive = _zip(tmp_path / "bundle.zip", members)
    assert read_bundle_files(str(archive)) == files


def test_a_zip_without_program_yaml_reads_its_top_level(tmp_path: Path) -> None:
    members = {"people.csv": b"a", "nested/blocks.csv": b"b"}
    archive = _zip(tmp_path / "bundle.zip", members)
    # the missing program.yaml is reported later by parse_bundle, with the other contract checks
    assert read_bundle_files(str(archive)) == {"people.csv": b"a"}


def test_an_unreadable_zip_member_is_bad_input(tmp_path: Path) -> None:
    path = _zip(
        tmp_path / "bundle.zip",
        {"program.yaml": b"name: x\n", "people.csv": b"MARKER-DATA"},
        compression=zipfile.ZIP_STORED,
    )
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"MARKER-DATA", b"MARKER-DATb"))  # breaks the member's CRC
    assert zipfile.is_zipfile(path)
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(path))
    assert _messages(caught) == [
        "people.csv: expected a zip member whose contents match its header (size, CRC-32), got BadZipFile"
    ]
    assert caught.value.source == str(path)


def test_a_plain_file_is_not_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a zip")
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(path))
    assert caught.value.problems == [
        Problem("notes.txt", None, None, "a bundle folder, a .zip file or an s3:// prefix", "another kind of file")
    ]
    assert _messages(caught) == [
        "notes.txt: expected a bundle folder, a .zip file or an s3:// prefix, got another kind of file"
    ]
    assert caught.value.exit_code == 2


def test_a_file_named_zip_that_is_not_a_zip_is_not_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"PK but not really")
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(path))
    assert _messages(caught) == [
        "bundle.zip: expected a bundle folder, a .zip file or an s3:// prefix, got another kind of file"
    ]


def test_a_missing_path_is_bad_input(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    with pytest.raises(InputError) as caught:
        read_bundle_files(missing)
    assert caught.value.problems == [
        Problem(missing, None, None, "an existing bundle folder, .zip file or s3:// prefix", "nothing there")
    ]
    assert _messages(caught) == [
        f"{missing}: expected an existing bundle folder, .zip file or s3:// prefix, got nothing there"
    ]


def test_a_folder_over_the_size_limit_is_refused(tiny_dir: Path) -> None:
    limits = BundleLimits(bundle_bytes=1024 * 1024)
    assert read_bundle_files(str(tiny_dir), limits=limits) == _tiny_files()  # well under the limit
    (tiny_dir / "requests.csv").write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(tiny_dir), limits=limits)
    assert _messages(caught) == ["tiny: expected at most 1048576 bytes in all, got more"]


def test_a_zip_over_the_size_limit_is_refused_by_its_uncompressed_size(tmp_path: Path) -> None:
    files = {**_tiny_files(), "history.csv": b"0" * (2 * 1024 * 1024)}
    archive = _zip(tmp_path / "bundle.zip", files)
    assert archive.stat().st_size < 1024 * 1024  # small on disk, large once unpacked
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive), limits=BundleLimits(bundle_bytes=1024 * 1024))
    assert _messages(caught) == ["bundle.zip: expected at most 1048576 bytes in all, got more"]


def test_the_default_size_limits() -> None:
    assert (LIMITS.file_bytes, LIMITS.bundle_bytes) == (20 * 1024 * 1024, 50 * 1024 * 1024)
