"""redactable comments: the chain commits to a salted digest of a new comment, the text
may be set to NULL (and nothing else on a response changed), and 'redact' is a comment
decision

Responses recorded before this migration keep a link over their comment's text: their
comments can be hidden everywhere but the text stays (deleting it would break the chain).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 22:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

RESPONSE_COLUMNS = ("id", "desk_id", "service_id", "questionnaire_id", "submitted_at", "day",
                    "hour", "channel", "verified", "flags", "sex", "age", "education",
                    "occupation", "idempotency_key", "comment_salt", "comment_digest")
OLD_DECISIONS = ("(kind = 'flag' AND decision IN ('release', 'keep')) OR "
                 "(kind = 'comment' AND decision IN ('publish', 'hide'))")
NEW_DECISIONS = ("(kind = 'flag' AND decision IN ('release', 'keep')) OR "
                 "(kind = 'comment' AND decision IN ('publish', 'hide', 'redact'))")


def _review_decision_check(condition):
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite rebuilds the table to change a CHECK; its triggers go with the old one.
        with op.batch_alter_table('review_decision', recreate='always') as batch_op:
            batch_op.drop_constraint(op.f('ck_review_decision_decision_fits_kind'),
                                     type_='check')
            batch_op.create_check_constraint('decision_fits_kind', condition)
        for event in ("update", "delete"):
            op.execute(f"CREATE TRIGGER review_decision_no_{event} BEFORE {event.upper()} "
                       "ON review_decision BEGIN SELECT RAISE(ABORT, 'review_decision is "
                       "append-only'); END")
    else:
        op.drop_constraint(op.f('ck_review_decision_decision_fits_kind'), 'review_decision',
                           type_='check')
        op.create_check_constraint('decision_fits_kind', 'review_decision', condition)


def upgrade():
    op.add_column('response', sa.Column('comment_salt', sa.String(length=32), nullable=True))
    op.add_column('response', sa.Column('comment_digest', sa.String(length=64),
                                        nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS response_no_update")
        op.execute(f"CREATE TRIGGER response_no_update BEFORE UPDATE OF "
                   f"{', '.join(RESPONSE_COLUMNS)} ON response "
                   "BEGIN SELECT RAISE(ABORT, 'response is append-only'); END")
        op.execute("CREATE TRIGGER response_redact_only BEFORE UPDATE OF comment ON response "
                   "WHEN NEW.comment IS NOT NULL OR OLD.comment IS NULL "
                   "OR OLD.comment_digest IS NULL "
                   "BEGIN SELECT RAISE(ABORT, 'response is append-only; a comment can only "
                   "be redacted'); END")
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION survey_response_guard() RETURNS trigger AS $$ "
            "BEGIN "
            "IF TG_OP = 'UPDATE' AND NEW.comment IS NULL AND OLD.comment IS NOT NULL "
            "AND OLD.comment_digest IS NOT NULL "
            "AND (to_jsonb(NEW) - 'comment') = (to_jsonb(OLD) - 'comment') THEN RETURN NEW; "
            "END IF; "
            "RAISE EXCEPTION 'response is append-only; a comment can only be redacted'; "
            "END $$ LANGUAGE plpgsql")
        op.execute("DROP TRIGGER IF EXISTS response_append_only ON response")
        op.execute("CREATE TRIGGER response_append_only BEFORE UPDATE OR DELETE ON response "
                   "FOR EACH ROW EXECUTE FUNCTION survey_response_guard()")
    _review_decision_check(NEW_DECISIONS)


def downgrade():
    _review_decision_check(OLD_DECISIONS)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS response_redact_only")
        op.execute("DROP TRIGGER IF EXISTS response_no_update")
        # Native DROP COLUMN (SQLite 3.35+): a rebuilt table would lose its triggers.
        op.execute("ALTER TABLE response DROP COLUMN comment_digest")
        op.execute("ALTER TABLE response DROP COLUMN comment_salt")
        op.execute("CREATE TRIGGER response_no_update BEFORE UPDATE ON response "
                   "BEGIN SELECT RAISE(ABORT, 'response is append-only'); END")
    else:
        op.execute("DROP TRIGGER IF EXISTS response_append_only ON response")
        op.execute("CREATE TRIGGER response_append_only BEFORE UPDATE OR DELETE ON response "
                   "FOR EACH ROW EXECUTE FUNCTION survey_append_only()")
        op.execute("DROP FUNCTION IF EXISTS survey_response_guard()")
        op.drop_column('response', 'comment_digest')
        op.drop_column('response', 'comment_salt')
