"""Clinicians' gradings (Sunnybrook, eFACE, House-Brackmann) and their versions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:22:48

Expand only (see the README's "Upgrades"): two new tables, nothing the previous release
reads or writes changes, so its code (head 0008) runs on this schema, as its row says.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('grading',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('scale', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['clinic_case.id'], name=op.f('fk_grading_case_id_clinic_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grading'))
    )
    with op.batch_alter_table('grading', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grading_case_id'), ['case_id'], unique=False)

    op.create_table('grading_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grading_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=5), nullable=False),
    sa.Column('visit_on', sa.Date(), nullable=False),
    sa.Column('item_values', sa.JSON(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('score_notes', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grading_id'], ['grading.id'], name=op.f('fk_grading_version_grading_id_grading'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rater_id'], ['staff_user.id'], name=op.f('fk_grading_version_rater_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grading_version')),
    sa.UniqueConstraint('grading_id', 'number', name=op.f('uq_grading_version_grading_id'))
    )
    compatibility = sa.table('schema_compatibility', sa.column('revision', sa.String), sa.column('oldest_code', sa.String))
    op.bulk_insert(compatibility, [{'revision': '0009', 'oldest_code': '0008'}])


def downgrade():
    op.execute("DELETE FROM schema_compatibility WHERE revision = '0009'")
    op.drop_table('grading_version')
    with op.batch_alter_table('grading', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grading_case_id'))
    op.drop_table('grading')
