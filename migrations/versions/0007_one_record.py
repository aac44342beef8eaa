"""Events dated on a case (a toxin session, an operation); one open case per clinic reference
(a key unique among cases not merged), and cases merged into another; links the app emails
(with their reminders), follow-up schedules, and the patient's email address on a case; the
safety worklist's acknowledgements; the audit log's case and reference, with indexes for its pages

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _key(reference):
    return "".join((reference or "").split()).casefold() or None


def upgrade():
    with op.batch_alter_table('clinic_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference_key', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('merged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_clinic_case_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_clinic_case_merged_into_id_clinic_case'), 'clinic_case', ['merged_into_id'], ['id'], ondelete='CASCADE')
    # Each reference's oldest case takes the key; a later case with the same reference keeps its
    # reference without the key, and its page offers to merge it into the first.
    cases = sa.table('clinic_case', sa.column('id', sa.Integer), sa.column('reference', sa.String), sa.column('reference_key', sa.String))
    connection = op.get_bind()
    taken = set()
    for row_id, reference in connection.execute(sa.select(cases.c.id, cases.c.reference).order_by(cases.c.id)).all():
        key = _key(reference)
        if key and key not in taken:
            taken.add(key)
            connection.execute(cases.update().where(cases.c.id == row_id).values(reference_key=key))
    with op.batch_alter_table('clinic_case', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_clinic_case_reference_key'), ['reference_key'])
    op.create_table('case_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=80), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['clinic_case.id'], name=op.f('fk_case_event_case_id_clinic_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_case_event_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_event'))
    )
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_event_case_id'), ['case_id'], unique=False)

    op.create_table('follow_up_schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('every_weeks', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('after_event', sa.String(length=12), nullable=True),
    sa.Column('offsets_weeks', sa.JSON(), nullable=False),
    sa.Column('days_valid', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['clinic_case.id'], name=op.f('fk_follow_up_schedule_case_id_clinic_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_follow_up_schedule_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_schedule'))
    )
    with op.batch_alter_table('follow_up_schedule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_schedule_case_id'), ['case_id'], unique=False)

    op.create_table('link_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dropped', sa.String(length=40), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitation.id'], name=op.f('fk_link_email_invitation_id_invitation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox_message.id'], name=op.f('fk_link_email_outbox_id_outbox_message'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_email')),
    sa.UniqueConstraint('invitation_id', 'number', name=op.f('uq_link_email_invitation_id'))
    )
    with op.batch_alter_table('clinic_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=5), nullable=True))

    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('by_email', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('mail_seed', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('send_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('appointment_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('schedule_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('due_key', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_invitation_mailing', ['by_email', 'used_at', 'revoked_at'], unique=False)
        batch_op.create_index('ix_invitation_page', ['created_at', 'id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_invitation_schedule_id'), ['schedule_id', 'due_key'])
        batch_op.create_foreign_key(batch_op.f('fk_invitation_schedule_id_follow_up_schedule'), 'follow_up_schedule', ['schedule_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invitation_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_message_invitation_id'), ['invitation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_message_invitation_id_invitation'), 'invitation', ['invitation_id'], ['id'], ondelete='CASCADE')

    op.create_table('worklist_ack',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_worklist_ack_staff_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worklist_ack')),
    sa.UniqueConstraint('kind', 'target_id', name=op.f('uq_worklist_ack_kind'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reference', sa.String(length=40), nullable=False, server_default=''))
        batch_op.drop_index(batch_op.f('ix_audit_event_at'))
        batch_op.create_index('ix_audit_event_page', ['at', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_staff_page', ['staff_id', 'at', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_action_page', ['action', 'at', 'id'], unique=False)
        batch_op.create_index('ix_audit_event_case_page', ['case_id', 'at', 'id'], unique=False)

def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_case_page')
        batch_op.drop_index('ix_audit_event_action_page')
        batch_op.drop_index('ix_audit_event_staff_page')
        batch_op.drop_index('ix_audit_event_page')
        batch_op.create_index(batch_op.f('ix_audit_event_at'), ['at'], unique=False)
        batch_op.drop_column('reference')
        batch_op.drop_column('case_id')
    op.drop_table('worklist_ack')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_message_invitation_id_invitation'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_message_invitation_id'))
        batch_op.drop_column('invitation_id')

    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invitation_schedule_id_follow_up_schedule'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_invitation_schedule_id'), type_='unique')
        batch_op.drop_index('ix_invitation_page')
        batch_op.drop_index('ix_invitation_mailing')
        batch_op.drop_column('due_key')
        batch_op.drop_column('schedule_id')
        batch_op.drop_column('appointment_at')
        batch_op.drop_column('send_at')
        batch_op.drop_column('mail_seed')
        batch_op.drop_column('by_email')

    with op.batch_alter_table('clinic_case', schema=None) as batch_op:
        batch_op.drop_column('language')
        batch_op.drop_column('email')

    op.drop_table('link_email')
    with op.batch_alter_table('follow_up_schedule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_schedule_case_id'))

    op.drop_table('follow_up_schedule')
    with op.batch_alter_table('clinic_case', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_clinic_case_reference_key'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_clinic_case_merged_into_id_clinic_case'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_clinic_case_merged_into_id'))
        batch_op.drop_column('merged_at')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('reference_key')
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_event_case_id'))
    op.drop_table('case_event')
