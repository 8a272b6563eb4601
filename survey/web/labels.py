"""Display names of the respondent profile choices, in the visitor's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

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
