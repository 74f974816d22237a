"""intake: imported files and batches, cleaned source records, row issues, field-level
provenance of linked people, the review queue of uncertain matches.

Revision ID: 0003_intake
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_intake"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("mapping_hash", sa.String(length=64), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_files")),
        sa.UniqueConstraint("source", "kind", "file_hash", name=op.f("uq_intake_files_source")),
    )
    op.create_table(
        "intake_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_start", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["intake_files.id"], name=op.f("fk_intake_batches_file_id_intake_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_batches")),
        sa.UniqueConstraint("file_id", "seq", name=op.f("uq_intake_batches_file_id")),
    )
    op.create_index(op.f("ix_intake_batches_file_id"), "intake_batches", ["file_id"], unique=False)
    op.create_table(
        "intake_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("town", sa.String(length=40), nullable=False),
        sa.Column("masked_value", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["intake_batches.id"],
            name=op.f("fk_intake_issues_batch_id_intake_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["intake_files.id"], name=op.f("fk_intake_issues_file_id_intake_files")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_issues")),
    )
    op.create_index(op.f("ix_intake_issues_batch_id"), "intake_issues", ["batch_id"], unique=False)
    op.create_index(op.f("ix_intake_issues_file_id"), "intake_issues", ["file_id"], unique=False)
    op.create_table(
        "intake_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=True),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("name_key", sa.String(length=80), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("id_digits", sa.String(length=24), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(length=1), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("address_id", sa.Integer(), nullable=True),
        sa.Column("house_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("relation", sa.String(length=24), nullable=False),
        sa.Column("house_use", sa.String(length=20), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("org_name", sa.String(length=100), nullable=False),
        sa.Column("org_kind", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["address_id"], ["addresses.id"], name=op.f("fk_intake_records_address_id_addresses")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["intake_batches.id"],
            name=op.f("fk_intake_records_batch_id_intake_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"], ["buildings.id"], name=op.f("fk_intake_records_building_id_buildings")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["intake_files.id"], name=op.f("fk_intake_records_file_id_intake_files")
        ),
        sa.ForeignKeyConstraint(
            ["house_id"], ["houses.id"], name=op.f("fk_intake_records_house_id_houses")
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["jurisdiction_nodes.id"],
            name=op.f("fk_intake_records_node_id_jurisdiction_nodes"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_intake_records_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_intake_records_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_records")),
        sa.UniqueConstraint("source", "kind", "row_hash", name=op.f("uq_intake_records_source")),
    )
    op.create_index(
        op.f("ix_intake_records_batch_id"), "intake_records", ["batch_id"], unique=False
    )
    op.create_index(op.f("ix_intake_records_file_id"), "intake_records", ["file_id"], unique=False)
    op.create_index(
        op.f("ix_intake_records_id_number"), "intake_records", ["id_number"], unique=False
    )
    op.create_index(
        "ix_intake_records_kind_outcome", "intake_records", ["kind", "outcome"], unique=False
    )
    op.create_index(op.f("ix_intake_records_node_id"), "intake_records", ["node_id"], unique=False)
    op.create_index(
        op.f("ix_intake_records_person_id"), "intake_records", ["person_id"], unique=False
    )
    op.create_table(
        "intake_person_sources",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("name_record_id", sa.Integer(), nullable=True),
        sa.Column("id_number_record_id", sa.Integer(), nullable=True),
        sa.Column("phone_record_id", sa.Integer(), nullable=True),
        sa.Column("birth_date_record_id", sa.Integer(), nullable=True),
        sa.Column("address_record_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["address_record_id"],
            ["intake_records.id"],
            name=op.f("fk_intake_person_sources_address_record_id_intake_records"),
        ),
        sa.ForeignKeyConstraint(
            ["birth_date_record_id"],
            ["intake_records.id"],
            name=op.f("fk_intake_person_sources_birth_date_record_id_intake_records"),
        ),
        sa.ForeignKeyConstraint(
            ["id_number_record_id"],
            ["intake_records.id"],
            name=op.f("fk_intake_person_sources_id_number_record_id_intake_records"),
        ),
        sa.ForeignKeyConstraint(
            ["name_record_id"],
            ["intake_records.id"],
            name=op.f("fk_intake_person_sources_name_record_id_intake_records"),
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["jurisdiction_nodes.id"],
            name=op.f("fk_intake_person_sources_node_id_jurisdiction_nodes"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_intake_person_sources_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["phone_record_id"],
            ["intake_records.id"],
            name=op.f("fk_intake_person_sources_phone_record_id_intake_records"),
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_intake_person_sources")),
    )
    op.create_index(
        op.f("ix_intake_person_sources_node_id"), "intake_person_sources", ["node_id"], unique=False
    )
    op.create_table(
        "intake_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_a_id", sa.Integer(), nullable=False),
        sa.Column("record_b_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["jurisdiction_nodes.id"],
            name=op.f("fk_intake_reviews_node_id_jurisdiction_nodes"),
        ),
        sa.ForeignKeyConstraint(
            ["record_a_id"],
            ["intake_records.id"],
            name=op.f("fk_intake_reviews_record_a_id_intake_records"),
        ),
        sa.ForeignKeyConstraint(
            ["record_b_id"],
            ["intake_records.id"],
            name=op.f("fk_intake_reviews_record_b_id_intake_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_reviews")),
        sa.UniqueConstraint(
            "record_a_id", "record_b_id", name=op.f("uq_intake_reviews_record_a_id")
        ),
    )
    op.create_index(op.f("ix_intake_reviews_node_id"), "intake_reviews", ["node_id"], unique=False)
    op.create_index("ix_intake_reviews_status", "intake_reviews", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_intake_reviews_status", table_name="intake_reviews")
    op.drop_index(op.f("ix_intake_reviews_node_id"), table_name="intake_reviews")
    op.drop_table("intake_reviews")
    op.drop_index(op.f("ix_intake_person_sources_node_id"), table_name="intake_person_sources")
    op.drop_table("intake_person_sources")
    op.drop_index(op.f("ix_intake_records_person_id"), table_name="intake_records")
    op.drop_index(op.f("ix_intake_records_node_id"), table_name="intake_records")
    op.drop_index("ix_intake_records_kind_outcome", table_name="intake_records")
    op.drop_index(op.f("ix_intake_records_id_number"), table_name="intake_records")
    op.drop_index(op.f("ix_intake_records_file_id"), table_name="intake_records")
    op.drop_index(op.f("ix_intake_records_batch_id"), table_name="intake_records")
    op.drop_table("intake_records")
    op.drop_index(op.f("ix_intake_issues_file_id"), table_name="intake_issues")
    op.drop_index(op.f("ix_intake_issues_batch_id"), table_name="intake_issues")
    op.drop_table("intake_issues")
    op.drop_index(op.f("ix_intake_batches_file_id"), table_name="intake_batches")
    op.drop_table("intake_batches")
    op.drop_table("intake_files")
