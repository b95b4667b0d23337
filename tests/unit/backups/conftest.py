"""The backup tests' shared fixtures (filled SQLite databases)."""

from tests.backups_fixtures import filled_sqlite, sqlite_template  # noqa: F401
