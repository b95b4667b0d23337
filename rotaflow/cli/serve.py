"""``rotaflow serve``: a local Prefect server, its deployments and a worker."""

from __future__ import annotations

from typing import Annotated

import typer

from rotaflow.cli import app, examples, out


@app.command(epilog=examples("rotaflow serve", "rotaflow serve --port 4300 --no-worker"))
def serve(
    host: Annotated[str, typer.Option(help="address the Prefect server binds to (loopback unless told otherwise)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="the server's port (UI and API)")] = 4200,
    deploy: Annotated[bool, typer.Option("--deploy/--no-deploy", help="register prefect.yaml's deployments")] = True,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="start a worker on rotaflow-process")] = True,
) -> None:
    """A local Prefect server (its own database: SQLite under var/prefect, or ROTAFLOW_PREFECT_DATABASE_URL;
    API auth required), the work pool, deployments and a worker.

    The credential is ROTAFLOW_PREFECT_AUTH_STRING, else var/prefect/auth-string (generated, mode 0600).
    Ctrl-C stops the worker and the server.
    """
    from rotaflow.serve import ServeConfig
    from rotaflow.serve import serve as run_serve

    config = ServeConfig(
        host=host,
        port=port,
        deploy=deploy,
        worker=worker,
        log=lambda line: out.print(line, markup=False, highlight=False, soft_wrap=True),
    )
    raise typer.Exit(run_serve(config))
