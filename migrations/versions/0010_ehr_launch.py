"""SMART App Launch: one row per launch (from the EHR or standalone), its context and tokens

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:30:00

Expand only (see the README's "Upgrades"): one new table, nothing the previous release
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
    compatibility = sa.table('schema_compatibility', sa.column('revision', sa.String), sa.column('oldest_code', sa.String))
    op.bulk_insert(compatibility, [{'revision': '0010', 'oldest_code': '0009'}])


def downgrade():
    op.execute("DELETE FROM schema_compatibility WHERE revision = '0010'")
    op.drop_table('ehr_launch')
