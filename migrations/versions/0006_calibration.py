"""calibration runs

Revision ID: 0006_calibration
Revises: 0005_forms
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_calibration"
down_revision: str | Sequence[str] | None = "0005_forms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calibration_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=8), nullable=False),
    sa.Column('engine', sa.String(length=8), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('scope', sa.String(length=48), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('n_persons', sa.Integer(), nullable=False),
    sa.Column('n_responses', sa.Integer(), nullable=False),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('n_parameters', sa.Integer(), nullable=False),
    sa.Column('loglik', sa.Float(), nullable=False),
    sa.Column('aic', sa.Float(), nullable=False),
    sa.Column('bic', sa.Float(), nullable=False),
    sa.Column('population_mean', sa.Float(), nullable=False),
    sa.Column('population_sd', sa.Float(), nullable=False),
    sa.Column('converged', sa.Boolean(), nullable=False),
    sa.Column('iterations', sa.Integer(), nullable=False),
    sa.Column('max_change', sa.Float(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_by', sa.String(length=100), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_runs'))
    )
    with op.batch_alter_table('calibration_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_runs_status'), ['status'], unique=False)

    op.create_table('calibration_estimates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('item_version_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('n_responses', sa.Integer(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('a', sa.Float(), nullable=False),
    sa.Column('b', sa.Float(), nullable=False),
    sa.Column('c', sa.Float(), nullable=False),
    sa.Column('se_a', sa.Float(), nullable=True),
    sa.Column('se_b', sa.Float(), nullable=True),
    sa.Column('se_c', sa.Float(), nullable=True),
    sa.Column('rmsd', sa.Float(), nullable=True),
    sa.Column('infit', sa.Float(), nullable=True),
    sa.Column('outfit', sa.Float(), nullable=True),
    sa.Column('drift', sa.Boolean(), nullable=False),
    sa.Column('eligible', sa.Boolean(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('prev_model', sa.String(length=3), nullable=False),
    sa.Column('prev_a', sa.Float(), nullable=False),
    sa.Column('prev_b', sa.Float(), nullable=False),
    sa.Column('prev_c', sa.Float(), nullable=False),
    sa.Column('prev_origin', sa.String(length=64), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['item_version_id'], ['item_versions.id'], name=op.f('fk_calibration_estimates_item_version_id_item_versions')),
    sa.ForeignKeyConstraint(['run_id'], ['calibration_runs.id'], name=op.f('fk_calibration_estimates_run_id_calibration_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_estimates')),
    sa.UniqueConstraint('run_id', 'item_version_id', name=op.f('uq_calibration_estimates_run_id_item_version_id'))
    )
    with op.batch_alter_table('calibration_estimates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calibration_estimates_item_version_id'), ['item_version_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_estimates_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calibration_estimates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_estimates_run_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_estimates_item_version_id'))

    op.drop_table('calibration_estimates')
    with op.batch_alter_table('calibration_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_runs_status'))

    op.drop_table('calibration_runs')
