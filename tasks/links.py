"""Where the operator opens a run's files from the Prefect UI.

``rotaflow serve`` serves ``var/runs/`` read-only on 127.0.0.1 and tells its worker (and so every flow run
it starts) the address in ``ROTAFLOW_REPORTS_URL``. A file under ``var/runs/`` is then linked as
``http://127.0.0.1:<port>/runs/<folder>/<file>``. Elsewhere (a plain CLI run, an ``--out`` folder outside
``var/runs/``) there is no link: the path is shown as text (a browser refuses ``file://`` links from a
web page anyway).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from rotaflow.configs.settings import get_settings

__all__ = ["REPORTS_URL_ENV", "file_link", "markdown_link"]

REPORTS_URL_ENV = "ROTAFLOW_REPORTS_URL"


def file_link(path: str | Path) -> str | None:
    """``http://…/runs/<folder>/<file>`` for a file under ``var/runs`` while the reports server runs; else ``None``."""
    base = os.environ.get(REPORTS_URL_ENV, "").strip().rstrip("/")
    if not base:
        return None
    runs = (get_settings().var_dir / "runs").resolve()
    target = Path(path).resolve()
    if not target.is_relative_to(runs):
        return None
    return f"{base}/runs/{quote(target.relative_to(runs).as_posix())}"


def markdown_link(path: str | Path, text: str | None = None) -> str:
    """A markdown link to ``path`` (see :func:`file_link`), or the path as code when it cannot be linked."""
    url = file_link(path)
    if url is None:
        return f"`{Path(path).resolve()}`"
    return f"[{text or Path(path).name}]({url})"
