"""``yitu serve``: the HTTP API and its docs."""

from __future__ import annotations

import typer

from yitu.cli._common import platform
from yitu.core.logs import configure_logging
from yitu.core.migrate import upgrade
from yitu.core.settings import Settings


def serve(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8000, help="TCP port"),
) -> None:
    """Serve the API at http://HOST:PORT (docs at /docs). The embedded SQLite is created and
    migrated on first start; PostgreSQL is migrated explicitly with `yitu db upgrade`."""
    # imported here: the web stack costs every other CLI command ~0.4 s of start-up otherwise
    import uvicorn

    from yitu.api.app import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    if not settings.database_url:
        upgrade(settings.resolved_database_url)
    app = create_app(platform(settings))
    typer.echo(f"yitu serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=None)
