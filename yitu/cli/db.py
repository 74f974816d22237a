"""``yitu db``: schema migrations."""

from __future__ import annotations

import typer

from yitu.core.migrate import upgrade as alembic_upgrade
from yitu.core.settings import Settings

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
def upgrade(
    revision: str = typer.Argument("heads", help="target revision (default: every branch head)"),
) -> None:
    """Migrate the database in YITU_DATABASE_URL (default ./data/yitu.db) to REVISION."""
    settings = Settings()
    alembic_upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}: {_redacted(settings.resolved_database_url)}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
