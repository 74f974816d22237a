"""intake: drop ``ix_intake_records_kind_outcome``

Every query that filters records by kind reads most of the table (a county's people records
are 60 % of it): through this index SQLite visited them in (kind, outcome) order, one table
seek each, and sorted them again by id (the linkage's load); a scan in id order does less. And
the index cost every imported record an entry, and every record the linkage decides a move
(its outcome changes from pending). Measured at Laohekou scale: see docs/intake.md.

Revision ID: 0006_intake_no_kind_index
Revises: 0005_intake_row_key
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_intake_no_kind_index"
down_revision: str | None = "0005_intake_row_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_intake_records_kind_outcome", table_name="intake_records")


def downgrade() -> None:
    op.create_index(
        "ix_intake_records_kind_outcome", "intake_records", ["kind", "outcome"], unique=False
    )
