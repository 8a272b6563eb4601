"""catalog stamp: one number raised by triggers with every change to the agencies, desks,
services and reporting periods, so that app processes can keep a copy of them and check it cheaply

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# A copy of survey.core.models.catalog_trigger_ddl as it was when this revision was written.
TABLES = ("agency", "desk", "service", "desk_service", "reporting_period")
BUMP = "UPDATE catalog_stamp SET version = version + 1 WHERE id = 1"


def upgrade():
    stamp = op.create_table(
        'catalog_stamp',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('epoch', sa.String(length=32), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_catalog_stamp_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_stamp')),
    )
    op.bulk_insert(stamp, [{"id": 1, "epoch": secrets.token_hex(16), "version": 0}])
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for action in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_catalog_{action.lower()} AFTER {action} "
                           f"ON {table} BEGIN {BUMP}; END")
    else:
        op.execute("CREATE OR REPLACE FUNCTION survey_catalog_bump() RETURNS trigger AS $$ "
                   f"BEGIN {BUMP}; RETURN NULL; END $$ LANGUAGE plpgsql")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_catalog AFTER INSERT OR UPDATE OR DELETE OR "
                       f"TRUNCATE ON {table} FOR EACH STATEMENT "
                       "EXECUTE FUNCTION survey_catalog_bump()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_catalog_{action}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_catalog ON {table}")
        op.execute("DROP FUNCTION IF EXISTS survey_catalog_bump()")
    op.drop_table('catalog_stamp')
