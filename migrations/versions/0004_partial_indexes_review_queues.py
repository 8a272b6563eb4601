"""partial indexes for the review and moderation queues

Counting the flagged responses and comments that wait for a decision read every response
of the period; these indexes hold only the flagged or commented rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

FLAGGED = sa.text("flags <> ''")
COMMENTED = sa.text("comment IS NOT NULL")


def upgrade():
    op.create_index('ix_response_flagged', 'response', ['desk_id', 'day', 'flags', 'id'],
                    sqlite_where=FLAGGED, postgresql_where=FLAGGED)
    op.create_index('ix_response_commented', 'response', ['desk_id', 'day', 'id'],
                    sqlite_where=COMMENTED, postgresql_where=COMMENTED)


def downgrade():
    op.drop_index('ix_response_commented', table_name='response')
    op.drop_index('ix_response_flagged', table_name='response')
