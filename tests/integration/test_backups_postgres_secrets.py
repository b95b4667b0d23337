"""On the real PostgreSQL: a password in the database URL reaches pg_dump / pg_restore only through
their environment, and the manifest never holds it."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from rotaflow.backups.config import load_backup_config, open_tier_store
from rotaflow.backups.restore import restore_into, staging_url
from rotaflow.backups.sets import create_backup, fetch_backup
from tests.backups_fixtures import content_hashes

pytestmark = pytest.mark.postgres

SECRET = "never-on-argv-9f3b"
NOW = dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)


def test_the_password_goes_to_the_tools_environment_never_argv(
    filled_postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the server trusts local connections: the password is carried, not checked
    url = make_url(filled_postgres).set(password=SECRET).render_as_string(hide_password=False)
    url += f"?password={SECRET}-query"
    launched: list[tuple[list[str], dict[str, str]]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: Any, *rest: Any, **kwargs: Any) -> Any:
        launched.append(([str(a) for a in args], dict(kwargs.get("env") or {})))
        return real_popen(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    config = load_backup_config()
    created = create_backup(database_url=url, config=config, now=NOW)
    assert SECRET not in created.manifest.model_dump_json()
    fetched = fetch_backup(open_tier_store("quick", config), created.backup_id, tmp_path / "download")
    staged = staging_url(url, NOW)
    restore_into(fetched, staged, config=config)
    assert content_hashes(staged) == content_hashes(filled_postgres)

    tools = {Path(argv[0]).name: (argv, env) for argv, env in launched if Path(argv[0]).name.startswith("pg_")}
    assert set(tools) >= {"pg_dump", "pg_restore"}, [argv[0] for argv, _ in launched]
    for argv, env in tools.values():
        assert not [a for a in argv if SECRET in a], argv
        assert env["PGPASSWORD"] == f"{SECRET}-query"


def test_the_sslpassword_goes_to_a_private_service_file_never_argv(
    filled_postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat

    # the server trusts local connections and (without TLS) libpq ignores the key's passphrase: carried, not checked
    url = f"{filled_postgres}?sslpassword={SECRET}-key"
    launched: list[tuple[list[str], dict[str, str], str, int]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: Any, *rest: Any, **kwargs: Any) -> Any:
        env = dict(kwargs.get("env") or {})
        service = Path(env.get("PGSERVICEFILE", tmp_path / "none"))
        content, mode = (service.read_text(), stat.S_IMODE(service.stat().st_mode)) if service.exists() else ("", 0)
        launched.append(([str(a) for a in args], env, content, mode))
        return real_popen(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    config = load_backup_config()
    created = create_backup(database_url=url, config=config, now=NOW)
    assert SECRET not in created.manifest.model_dump_json()
    fetched = fetch_backup(open_tier_store("quick", config), created.backup_id, tmp_path / "download")
    staged = staging_url(url, NOW)
    restore_into(fetched, staged, config=config)
    assert content_hashes(staged) == content_hashes(filled_postgres)

    tools = {Path(r[0][0]).name: r for r in launched if Path(r[0][0]).name.startswith("pg_")}
    assert set(tools) >= {"pg_dump", "pg_restore"}, [r[0][0] for r in launched]
    for argv, env, content, mode in tools.values():
        assert not [a for a in argv if SECRET in a], argv
        assert content == f"[rotaflow]\nsslpassword={SECRET}-key\n" and mode == 0o600
        assert not Path(env["PGSERVICEFILE"]).exists()  # removed once the tool ended
