"""Passwords in database URLs and credentials in s3:// URLs are never printed, stored or put on a command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rotaflow.backups.config import PostgresTools
from rotaflow.backups.databases import pg_dump_command, pg_restore_command
from rotaflow.cli import main
from rotaflow.configs.settings import mask_url
from rotaflow.errors import GateRefused, InputError, Problem, StorageError
from rotaflow.services.ingest import quarantine_bundle
from rotaflow.storage import LocalStore, split_s3_url
from rotaflow.validations.sources import read_bundle_files

SECRET = "s3cr3t-Pw"
BOTH = f"postgresql+psycopg://rota:{SECRET}@db.internal:5432/rotaflow?password={SECRET}-q&sslmode=require"
QUERY_ONLY = f"postgresql+psycopg://rota@db.internal/rotaflow?sslmode=require&password={SECRET}"
S3 = f"s3://AKIAEXAMPLE:{SECRET}@bundles/programs/tiny"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (BOTH, "postgresql+psycopg://rota:***@db.internal:5432/rotaflow?password=***&sslmode=require"),
        (QUERY_ONLY, "postgresql+psycopg://rota@db.internal/rotaflow?sslmode=require&password=***"),
        (f"postgresql://rota@h/db?sslpassword={SECRET}", "postgresql://rota@h/db?sslpassword=***"),
        (S3, "s3://***@bundles/programs/tiny"),
        ("s3://bundles/programs/tiny", "s3://bundles/programs/tiny"),
        (f"not a url //u:{SECRET}@h?password={SECRET}", "not a url //u:***@h?password=***"),
    ],
    ids=["both", "query", "sslpassword", "s3", "s3-plain", "not-a-url"],
)
def test_every_password_of_a_url_is_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize("url", [BOTH, QUERY_ONLY], ids=["both", "query"])
def test_pg_dump_and_pg_restore_get_the_password_in_their_environment_only(url: str, tmp_path: Path) -> None:
    tools = PostgresTools()
    for builder in (
        pg_dump_command(tools, url, snapshot="00000003-1", target=tmp_path / "database.dump"),
        pg_restore_command(tools, url, tmp_path / "database.dump"),
    ):
        with builder as (argv, env):
            assert not [a for a in argv if SECRET in a], argv
            assert env["PGPASSWORD"].startswith(SECRET)
            assert "--no-password" in argv and "PGSERVICEFILE" not in env
            dbname = next(a for a in argv if a.startswith("--dbname="))
            assert "dbname='rotaflow'" in dbname and "sslmode='require'" in dbname and "password" not in dbname
    # the query's password is the one the server gets (as SQLAlchemy's own connection does)
    with pg_dump_command(tools, BOTH, snapshot="s", target=tmp_path / "d") as (_, env):
        assert env["PGPASSWORD"] == f"{SECRET}-q"


def test_a_url_without_a_password_leaves_the_environment_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pg_restore_command(PostgresTools(), "postgresql://rota@h/rotaflow", tmp_path / "d") as (argv, env):
        assert "PGPASSWORD" not in env and "PGSERVICEFILE" not in env and argv[-1] == str(tmp_path / "d")


SSL = f"postgresql+psycopg://rota:{SECRET}@db.internal/rotaflow?sslmode=verify-full&sslpassword={SECRET}-key"


def test_the_sslpassword_goes_through_a_private_service_file_removed_afterwards(tmp_path: Path) -> None:
    import stat

    tools = PostgresTools()
    for builder in (
        pg_dump_command(tools, SSL, snapshot="00000003-1", target=tmp_path / "database.dump"),
        pg_restore_command(tools, SSL, tmp_path / "database.dump"),
    ):
        with builder as (argv, env):
            assert not [a for a in argv if SECRET in a], argv
            dbname = next(a for a in argv if a.startswith("--dbname="))
            assert dbname.startswith("--dbname=service='rotaflow' ") and "sslmode='verify-full'" in dbname
            assert "sslpassword" not in dbname and env["PGPASSWORD"] == SECRET
            service_file = Path(env["PGSERVICEFILE"])
            assert stat.S_IMODE(service_file.stat().st_mode) == 0o600
            assert service_file.read_text() == f"[rotaflow]\nsslpassword={SECRET}-key\n"
        assert not service_file.exists()


def test_the_service_file_is_removed_when_the_block_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), pg_restore_command(PostgresTools(), SSL, tmp_path / "d") as (_, env):
        service_file = Path(env["PGSERVICEFILE"])
        raise RuntimeError("the child failed")
    assert not service_file.exists()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"service=prod&sslpassword={SECRET}", "names a libpq service and holds an sslpassword"),
        (f"sslpassword=%20{SECRET}", "starts or ends with a space or holds a line break"),
        (f"sslpassword={SECRET}%0Ahost=evil", "starts or ends with a space or holds a line break"),
    ],
    ids=["own-service", "space", "line-break"],
)
def test_an_sslpassword_libpq_cannot_take_from_a_service_file_is_refused(
    query: str, message: str, tmp_path: Path
) -> None:
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("rotaflow-pgservice-*"))
    url = f"postgresql://rota@h/db?{query}"
    with (
        pytest.raises(GateRefused, match=message) as caught,
        pg_dump_command(PostgresTools(), url, snapshot="s", target=tmp_path),
    ):
        pass
    assert SECRET not in str(caught.value) and "sslpassword=***" in str(caught.value)
    assert set(Path(tempfile.gettempdir()).glob("rotaflow-pgservice-*")) == before


def test_an_s3_url_with_credentials_is_refused_and_masked() -> None:
    with pytest.raises(StorageError) as caught:
        split_s3_url(S3)
    assert SECRET not in str(caught.value) and "AKIAEXAMPLE" not in str(caught.value)
    assert "s3://***@bundles/programs/tiny" in str(caught.value)
    assert split_s3_url("s3://bundles/programs/tiny") == ("bundles", "programs/tiny")


def test_a_bundle_at_an_s3_url_with_credentials_is_refused_without_showing_them() -> None:
    with pytest.raises(InputError) as caught:
        read_bundle_files(S3)
    shown = str(caught.value) + caught.value.source + json.dumps([p.as_dict() for p in caught.value.problems])
    assert SECRET not in shown and "AKIAEXAMPLE" not in shown
    assert "s3://***@bundles/programs/tiny" in shown


@pytest.mark.parametrize("flow", ["--flow", "--no-flow"])
def test_ingest_refuses_s3_credentials_before_anything_runs(flow: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "-p", S3, flow]) == 2
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err and "AKIAEXAMPLE" not in captured.out + captured.err
    assert "without credentials" in captured.err


def test_a_quarantine_report_never_stores_s3_credentials(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    error = InputError([Problem("people.csv", None, None, "the file to be present", "no such file")], source=S3)
    prefix = quarantine_bundle(S3, error, files={}, store=store)
    report = json.loads(store.get_bytes(f"{prefix}/errors.json"))
    assert report["source"] == "s3://***@bundles/programs/tiny"


def test_an_unencoded_secret_with_a_slash_is_still_masked_and_refused() -> None:
    url = "s3://AKIAEXAMPLE:abc/def+ghi@bundles/programs"
    assert mask_url(url) == "s3://***@bundles/programs"
    with pytest.raises(StorageError) as caught:
        split_s3_url(url)
    assert "abc" not in str(caught.value) and "ghi" not in str(caught.value)


def test_a_repeated_query_key_keeps_every_value_and_hides_every_password() -> None:
    url = f"postgresql://u@h/db?options=a&options=b&password={SECRET}&password=other"
    assert mask_url(url) == "postgresql://u@h/db?options=a&options=b&password=***&password=***"


def test_local_store_folders_are_private(tmp_path: Path) -> None:
    import os
    import stat

    previous = os.umask(0o022)
    try:
        store = LocalStore(tmp_path / "objects")
        store.put_bytes("quarantine/one/bundle/people.csv", b"person_id,name\n")
        source = tmp_path / "src.bin"
        source.write_bytes(b"x")
        store.put_file("backups/quick/b1/database.sqlite3", source)
    finally:
        os.umask(previous)
    for folder in ("objects", "objects/quarantine", "objects/quarantine/one/bundle", "objects/backups/quick/b1"):
        assert stat.S_IMODE((tmp_path / folder).stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((tmp_path / "objects/quarantine/one/bundle/people.csv").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "-p", S3, "--block", "2027-B01", "--out", "{tmp}/out"],
        ["validate", "-p", S3, "--schedule", "{tmp}/assignments.csv", "--out", "{tmp}/out"],
        ["validate", "-p", S3, "--schedule", "{tmp}/assignments.csv", "--out", "{tmp}/out", "--no-flow"],
    ],
    ids=["generate", "validate", "validate-no-flow"],
)
def test_every_command_taking_a_bundle_refuses_s3_credentials_before_a_flow_run_records_them(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err and "AKIAEXAMPLE" not in captured.out + captured.err
    # refused by the command line itself (the option named), not by a flow run whose parameters hold the address
    assert "--program" in captured.err and "without credentials" in captured.err
    assert not (tmp_path / "out").exists()
