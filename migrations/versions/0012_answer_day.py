"""answer day: each answer carries its response's day, the partition key of the optional
partitioned layout (`flask partitions apply`, survey/core/partitions.py)

Added in place (ALTER TABLE ... ADD COLUMN): the answer table is append-only and a batch
rebuild would drop its triggers on SQLite. Existing answers keep NULL: in the ordinary
layout nothing reads the column, and `flask partitions apply` fills it from the responses
when it moves the rows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('answer', sa.Column('day', sa.Date(), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite drops a column in place since 3.35; no batch rebuild (it drops triggers).
        op.execute('ALTER TABLE answer DROP COLUMN day')
    else:
        op.drop_column('answer', 'day')
