"""intake: the stored pinyin keys of imported names, read character by character

``name_key`` now reads each character of a name on its own instead of segmenting the name by
pypinyin's phrase dictionary. The linkage blocks and compares on the stored keys, and the
relations find people by them: records imported before keep the old key only where a name
held a phrase read differently (朝阳 as a word, say), and would no longer meet the same name
imported after. Every stored key is computed again and the changed ones written.

The key function is the application's own (``yitu.intake.clean.names.name_key``): the keys
must equal what the importer computes now; a later change of the function brings its own
migration.

Revision ID: 0007_intake_name_keys
Revises: 0006_intake_no_kind_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_intake_name_keys"
down_revision: str | None = "0006_intake_no_kind_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Imported here, not at the top: Alembic loads every revision script on each upgrade.
    from yitu.intake.clean.names import name_key

    bind = op.get_bind()
    # By id: ``name`` has no index, so one UPDATE per name would scan the table each time.
    changed = [
        {"id": rid, "key": new}
        for rid, name, old in bind.execute(
            sa.text("SELECT id, name, name_key FROM intake_records WHERE name <> ''")
        )
        if (new := name_key(name)) != old
    ]
    if changed:
        bind.execute(sa.text("UPDATE intake_records SET name_key = :key WHERE id = :id"), changed)


def downgrade() -> None:
    pass  # the old keys were the phrase readings; the new ones link the same names
