"""Display names of the respondent profile choices, in the visitor's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from survey.core.results.league import change_direction  # noqa: F401  (app.py reads it here)
from survey.core.results.league import change_in_words as league_change_in_words
from survey.ikm.compare import Comparison
from survey.web.i18n import current_locale, format_number

FIELD_LABELS = {
    "sex": _l("Sex"),
    "age": _l("Age"),
    "education": _l("Education"),
    "occupation": _l("Occupation"),
}

CHOICE_LABELS = {
    "sex": {"L": _l("Male"), "P": _l("Female")},
    "age": {"<20": _l("Under 20"), "20-29": _l("20–29 years"), "30-39": _l("30–39 years"),
            "40-49": _l("40–49 years"), "50-59": _l("50–59 years"),
            "60+": _l("60 years or older")},
    "education": {"SD": _l("Primary school (SD)"), "SMP": _l("Junior high school (SMP)"),
                  "SMA": _l("Senior high school (SMA/SMK)"),
                  "D1-D3-D4": _l("Diploma (D1–D4)"), "S1": _l("Bachelor (S1)"),
                  "S2": _l("Master (S2)"), "S3": _l("Doctorate (S3)")},
    "occupation": {"PNS": _l("Civil servant (PNS)"), "TNI": _l("Armed forces (TNI)"),
                   "POLRI": _l("Police (POLRI)"), "Swasta": _l("Private employee"),
                   "Wirausaha": _l("Self-employed"), "Lainnya": _l("Other")},
}


def choice_label(field: str, value: str | None) -> str:
    if value is None:
        return str(_l("Not stated"))
    return str(CHOICE_LABELS[field].get(value, value))


STATUS_LABELS = {
    "planned": _l("Planned"),
    "in_progress": _l("In progress"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


FLAG_LABELS = {
    "cooldown": _l("answered again from the same browser within the cooldown"),
    "honeypot": _l("a field hidden from people was filled in"),
    "too_fast": _l("sent sooner than a person can read the questions"),
    "burst": _l("more responses at the desk than it can serve"),
    "replay": _l("the same copy of the form sent again"),
    "pattern": _l("the same answers many times in a short while"),
}


def flag_labels(flags: str) -> str:
    """A response's ballot-stuffing signals, as a reviewer reads them."""
    return "; ".join(str(FLAG_LABELS.get(f, f)) for f in flags.split(",") if f)


CHANNEL_LABELS = {
    "qr": _l("QR code at the desk"),
    "ticket": _l("Visit ticket printed at the desk"),
    "kiosk": _l("Kiosk tablet at the desk"),
    "paper": _l("Paper form"),
    "import": _l("Imported file"),
}


def channel_label(channel: str) -> str:
    """How a response reached us, in words."""
    return str(CHANNEL_LABELS.get(channel, channel))


REVIEW_STATUS_LABELS = {
    "pending": _l("Waiting for a decision"),
    "release": _l("Released into the index"),
    "keep": _l("Kept out of the index"),
    "publish": _l("Published"),
    "hide": _l("Hidden"),
    "redact": _l("Removed by an administrator"),
}


def review_status_label(status: str) -> str:
    """Where a flagged response or a comment stands in review, in words."""
    return str(REVIEW_STATUS_LABELS.get(status, status))


