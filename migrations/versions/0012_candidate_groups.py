"""candidate groups: the roster's group columns (性别, 年龄段, 地区, 院校类型, 分组:名称) for DIF

Revision ID: 0012_candidate_groups
Revises: 0011_linear_exams
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_candidate_groups"
down_revision: str | Sequence[str] | None = "0011_linear_exams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("groups", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("groups")
