"""Where the operator opens a run's files from the Prefect UI.

``rotaflow serve`` serves, read-only on 127.0.0.1, the files of ``var/runs/`` a report reader needs
(:data:`RUN_FILES`: never ``calendars/``, which carry the residents' names, nor dotfiles) and the Great
Expectations Data Docs site (``<gx_dir>/gx/uncommitted/data_docs/local_site``), both at their paths under
``var/`` (the server mirrors the folder layout, so report.html's relative link to its Data Docs page works
from disk and over HTTP alike). It tells its worker (and so every flow run it starts) its address with the
server's access token in ``ROTAFLOW_REPORTS_URL`` (``http://127.0.0.1:<port>/<token>``). A served file is
then linked as ``<that>/runs/<folder>/<file>`` or ``<that>/gx/…/local_site/…``. Elsewhere (a plain CLI run,
an ``--out`` folder outside ``var/runs/``, a file the server does not give out) there is no link: the path is
shown as text (a browser refuses ``file://`` links from a web page anyway).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from rotaflow.configs.settings import get_settings

__all__ = [
    "DATA_DOCS_SITE",
    "DOCS_SUFFIXES",
    "REPORTS_URL_ENV",
    "RUN_FILES",
    "data_docs_site",
    "file_link",
    "markdown_link",
    "served_path",
]

REPORTS_URL_ENV = "ROTAFLOW_REPORTS_URL"

RUN_FILES = frozenset(
    {
        "report.html",
        "summary.json",
        "validation.json",
        "findings.csv",
        "assignments.csv",
        "changes.html",
        "changes.csv",
    }
)
"""The files of a run folder the reports server gives out (ids and counts, no names)."""

DOCS_SUFFIXES = frozenset(
    {".html", ".css", ".js", ".png", ".gif", ".jpg", ".jpeg", ".svg", ".ico", ".otf", ".ttf", ".woff", ".woff2"}
)
"""The files of the Data Docs site it gives out: its pages, styles and GX's static images and fonts."""

DATA_DOCS_SITE = ("gx", "uncommitted", "data_docs", "local_site")
"""Where Great Expectations builds its Data Docs under its project folder (``gx_dir``)."""


def data_docs_site(gx_dir: Path) -> Path:
    """The Data Docs site of the GX project folder ``gx_dir``."""
    return gx_dir.joinpath(*DATA_DOCS_SITE)


def served_path(var_dir: Path, gx_dir: Path, target: Path) -> str | None:
    """The path under ``var_dir`` (posix) at which the reports server gives out ``target``; ``None`` when it
    does not: outside ``var_dir``, a dotfile or dot-folder, under ``calendars/``, a run file not in
    :data:`RUN_FILES`, a Data Docs file not in :data:`DOCS_SUFFIXES`, or anything else under ``var_dir``.

    Symlinks are followed: a path that leads out of these places is not served.
    """
    var = var_dir.resolve()
    target = target.resolve()
    if not target.is_relative_to(var):
        return None
    relative = target.relative_to(var)
    if not relative.parts or any(part.startswith(".") for part in relative.parts):
        return None
    runs = var / "runs"
    if target.is_relative_to(runs):
        inner = target.relative_to(runs).parts
        if len(inner) < 2 or "calendars" in inner or inner[-1] not in RUN_FILES:
            return None
        return relative.as_posix()
    site = data_docs_site(gx_dir).resolve()
    if target.is_relative_to(site) and target != site and target.suffix.lower() in DOCS_SUFFIXES:
        return relative.as_posix()
    return None


def file_link(path: str | Path) -> str | None:
    """``<ROTAFLOW_REPORTS_URL>/<path under var>`` for a file the reports server gives out (a run's report
    files, a Data Docs page) while it runs; else ``None``."""
    base = os.environ.get(REPORTS_URL_ENV, "").strip().rstrip("/")
    if not base:
        return None
    settings = get_settings()
    served = served_path(settings.var_dir, settings.resolved_gx_dir, Path(path))
    return None if served is None else f"{base}/{quote(served)}"


def markdown_link(path: str | Path, text: str | None = None) -> str:
    """A markdown link to ``path`` (see :func:`file_link`), or the path as code when it cannot be linked."""
    url = file_link(path)
    if url is None:
        return f"`{Path(path).resolve()}`"
    return f"[{text or Path(path).name}]({url})"
