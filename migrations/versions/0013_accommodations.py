"""accommodations: the roster's 延时 (extra time: +25 %, +50 % or minutes), 大字号 (large print)
and 读屏 (screen reader) columns, stored on the candidate; a description (alt text) for each item picture

Revision ID: 0013_accommodations
Revises: 0012_candidate_groups
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_accommodations"
down_revision: str | Sequence[str] | None = "0012_candidate_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("extra_percent", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("extra_minutes", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("large_print", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reader", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("item_images") as batch:
        batch.add_column(sa.Column("alt", sa.Text(), nullable=False, server_default=sa.text("''")))


def downgrade() -> None:
    with op.batch_alter_table("item_images") as batch:
        batch.drop_column("alt")
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("reader")
        batch.drop_column("large_print")
        batch.drop_column("extra_minutes")
        batch.drop_column("extra_percent")
