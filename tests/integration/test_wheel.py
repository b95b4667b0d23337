"""rotaflow as a wheel: built from a copy of the checkout, installed into a fresh virtual environment
outside it, and run as a user would, with every writable path under ``ROTAFLOW_VAR_DIR``.

The fresh environment gets rotaflow from the wheel alone; its dependencies (Prefect, OR-Tools, GX, …)
are the ones already installed for the tests, reached through a path entry after the environment's own
site-packages, so that the test installs nothing from the network and the wheel's copy of rotaflow
is the one imported (asserted).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.flow

SKIP = {".git", ".venv", "var", "build", "dist", ".hypothesis", ".ruff_cache", ".mypy_cache", ".pytest_cache"}


def _copy_checkout(target: Path) -> Path:
    """The tracked tree (symlinks kept as symlinks), without the environment, state and build leftovers."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP or n.endswith(".egg-info") or n == "__pycache__"}

    shutil.copytree(ROOT, target, symlinks=True, ignore=ignore)
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = _copy_checkout(tmp_path_factory.mktemp("source") / "rotaflow")
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out)]
    done = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("rotaflow-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment holding the wheel; returns its ``bin`` folder."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the tests' dependencies, after the environment's own packages (rotaflow's editable hook is not read)
    (purelib / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    yield env_dir / "bin"


def _user_env(tmp: Path) -> dict[str, str]:
    """A user's environment: no ROTAFLOW_/PREFECT_ variable but the var folder, an empty home."""
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ROTAFLOW_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), ROTAFLOW_VAR_DIR=str(tmp / "state"), XDG_DATA_HOME=str(home / ".local" / "share"))
    return env


def _run(bin_dir: Path, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "rotaflow"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )


def test_the_wheel_holds_one_package_with_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("rotaflow-")}
    assert tops == {"rotaflow"}, tops
    for data in (
        "rotaflow/configs/constraints/acgme-residency.yaml",
        "rotaflow/configs/solver.yaml",
        "rotaflow/configs/programs/sample/people.csv",
        "rotaflow/db/migrations/script.py.mako",
        "rotaflow/db/migrations/versions/0001_initial_schema.py",
        "rotaflow/db/migrations/versions/0002_block_versions.py",
        "rotaflow/db/migrations/versions/0003_swap_requests.py",
        "rotaflow/db/migrations/versions/0004_year_plans.py",
        "rotaflow/flows/generate.py",
        "rotaflow/prefect.yaml",
        "rotaflow/py.typed",
        "rotaflow/validations/report/report.css",
        "rotaflow/validations/report/report.js",
    ):
        assert data in names, data


def test_the_installed_wheel_generates_the_packaged_sample_program(installed: Path, tmp_path: Path) -> None:
    env = _user_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()

    where = subprocess.run(
        [str(installed / "python"), "-c", "import rotaflow.flows.generate as m; print(m.__file__)"],
        env={**env, "PREFECT_HOME": str(tmp_path / "probe")},  # imported without the CLI's defaults
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.parent), where  # the wheel's copy, not the checkout

    version = _run(installed, ["--version"], env, work)
    assert version.returncode == 0 and version.stdout.startswith("rotaflow "), version.stderr

    sample = _run(installed, ["sample", "--out", "program"], env, work)
    assert sample.returncode == 0, sample.stderr[-3000:]

    done = _run(installed, ["db", "upgrade"], env, work)
    assert done.returncode == 0, done.stderr[-3000:]
    done = _run(
        installed,
        [
            "generate",
            "--program",
            "program",
            "--block",
            "2027-B01",
            "--out",
            "run",
            "--time-limit",
            "10",
            "--contingency",
            "none",
            "--json",
        ],
        env,
        work,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] in {"optimal", "feasible"}, summary
    assert summary["published"] is True and summary["validation"].get("contingency") is None  # --contingency none
    assert (work / "run" / "assignments.csv").stat().st_size > 0

    # all writable state under ROTAFLOW_VAR_DIR: the database, Prefect's home; nothing in the
    # installed package, nothing in the home folder
    state = tmp_path / "state"
    assert (state / "prefect").is_dir()
    assert list((tmp_path / "home").rglob("*")) == []
    site = Path(where).parents[1]
    assert not (site / "var").exists() and not (site.parent / "var").exists()
