"""registry: ``building_cells``, the level-6 cells each building's bbox meets (with the bbox)

``spatial.building_containing`` seeks the point's level-6 cell in it (one equality probe on
the primary key, the bbox tested on the key's entries) instead of scanning code ranges around
the point grown by the largest footprint. SQLite keeps the rows in the primary key's B-tree
(WITHOUT ROWID); PostgreSQL INCLUDEs the bbox in the key's index (index-only probe).

The cells are computed in Python (the BeiDou codec); what the database keeps itself, whoever
writes, is a ``PENDING`` row (cell -1, with the bbox) for every inserted building and every
building whose bbox changes (its old cells deleted), which ``building_containing`` always
probes too: a building loaded by psql or another process is found before its cells are
computed. The ORM's mapper events replace pending rows by cells at once, ``fill_pending``
later; bulk writers (the demo loader, this migration for existing buildings) compute the
cells themselves (on PostgreSQL with the triggers told to skip: ``cells.skip_pending``).
Deletes cascade.

Revision ID: 0004_registry_cells
Revises: 0003_registry_indexes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_registry_cells"
down_revision: str | None = "0003_registry_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_SQLITE_ROW = (
    "INSERT INTO building_cells (cell, building_id, west, south, east, north) "
    "VALUES (-1, NEW.id, NEW.west, NEW.south, NEW.east, NEW.north);"
)

_PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION building_cells_pending_insert() RETURNS trigger AS $$
BEGIN
    IF current_setting('yitu.building_cells_by_caller', true) = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO building_cells (cell, building_id, west, south, east, north)
    SELECT -1, id, west, south, east, north FROM new_rows;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION building_cells_pending_update() RETURNS trigger AS $$
BEGIN
    IF current_setting('yitu.building_cells_by_caller', true) = 'on' THEN
        RETURN NULL;
    END IF;
    DELETE FROM building_cells WHERE building_id = NEW.id;
    INSERT INTO building_cells (cell, building_id, west, south, east, north)
    VALUES (-1, NEW.id, NEW.west, NEW.south, NEW.east, NEW.north);
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "building_cells",
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("west", sa.Float(), nullable=False),
        sa.Column("south", sa.Float(), nullable=False),
        sa.Column("east", sa.Float(), nullable=False),
        sa.Column("north", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_building_cells_building_id_buildings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "cell",
            "building_id",
            name=op.f("pk_building_cells"),
            postgresql_include=["west", "east", "south", "north"],
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_building_cells_building_id"), "building_cells", ["building_id"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTIONS)
        # statement-level with a transition table: one INSERT per INSERT/COPY statement
        op.execute(
            "CREATE TRIGGER building_cells_insert AFTER INSERT ON buildings "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION building_cells_pending_insert()"
        )
        op.execute(
            "CREATE TRIGGER building_cells_update AFTER UPDATE OF west, south, east, north "
            "ON buildings FOR EACH ROW WHEN (OLD.west IS DISTINCT FROM NEW.west OR "
            "OLD.south IS DISTINCT FROM NEW.south OR OLD.east IS DISTINCT FROM NEW.east OR "
            "OLD.north IS DISTINCT FROM NEW.north) "
            "EXECUTE FUNCTION building_cells_pending_update()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER building_cells_insert AFTER INSERT ON buildings BEGIN {_SQLITE_ROW} "
            "END"
        )
        op.execute(
            "CREATE TRIGGER building_cells_update AFTER UPDATE OF west, south, east, north "
            "ON buildings WHEN OLD.west IS NOT NEW.west OR OLD.south IS NOT NEW.south OR "
            "OLD.east IS NOT NEW.east OR OLD.north IS NOT NEW.north BEGIN "
            f"DELETE FROM building_cells WHERE building_id = NEW.id; {_SQLITE_ROW} END"
        )
    from yitu.registry import cells

    cells.fill(op.get_bind())  # the existing buildings


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS building_cells_insert ON buildings")
        op.execute("DROP TRIGGER IF EXISTS building_cells_update ON buildings")
        op.execute("DROP FUNCTION IF EXISTS building_cells_pending_insert()")
        op.execute("DROP FUNCTION IF EXISTS building_cells_pending_update()")
    else:
        op.execute("DROP TRIGGER IF EXISTS building_cells_insert")
        op.execute("DROP TRIGGER IF EXISTS building_cells_update")
    op.drop_index(op.f("ix_building_cells_building_id"), table_name="building_cells")
    op.drop_table("building_cells")
