"""kiosk sync: a kiosk device's last contact and what it reported, and the device that
took each kiosk response

The response table is append-only (triggers refuse UPDATE and DELETE), so its new column
is added in place (ALTER TABLE ... ADD COLUMN): a batch rebuild would drop the triggers on
SQLite. The SQLite trigger that lists the response's columns is recreated with the new one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Every column of the response but the comment (the one a redaction may set to NULL).
RESPONSE_COLUMNS = ("id", "desk_id", "service_id", "questionnaire_id", "submitted_at", "day",
                    "hour", "channel", "verified", "flags", "sex", "age", "education",
                    "occupation", "idempotency_key", "comment_salt", "comment_digest")
DEVICE_CHECK = "device_id IS NULL OR channel = 'kiosk'"


def _sqlite_no_update(columns):
    op.execute("DROP TRIGGER IF EXISTS response_no_update")
    op.execute(f"CREATE TRIGGER response_no_update BEFORE UPDATE OF {', '.join(columns)} "
               "ON response BEGIN SELECT RAISE(ABORT, 'response is append-only'); END")


def upgrade():
    with op.batch_alter_table('kiosk_device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('last_sync_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('waiting_reported', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refused_reported', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            'waiting_not_negative', 'waiting_reported IS NULL OR waiting_reported >= 0')
        batch_op.create_check_constraint(
            'refused_not_negative', 'refused_reported IS NULL OR refused_reported >= 0')
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE response ADD COLUMN device_id INTEGER "
                   "CONSTRAINT fk_response_device_id_kiosk_device REFERENCES kiosk_device (id) "
                   f"CONSTRAINT ck_response_device_only_on_kiosk CHECK ({DEVICE_CHECK})")
        _sqlite_no_update((*RESPONSE_COLUMNS, "device_id"))
    else:
        # PostgreSQL's guard compares whole rows (to_jsonb), the new column included.
        op.add_column('response', sa.Column('device_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_response_device_id_kiosk_device'), 'response',
                              'kiosk_device', ['device_id'], ['id'])
        op.create_check_constraint('device_only_on_kiosk', 'response', DEVICE_CHECK)
    op.create_index('ix_response_device', 'response', ['device_id'], unique=False,
                    sqlite_where=sa.text('device_id IS NOT NULL'),
                    postgresql_where=sa.text('device_id IS NOT NULL'))


def downgrade():
    op.drop_index('ix_response_device', table_name='response',
                  sqlite_where=sa.text('device_id IS NOT NULL'),
                  postgresql_where=sa.text('device_id IS NOT NULL'))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_no_update(RESPONSE_COLUMNS)
        # Native DROP COLUMN (SQLite 3.35+): a rebuilt table would lose its triggers.
        op.execute("ALTER TABLE response DROP COLUMN device_id")
    else:
        op.drop_constraint(op.f('ck_response_device_only_on_kiosk'), 'response',
                           type_='check')
        op.drop_constraint(op.f('fk_response_device_id_kiosk_device'), 'response',
                           type_='foreignkey')
        op.drop_column('response', 'device_id')
    with op.batch_alter_table('kiosk_device', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_kiosk_device_refused_not_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_kiosk_device_waiting_not_negative'), type_='check')
        batch_op.drop_column('refused_reported')
        batch_op.drop_column('waiting_reported')
        batch_op.drop_column('last_sync_at')
        batch_op.drop_column('last_seen_at')
