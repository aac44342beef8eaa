"""The camera check's figures: kept with a draft while the person goes on, then with the check sent

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:30:00

Expand only (see the README's "Upgrades"): two new nullable columns that the previous release
neither reads nor writes, so its code (head 0010) runs on this schema, as its row says.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.add_column(sa.Column('camera', sa.JSON(), nullable=True))
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('camera', sa.JSON(), nullable=True))
    compatibility = sa.table('schema_compatibility', sa.column('revision', sa.String), sa.column('oldest_code', sa.String))
    op.bulk_insert(compatibility, [{'revision': '0011', 'oldest_code': '0010'}])


def downgrade():
    op.execute("DELETE FROM schema_compatibility WHERE revision = '0011'")
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_column('camera')
    with op.batch_alter_table('draft', schema=None) as batch_op:
        batch_op.drop_column('camera')
