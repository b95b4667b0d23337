"""rotaflow.flows.warm.exit_now: a command's process ends with its code once its threads, atexit handlers and
output are done, and the command line ends that way when run as the command itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _run(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=timeout
    )


def test_exit_now_waits_for_threads_runs_atexit_and_flushes_the_output(tmp_path: Path) -> None:
    marker = tmp_path / "atexit.txt"
    done = _run(
        f"""
        import atexit, sys, threading, time
        from rotaflow.flows.warm import exit_now

        atexit.register(lambda: open({str(marker)!r}, "w").write("handled"))
        worker = threading.Thread(target=lambda: (time.sleep(0.3), print("thread done", end="")))
        worker.start()
        sys.stdout.write("buffered, ")
        exit_now(3)
        print("never")
        """
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered, thread done"
    assert marker.read_text() == "handled"


def test_exit_now_ends_with_an_idle_thread_pool_left_open() -> None:
    # the pool's worker waits for work until the threading module's exit hook tells it to end
    done = _run(
        """
        from concurrent.futures import ThreadPoolExecutor
        from rotaflow.flows.warm import exit_now

        pool = ThreadPoolExecutor(1)
        print(pool.submit(lambda: 21 * 2).result(), end="")
        exit_now(4)
        """,
        timeout=60,
    )
    assert done.returncode == 4, done.stderr
    assert done.stdout == "42"


def test_the_command_line_run_as_the_command_ends_with_its_exit_code() -> None:
    code = "import sys; from rotaflow.cli import main; sys.argv[1:] = sys.argv[1:]; sys.exit(main())"
    refused = _run(code, "generate", "--program", "/nonexistent/bundle", "--block", "B1", "--out", "/nonexistent/o")
    assert refused.returncode == 2 and "rejected" in refused.stderr
    version = _run(code, "--version")
    assert version.returncode == 0 and version.stdout.startswith("rotaflow ")
