"""Links shown once from a seed on their own record; red flags reached on a link; a readiness
probe that needs new space

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_seed', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('flags', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('flags_triage', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('flags_reviewed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('password_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_seed', sa.String(length=64), nullable=True))
    with op.batch_alter_table('readiness_probe', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('readiness_probe', schema=None) as batch_op:
        batch_op.drop_column('payload')
    with op.batch_alter_table('password_link', schema=None) as batch_op:
        batch_op.drop_column('link_seed')
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_column('flags_reviewed_at')
        batch_op.drop_column('flags_triage')
        batch_op.drop_column('flags')
        batch_op.drop_column('flagged_at')
        batch_op.drop_column('link_seed')
