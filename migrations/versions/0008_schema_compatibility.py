"""Which code can run on each schema: the rows that let a rolling upgrade keep the previous
release serving while the schema is one migration ahead of it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:30:00

Expand only (see the README's "Upgrades"): a new table, nothing the previous release reads
or writes changes, so its code (head 0007) runs on this schema, as this row says.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    compatibility = op.create_table('schema_compatibility',
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.Column('oldest_code', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('revision', name=op.f('pk_schema_compatibility'))
    )
    op.bulk_insert(compatibility, [{'revision': '0008', 'oldest_code': '0007'}])


def downgrade():
    op.drop_table('schema_compatibility')
