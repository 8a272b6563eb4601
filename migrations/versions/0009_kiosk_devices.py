"""kiosk devices: tablets enrolled by staff as a desk's kiosk (revocable)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 23:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kiosk_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('desk_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('length(name) > 0', name=op.f('ck_kiosk_device_name_not_empty')),
    sa.CheckConstraint('revoked_at IS NULL OR revoked_at >= created_at',
                       name=op.f('ck_kiosk_device_revoked_after_enrolment')),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'],
                            name=op.f('fk_kiosk_device_created_by_app_user')),
    sa.ForeignKeyConstraint(['desk_id'], ['desk.id'], name=op.f('fk_kiosk_device_desk_id_desk')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_device')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_kiosk_device_secret_hash'))
    )
    with op.batch_alter_table('kiosk_device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosk_device_desk_id'), ['desk_id'], unique=False)


def downgrade():
    with op.batch_alter_table('kiosk_device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosk_device_desk_id'))
    op.drop_table('kiosk_device')
