"""linear exams: an exam's delivery mode and the form a linear exam delivers; flagged positions

Revision ID: 0011_linear_exams
Revises: 0010_roster_seat
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_linear_exams"
down_revision: str | Sequence[str] | None = "0010_roster_seat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=8), nullable=False, server_default="adaptive"))
        batch.add_column(sa.Column("form_id", sa.Integer(), nullable=True))
        batch.create_index("ix_exams_form_id", ["form_id"])
        batch.create_foreign_key("fk_exams_form_id_forms", "forms", ["form_id"], ["id"])
    with op.batch_alter_table("attempt_items") as batch:
        batch.add_column(sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("attempt_items") as batch:
        batch.drop_column("flagged")
    with op.batch_alter_table("exams") as batch:
        batch.drop_constraint("fk_exams_form_id_forms", type_="foreignkey")
        batch.drop_index("ix_exams_form_id")
        batch.drop_column("form_id")
        batch.drop_column("mode")
