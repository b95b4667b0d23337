"""Backup ids, checksum files, MANIFEST.md and the code version."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from rotaflow.backups.manifest import (
    DatabaseInfo,
    FileEntry,
    Manifest,
    TableStat,
    backup_time,
    code_version,
    new_backup_id,
    parse_checksums,
    render_checksums,
    render_manifest_md,
    slug,
)

NOW = dt.datetime(2026, 11, 26, 10, 15, 0, tzinfo=dt.UTC)


def test_ids_sort_by_time_and_never_repeat() -> None:
    ids = [new_backup_id("quick", NOW) for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(re.fullmatch(r"20261126T101500Z-quick-[0-9a-f]{6}", i) for i in ids)
    later = new_backup_id("quick", NOW + dt.timedelta(seconds=1))
    assert max(ids) < later
    local = dt.datetime(2026, 11, 26, 11, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert new_backup_id("quick", local).startswith("20261126T101500Z-")  # always UTC


def test_a_named_id_carries_the_name() -> None:
    backup_id = new_backup_id("named", NOW, "Before migration #42 (Ünïcode)!")
    assert re.fullmatch(r"20261126T101500Z-named-before-migration-42-n-code-[0-9a-f]{6}", backup_id)
    assert backup_time(backup_id) == NOW


@pytest.mark.parametrize("text", ["", "latest", "2026-11-26-quick-abc", "20261126T101500Z-sacred-x"])
def test_a_name_that_is_not_a_backup_id_has_no_time(text: str) -> None:
    assert backup_time(text) is None


def test_slug() -> None:
    assert slug("  Hello, World -- 2027 ") == "hello-world-2027"


def test_checksum_file_round_trip() -> None:
    sums = {"b.txt": "b" * 64, "a/x.bin": "a" * 64}
    text = render_checksums(sums.items())
    assert text == f"{'a' * 64}  a/x.bin\n{'b' * 64}  b.txt\n"  # sha256sum format, sorted
    assert parse_checksums(text) == (sums, [])
    assert parse_checksums(f"{'c' * 64} *binary.dump\n\n") == ({"binary.dump": "c" * 64}, [])


def test_unreadable_checksum_lines_are_problems() -> None:
    text = f"not a checksum line\n{'a' * 64}  x\n{'b' * 64}  x\n"
    found, problems = parse_checksums(text)
    assert found == {"x": "b" * 64}
    assert problems == [
        "CHECKSUM.sha256 line 1 is not '<sha256>  <file>'",
        "CHECKSUM.sha256 lists x twice",
    ]


def _manifest(dialect: str = "postgresql", **changes: object) -> Manifest:
    manifest = Manifest(
        backup_id="20261126T101500Z-named-before-x-abc123",
        tier="named",
        name="before x",
        created_at=NOW,
        code_version="0.1.0 (git abc)",
        alembic_revision="0001",
        database=DatabaseInfo(
            dialect=dialect,  # type: ignore[arg-type]
            source="postgresql+psycopg://app:***@db/rotaflow",
            dump_file="database.dump",
            dump_format="pg_dump custom format",
            dump_tool="pg_dump (PostgreSQL) 15.20",
            server_version="15.20",
            encoding="UTF8",
            size_bytes=3 * 1024**2,
        ),
        tables={"people": TableStat(rows=4, fingerprint="pg-hash64:1")},
        files=[FileEntry(path="database.dump", bytes=2048, sha256="d" * 64, role="database")],
        restore_command="rotaflow restore emergency --source named --backup-id 20261126T101500Z-named-before-x-abc123",
    )
    return manifest.model_copy(update=changes)


def test_manifest_md_says_what_when_which_code_and_how_to_restore() -> None:
    text = render_manifest_md(_manifest())
    for expected in [
        "# Backup 20261126T101500Z-named-before-x-abc123",
        "- **Tier:** named — before x",
        "- **Taken:** 2026-11-26 10:15:00 UTC",
        "- **Code version:** 0.1.0 (git abc)",
        "- **Alembic revision:** 0001",
        "- **Database:** postgresql 15.20 at postgresql+psycopg://app:***@db/rotaflow",
        "- **Database size when taken:** 3.0 MB",
        "rotaflow restore emergency --source named --backup-id 20261126T101500Z-named-before-x-abc123",
        "sha256sum -c CHECKSUM.sha256",
        "pg_restore --no-owner --no-privileges --exit-on-error --dbname=NEW_DATABASE database.dump",
        "| `database.dump` | 2048 B | `dddddddddddddddd…` |",
        "| people | 4 |",
    ]:
        assert expected in text
    assert "Object Lock" not in text and "Promoted from" not in text


def test_manifest_md_of_a_baseline_shows_its_lock_and_origin() -> None:
    text = render_manifest_md(
        _manifest(dialect="sqlite", promoted_from="quick/x", retain_until=NOW + dt.timedelta(days=365))
    )
    assert "- **Promoted from:** quick/x" in text
    assert "- **Object Lock:** COMPLIANCE until 2027-11-26 10:15:00 UTC" in text
    assert "cp database.dump /path/to/new-rotaflow.db" in text


def test_manifest_helpers() -> None:
    manifest = _manifest()
    assert manifest.file("database.dump") is not None and manifest.file("nope") is None
    assert manifest.total_bytes == 2048
    assert manifest.row_counts == {"people": 4}
    assert Manifest.model_validate_json(manifest.to_json()) == manifest


def test_code_version_names_the_package_and_the_checkout() -> None:
    version = code_version()
    assert version.startswith("0.") or version.startswith("1.")
    assert "(git " in version  # tests run from a checkout
