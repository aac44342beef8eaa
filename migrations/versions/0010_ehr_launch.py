"""SMART App Launch: one row per launch (from the EHR or standalone), its context and tokens;
one row per sent check to file into the EHR it was launched from

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:30:00

Expand only (see the README's "Upgrades"): two new tables, nothing the previous release
reads or writes changes, so its code (head 0009) runs on this schema, as its row says.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ehr_launch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('iss', sa.String(length=500), nullable=False),
    sa.Column('token_endpoint', sa.String(length=500), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('authorized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('encounter', sa.String(length=64), nullable=True),
    sa.Column('fhir_user', sa.String(length=500), nullable=True),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=True),
    sa.Column('refresh_token', sa.Text(), nullable=True),
    sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], name=op.f('fk_ehr_launch_invitation_id_invitation'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ehr_launch')),
    sa.UniqueConstraint('invitation_id', name=op.f('uq_ehr_launch_invitation_id')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_ehr_launch_state_hash'))
    )
    op.create_table('ehr_write_back',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('launch_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('given_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=False),
    sa.Column('filed', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['launch_id'], ['ehr_launch.id'], name=op.f('fk_ehr_write_back_launch_id_ehr_launch'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_ehr_write_back_submission_id_submission'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ehr_write_back')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_ehr_write_back_submission_id'))
    )
    with op.batch_alter_table('ehr_write_back', schema=None) as batch_op:
        batch_op.create_index('ix_ehr_write_back_due', ['filed_at', 'given_up_at', 'next_attempt_at'], unique=False)

    compatibility = sa.table('schema_compatibility', sa.column('revision', sa.String), sa.column('oldest_code', sa.String))
    op.bulk_insert(compatibility, [{'revision': '0010', 'oldest_code': '0009'}])


def downgrade():
    op.execute("DELETE FROM schema_compatibility WHERE revision = '0010'")
    with op.batch_alter_table('ehr_write_back', schema=None) as batch_op:
        batch_op.drop_index('ix_ehr_write_back_due')
    op.drop_table('ehr_write_back')
    op.drop_table('ehr_launch')
