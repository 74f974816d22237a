"""intake: drop the two intake_records indexes no query uses

Every imported row pays for each index of ``intake_records`` (1.9 M rows at Laohekou scale).
``id_number`` and ``node_id`` are read only by whole-table scans (the relations' person
lookups, the linkage load, the evaluation) and by lookups through other keys (record id,
person id, file id), never searched on their own: measured at that scale on SQLite, a 20 000-row
batch inserted in about a third of the time without them and the other random-key index
(person_id, which the review and the person view do search on).

Revision ID: 0004_intake_lean_indexes
Revises: 0003_intake
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_intake_lean_indexes"
down_revision: str | None = "0003_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_intake_records_id_number"), table_name="intake_records")
    op.drop_index(op.f("ix_intake_records_node_id"), table_name="intake_records")


def downgrade() -> None:
    op.create_index(op.f("ix_intake_records_node_id"), "intake_records", ["node_id"], unique=False)
    op.create_index(
        op.f("ix_intake_records_id_number"), "intake_records", ["id_number"], unique=False
    )
