"""receipt codes: an HMAC key in the chain head, and the receipt table

Receipts used to be a prefix of the response's chain hash; they are now an HMAC of it
under a per-installation key, stored (code -> chain position) for the public check page.
Responses recorded before this migration keep the codes they were given, which are not
stored: the check page does not find them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:10:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chain_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_key', sa.String(length=64), nullable=True))
    op.execute(sa.text("UPDATE chain_head SET receipt_key = :key").bindparams(
        key=secrets.token_hex(32)))
    with op.batch_alter_table('chain_head', schema=None) as batch_op:
        batch_op.alter_column('receipt_key', existing_type=sa.String(length=64),
                              nullable=False)
    op.create_table('receipt',
    sa.Column('code', sa.String(length=11), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['chain_entry.seq'],
                            name=op.f('fk_receipt_seq_chain_entry')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_receipt')),
    sa.UniqueConstraint('seq', name=op.f('uq_receipt_seq'))
    )


def downgrade():
    op.drop_table('receipt')
    with op.batch_alter_table('chain_head', schema=None) as batch_op:
        batch_op.drop_column('receipt_key')
