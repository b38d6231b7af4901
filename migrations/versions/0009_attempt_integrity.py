"""attempt integrity: sign-in records, exam sign-in rules, ticket unlocks

Revision ID: 0009_attempt_integrity
Revises: 0008_bank_revision
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_attempt_integrity"
down_revision: str | Sequence[str] | None = "0008_bank_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.add_column(sa.Column("require_id_last4", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("approve_new_device", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("unlocked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ticket", sa.String(length=40), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("new_device", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name=op.f("fk_sign_ins_attempt_id_attempts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], name=op.f("fk_sign_ins_candidate_id_candidates"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_ins")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_ins_token_hash")),
    )
    op.create_index("ix_sign_ins_ticket_at", "sign_ins", ["ticket", "at"])
    op.create_index("ix_sign_ins_address_at", "sign_ins", ["address", "at"])
    op.create_index(op.f("ix_sign_ins_candidate_id"), "sign_ins", ["candidate_id"])
    op.create_index(op.f("ix_sign_ins_attempt_id"), "sign_ins", ["attempt_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_ins_attempt_id"), table_name="sign_ins")
    op.drop_index(op.f("ix_sign_ins_candidate_id"), table_name="sign_ins")
    op.drop_index("ix_sign_ins_address_at", table_name="sign_ins")
    op.drop_index("ix_sign_ins_ticket_at", table_name="sign_ins")
    op.drop_table("sign_ins")
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("unlocked_at")
    with op.batch_alter_table("exams") as batch:
        batch.drop_column("approve_new_device")
        batch.drop_column("require_id_last4")
