"""``rotaflow serve`` on an address other machines reach warns once that basic auth travels in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

import rotaflow.serve as serve_module
from rotaflow.serve import ServeConfig, exposure_warning, serve


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "[2001:db8::1]", "ward-server.example"])
def test_a_host_beyond_loopback_gets_a_warning(host: str) -> None:
    warning = exposure_warning(host)
    assert warning is not None and host in warning
    assert "basic auth" in warning and "TLS" in warning


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_gets_none(host: str) -> None:
    assert exposure_warning(host) is None


def _lines(host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    def stop_before_starting(config: ServeConfig) -> object:
        raise RuntimeError("not started in this test")

    monkeypatch.setattr(serve_module, "bring_up", stop_before_starting)
    lines: list[str] = []
    config = ServeConfig(host=host, home=tmp_path / "prefect", deploy=False, worker=False, log=lines.append)
    assert serve(config) == 1
    return lines


def test_serve_on_every_address_prints_the_warning_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _lines("0.0.0.0", tmp_path, monkeypatch)
    assert sum("basic auth" in line and "TLS" in line for line in lines) == 1
    assert lines[0].startswith("warning:")


def test_serve_on_loopback_prints_no_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _lines("127.0.0.1", tmp_path, monkeypatch)
    assert not [line for line in lines if "TLS" in line]
