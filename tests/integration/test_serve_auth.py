"""The Prefect server `rotaflow serve` starts binds to loopback and refuses unauthenticated API requests."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import httpx
import pytest

from rotaflow.serve import Served, auth_string, mask_secret


@pytest.fixture
def served(prefect_server: Served) -> Served:
    return prefect_server


def test_the_credential_file_is_private_and_never_shown_whole(served: Served) -> None:
    path = Path(served.auth_source)
    assert path.parent == served.config.home
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == served.auth
    assert served.auth.split(":", 1)[1] not in mask_secret(served.auth)
    assert auth_string(served.config.home) == (served.auth, served.auth_source)  # reused, not regenerated


def test_the_server_has_its_own_database(served: Served) -> None:
    assert served.config.database_file.is_file()
    assert served.config.database_file.parent == served.config.home


def test_unauthenticated_requests_are_refused(served: Served) -> None:
    api = served.config.api_url
    assert served.config.host == "127.0.0.1"
    assert httpx.post(f"{api}/deployments/filter", json={}).status_code == 401
    assert httpx.post(f"{api}/deployments/filter", json={}, auth=("rotaflow", "wrong")).status_code == 401
    with served.client() as client:
        assert client.post("/deployments/filter", json={}).status_code == 200
        assert client.get("/work_pools/rotaflow-process").status_code == 404


def test_the_server_listens_on_loopback_only(served: Served) -> None:
    port = served.config.port
    outward = socket.gethostbyname(socket.gethostname())
    if outward.startswith("127."):
        pytest.skip("this machine has no non-loopback address to try")
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(2)
        sock.connect((outward, port))


def test_the_server_can_keep_its_own_postgresql_database(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    from rotaflow.serve import ServeConfig, Served, shut_down, start_server, wait_until_healthy
    from tests.integration.conftest import _free_port

    prefect_url = make_url(postgres_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    config = ServeConfig(port=_free_port(), home=tmp_path, deploy=False, worker=False, database_url=prefect_url)
    auth, source = auth_string(tmp_path)
    served = Served(config, auth, source, start_server(config, auth))
    try:
        wait_until_healthy(config, served.server, 90)
        with served.client() as client:
            assert client.post("/deployments/filter", json={}).status_code == 200
        engine = create_engine(postgres_url)
        try:
            assert {"flow_run", "deployment", "work_pool"} <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert not config.database_file.exists()  # no SQLite file beside it
    finally:
        shut_down(served)


def test_the_server_refuses_rotaflow_s_own_database(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from rotaflow.configs.settings import get_settings
    from rotaflow.serve import ServeConfig, _check_database_apart

    with_password = postgres_url.replace("postgres@", "postgres:s3cret-pw@")
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", with_password)
    get_settings.cache_clear()
    same = with_password.replace("postgresql+psycopg", "postgresql+asyncpg")
    with pytest.raises(RuntimeError, match="names rotaflow's own database") as caught:
        _check_database_apart(ServeConfig(database_url=same))
    assert "s3cret-pw" not in str(caught.value) and "***" in str(caught.value)
    _check_database_apart(ServeConfig(database_url=same.rsplit("/", 1)[0] + "/prefect_elsewhere"))
