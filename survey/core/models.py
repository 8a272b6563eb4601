"""The data model. Invariants live in the database (CHECK, UNIQUE, FK, triggers) so that
no code path, import script or manual SQL session can store what the survey forbids."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.core.db import UTCDateTime, db, utcnow
from survey.core.profile import AGE_BANDS, EDUCATIONS, OCCUPATIONS, SEXES

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"  # agency/desk/service codes, checked in code

CHANNELS = ("qr", "ticket", "kiosk", "paper", "import")
ROLES = ("admin", "agency_manager", "auditor", "desk_staff")
FOLLOW_UP_STATUSES = ("planned", "in_progress", "done", "cancelled")

COMMENT_MAX = 1000


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"


SLUG_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_slug() -> str:
    """An unguessable public desk slug: 16 characters from 57 letters and digits (93
    random bits), without look-alikes (0/O, 1/l/I) or punctuation, so that a citizen can
    type it from a poster and it never ends in a hyphen a text tool might swallow."""
    return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(16))


class Agency(db.Model):
    """An OPD, a service unit, or a group such as a Mal Pelayanan Publik (via `parent`)."""

    __tablename__ = "agency"
    __table_args__ = (
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        CheckConstraint("length(code) > 0", name="code_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Jakarta")
    head_name: Mapped[str | None] = mapped_column(String(200))
    head_nip: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Agency | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Agency]] = relationship(back_populates="parent")
    desks: Mapped[list[Desk]] = relationship(back_populates="agency", order_by="Desk.code")
    services: Mapped[list[Service]] = relationship(
        back_populates="agency", order_by="Service.code"
    )


desk_service = Table(
    "desk_service",
    db.metadata,
    Column("desk_id", ForeignKey("desk.id"), primary_key=True),
    Column("service_id", ForeignKey("service.id"), primary_key=True),
)


class Questionnaire(db.Model):
    """A questionnaire standard (or a custom version). Element codes are its stable keys."""

    __tablename__ = "questionnaire"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    standard: Mapped[str] = mapped_column(String(60))  # the engine standard it is scored by
    title_id: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    elements: Mapped[list[Element]] = relationship(
        back_populates="questionnaire", order_by="Element.position"
    )


class Element(db.Model):
    """One element (unsur) with its question and four answer labels in both languages."""

    __tablename__ = "element"
    __table_args__ = (
        UniqueConstraint("questionnaire_id", "code"),
        UniqueConstraint("questionnaire_id", "position"),
        UniqueConstraint("questionnaire_id", "id"),  # target of the answer's composite FK
        CheckConstraint("position >= 1", name="position_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaire.id"))
    code: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(SmallInteger)
    name_id: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    question_id: Mapped[str] = mapped_column(Text)
    question_en: Mapped[str] = mapped_column(Text)
    labels_id: Mapped[list[str]] = mapped_column(JSON)
    labels_en: Mapped[list[str]] = mapped_column(JSON)

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="elements")

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_id

    def question(self, locale: str) -> str:
        return self.question_en if locale == "en" else self.question_id

    def labels(self, locale: str) -> list[str]:
        return self.labels_en if locale == "en" else self.labels_id


class Desk(db.Model):
    """A service desk (loket) with its own public survey link and QR code."""

    __tablename__ = "desk"
    __table_args__ = (
        UniqueConstraint("agency_id", "code"),
        CheckConstraint("length(slug) >= 16", name="slug_long_enough"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaire.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(40), unique=True, default=new_slug)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="desks")
    questionnaire: Mapped[Questionnaire] = relationship()
    services: Mapped[list[Service]] = relationship(
        secondary=desk_service, back_populates="desks", order_by="Service.code"
    )


class Service(db.Model):
    """A type of service (jenis layanan) an agency offers at some of its desks."""

    __tablename__ = "service"
    __table_args__ = (UniqueConstraint("agency_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name_id: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    agency: Mapped[Agency] = relationship(back_populates="services")
    desks: Mapped[list[Desk]] = relationship(secondary=desk_service, back_populates="services")

    def name(self, locale: str) -> str:
        return (self.name_en or self.name_id) if locale == "en" else self.name_id


class Response(db.Model):
    """One completed questionnaire. Append-only: a database trigger refuses UPDATE and
    DELETE; review and moderation decisions are rows of their own."""

    __tablename__ = "response"
    __table_args__ = (
        UniqueConstraint("id", "questionnaire_id"),  # target of the answer's composite FK
        CheckConstraint(_in("channel", CHANNELS), name="channel_known"),
        CheckConstraint("hour >= 0 AND hour <= 23", name="hour_in_day"),
        CheckConstraint(f"sex IS NULL OR {_in('sex', SEXES)}", name="sex_known"),
        CheckConstraint(f"age IS NULL OR {_in('age', AGE_BANDS)}", name="age_known"),
        CheckConstraint(
            f"education IS NULL OR {_in('education', EDUCATIONS)}", name="education_known"
        ),
        CheckConstraint(
            f"occupation IS NULL OR {_in('occupation', OCCUPATIONS)}", name="occupation_known"
        ),
        CheckConstraint(f"length(comment) <= {COMMENT_MAX}", name="comment_length"),
        CheckConstraint("channel <> 'ticket' OR verified", name="ticket_is_verified"),
        CheckConstraint("device_id IS NULL OR channel = 'kiosk'", name="device_only_on_kiosk"),
        Index("ix_response_desk_day", "desk_id", "day"),
        # Partial indexes for the review and moderation queues: counting what waits for a
        # decision reads only the flagged (about 3%) or commented rows of the period.
        # Both end with id, so that PostgreSQL answers the count (which joins on id) from
        # the index alone. The flagged one carries flags, so that it also covers the count
        # in SQLite, whose planner then always prefers it to ix_response_desk_day. (The
        # same for comments would put up to 4 kB of text in a PostgreSQL index entry,
        # over its limit; SQLite picks the partial index there when it was created after
        # ix_response_desk_day, as the migrations do.)
        Index("ix_response_flagged", "desk_id", "day", "flags", "id",
              sqlite_where=text("flags <> ''"), postgresql_where=text("flags <> ''")),
        Index("ix_response_commented", "desk_id", "day", "id",
              sqlite_where=text("comment IS NOT NULL"),
              postgresql_where=text("comment IS NOT NULL")),
        # Responses per kiosk device (the staff's device page): only kiosk rows have one.
        Index("ix_response_device", "device_id", sqlite_where=text("device_id IS NOT NULL"),
              postgresql_where=text("device_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaire.id"))
    # Submission time coarsened to the hour (anonymity), plus the agency-local day and
    # hour it fell on, which periods, rollups and the arrival heatmap group by.
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(10))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Ballot-stuffing signals found at submission (comma-separated, '' = clean). Whether a
    # flagged response counts is decided later by a ReviewDecision row, never by an update.
    flags: Mapped[str] = mapped_column(String(200), default="")
    sex: Mapped[str | None] = mapped_column(String(2))
    age: Mapped[str | None] = mapped_column(String(8))
    education: Mapped[str | None] = mapped_column(String(10))
    occupation: Mapped[str | None] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(Text)
    # Since receipts were stored: the chain commits to sha256(salt + comment), not to the
    # text, so an administrator can redact a comment (the text becomes NULL, the one
    # change the database allows on a response) and verification still holds.
    comment_salt: Mapped[str | None] = mapped_column(String(32))
    comment_digest: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The enrolled kiosk tablet that took the response (kiosk channel only). Not in the
    # chain's payload (survey.core.ledger.response_payload): like the idempotency key it
    # says how the response arrived, and links made before this column must still verify.
    device_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk_device.id"))

    desk: Mapped[Desk] = relationship()
    service: Mapped[Service | None] = relationship()
    questionnaire: Mapped[Questionnaire] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="response")


class Answer(db.Model):
    """A score 1..4 for one element. A blank answer is the absence of a row."""

    __tablename__ = "answer"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 4", name="score_1_to_4"),
        # The element must belong to the questionnaire the response was given on.
        ForeignKeyConstraint(
            ["response_id", "questionnaire_id"], ["response.id", "response.questionnaire_id"]
        ),
        ForeignKeyConstraint(
            ["questionnaire_id", "element_id"], ["element.questionnaire_id", "element.id"]
        ),
    )

    response_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    element_id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column()
    score: Mapped[int] = mapped_column(SmallInteger)
    # The response's day, written with the answer: the partition key when the answers are
    # partitioned by period (survey.core.partitions; there a foreign key on (response_id,
    # questionnaire_id, day) makes it equal the response's). NULL on answers stored before
    # migration 0012 in the ordinary layout, where nothing reads it.
    day: Mapped[date | None] = mapped_column(Date)

    response: Mapped[Response] = relationship(back_populates="answers")
    element: Mapped[Element] = relationship(viewonly=True)


class ChainEntry(db.Model):
    """One link of the SHA-256 hash chain over responses, review decisions and audit events.

    `hash` covers the sequence number, the previous hash and the canonical serialisation of
    the referenced row (see survey/chain.py). Append-only, like responses."""

    __tablename__ = "chain_entry"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id"),
        CheckConstraint(_in("kind", ("response", "review", "audit")), name="kind_known"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    kind: Mapped[str] = mapped_column(String(10))
    ref_id: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ChainHead(db.Model):
    """The single row holding the chain's last position; locking it serialises appends so
    that the chain stays linear under concurrent submissions."""

    __tablename__ = "chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    # The key of the receipt codes (survey.core.receipts); never exported.
    receipt_key: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(32))


class Receipt(db.Model):
    """A citizen's receipt code and the chain position of their response (for the public
    check page). The code is an HMAC of the link's hash, not a prefix of it."""

    __tablename__ = "receipt"

    code: Mapped[str] = mapped_column(String(11), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     ForeignKey("chain_entry.seq"), unique=True)


