"""Links shown once from a seed on their own record; red flags reached on a link; a readiness
probe that needs new space; sign-in's second step kept on the server, two-factor codes spent
once; one Message-ID per email notice from the moment it is queued

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00

"""
from email.utils import make_msgid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pending_sign_in',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_path', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_pending_sign_in_staff_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_sign_in')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_pending_sign_in_token_hash'))
    )
    with op.batch_alter_table('pending_sign_in', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_sign_in_staff_id'), ['staff_id'], unique=False)
    op.create_table('spent_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_spent_code_staff_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spent_code')),
    sa.UniqueConstraint('staff_id', 'kind', 'value', name=op.f('uq_spent_code_staff_id'))
    )
    with op.batch_alter_table('spent_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spent_code_at'), ['at'], unique=False)
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), nullable=True))
    outbox = sa.table('outbox_message', sa.column('id', sa.Integer), sa.column('message_id', sa.String))
    connection = op.get_bind()
    for (row_id,) in connection.execute(sa.select(outbox.c.id)).all():  # notices queued before: one each now
        connection.execute(outbox.update().where(outbox.c.id == row_id).values(message_id=make_msgid()))
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.alter_column('message_id', existing_type=sa.String(length=255), nullable=False)
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('recovery_seed', sa.String(length=64), nullable=True))
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
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('message_id')
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('recovery_seed')
        batch_op.drop_column('pending_totp_secret')
    op.drop_table('spent_code')
    op.drop_table('pending_sign_in')
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
