"""Fixtures of the backup integration tests: filled databases and a SeaweedFS S3 server."""

from tests.backups_fixtures import (  # noqa: F401
    filled_postgres,
    filled_sqlite,
    locked_bucket,
    postgres_template,
    seaweedfs,
    sqlite_template,
)
