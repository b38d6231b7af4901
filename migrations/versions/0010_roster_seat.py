"""roster seat: the 座位号 printed on a candidate's ticket

Revision ID: 0010_roster_seat
Revises: 0009_attempt_integrity
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_roster_seat"
down_revision: str | Sequence[str] | None = "0009_attempt_integrity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("seat", sa.String(length=20), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("seat")