class Ticket(db.Model):
    """A one-time visit token. Only its SHA-256 is stored; it never points at a response."""

    __tablename__ = "ticket"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        Index("ix_ticket_desk_created", "desk_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    desk: Mapped[Desk] = relationship()


class KioskDevice(db.Model):
    """A tablet enrolled by staff as a desk's kiosk. Its browser keeps a signed cookie with
    the device id and a secret, of which only the SHA-256 is stored. The kiosk address
    without it (or after revocation) is an ordinary QR survey, with the QR cooldown."""

    __tablename__ = "kiosk_device"
    __table_args__ = (
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("revoked_at IS NULL OR revoked_at >= created_at",
                        name="revoked_after_enrolment"),
        CheckConstraint("waiting_reported IS NULL OR waiting_reported >= 0",
                        name="waiting_not_negative"),
        CheckConstraint("refused_reported IS NULL OR refused_reported >= 0",
                        name="refused_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The device's last contact (its kiosk page loaded, or a sync call), its last sync
    # call that carried responses, and what it reported then: responses still waiting on
    # it to be sent, and responses it keeps because the server refused them.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    waiting_reported: Mapped[int | None] = mapped_column(Integer)
    refused_reported: Mapped[int | None] = mapped_column(Integer)

    desk: Mapped[Desk] = relationship()


class ServiceVolume(db.Model):
    """Citizens served at a desk on a day or in a month: the population N of the survey."""

    __tablename__ = "service_volume"
    __table_args__ = (
        UniqueConstraint("desk_id", "granularity", "period_start"),
        CheckConstraint("count >= 0", name="count_not_negative"),
        CheckConstraint(_in("granularity", ("day", "month")), name="granularity_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id"))
    granularity: Mapped[str] = mapped_column(String(5))
    period_start: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    desk: Mapped[Desk] = relationship()


class FollowUp(db.Model):
    """One action of the follow-up plan (rencana tindak lanjut, RTL) for a weak element."""

    __tablename__ = "follow_up"
    __table_args__ = (
        CheckConstraint(_in("status", FOLLOW_UP_STATUSES), name="status_known"),
        Index("ix_follow_up_agency_period", "agency_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    period: Mapped[str] = mapped_column(String(30))  # a period key such as 2024-S1
    element_code: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="planned")
    evidence: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency] = relationship()


user_agency = Table(
    "user_agency",
    db.metadata,
    Column("user_id", ForeignKey("app_user.id"), primary_key=True),
    Column("agency_id", ForeignKey("agency.id"), primary_key=True),
)


class User(db.Model):
    """A staff account. Citizens never have one: the survey is anonymous."""

    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Part of every session's identity: raising it ends all of the user's sessions (logout,
    # password change or reset, role or agency change, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    agencies: Mapped[list[Agency]] = relationship(secondary=user_agency, order_by="Agency.code")

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What the session cookie holds: the id and the session version."""
        return f"{self.id}.{self.session_version}"


class ReviewDecision(db.Model):
    """A decision about a response, stored beside it (the response itself never changes):
    releasing or keeping a flagged response, publishing or hiding its comment."""

    __tablename__ = "review_decision"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'flag' AND decision IN ('release', 'keep')) OR "
            "(kind = 'comment' AND decision IN ('publish', 'hide', 'redact'))",
            name="decision_fits_kind",
        ),
        CheckConstraint("length(reason) > 0", name="reason_given"),
        Index("ix_review_decision_response", "response_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id"))
    kind: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEvent(db.Model):
    """Who did what: logins, exports, configuration changes, moderation."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor: Mapped[str] = mapped_column(String(254))  # email, or "cli" for operator commands
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)


# --- Append-only enforcement ------------------------------------------------------------
APPEND_ONLY_TABLES = ("response", "answer", "chain_entry", "review_decision")

_PG_FUNCTION = DDL(
    "CREATE OR REPLACE FUNCTION survey_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'table %% is append-only', TG_TABLE_NAME; END $$ "
    "LANGUAGE plpgsql"
)


def _install_append_only(table: Table) -> None:
    name = table.name
    if name != "response":  # the response allows one change: redacting its comment
        event.listen(
            table,
            "after_create",
            DDL(
                f"CREATE TRIGGER {name}_no_update BEFORE UPDATE ON {name} "
                f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
            ).execute_if(dialect="sqlite"),
        )
    event.listen(
        table,
        "after_create",
        DDL(
            f"CREATE TRIGGER {name}_no_delete BEFORE DELETE ON {name} "
            f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
        ).execute_if(dialect="sqlite"),
    )
    event.listen(table, "after_create", _PG_FUNCTION.execute_if(dialect="postgresql"))
    function = "survey_response_guard" if name == "response" else "survey_append_only"
    event.listen(
        table,
        "after_create",
        DDL(
            f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        ).execute_if(dialect="postgresql"),
    )


def response_guard_ddl(dialect: str, columns: list[str]) -> list[str]:
    """The response table's UPDATE rule: nothing may change except a comment whose hash
    the chain holds (comment_digest), and then only to NULL (a redaction). The migration
    that introduced it carries its own copy."""
    if dialect == "sqlite":
        others = ", ".join(c for c in columns if c != "comment")
        return [
            f"CREATE TRIGGER response_no_update BEFORE UPDATE OF {others} ON response "
            "BEGIN SELECT RAISE(ABORT, 'response is append-only'); END",
            "CREATE TRIGGER response_redact_only BEFORE UPDATE OF comment ON response "
            "WHEN NEW.comment IS NOT NULL OR OLD.comment IS NULL "
            "OR OLD.comment_digest IS NULL "
            "BEGIN SELECT RAISE(ABORT, 'response is append-only; a comment can only be "
            "redacted'); END",
        ]
    return [
        "CREATE OR REPLACE FUNCTION survey_response_guard() RETURNS trigger AS $$ "
        "BEGIN "
        "IF TG_OP = 'UPDATE' AND NEW.comment IS NULL AND OLD.comment IS NOT NULL "
        "AND OLD.comment_digest IS NOT NULL "
        "AND (to_jsonb(NEW) - 'comment') = (to_jsonb(OLD) - 'comment') THEN RETURN NEW; "
        "END IF; "
        "RAISE EXCEPTION 'response is append-only; a comment can only be redacted'; "
        "END $$ LANGUAGE plpgsql",
    ]


def _install_response_guard(table: Table) -> None:
    def create(target: Table, connection, **_kw) -> None:
        for statement in response_guard_ddl(connection.dialect.name,
                                            [c.name for c in target.columns]):
            connection.exec_driver_sql(statement)

    # Before the triggers of _install_append_only name the function (PostgreSQL).
    event.listen(table, "after_create", create)


_install_response_guard(db.metadata.tables["response"])
for _table_name in APPEND_ONLY_TABLES:
    _install_append_only(db.metadata.tables[_table_name])


# --- The catalog stamp ---------------------------------------------------------------------
CATALOG_TABLES = ("agency", "desk", "service", "desk_service", "reporting_period")


class CatalogStamp(db.Model):
    """One number that changes with every change to the agencies, desks, services and
    reporting periods (the catalog every submission reads), so each process can keep a
    copy of them and check it
    with one primary-key read (survey.core.catalog). Triggers on the catalog tables raise
    `version` in the transaction that changes them, whoever writes (the app, a command,
    psql); `epoch` is random per database, so a database recreated under the same URL
    never matches a copy of the old one.

    On SQLite a migration that rebuilds a catalog table (batch mode) drops its triggers:
    such a migration must call `catalog_trigger_ddl` again."""

    __tablename__ = "catalog_stamp"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    epoch: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(BigInteger)


def catalog_trigger_ddl(dialect: str) -> list[str]:
    """The statements that make every change to a catalog table raise the stamp (after
    the change, in its transaction; PostgreSQL once per statement). The migration that
    introduced them carries its own copy."""
    bump = "UPDATE catalog_stamp SET version = version + 1 WHERE id = 1"
    if dialect == "sqlite":
        return [f"CREATE TRIGGER {table}_catalog_{op.lower()} AFTER {op} ON {table} "
                f"BEGIN {bump}; END"
                for table in CATALOG_TABLES for op in ("INSERT", "UPDATE", "DELETE")]
    return [
        "CREATE OR REPLACE FUNCTION survey_catalog_bump() RETURNS trigger AS $$ "
        f"BEGIN {bump}; RETURN NULL; END $$ LANGUAGE plpgsql",
        *(f"CREATE TRIGGER {table}_catalog AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
          f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION survey_catalog_bump()"
          for table in CATALOG_TABLES),
    ]


@event.listens_for(db.metadata, "after_create")
def _install_catalog_stamp(_metadata, connection, tables=(), **_kw) -> None:
    """With the tables (create_all): the stamp's row and the catalog triggers."""
    if "catalog_stamp" not in {t.name for t in tables}:
        return
    connection.execute(CatalogStamp.__table__.insert().values(
        id=1, epoch=secrets.token_hex(16), version=0))
    for statement in catalog_trigger_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)


class StatsRollup(db.Model):
    """Sufficient statistics (survey.ikm.stats flat layout, little-endian int64) of the
    responses of one desk on one day (grain D) or in one month (grain M), per scope:

    - ``clean``: responses that count (not flagged, or released by a review),
    - ``flagged``: responses currently flagged as possible ballot stuffing,
    - ``verified``: clean responses from one-time visit tickets,
    - ``service``: clean responses for one service (``service_id``).

    A cache of the responses, updated in the transaction that stores them; `flask ikm
    rebuild-rollups` recomputes it from the raw rows. Months make a semester 6 rows per
    desk instead of 181."""

    __tablename__ = "stats_rollup"
    __table_args__ = (
        CheckConstraint("grain IN ('D', 'M')", name="grain_known"),
        CheckConstraint(_in("scope", ("clean", "flagged", "verified", "service")),
                        name="scope_known"),
        CheckConstraint("(scope = 'service') = (service_id <> 0)", name="service_scope"),
        CheckConstraint("n >= 0", name="n_not_negative"),
    )

    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaire.id"),
                                                  primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    n: Mapped[int] = mapped_column(Integer)
    stats: Mapped[bytes] = mapped_column(LargeBinary)


class CountRollup(db.Model):
    """Counts per desk and day (grain D) or month (grain M) along one dimension: when
    responses arrive (``arrival``, value ``<weekday 0=Mon>-<hour>``, with score sums for
    the mean) and who answered (``sex``, ``age``, ``education``, ``occupation``, value ''
    when not stated) and through which ``channel``. Covers every stored response, flagged
    or not; a cache like StatsRollup, rebuilt by the same command."""

    __tablename__ = "count_rollup"
    __table_args__ = (
        CheckConstraint("grain IN ('D', 'M')", name="grain_known"),
        CheckConstraint(_in("dimension", ("arrival", "sex", "age", "education", "occupation",
                                          "channel")), name="dimension_known"),
        CheckConstraint("n >= 0 AND answers >= 0 AND score_sum >= 0", name="not_negative"),
    )

    desk_id: Mapped[int] = mapped_column(ForeignKey("desk.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(12), primary_key=True)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[str] = mapped_column(String(12), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    score_sum: Mapped[int] = mapped_column(Integer, default=0)


class ReportingPeriod(db.Model):
    """A reporting period (e.g. 2024-S1) and whether it is closed: the public results page
    shows the latest closed period, so numbers are published only once a period is over
    and an administrator has closed it."""

    __tablename__ = "reporting_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(30), unique=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Publication(db.Model):
    """One publication of a period's results: made when the period is closed (a snapshot of
    every agency's figures), withdrawn when an administrator reopens it (with the reason).
    After a revision the public page shows the new figures, the date of the revision and
    the figures published before."""

    __tablename__ = "publication"
    __table_args__ = (
        CheckConstraint("withdrawn_at IS NULL OR length(withdrawn_reason) > 0",
                        name="withdrawal_has_reason"),
        Index("ix_publication_period", "period_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_key: Mapped[str] = mapped_column(String(30))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # agency code -> {"ikm": x25 value, "ci": [low, high], "grade": ..., "n": ...}
    results: Mapped[dict] = mapped_column(JSON)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)


class ApiToken(db.Model):
    """A bearer token for the read API, owned by a user (whose role and agencies scope
    what it can read). Only the SHA-256 of the token is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: never
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
