"""The emergency restore's journal: what a run did, step by step, on disk.

One folder per live database under the backup work folder::

    <work_dir>/restore-journal/<database key>/
        lock            held (flock) while a restore or a recovery runs
        current.json    the journal of the run in progress; present only while one runs
        history/        every finished journal, oldest first by name

Each step is written at once (a temporary file, fsync, atomic rename), before the step's
effect where the effect could be interrupted. A process killed between gates or in the
middle of a step therefore leaves ``current.json`` behind, and the next run finds it,
recovers (``rotaflow.backups.emergency.recover_interrupted``) and files the journal in ``history/``
with what the recovery found and did.

``checkpoint(point)`` is the fault-injection hook of the tests: when the environment
variable ``ROTAFLOW_TEST_PAUSE_AT`` names ``point``, the process writes the file named by
``ROTAFLOW_TEST_PAUSE_MARKER`` (if set) and blocks there until it is killed. It does
nothing otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from rotaflow.configs.settings import mask_url
from rotaflow.errors import GateRefused

__all__ = [
    "PAUSE_ENV",
    "PAUSE_MARKER_ENV",
    "RestoreJournal",
    "checkpoint",
    "database_key",
    "history",
    "journal_folder",
    "restore_lock",
]

PAUSE_ENV = "ROTAFLOW_TEST_PAUSE_AT"
PAUSE_MARKER_ENV = "ROTAFLOW_TEST_PAUSE_MARKER"
CURRENT = "current.json"
FINISHED = ("done", "refused", "rolled-back", "rollback-failed", "recovered")


def checkpoint(point: str) -> None:
    """Block here forever when the tests asked to (``ROTAFLOW_TEST_PAUSE_AT=point``)."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    marker = os.environ.get(PAUSE_MARKER_ENV)
    if marker:
        Path(marker).write_text(f"{os.getpid()} {point}\n", encoding="utf-8")
    while True:  # pragma: no cover - ends with the SIGKILL the test sends
        time.sleep(3600)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def database_key(live_url: str) -> str:
    """A folder name for one live database: its kind, its name and a short hash of its masked URL."""
    parsed = make_url(live_url)
    base = Path(parsed.database or "memory").name
    cleaned = "".join(c if c.isalnum() else "-" for c in base.lower()).strip("-")[:40] or "db"
    digest = hashlib.sha256(mask_url(live_url).encode()).hexdigest()[:10]
    return f"{parsed.get_backend_name()}-{cleaned}-{digest}"


def journal_folder(work: Path, live_url: str) -> Path:
    folder = work / "restore-journal" / database_key(live_url)
    (folder / "history").mkdir(parents=True, exist_ok=True)
    return folder


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


@contextlib.contextmanager
def restore_lock(folder: Path) -> Iterator[None]:
    """Hold the database's restore lock, or refuse: one restore (or recovery) at a time.

    The lock is an ``flock`` on ``folder/lock``: the kernel releases it when its holder
    dies, even by SIGKILL, so a killed run never blocks the next one.
    """
    handle = open(folder / "lock", "a+")  # noqa: SIM115 - closed below
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise GateRefused(
                f"another emergency restore of this database is running ({holder}): wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {_now()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


@dataclass
class RestoreJournal:
    """The journal of one emergency restore run (``current.json`` while it runs)."""

    folder: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / CURRENT

    @classmethod
    def start(cls, folder: Path, **facts: Any) -> RestoreJournal:
        """Begin a new run's journal; refused while an unrecovered one is still there."""
        if (folder / CURRENT).exists():
            raise GateRefused(
                f"an interrupted restore's journal is still at {folder / CURRENT}: recover it first "
                "(`rotaflow restore recover`)"
            )
        journal = cls(folder, {"started_at": _now(), "pid": os.getpid(), "host": socket.gethostname(), **facts})
        journal.data.update(status="running", steps=[])
        journal.record("started")
        return journal

    @classmethod
    def current(cls, folder: Path) -> RestoreJournal | None:
        """The journal a run left behind, if any (an interrupted run)."""
        path = folder / CURRENT
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {"status": "unreadable", "steps": [], "note": f"{path.name} could not be read"}
        if not isinstance(data, dict):
            data = {"status": "unreadable", "steps": []}
        data.setdefault("steps", [])
        return cls(folder, data)

    # ---------------------------------------------------------------- steps

    def record(self, step: str, **details: Any) -> None:
        """Append a step and write the journal through to disk before going on."""
        entry = {"at": _now(), "step": step, **details}
        self.data.setdefault("steps", []).append(entry)
        self.data["last_step"] = step
        _write_json(self.path, self.data)

    def set(self, **facts: Any) -> None:
        self.data.update(facts)
        _write_json(self.path, self.data)

    def has(self, step: str) -> bool:
        return any(s.get("step") == step for s in self.data.get("steps", []))

    def step(self, step: str) -> dict[str, Any] | None:
        """The last record of ``step``."""
        found = [s for s in self.data.get("steps", []) if s.get("step") == step]
        return found[-1] if found else None

    @property
    def steps(self) -> list[str]:
        return [str(s.get("step")) for s in self.data.get("steps", [])]

    def finish(self, status: str, message: str) -> Path:
        """Close the journal (``status`` one of FINISHED) and file it in ``history/``."""
        self.data.update(status=status, message=message, finished_at=_now())
        self.record(f"finished-{status}")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        run = str(self.data.get("run_id", "run"))[:12]
        target = self.folder / "history" / f"{stamp}-{run}-{status}.json"
        os.replace(self.path, target)
        return target


def history(folder: Path) -> list[dict[str, Any]]:
    """Every finished journal of the database, oldest first."""
    found = []
    for path in sorted((folder / "history").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        data["journal_file"] = str(path)
        found.append(data)
    return found
