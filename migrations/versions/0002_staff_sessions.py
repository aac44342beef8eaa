"""Server-side staff sessions, one row per refused sign-in (replacing the racy counter), roles,
two-factor sign-in, sent drafts kept, the rules text of
every stored result

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 07:00:00

"""
from alembic import op
import sqlalchemy as sa



revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_staff_session_staff_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_session_token_hash'))
    )
    op.create_index(op.f('ix_staff_session_staff_id'), 'staff_session', ['staff_id'], unique=False)
    op.create_table('sign_in_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('while_throttled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failure'))
    )
    op.create_index('ix_sign_in_failure_account_at', 'sign_in_failure', ['account', 'at'], unique=False)
    op.create_table('password_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_password_link_staff_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_password_link_token_hash'))
    )
    op.create_index(op.f('ix_password_link_staff_id'), 'password_link', ['staff_id'], unique=False)
    op.create_table('rules_text',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('first_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_rules_text'))
    )
    with op.batch_alter_table('staff_user') as batch:
        batch.drop_column('failed_sign_ins')
        batch.drop_column('locked_until')
        batch.add_column(sa.Column('role', sa.String(length=20), nullable=False, server_default='staff'))
        batch.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('recovery_codes', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('audit_event') as batch:
        batch.alter_column('target', existing_type=sa.String(length=60), type_=sa.String(length=200))
    with op.batch_alter_table('draft') as batch:
        batch.add_column(sa.Column('submission_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f('fk_draft_submission_id_submission'), 'submission', ['submission_id'], ['id'], ondelete='SET NULL'
        )
    # The accounts made before roles existed ran the whole clinic side: they stay able to.
    op.execute("UPDATE staff_user SET role = 'admin'")


def downgrade():
    op.drop_table('rules_text')
    op.drop_index(op.f('ix_password_link_staff_id'), table_name='password_link')
    op.drop_table('password_link')
    with op.batch_alter_table('draft') as batch:
        batch.drop_constraint(op.f('fk_draft_submission_id_submission'), type_='foreignkey')
        batch.drop_column('submission_id')
    with op.batch_alter_table('audit_event') as batch:
        batch.alter_column('target', existing_type=sa.String(length=200), type_=sa.String(length=60))
    with op.batch_alter_table('staff_user') as batch:
        batch.drop_column('recovery_codes')
        batch.drop_column('totp_last_step')
        batch.drop_column('totp_secret')
        batch.drop_column('active')
        batch.drop_column('role')
        batch.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('failed_sign_ins', sa.Integer(), nullable=False, server_default='0'))
    op.drop_index('ix_sign_in_failure_account_at', table_name='sign_in_failure')
    op.drop_table('sign_in_failure')
    op.drop_index(op.f('ix_staff_session_staff_id'), table_name='staff_session')
    op.drop_table('staff_session')
