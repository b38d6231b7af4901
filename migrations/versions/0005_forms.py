"""paper forms

Revision ID: 0005_forms
Revises: 0004_exams
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_forms"
down_revision: str | Sequence[str] | None = "0004_exams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "form_assemblies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blueprint_version_id", sa.Integer(), nullable=False),
        sa.Column("n_forms", sa.Integer(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("max_overlap", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("cuts", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["blueprint_version_id"], ["blueprint_versions.id"],
                                name=op.f("fk_form_assemblies_blueprint_version_id_blueprint_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_assemblies")),
    )
    with op.batch_alter_table("form_assemblies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_assemblies_blueprint_version_id"), ["blueprint_version_id"],
                              unique=False)

    op.create_table(
        "forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assembly_id", sa.Integer(), nullable=False),
        sa.Column("blueprint_version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("information", sa.JSON(), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assembly_id"], ["form_assemblies.id"], name=op.f("fk_forms_assembly_id_form_assemblies"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["blueprint_version_id"], ["blueprint_versions.id"],
                                name=op.f("fk_forms_blueprint_version_id_blueprint_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forms")),
        sa.UniqueConstraint("assembly_id", "code", name=op.f("uq_forms_assembly_id_code")),
    )
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forms_assembly_id"), ["assembly_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_forms_blueprint_version_id"), ["blueprint_version_id"], unique=False)

    op.create_table(
        "form_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_version_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_form_items_form_id_forms"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_version_id"], ["item_versions.id"],
                                name=op.f("fk_form_items_item_version_id_item_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_items")),
        sa.UniqueConstraint("form_id", "item_version_id", name=op.f("uq_form_items_form_id_item_version_id")),
        sa.UniqueConstraint("form_id", "position", name=op.f("uq_form_items_form_id_position")),
    )
    with op.batch_alter_table("form_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_items_form_id"), ["form_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_form_items_item_version_id"), ["item_version_id"], unique=False)

    op.create_table(
        "form_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["exam_id"], ["exams.id"], name=op.f("fk_form_uses_exam_id_exams"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_form_uses_form_id_forms"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_uses")),
        sa.UniqueConstraint("form_id", "exam_id", name=op.f("uq_form_uses_form_id_exam_id")),
    )
    with op.batch_alter_table("form_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_uses_exam_id"), ["exam_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_form_uses_form_id"), ["form_id"], unique=False)

    op.create_table(
        "paper_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("raw_score", sa.Integer(), nullable=False),
        sa.Column("theta", sa.Float(), nullable=False),
        sa.Column("se", sa.Float(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("scored_by", sa.String(length=100), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], name=op.f("fk_paper_results_candidate_id_candidates"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["exam_id"], ["exams.id"], name=op.f("fk_paper_results_exam_id_exams"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"], name=op.f("fk_paper_results_form_id_forms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_results")),
        sa.UniqueConstraint("exam_id", "candidate_id", name=op.f("uq_paper_results_exam_id_candidate_id")),
    )
    with op.batch_alter_table("paper_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paper_results_candidate_id"), ["candidate_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_paper_results_exam_id"), ["exam_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_paper_results_form_id"), ["form_id"], unique=False)


def downgrade() -> None:
    for table, indexes in (
        ("paper_results", ("ix_paper_results_form_id", "ix_paper_results_exam_id", "ix_paper_results_candidate_id")),
        ("form_uses", ("ix_form_uses_form_id", "ix_form_uses_exam_id")),
        ("form_items", ("ix_form_items_item_version_id", "ix_form_items_form_id")),
        ("forms", ("ix_forms_blueprint_version_id", "ix_forms_assembly_id")),
        ("form_assemblies", ("ix_form_assemblies_blueprint_version_id",)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(batch_op.f(name))
        op.drop_table(table)
