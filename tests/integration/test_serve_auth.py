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