ROLE_LABELS = {
    "admin": _l("Administrator"),
    "agency_manager": _l("Agency manager"),
    "auditor": _l("Auditor"),
    "desk_staff": _l("Desk staff"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


GRANULARITY_LABELS = {"day": _l("daily"), "month": _l("monthly")}


def granularity_label(granularity: str) -> str:
    return str(GRANULARITY_LABELS.get(granularity, granularity))


SCOPE_LABELS = {"clean": _l("clean responses only"),
                "all": _l("all responses, flagged included")}

FORMAT_LABELS = {"csv": _l("CSV"), "xlsx": _l("Excel workbook"), "pdf": _l("PDF report"),
                 "bundle": _l("Signed bundle")}


def format_label(fmt: str) -> str:
    return str(FORMAT_LABELS.get(fmt, fmt))


# Every action name the core writes to the audit log (survey.core.audit.record_event).
ACTION_LABELS = {
    "login": _l("Signed in"),
    "login_failed": _l("Failed sign-in"),
    "logout": _l("Signed out"),
    "password_changed": _l("Own password changed"),
    "user_created": _l("User created"),
    "user_updated": _l("User changed"),
    "user_password_reset": _l("User password reset"),
    "api_token_created": _l("API token created"),
    "api_token_revoked": _l("API token revoked"),
    "agency_created": _l("Agency created"),
    "agency_updated": _l("Agency changed"),
    "desk_created": _l("Desk created"),
    "desk_updated": _l("Desk changed"),
    "desk_activated": _l("Desk reopened"),
    "desk_deactivated": _l("Desk closed"),
    "desk_slug_regenerated": _l("Desk survey address renewed"),
    "desk_api_key": _l("Desk API key issued"),
    "kiosk_enrolled": _l("Kiosk tablet enrolled"),
    "kiosk_revoked": _l("Kiosk tablet revoked"),
    "service_created": _l("Service created"),
    "service_updated": _l("Service changed"),
    "period_created": _l("Period created"),
    "period_closed": _l("Period closed and published"),
    "period_reopened": _l("Period reopened"),
    "volume_set": _l("Service volume changed"),
    "volumes_imported": _l("Service volumes imported"),
    "responses_imported": _l("Responses imported"),
    "paper_entered": _l("Paper questionnaires entered"),
    "follow_up_saved": _l("Follow-up plan saved"),
    "rollups_rebuilt": _l("Rollups rebuilt from the responses"),
    "review_release": _l("Flagged response released"),
    "review_keep": _l("Flagged response kept out"),
    "comment_publish": _l("Comment published"),
    "comment_hide": _l("Comment hidden"),
    "comment_redact": _l("Comment removed for good"),
    "export_csv": _l("Export (CSV)"),
    "export_xlsx": _l("Export (Excel)"),
    "export_pdf": _l("Export (PDF report)"),
    "export_bundle": _l("Export (signed bundle)"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


# Who did it, when no signed-in user did (survey.core.audit.CLI, users.ANONYMOUS).
ACTOR_LABELS = {"cli": _l("Operator (command line)"),
                "anonymous": _l("Unknown (failed sign-in)")}


def actor_label(actor: str) -> str:
    return str(ACTOR_LABELS.get(actor, actor))


# The keys of the audit events' details.
DETAIL_LABELS = {
    "reason": _l("Reason"),
    "flags": _l("Signals"),
    "text_deleted": _l("Text deleted"),
    "role": _l("Role"),
    "agencies": _l("Agencies"),
    "active": _l("Active"),
    "name": _l("Name"),
    "name_id": _l("Name (Indonesian)"),
    "name_en": _l("Name (English)"),
    "expires_at": _l("Valid until"),
    "id": _l("Number"),
    "device": _l("Device"),
    "rows": _l("Rows"),
    "file": _l("File"),
    "changes": _l("Changes"),
    "desk": _l("Desk"),
    "desks": _l("Desks"),
    "month": _l("Month"),
    "old": _l("Before"),
    "new": _l("After"),
    "services": _l("Services"),
    "questionnaire": _l("Questionnaire"),
    "location": _l("Location"),
    "parent": _l("Parent agency"),
    "timezone": _l("Time zone"),
    "head_name": _l("Head of unit"),
    "head_nip": _l("NIP of the head of unit"),
    "publication": _l("Publication"),
    "responses": _l("Responses"),
    "channels": _l("Channels"),
    "sha256": _l("SHA-256 of the file"),
    "bom": _l("Byte order mark"),
    "chain_seq": _l("Chain link"),
    "element": _l("Element"),
    "status": _l("Status"),
}


def _value(key: str, value: object) -> str:
    """One detail value in words: enumeration codes get their label, lists are joined."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if isinstance(value, dict):
        if key == "channels":
            return ", ".join(f"{channel_label(k)}: {v}" for k, v in value.items())
        return "; ".join(f"{detail_key_label(k)}: {_value(k, v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(key, v) for v in value)
    text = str(value)
    if key == "role":
        return role_label(text)
    if key == "flags":
        return flag_labels(text)
    if key == "responses" and text in SCOPE_LABELS:
        return str(SCOPE_LABELS[text])
    if key == "status":
        return status_label(text)
    return text


CHANGE_EVENTS = ("agency_updated", "user_updated")


def detail_key_label(key: str) -> str:
    return str(DETAIL_LABELS.get(key, key))


def audit_details(action: str, details: dict | None) -> list[tuple[str, str]]:
    """An audit event's details as (label, value) pairs a person reads, never raw JSON.
    The events in CHANGE_EVENTS store each changed field as [old, new], read "old → new"."""
    out = []
    for key, value in (details or {}).items():
        if action in CHANGE_EVENTS and isinstance(value, list) and len(value) == 2:
            text = f"{_value(key, value[0])} → {_value(key, value[1])}"
        else:
            text = _value(key, value)
        out.append((detail_key_label(key), text))
    return out


def change_in_words(comparison: Comparison, locale: str | None = None) -> str:
    """A change between two indexes as a reader says it (see
    `survey.core.results.league.change_in_words`), in the visitor's language unless
    `locale` names another; numbers in the language's format."""
    lang = locale or current_locale()
    return league_change_in_words(comparison, lang, lambda v: format_number(v, 2, lang))
