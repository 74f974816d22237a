"""map layers: physical features that are neither roads nor buildings (the Han River)

``map_features`` holds water bodies as GeoJSON surfaces (and a centreline for rivers) with
their bounding box; public geography, so no jurisdiction column.

Revision ID: 0003_map_layers
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_map_layers"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "map_features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("centreline", sa.Text(), nullable=True),
        sa.Column("west", sa.Float(), nullable=False),
        sa.Column("south", sa.Float(), nullable=False),
        sa.Column("east", sa.Float(), nullable=False),
        sa.Column("north", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_features")),
    )
    with op.batch_alter_table("map_features", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_map_features_layer"), ["layer"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("map_features", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_map_features_layer"))
    op.drop_table("map_features")
