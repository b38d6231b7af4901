"""scanned answer sheets: each page read (or refused) for an exam, with the marks, the answers
after review, the corrections and the rectified image; the exam's key for signing sheet QR codes

Revision ID: 0015_scanned_sheets
Revises: 0013_accommodations
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_scanned_sheets"
down_revision: str | Sequence[str] | None = "0014_form_assignments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exams") as batch:
        batch.add_column(sa.Column("sheet_key", sa.String(length=64), nullable=True))
    op.create_table(
        "scanned_sheets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("form_id", sa.Integer(), nullable=True),
        sa.Column("file", sa.String(length=255), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("qr", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("positions", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("corrections", sa.JSON(), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("px_per_mm", sa.Float(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"],
                                name=op.f("fk_scanned_sheets_candidate_id_candidates"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["exam_id"], ["exams.id"], name=op.f("fk_scanned_sheets_exam_id_exams"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_scanned_sheets_form_id_forms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scanned_sheets")),
    )
    with op.batch_alter_table("scanned_sheets") as batch:
        for column in ("candidate_id", "exam_id", "form_id", "source", "status"):
            batch.create_index(batch.f(f"ix_scanned_sheets_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scanned_sheets") as batch:
        for column in ("status", "source", "form_id", "exam_id", "candidate_id"):
            batch.drop_index(batch.f(f"ix_scanned_sheets_{column}"))
    op.drop_table("scanned_sheets")
    with op.batch_alter_table("exams") as batch:
        batch.drop_column("sheet_key")
