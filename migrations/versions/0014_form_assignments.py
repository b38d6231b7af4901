"""form assignments: the paper form each candidate sits (``candidates.form_id``; their answer
sheet is printed from it and paper answers on another form are refused) and the form code the
roster's 试卷 column asks for (``candidates.roster_form``, used by ``forms assign --by column``)

Revision ID: 0014_form_assignments
Revises: 0013_accommodations
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_form_assignments"
down_revision: str | Sequence[str] | None = "0013_accommodations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("form_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("roster_form", sa.String(length=2), nullable=False, server_default=sa.text("''")))
        batch.create_index("ix_candidates_form_id", ["form_id"])
        batch.create_foreign_key("fk_candidates_form_id_forms", "forms", ["form_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_constraint("fk_candidates_form_id_forms", type_="foreignkey")
        batch.drop_index("ix_candidates_form_id")
        batch.drop_column("roster_form")
        batch.drop_column("form_id")
